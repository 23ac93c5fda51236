"""Reads of kept files: the original of a document, and its bytes."""

from __future__ import annotations

import uuid
from typing import IO

from core.tenancy.ref import TenantOrId
from source_files.models import SourceFile, SourceFileDocument
from source_files.services import source_file_storage


def source_file_of_document(*, tenant: TenantOrId, model_label: str, document_id: uuid.UUID) -> SourceFile | None:
    """The file `document_id` (a `model_label` row of `tenant`) was imported from, or None."""
    return (
        SourceFile.objects.for_tenant(tenant)
        .filter(documents__document_model=model_label, documents__document_id=document_id)
        .first()
    )


def source_file_open(source_file: SourceFile) -> IO[bytes]:
    """The kept bytes, from the storage, for reading (the caller closes it).

    A stream either way: a file on disk, or the object's HTTP body as it is read
    (source_files.storage), seekable in both."""
    return source_file_storage().open(source_file.storage_name, "rb")


def source_file_documents(*, tenant: TenantOrId, source_file: SourceFile, model_label: str) -> list[uuid.UUID]:
    """The ids of the `model_label` documents created from `source_file`."""
    return list(
        SourceFileDocument.objects.for_tenant(tenant)
        .filter(source_file=source_file, document_model=model_label)
        .values_list("document_id", flat=True)
    )
