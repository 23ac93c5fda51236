"""The HTTP side of the file imports: `POST /api/{invoices,purchase-orders,goods-receipts}/import/csv`.

The three endpoints differ only in the kind of document; each is an `@action` on its resource's
viewset that calls `csv_import_action`. The file arrives as the multipart field `file` or as the
raw body (core.http.uploads); `?dry_run=true` checks it and writes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.uploads import dry_run_requested, spool_upload
from invoices.ingest.csv_import import csv_import, kind_columns
from tenants.http.views import TenantAPIMixin


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


def csv_import_schema(kind: str) -> Any:
    """The OpenAPI description of one import endpoint (its columns come from the importer)."""
    columns = ", ".join(kind_columns(kind))
    return extend_schema(
        summary=f"Import {kind.replace('-', ' ')} from a CSV file",
        description=(
            f"One row per document line; columns: {columns}. All or nothing: any problem → 400 "
            "`csv_invalid` with every problem by row and column, nothing written. Documents already "
            "stored are reported as duplicates and skipped. Send the file as the multipart field "
            "`file` or as the raw body (Content-Type: text/csv). Limit: CSV_MAX_BYTES."
        ),
        parameters=[OpenApiParameter("dry_run", bool, description="true: check everything, write nothing.")],
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            },
            "text/csv": {"type": "string", "format": "binary"},
        },
        responses={
            201: CsvImportReportSerializer,
            200: OpenApiResponse(CsvImportReportSerializer, description="A dry run's report."),
        },
    )


# Multipart for the `file` field; a raw body is read from the stream without a parser.
CSV_IMPORT_PARSERS = [MultiPartParser]


def csv_import_action(view: TenantAPIMixin, request: Request, *, kind: str) -> Response:
    """Spool the upload, check the idempotency key by its digest, import, answer with the report."""
    dry_run = dry_run_requested(request)
    upload = spool_upload(request, limit=settings.CSV_MAX_BYTES, setting="CSV_MAX_BYTES")
    try:
        view.idempotency_begin_for_file(request, upload.sha256)
        report = csv_import(tenant=view.tenant, kind=kind, binary=upload.file, actor=view.actor, dry_run=dry_run)
    finally:
        upload.close()
    return Response(
        CsvImportReportSerializer(report.as_response()).data,
        status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED,
    )
