"""`POST /api/invoices/batch`: many invoices in one request, through the many-documents door.

Each document has the shape of `POST /api/invoices` and goes through the same validation (the
serializer, then invoices.checks by way of invoices.services.invoice_create_many). The answer
is per document, in order: created (its id), a re-send of an invoice already stored or of an
earlier document of the batch (the stored id, nothing written), or invalid (the error envelope's
`error` object, its `details` by field as the single create gives them).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid
from core.http.errors import error_body, flatten_errors
from core.http.input_reading import InputUnreadable
from core.http.schema import error_response
from invoices.documents import InvoiceDocument
from invoices.models import InvoiceSource
from invoices.services import invoice_create_many
from review.apis import INVOICE_INPUT, InvoiceInputSerializer
from tenants.http.views import TenantAPIMixin

MAX_BATCH_DOCUMENTS = 1000
SERIALIZER_INVALID = "The request is invalid; see details for each field."

STATUS_CREATED = "created"
STATUS_DUPLICATE = "duplicate"
STATUS_INVALID = "invalid"


@extend_schema_field(OpenApiTypes.OBJECT)
class ParsedDocumentField(serializers.Field):
    """A document as the JSON parser gave it, read later on its own. Not a JSONField: that one
    serializes each document again to prove it is JSON (it is: it was just parsed), and refuses the
    Decimals the parser makes of JSON numbers, which the single create accepts."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class InvoiceBatchInputSerializer(serializers.Serializer):
    # Each document is validated on its own (one bad document is its own answer, not the batch's),
    # so here the list is only counted; the schema shows each document's shape.
    documents = serializers.ListField(
        # allow_null: a null document is that document's problem, answered in its place.
        child=ParsedDocumentField(allow_null=True),
        min_length=1,
        max_length=MAX_BATCH_DOCUMENTS,
        allow_empty=False,
    )


class _BatchSchemaInput(serializers.Serializer):
    documents = InvoiceInputSerializer(many=True, min_length=1, max_length=MAX_BATCH_DOCUMENTS)


class BatchErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField(help_text='By field, as `POST /api/invoices` gives them: `"lines[1].quantity"`.')


class BatchResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The document's position in `documents`, from 0.")
    status = serializers.ChoiceField(choices=[STATUS_CREATED, STATUS_DUPLICATE, STATUS_INVALID])
    id = serializers.UUIDField(
        required=False, help_text="The invoice: created now, or already stored (`duplicate`). Absent when invalid."
    )
    error = BatchErrorSerializer(required=False, help_text="Only when invalid: why, in the error envelope's shape.")


class BatchOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    results = BatchResultSerializer(many=True)


class InvoiceBatchViewSet(TenantAPIMixin, viewsets.GenericViewSet):
    serializer_class = InvoiceBatchInputSerializer

    @extend_schema(
        request=_BatchSchemaInput,
        responses={
            200: BatchOutputSerializer,
            400: error_response(
                "`documents` missing, empty or longer than 1,000 (per-document problems are results, not a 400)."
            ),
        },
        description=(
            "Up to 1,000 invoices or credit notes, each in the shape of `POST /api/invoices`, validated the same "
            "way. **Per document, not all or nothing**: every valid document is stored and every invalid one is "
            "answered with its errors, by index, in the error envelope's shape (`results[i].error`). Why: a "
            "connector sending a day's bills must not have 999 held back by one typo, and it can resend only the "
            "refused ones once fixed — a document sent again with the same content is answered as `duplicate` "
            "with the stored invoice's id, never stored twice, so resending the whole batch is safe too. "
            "(A CSV file, fixed and uploaded again by a clerk, stays all or nothing.) With `Idempotency-Key` the "
            "batch is one request: the same key and body replay the first answer and store nothing more. A body "
            "over the server's request size limit (MAX_REQUEST_BYTES) is a 413."
        ),
    )
    def batch(self, request: Request) -> Response:
        incoming = InvoiceBatchInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        results: list[dict[str, Any] | None] = []
        documents: list[InvoiceDocument] = []
        positions: list[int] = []
        # Each document read as the single create reads it (core.http.input_reading, from one
        # serializer built once); one that reader cannot take is validated by a serializer, also
        # built once, which names its problems as the single create's answer does.
        serializer: InvoiceInputSerializer | None = None
        for index, data in enumerate(incoming.validated_data["documents"]):
            try:
                validated = INVOICE_INPUT.read(data)
            except InputUnreadable:
                serializer = serializer or InvoiceInputSerializer()
                try:
                    validated = serializer.run_validation(data)
                except serializers.ValidationError as exc:
                    results.append(_invalid(index, "validation_error", SERIALIZER_INVALID, flatten_errors(exc.detail)))
                    continue
            results.append(None)
            positions.append(index)
            documents.append(InvoiceInputSerializer.document_from(validated))
        stored = invoice_create_many(
            tenant=self.tenant,
            documents=documents,
            actor=self.actor,
            source=InvoiceSource.API,
            all_or_nothing=False,
            resends_skipped=True,
        )
        for index, outcome in zip(positions, stored, strict=True):
            if isinstance(outcome, DocumentInvalid):
                results[index] = _invalid(index, outcome.code, outcome.message, outcome.details)
            else:
                status = STATUS_CREATED if outcome.created else STATUS_DUPLICATE
                results[index] = {"index": index, "status": status, "id": str(outcome.invoice.pk)}
        counts = {
            status: sum(1 for result in results if result and result["status"] == status)
            for status in (STATUS_CREATED, STATUS_DUPLICATE, STATUS_INVALID)
        }
        return Response(
            {
                "created": counts[STATUS_CREATED],
                "duplicates": counts[STATUS_DUPLICATE],
                "invalid": counts[STATUS_INVALID],
                "results": results,
            }
        )


def _invalid(index: int, code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"index": index, "status": STATUS_INVALID, **error_body(code, message, details)}
