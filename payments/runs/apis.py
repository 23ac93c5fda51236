"""Payment runs API: `/api/payment-runs` (list, read, propose), `{id}/approve`, `{id}/cancel`,
`{id}/remove-invoice`, `{id}/add-invoice` and `{id}/file` (the bank file, once approved).

The same services as the web pages. Four eyes by identity: the API key or user that proposed a
run cannot approve it (403 `four_eyes_required`); a signed-in user approving must be an approver
or an administrator. Another tenant's run is a 404 like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid, NotFoundError
from core.http.fields import CodeLabelField, MoneyAmountField
from core.money import CURRENCY_EXPONENTS, MoneyError, format_minor, to_minor
from payments.models import PaymentFileFormat, PaymentRun, PaymentRunItem, PaymentRunStatus
from payments.runs import files
from payments.runs.services import (
    payment_run_approve,
    payment_run_cancel,
    payment_run_line_add,
    payment_run_line_remove,
    payment_run_propose,
)
from tenants.http.views import TenantAPIMixin
from tenants.models import Role

NOT_AN_APPROVER = "Only an approver or an administrator approves a payment run."
NO_FILE = "The run has no bank file: it is written when the run is approved."


class PaymentRunItemOutputSerializer(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField(source="invoice.invoice_number")
    vendor_id = serializers.UUIDField()
    vendor_name = serializers.CharField(source="vendor.name")
    amount = serializers.SerializerMethodField(help_text="Decimal string in major units of the run's currency.")
    discount = serializers.SerializerMethodField(
        help_text='The early-payment discount taken: amount + discount settles the invoice; "0.00" for none.'
    )

    class Meta:
        model = PaymentRunItem
        fields = ["invoice_id", "invoice_number", "vendor_id", "vendor_name", "amount", "discount", "end_to_end_id"]

    def get_amount(self, item: PaymentRunItem) -> str:
        return format_minor(item.amount, item.run.currency)

    def get_discount(self, item: PaymentRunItem) -> str:
        return format_minor(item.discount_amount, item.run.currency)


class ExcludedOutputSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    vendor_name = serializers.CharField()
    amount = serializers.CharField(source="amount_display", help_text="What is open, in major units.")
    reason = serializers.CharField()


class PaymentRunOutputSerializer(serializers.ModelSerializer):
    status_label = CodeLabelField(dict(PaymentRunStatus.choices), source="status")
    max_total = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()
    debtor_account = serializers.CharField(source="debtor_account_mask", help_text="Masked: the last four digits.")
    items = serializers.SerializerMethodField()
    excluded = ExcludedOutputSerializer(many=True)
    file_available = serializers.SerializerMethodField()
    note = serializers.SerializerMethodField(help_text="Why a non-euro run's file is a CSV; empty otherwise.")

    class Meta:
        model = PaymentRun
        fields = [
            "id",
            "status",
            "status_label",
            "currency",
            "due_by",
            "execution_date",
            "max_total",
            "total",
            "take_discounts",
            "file_format",
            "debtor_name",
            "debtor_account",
            "debtor_bic",
            "items",
            "excluded",
            "proposed_by_label",
            "approved_by_label",
            "approved_at",
            "cancelled_by_label",
            "cancelled_at",
            "cancel_reason",
            "file_name",
            "file_sha256",
            "file_available",
            "note",
            "created_at",
        ]

    def get_max_total(self, run: PaymentRun) -> str | None:
        return None if run.max_total is None else format_minor(run.max_total, run.currency)

    def _items(self, run: PaymentRun) -> list[PaymentRunItem]:
        cached: list[PaymentRunItem] | None = getattr(run, "_items_cache", None)
        if cached is None:
            cached = list(
                PaymentRunItem.objects.for_tenant(run.tenant_id)
                .filter(run=run)
                .select_related("invoice", "vendor", "run")
                .order_by("vendor__name", "invoice__invoice_number")
            )
            run._items_cache = cached  # type: ignore[attr-defined]
        return cached

    def get_total(self, run: PaymentRun) -> str:
        return format_minor(sum(item.amount for item in self._items(run)), run.currency)

    @extend_schema_field(PaymentRunItemOutputSerializer(many=True))
    def get_items(self, run: PaymentRun) -> list[dict[str, Any]]:
        return list(PaymentRunItemOutputSerializer(self._items(run), many=True).data)

    def get_file_available(self, run: PaymentRun) -> bool:
        return run.status == PaymentRunStatus.APPROVED and bool(run.file_content)

    def get_note(self, run: PaymentRun) -> str:
        return files.CSV_NOTE.format(currency=run.currency) if run.currency != files.SEPA_CURRENCY else ""


class PaymentRunFileOutputSerializer(serializers.ModelSerializer):
    """The file in JSON, like every answer of the API: its text is what the bank takes."""

    content_type = serializers.SerializerMethodField()
    content = serializers.CharField(source="file_content")

    class Meta:
        model = PaymentRun
        fields = ["id", "file_name", "file_format", "content_type", "file_sha256", "message_id", "content"]

    def get_content_type(self, run: PaymentRun) -> str:
        return "application/xml" if run.file_name.endswith(".xml") else "text/csv"


class ProposeInputSerializer(serializers.Serializer):
    currency = serializers.ChoiceField(choices=sorted(CURRENCY_EXPONENTS), help_text="ISO 4217 code.")
    due_by = serializers.DateField()
    max_total = MoneyAmountField(required=False, allow_null=True)
    execution_date = serializers.DateField(required=False, allow_null=True)
    debtor_name = serializers.CharField(max_length=70)
    debtor_iban = serializers.CharField(max_length=64)
    debtor_bic = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    file_format = serializers.ChoiceField(choices=PaymentFileFormat.choices, default=PaymentFileFormat.PAIN_001_09)
    take_discounts = serializers.BooleanField(
        default=True,
        help_text="Take every early-payment discount still available on the execution date (pay open balance "
        "less the discount); false pays open balances in full.",
    )


class RunInvoiceInputSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class PaymentRunViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Payment runs of the caller's tenant."""

    serializer_class = PaymentRunOutputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return PaymentRun.objects.for_tenant(self.tenant).order_by("-created_at", "-id")

    def _run_response(self, run: PaymentRun, code: int = status.HTTP_200_OK) -> Response:
        return Response(PaymentRunOutputSerializer(run).data, status=code)

    @extend_schema(
        summary="Propose a payment run",
        request=ProposeInputSerializer,
        responses={201: PaymentRunOutputSerializer},
    )
    def create(self, request: Request) -> Response:
        data = ProposeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        max_total = values.get("max_total")
        if max_total is not None:
            try:
                max_total = to_minor(max_total, values["currency"])
            except MoneyError as exc:
                raise DocumentInvalid(str(exc), details={"max_total": [str(exc)]}) from exc
        run = payment_run_propose(
            tenant=self.tenant,
            actor=self.actor,
            currency=values["currency"],
            due_by=values["due_by"],
            max_total=max_total,
            execution_date=values.get("execution_date"),
            debtor_name=values["debtor_name"],
            debtor_iban=values["debtor_iban"],
            debtor_bic=values["debtor_bic"],
            file_format=values["file_format"],
            take_discounts=values["take_discounts"],
        )
        return self._run_response(run, status.HTTP_201_CREATED)

    @extend_schema(summary="Approve a proposed run (not by its proposer)", request=None)
    @action(detail=True, methods=["post"], url_path="approve", pagination_class=None, filter_backends=[])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        context = self.tenant_context
        if context.actor_kind == "user" and context.role not in (Role.APPROVER, Role.ADMIN):
            raise PermissionDenied(NOT_AN_APPROVER)
        return self._run_response(payment_run_approve(tenant=self.tenant, run=run, actor=self.actor))

    @extend_schema(summary="Cancel a run that is not paid", request=CancelInputSerializer)
    @action(detail=True, methods=["post"], url_path="cancel", pagination_class=None, filter_backends=[])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = CancelInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cancelled = payment_run_cancel(
            tenant=self.tenant, run=run, actor=self.actor, reason=data.validated_data["reason"]
        )
        return self._run_response(cancelled)

    @extend_schema(summary="Take an invoice out of a proposed run", request=RunInvoiceInputSerializer)
    @action(detail=True, methods=["post"], url_path="remove-invoice", pagination_class=None, filter_backends=[])
    def remove_invoice(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = RunInvoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice_id = data.validated_data["invoice_id"]
        return self._run_response(
            payment_run_line_remove(tenant=self.tenant, run=run, invoice_id=invoice_id, actor=self.actor)
        )

    @extend_schema(summary="Add an approved invoice to a proposed run", request=RunInvoiceInputSerializer)
    @action(detail=True, methods=["post"], url_path="add-invoice", pagination_class=None, filter_backends=[])
    def add_invoice(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        data = RunInvoiceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice_id = data.validated_data["invoice_id"]
        return self._run_response(
            payment_run_line_add(tenant=self.tenant, run=run, invoice_id=invoice_id, actor=self.actor)
        )

    @extend_schema(
        summary="The run's bank file (pain.001 XML, or CSV for a non-euro run), as validated at approval",
        responses={200: PaymentRunFileOutputSerializer},
    )
    @action(detail=True, methods=["get"], url_path="file", pagination_class=None, filter_backends=[])
    def file(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        if run.status != PaymentRunStatus.APPROVED or not run.file_content:
            raise NotFoundError(NO_FILE)
        return Response(PaymentRunFileOutputSerializer(run).data)
