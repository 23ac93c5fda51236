"""Keeping imported files: stored once per tenant by their SHA-256, through Django's storage API,
and linked to the documents they created.

Every door that imports a file (the CSV imports, the e-invoice door, the bank statement import)
calls `source_file_keep` inside the transaction that writes its documents, after they are
written. The bytes go to the `source_files` storage (settings.STORAGES: a FileSystemStorage
under SOURCE_FILES_DIR by default, an S3 bucket when SOURCE_FILES_S3_BUCKET is set) as
`<tenant id>/<sha256[:2]>/<sha256>`: a name made of the tenant and the content alone, so the same
file imported twice is one row and one blob, and no client-supplied name ever reaches a path or
an object key.

The blob is written last, after every row of the import: a document the door refuses rolls the
transaction back before anything reaches the storage. A rollback after the write (a COMMIT that
fails, or a caller that fails after keeping) cannot take the blob back: it stays without its row.
Nothing reads a blob but through its row, and the next import of the same content for the tenant
adopts it (the name is the same, `exists()` finds it, nothing is written again).

Both backends keep these semantics: `exists()` is a stat or a HEAD request; `save()` writes the
name asked for, since it does not exist yet (the S3 storage is set never to overwrite, so a name
taken meanwhile would come back renamed, and the row follows the name `save()` returns).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction

from audit.services import audit_record
from core.actors import Actor
from core.csv_reading import CsvImportReport, CsvKind, csv_import
from core.tenancy.ref import TenantRef
from source_files.models import SourceFile, SourceFileDocument

STORAGE_ALIAS = "source_files"

# What an importer recognised a file as: the Content-Type it is kept and served with.
PDF = "application/pdf"
XML = "application/xml"
CSV = "text/csv"
TEXT = "text/plain"

_READ_CHUNK = 1 << 16
_FILENAME_MAX = 255


@dataclass(frozen=True)
class DocumentRef:
    """A document a file created, by its model's label ("invoices.invoice") and id."""

    model_label: str
    id: uuid.UUID | str


def source_file_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def storage_name_of(*, tenant_id: uuid.UUID | str, sha256: str) -> str:
    return f"{tenant_id}/{sha256[:2]}/{sha256}"


def _digest(binary: IO[bytes]) -> tuple[str, int]:
    binary.seek(0)
    digest = hashlib.sha256()
    size = 0
    while chunk := binary.read(_READ_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    binary.seek(0)
    return digest.hexdigest(), size


def source_file_keep(
    *,
    tenant: TenantRef,
    binary: IO[bytes],
    filename: str,
    content_type: str,
    actor: Actor,
    documents: Iterable[DocumentRef] = (),
) -> SourceFile:
    """Keep an imported file for `tenant` (or find it kept) and link `documents` to it.

    Runs in the caller's transaction (its own savepoint otherwise): the file is kept exactly when
    the import that read it commits. The first keeping of a content writes the audit event
    `source_file.stored` (digest, size, type, name); a later one only links its documents. A
    document already linked to a file is a programming error (IntegrityError): a document has
    one original.
    """
    sha256, size = _digest(binary)
    storage = source_file_storage()
    with transaction.atomic():
        source_file = SourceFile.objects.for_tenant(tenant).filter(sha256=sha256).first()
        if source_file is None:
            try:
                # A concurrent keeping of the same content waits on the unique index until the
                # other transaction ends, then fails here and reads the row that one committed.
                with transaction.atomic():
                    source_file = SourceFile.objects.create(
                        tenant_id=tenant.pk,
                        sha256=sha256,
                        size=size,
                        content_type=content_type,
                        filename=filename[:_FILENAME_MAX],
                        storage_name=storage_name_of(tenant_id=tenant.pk, sha256=sha256),
                    )
            except IntegrityError:
                source_file = SourceFile.objects.for_tenant(tenant).get(sha256=sha256)
            else:
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    entity_type="source_file",
                    entity_id=source_file.pk,
                    action="stored",
                    after={"sha256": sha256, "size": size, "content_type": content_type, "filename": filename},
                )
        source_file_link(tenant=tenant, source_file=source_file, documents=documents)
        if not storage.exists(source_file.storage_name):
            binary.seek(0)
            saved = storage.save(source_file.storage_name, File(binary))
            binary.seek(0)
            if saved != source_file.storage_name:  # a storage that renames rather than writes as asked
                source_file.storage_name = saved
                source_file.save(update_fields=["storage_name"])
    return source_file


def csv_file_import(
    *,
    kind: CsvKind,
    binary: IO[bytes],
    filename: str,
    dry_run: bool,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> tuple[CsvImportReport, SourceFile | None]:
    """`core.csv_reading.csv_import` (the same arguments), keeping the file when it is imported.

    One transaction: the documents and the kept file, linked to every document the file
    created, commit together; a file with any problem, or a dry run, keeps nothing.
    """
    with transaction.atomic():
        report = csv_import(kind=kind, binary=binary, dry_run=dry_run, progress=progress, on_start=on_start)
        if dry_run:
            return report, None
        source_file = source_file_keep(
            tenant=kind.tenant,
            binary=binary,
            filename=filename,
            content_type=CSV,
            actor=kind.actor,
            documents=[DocumentRef(kind.model_label, created_id) for created_id in report.created_ids],
        )
    return report, source_file


def source_file_link(*, tenant: TenantRef, source_file: SourceFile, documents: Iterable[DocumentRef]) -> None:
    """Name `documents` as created from the kept `source_file` (a document has one original)."""
    SourceFileDocument.objects.bulk_create(
        SourceFileDocument(
            tenant_id=tenant.pk,
            source_file=source_file,
            document_model=document.model_label,
            document_id=document.id,
        )
        for document in documents
    )
