"""Invoices API: create (the REST source of the one door), list, read."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid
from core.http.fields import (
    BusinessDateField,
    CodeLabelField,
    CurrencyCodeField,
    FieldsBuiltOnce,
    IntegerStringField,
    MoneyAmountField,
    MoneyField,
    QuantityField,
    TaxRateField,
    UnitPriceField,
)
from core.http.filters import UtcIsoDateTimeFilter
from core.http.input_reading import InputReader, InputUnreadable
from core.http.schema import (
    DRY_RUN_PARAMETER,
    LETTER_OR_DIGIT_PATTERN,
    any_field_given,
    error_response,
    field_only_when,
    file_upload_request,
)
from core.http.uploads import UPLOAD_PARSERS, dry_run_requested
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.ingest.csv_import import InvoicesCsv
from invoices.ingest.e_invoices import e_invoice_import
from invoices.ingest.xml_reading import MAX_BYTES_SETTING as E_INVOICE_MAX_BYTES_SETTING
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource, InvoiceStatus, ReviewQueue
from invoices.selectors import invoice_list
from invoices.services import invoice_create_many
from matching.apis import MatchOutputSerializer
from matching.rematch import matching_rematch_invoice
from review.approvals import chain_read, invoice_approval_chain
from review.decisions import invoice_review
from tenants.http.file_imports import csv_import_action, csv_import_schema, upload_received
from tenants.http.views import TenantAPIMixin
from vendors.ingest import VendorCache


class InvoiceLineInputSerializer(serializers.Serializer):
    line_number = IntegerStringField(min_value=1, max_value=2_147_483_647, required=False, allow_null=True)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=500)
    quantity = QuantityField()
    unit_price = UnitPriceField()
    amount = MoneyAmountField(required=False, allow_null=True)
    po_line_number = IntegerStringField(min_value=1, max_value=2_147_483_647, required=False, allow_null=True)


class InvoiceInputSerializer(serializers.Serializer):
    invoice_number = serializers.CharField(max_length=64)
    vendor_id = serializers.UUIDField(required=False, allow_null=True)
    vendor_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    vendor_tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    po_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    currency = CurrencyCodeField()
    invoice_date = BusinessDateField()
    due_date = BusinessDateField(required=False, allow_null=True, default=None)
    tax_amount = MoneyAmountField(required=False)
    shipping_amount = MoneyAmountField(required=False)
    total_amount = MoneyAmountField()
    prepaid_amount = MoneyAmountField(
        required=False,
        help_text=(
            "EN 16931 BT-113: paid before this document (a deposit). Included in total_amount; "
            "0 ≤ prepaid ≤ total. Payments and the cash forecast work on total − prepaid."
        ),
    )
    amount_due = MoneyAmountField(
        required=False,
        allow_null=True,
        help_text=(
            "EN 16931 BT-115, when the document states it: must be total_amount − prepaid_amount "
            "(1 minor unit of rounding allowed), else 400. The stored amount due is always total − prepaid."
        ),
    )
    external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    tax_rate = TaxRateField(
        required=False, allow_null=True, help_text='Percent, as the document states it: "19" for 19 %.'
    )
    document_type = serializers.ChoiceField(choices=DocumentType.choices, required=False, default=DocumentType.INVOICE)
    credited_invoice_number = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="A credit note's reference to the invoice it credits (the same vendor's invoice number).",
    )
    lines = InvoiceLineInputSerializer(many=True, allow_empty=False, min_length=1, max_length=10_000)
    # Payment terms (invoices.terms): what the document states; what it leaves out comes from the vendor's.
    payment_terms_note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    discount_pct = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        required=False,
        allow_null=True,
        help_text='Early-payment discount in percent ("2" for 2 %), more than 0 and less than 100.',
    )
    discount_days = serializers.IntegerField(
        min_value=0, max_value=999, required=False, allow_null=True, help_text="Days after the invoice date."
    )
    discount_due_date = BusinessDateField(
        required=False, allow_null=True, default=None, help_text="The discount's last day (instead of days)."
    )
    payee_account = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        help_text="The account the document asks to be paid to; stored encrypted, shown only as payee_account_mask.",
    )

    # Stated in the OpenAPI schema (core.http.schema.ReconAutoSchema), enforced by
    # invoices.services: INVOICE_NUMBER_REQUIRED, INVOICE_NO_VENDOR, CREDITED_NUMBER_ONLY_ON_CREDIT_NOTES.
    schema_rules = {
        "properties": {"invoice_number": {"pattern": LETTER_OR_DIGIT_PATTERN}},
        "allOf": [
            any_field_given("vendor_id", "vendor_tax_id", "vendor_name"),
            field_only_when("credited_invoice_number", other="document_type", equals=DocumentType.CREDIT_NOTE),
        ],
    }

    @staticmethod
    def document_from(validated: dict[str, Any]) -> InvoiceDocument:
        """The document the validated data describes (a batch validates many with one serializer)."""
        data = dict(validated)
        lines = [InvoiceLineDocument(**line) for line in data.pop("lines")]
        data = {key: value for key, value in data.items() if value is not None}
        return InvoiceDocument(lines=lines, **data)


INVOICE_INPUT = InputReader(InvoiceInputSerializer)


def invoice_input_read(data: Any) -> dict[str, Any]:
    """`data` as InvoiceInputSerializer validates it; bad input raises its ValidationError, by field."""
    try:
        return INVOICE_INPUT.read(data)
    except InputUnreadable:
        incoming = InvoiceInputSerializer(data=data)
        incoming.is_valid(raise_exception=True)
        return dict(incoming.validated_data)


class InvoiceLineOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=6)
    amount = MoneyField("amount", currency_attr="invoice.currency")

    class Meta:
        model = InvoiceLine
        fields = ["id", "line_number", "sku", "description", "quantity", "unit_price", "amount", "po_line_number"]


class InvoiceOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    vendor_id = serializers.UUIDField(allow_null=True)
    vendor_name = serializers.SerializerMethodField()
    subtotal_amount = MoneyField("subtotal_amount")
    tax_amount = MoneyField("tax_amount")
    shipping_amount = MoneyField("shipping_amount")
    total_amount = MoneyField("total_amount")
    prepaid_amount = MoneyField("prepaid_amount", help_text="EN 16931 BT-113: paid before the document.")
    amount_due = MoneyField(
        "amount_due",
        help_text="EN 16931 BT-115: total − prepaid. Payments and the cash forecast work on this, less credit notes.",
    )
    converted_from = serializers.CharField(
        help_text=(
            "The kind the document stated when its negative total made Recon store it as the other "
            'kind (a negative invoice is stored as a credit note, and vice versa); "" when stored as stated.'
        )
    )
    conversion_reason = serializers.CharField(help_text='Why it was converted, as the clerk reads it; "" if not.')
    tax_rate = serializers.DecimalField(max_digits=6, decimal_places=3, allow_null=True)
    credited_invoice_id = serializers.UUIDField(
        allow_null=True, help_text="The credited invoice, when this credit note's reference was found."
    )
    status_label = CodeLabelField(dict(InvoiceStatus.choices), source="status")
    review_queue_label = CodeLabelField(dict(ReviewQueue.choices), source="review_queue", allow_null=True)
    source_label = CodeLabelField(dict(InvoiceSource.choices), source="source")
    document_type_label = CodeLabelField(dict(DocumentType.choices), source="document_type")
    lines = InvoiceLineOutputSerializer(many=True)
    # The latest match (null until the invoice has been matched).
    match = MatchOutputSerializer(source="latest_match", allow_null=True, read_only=True)
    assigned_to = serializers.CharField(
        source="assigned_to.get_username",
        allow_null=True,
        default=None,
        help_text="The username of the member who works it (POST /api/invoices/{id}/assign); null for nobody.",
    )
    assigned_at = serializers.DateTimeField(allow_null=True)
    discount_pct = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    discount_amount = MoneyField(
        "discount_amount", help_text="The early-payment discount if paid by discount_due_date; 0: none offered."
    )
    payee_account_mask = serializers.CharField(
        help_text='The account the document asks to be paid to, last four digits only ("****1234"); "" if none.'
    )
    approval = serializers.SerializerMethodField(
        help_text=(
            "The approval chain the tenant's policy gives this invoice in review (or gave it, once approved "
            "through one): rule, complete, current_step, and each step's label, mode (any/all), role or users, "
            "done, approvals (approver, on_behalf_of for a delegate, at) and, for the current step, may_approve. "
            "null when no rule takes it (one approval suffices), and in lists: read the invoice."
        )
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "document_type",
            "document_type_label",
            "converted_from",
            "conversion_reason",
            "invoice_number",
            "credited_invoice_id",
            "credited_invoice_number",
            "vendor_id",
            "vendor_name",
            "vendor_tax_id_raw",
            "po_number",
            "currency",
            "invoice_date",
            "due_date",
            "payment_terms_note",
            "discount_pct",
            "discount_due_date",
            "discount_amount",
            "payee_account_mask",
            "subtotal_amount",
            "tax_amount",
            "shipping_amount",
            "total_amount",
            "prepaid_amount",
            "amount_due",
            "tax_rate",
            "status",
            "status_label",
            "review_queue",
            "review_queue_label",
            "source",
            "source_label",
            "external_id",
            "lines",
            "match",
            "approval",
            "assigned_to",
            "assigned_at",
            "created_at",
            "updated_at",
        ]

    def get_vendor_name(self, invoice: Invoice) -> str:
        return invoice.vendor.name if invoice.vendor_id else invoice.vendor_name_raw

    def get_approval(self, invoice: Invoice) -> dict[str, Any] | None:
        if self.context.get("in_list") or invoice.status not in (InvoiceStatus.PENDING_REVIEW, InvoiceStatus.APPROVED):
            return None
        chain = invoice_approval_chain(tenant=invoice.tenant, invoice=invoice)
        if chain is None or (invoice.status == InvoiceStatus.APPROVED and not any(s.approvals for s in chain.steps)):
            return None
        return chain_read(chain)


class ReviewInputSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Why. Required (not blank) to escalate, reject or dispute, and to approve over a high or critical "
            "discrepancy: else 400 validation_error with details.comment. Kept in the audit event."
        ),
    )
    expected_status = serializers.ChoiceField(
        choices=InvoiceStatus.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The status your page showed; if the invoice has moved since, the answer is 409 stale_state.",
    )
    expected_step = serializers.IntegerField(
        min_value=1,
        max_value=32767,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "Approve only: the step of the approval chain your page showed as waiting (approval.current_step); "
            "if someone approved it meanwhile, the answer is 409 stale_state instead of approving the next step."
        ),
    )


class RematchInputSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it is matched again (kept in the audit event with the re-match).",
    )


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=InvoiceStatus.choices)
    review_queue = django_filters.ChoiceFilter(choices=ReviewQueue.choices)
    source = django_filters.ChoiceFilter(choices=InvoiceSource.choices)
    document_type = django_filters.ChoiceFilter(choices=DocumentType.choices)
    vendor_id = django_filters.UUIDFilter(field_name="vendor_id")
    po_number = django_filters.CharFilter(field_name="po_number")
    invoice_number = django_filters.CharFilter(field_name="invoice_number")
    invoice_date_from = django_filters.DateFilter(field_name="invoice_date", lookup_expr="gte")
    invoice_date_to = django_filters.DateFilter(field_name="invoice_date", lookup_expr="lte")
    created_from = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_to = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lte")
    assigned_to = django_filters.CharFilter(
        field_name=f"assigned_to__{get_user_model().USERNAME_FIELD}", help_text="A member's username."
    )

    class Meta:
        model = Invoice
        fields: list[str] = []


class InvoiceViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    file_upload_actions = frozenset({"import_csv", "import_xml"})
    serializer_class = InvoiceOutputSerializer
    filterset_class = InvoiceFilter

    def get_queryset(self) -> Any:
        return (
            invoice_list(tenant=self.tenant)
            .select_related("vendor", "latest_match", "assigned_to")
            .prefetch_related("lines", "latest_match__discrepancies")
        )

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return InvoiceInputSerializer if self.action == "create" else InvoiceOutputSerializer

    def get_serializer_context(self) -> dict[str, Any]:
        # A list reads no chain (a query or more per invoice); the invoice's own answer does.
        return {**super().get_serializer_context(), "in_list": self.action == "list"}

    @extend_schema(
        request=InvoiceInputSerializer,
        description=(
            "The same document again — same kind, vendor, invoice number and content (amounts, currency, "
            "dates, each line's quantity, unit price and amount) — answers 200 with the stored invoice and "
            "creates nothing. The same number with other content is a different document: stored (201) and "
            "flagged `duplicate_invoice` by matching. A negative total is stored as the other kind "
            "(`converted_from`). Rules the schema cannot state, each a 400 naming the field: `vendor_id` must be "
            "one of your vendors; line numbers are unique within the invoice; each line's quantity × unit price, "
            "and the sum of the lines, must fit an amount (2^63 − 1 minor units); `prepaid_amount` is at most "
            "`total_amount`; a stated `amount_due` is total − prepaid (1 minor unit of rounding allowed)."
        ),
        responses={
            201: InvoiceOutputSerializer,
            200: OpenApiResponse(InvoiceOutputSerializer, description="Already stored: the same document."),
        },
    )
    def create(self, request: Request) -> Response:
        validated = invoice_input_read(request.data)
        # The one door's many-documents form with one document (what invoice_create is), asked
        # here so the re-send check and the door's rules share one vendor resolution: a create
        # looked its vendor up twice when the view asked invoice_already_present first.
        [outcome] = invoice_create_many(
            tenant=self.tenant,
            documents=[InvoiceInputSerializer.document_from(validated)],
            source=InvoiceSource.API,
            actor=self.actor,
            vendors=VendorCache(self.tenant),
            all_or_nothing=False,
            resends_skipped=True,
            with_lines=True,
        )
        if isinstance(outcome, DocumentInvalid):
            raise outcome  # the single door's own error, by field (not the batch's documents[0] paths)
        if not outcome.created:  # a re-send: the stored invoice as it is now (matched, reviewed, …)
            stored = self.get_queryset().get(pk=outcome.invoice.pk)
            return Response(InvoiceOutputSerializer(stored).data, status=status.HTTP_200_OK)
        # What was written, as written (its generated columns returned by the INSERT, its lines
        # kept, its vendor resolved): not read again; tests.api tie it to a read of the invoice.
        return Response(InvoiceOutputSerializer(outcome.invoice).data, status=status.HTTP_201_CREATED)

    def _review(self, request: Request, action_name: str) -> Response:
        incoming = ReviewInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invoice_review(
            tenant=self.tenant,
            invoice=self.get_object(),
            action=action_name,
            actor=self.actor,
            role=self.tenant_context.role,
            comment=incoming.validated_data["comment"],
            expected_status=incoming.validated_data["expected_status"],
            expected_step=incoming.validated_data["expected_step"],
        )
        return Response(InvoiceOutputSerializer(self.get_object()).data)

    @extend_schema(request=ReviewInputSerializer, responses={200: InvoiceOutputSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve an invoice in review (comment required over a high or critical discrepancy).

        When the tenant's approval policy gives it a chain, this approves the current step as the
        caller (a user; a delegate for the member the step waits for): the invoice stays in review
        until the last step, and `approval` shows the chain. 403 permission_denied, the message
        saying why, for whoever entered or last changed it or proposed or approved its vendor's
        active or pending bank account (segregation of duties), approved a step already, or is not
        named by the step."""
        return self._review(request, "approve")

    @extend_schema(request=ReviewInputSerializer, responses={200: InvoiceOutputSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject an invoice in review or in dispute (comment required)."""
        return self._review(request, "reject")

    @extend_schema(request=ReviewInputSerializer, responses={200: InvoiceOutputSerializer})
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, pk: str) -> Response:
        """Move an invoice from the standard review queue to the escalated one (comment required)."""
        return self._review(request, "escalate")

    @extend_schema(request=ReviewInputSerializer, responses={200: InvoiceOutputSerializer})
    @action(detail=True, methods=["post"])
    def dispute(self, request: Request, pk: str) -> Response:
        """Put an invoice in dispute with the vendor (comment required)."""
        return self._review(request, "dispute")

    @extend_schema(
        request=RematchInputSerializer,
        responses={
            202: OpenApiResponse(InvoiceOutputSerializer, description="Sent back to matching; a run is queued."),
            409: error_response("Not open (approved, paid, rejected, void, a draft, a credit note), or in dispute."),
        },
    )
    @action(detail=True, methods=["post"])
    def rematch(self, request: Request, pk: str) -> Response:
        """Match an open invoice again (received, on hold, in review; one in dispute once its dispute ends).

        It goes back to `received` (the audit event names you, the reason and the state it left)
        and a matching run is queued at once. The engine then decides by the tenant's rules, as for
        a new invoice: `match` in the response is still the previous result until the run has
        written the new one (GET the invoice again); the previous result is kept as history.
        """
        incoming = RematchInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        matching_rematch_invoice(
            tenant=self.tenant, invoice=self.get_object(), actor=self.actor, comment=incoming.validated_data["comment"]
        )
        return Response(InvoiceOutputSerializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)

    @csv_import_schema(InvoicesCsv)
    @action(detail=False, methods=["post"], url_path="import/csv", parser_classes=UPLOAD_PARSERS)
    def import_csv(self, request: Request) -> Response:
        return csv_import_action(self, request, kind=InvoicesCsv)

    @extend_schema(
        summary="Import an e-invoice: UBL, CII, or a Factur-X / ZUGFeRD PDF (EN 16931)",
        description=(
            "One invoice or credit note: a UBL 2.1 `Invoice` or `CreditNote` (Peppol BIS Billing 3.0), a "
            "UN/CEFACT CII D16B `CrossIndustryInvoice` (XRechnung CII, Factur-X / ZUGFeRD 2.x EN 16931, BASIC, "
            "EXTENDED; TypeCode 381 is a credit note), or a PDF carrying one of them embedded (Factur-X, "
            "ZUGFeRD 2.x). What it is is read from the file, not from its name or Content-Type. Send it as the "
            "multipart field `file` or as the raw body (application/xml or application/pdf). Limit: "
            "XML_MAX_BYTES (413 beyond, the PDF's embedded XML too). A document with a DOCTYPE is refused, as "
            "is anything that is not well-formed XML (400 `xml_invalid`, with the line and column) or not an "
            "e-invoice; a PDF that is incomplete, encrypted or damaged is 400 `pdf_invalid`; a readable PDF "
            "without an embedded e-invoice is kept and answered 201 with an empty invoice in `draft`, the PDF "
            "its original, for a clerk to type in (the same PDF again: 200 with that invoice). The same "
            "document again (same kind, vendor, number and content) answers 200 with the "
            "stored invoice; a new one 201 — including another document reusing a stored number, which "
            "matching flags `duplicate_invoice`. `?dry_run=true` checks everything and writes nothing: 200 "
            "with the invoice as it would be stored. An imported file is kept, once per content, and linked "
            "to the invoice it created. A credit note for the full total of the invoice it references voids "
            "that invoice; a negative invoice is stored as a credit note (`converted_from`). The prepaid "
            "amount (BT-113) is stored as `prepaid_amount` and payments work on `amount_due` (BT-115). How "
            "totals, document-level allowances and charges, and negative lines are mapped: "
            "invoices/ingest/xml_reading.py."
        ),
        parameters=[DRY_RUN_PARAMETER],
        request=file_upload_request(raw_media_type="application/xml", other_raw_media_types=("application/pdf",)),
        responses={
            201: InvoiceOutputSerializer,
            200: OpenApiResponse(
                InvoiceOutputSerializer, description="Already imported (the stored document), or a dry run's preview."
            ),
            422: error_response("An Idempotency-Key reused with another request."),
        },
    )
    @action(detail=False, methods=["post"], url_path="import/xml", parser_classes=UPLOAD_PARSERS)
    def import_xml(self, request: Request) -> Response:
        dry_run = dry_run_requested(request)
        with upload_received(self, request, setting=E_INVOICE_MAX_BYTES_SETTING) as upload:
            outcome = e_invoice_import(
                tenant=self.tenant, binary=upload.file, filename=upload.filename, actor=self.actor, dry_run=dry_run
            )
        if dry_run:  # read before the rollback: its rows are gone
            return Response(InvoiceOutputSerializer(outcome.invoice).data, status=status.HTTP_200_OK)
        invoice = self.get_queryset().get(pk=outcome.invoice.pk)
        return Response(
            InvoiceOutputSerializer(invoice).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )
