"""The API side of the file imports: the upload every import action receives, and the CSV import
action the invoice, purchase order and goods receipt resources share
(`POST /api/{invoices,purchase-orders,goods-receipts}/import/csv`).

An import's file arrives as the multipart field `file` or as the raw body (core.http.uploads),
bounded by its setting, and its `Idempotency-Key` is checked by the file's digest
(`TenantAPIMixin.idempotency_begin_for_file`); `?dry_run=true` checks it and writes nothing; an
import keeps the file and links it to every document it created (source_files). The
CSV endpoints differ only in the kind of document (a core.csv_reading.CsvKind, from the app that
owns the documents); each is an `@action` on its resource's viewset that calls
`csv_import_action`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.csv_reading import MAX_BYTES_SETTING, CsvKind
from core.http.schema import DRY_RUN_PARAMETER, file_upload_request
from core.http.uploads import SpooledUpload, dry_run_requested, spool_upload
from source_files.services import csv_file_import
from tenants.http.views import TenantAPIMixin


@contextmanager
def upload_received(view: TenantAPIMixin, request: Request, *, setting: str) -> Iterator[SpooledUpload]:
    """The request's file, spooled within the limit `setting` names, its Idempotency-Key checked
    by the file's digest; closed when the block ends."""
    upload = spool_upload(request, setting=setting)
    try:
        view.idempotency_begin_for_file(request, upload.sha256)
        yield upload
    finally:
        upload.close()


class CsvImportReportSerializer(serializers.Serializer):
    kind = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data rows read (blank lines are not rows).")
    documents = serializers.IntegerField(help_text="Documents the rows formed.")
    created = serializers.IntegerField(help_text="Documents created (in a dry run: that would be created).")
    duplicates = serializers.IntegerField(help_text="Documents already stored, skipped.")
    created_ids = serializers.ListField(child=serializers.UUIDField(), help_text="Empty in a dry run.")
    duplicate_documents = serializers.ListField(
        child=serializers.DictField(), help_text='[{"row", "number", "id"}]: the stored document each repeats.'
    )
    warnings = serializers.ListField(child=serializers.CharField())


def csv_import_schema(kind: type[CsvKind]) -> Any:
    """The OpenAPI description of one import endpoint (its columns come from the kind)."""
    columns = ", ".join(column.name for column in kind.columns)
    return extend_schema(
        summary=f"Import {kind.name.replace('-', ' ')} from a CSV file",
        description=(
            f"One row per document line; columns: {columns}. All or nothing: any problem → 400 "
            "`csv_invalid` with every problem by row and column, nothing written. Documents already "
            "stored are reported as duplicates and skipped. Send the file as the multipart field "
            f"`file` or as the raw body (Content-Type: text/csv). Limit: {MAX_BYTES_SETTING}."
        ),
        parameters=[DRY_RUN_PARAMETER],
        request=file_upload_request(raw_media_type="text/csv"),
        responses={
            201: CsvImportReportSerializer,
            200: OpenApiResponse(CsvImportReportSerializer, description="A dry run's report."),
        },
    )


def csv_import_action(view: TenantAPIMixin, request: Request, *, kind: type[CsvKind]) -> Response:
    """Spool the upload, check the idempotency key by its digest, import, answer with the report."""
    dry_run = dry_run_requested(request)
    with upload_received(view, request, setting=MAX_BYTES_SETTING) as upload:
        report, _ = csv_file_import(
            kind=kind(tenant=view.tenant, actor=view.actor),
            binary=upload.file,
            filename=upload.filename,
            dry_run=dry_run,
        )
    return Response(
        CsvImportReportSerializer(report.as_response()).data,
        status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED,
    )
