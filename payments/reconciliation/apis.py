"""Reconciliation API: run it now, a clerk's split and acceptance, allocations and their reversal.

- `POST /api/payments/reconcile` runs synchronously and answers 200 with the run's counts. A
  run is bounded (RECONCILE_MAX_PAYMENTS_PER_RUN payments, an engine with a step budget) and
  takes a second or two, and the clerk who presses "reconcile" wants to see at once what it
  matched and what waits for them; a queued run would need a run table and polling for no
  gain. The schedule (payments.tasks) does the same in the background. A run that finds the
  tenant's lock taken answers 200 with `status: "skipped"`.
- `POST /api/payments/{id}/allocate`, `POST /api/payments/{id}/accept-suggestion`: 201 with the
  allocations written.
- `GET /api/payment-allocations[/{id}]`, `POST /api/payment-allocations/{id}/reverse`: 201 with
  the reversing entries.

`PaymentReconciliationActions` is mixed into payments.apis.PaymentViewSet.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFoundError
from core.http.fields import CodeLabelField, MoneyAmountField, MoneyField
from core.money import MoneyError, to_minor
from invoices.models import Invoice
from payments.exceptions import AllocationInvalid
from payments.models import AllocationKind, PaymentAllocation, PaymentSuggestion
from payments.reconciliation.services import (
    allocation_accept_suggestion,
    allocation_reverse,
    allocation_split,
    reconciliation_run_for_tenant,
)
from tenants.http.views import TenantAPIMixin

INVOICE_NOT_FOUND = "No invoice with id {invoice_id}."


class PaymentAllocationOutputSerializer(serializers.ModelSerializer):
    payment_id = serializers.UUIDField()
    invoice_id = serializers.UUIDField()
    amount = MoneyField("amount")
    confidence = serializers.DecimalField(max_digits=4, decimal_places=3, allow_null=True, coerce_to_string=True)
    reversal_of_id = serializers.UUIDField(allow_null=True)
    made_by = serializers.SerializerMethodField()
    kind_label = CodeLabelField(dict(AllocationKind.choices), source="kind")

    class Meta:
        model = PaymentAllocation
        fields = [
            "id",
            "payment_id",
            "invoice_id",
            "amount",
            "currency",
            "kind",
            "kind_label",
            "tier",
            "confidence",
            "explanation",
            "made_by",
            "reversal_of_id",
            "created_at",
        ]

    def get_made_by(self, allocation: PaymentAllocation) -> dict[str, str]:
        return {"kind": allocation.made_by_kind, "id": allocation.made_by_id}


class PaymentSuggestionOutputSerializer(serializers.ModelSerializer):
    """The engine's proposal waiting for a clerk (amounts in minor units, as the engine proposes them)."""

    confidence = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=True)
    vendor_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = PaymentSuggestion
        fields = ["tier", "confidence", "reason", "allocations", "candidate_invoice_ids", "vendor_id", "created_at"]


class ReconciliationReportSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["finished", "skipped"])
    payments_considered = serializers.IntegerField()
    payments_matched = serializers.IntegerField()
    payments_partially_matched = serializers.IntegerField()
    payments_suggested = serializers.IntegerField()
    payments_unmatched = serializers.IntegerField()
    allocations_created = serializers.IntegerField()
    invoices_reconciled = serializers.IntegerField()
    invoices_partially_paid = serializers.IntegerField()
    failures = serializers.ListField(child=serializers.DictField())
    duration_ms = serializers.IntegerField()


class AllocatePartSerializer(serializers.Serializer):
    invoice_id = serializers.UUIDField()
    amount = MoneyAmountField(help_text='In the payment\'s currency, e.g. "120.50": no more decimals than it has.')


class AllocateInputSerializer(serializers.Serializer):
    allocations = AllocatePartSerializer(many=True, allow_empty=False, min_length=1)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class ReverseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


def _allocations_response(allocations: list[PaymentAllocation]) -> Response:
    return Response(PaymentAllocationOutputSerializer(allocations, many=True).data, status=status.HTTP_201_CREATED)


class PaymentReconciliationActions:
    """The reconciliation actions of `/api/payments` (mixed into PaymentViewSet)."""

    @extend_schema(
        summary="Reconcile the tenant's unmatched payments now", request=None, responses=ReconciliationReportSerializer
    )
    @action(detail=False, methods=["post"], url_path="reconcile")
    def reconcile(self, request: Request) -> Response:
        report = reconciliation_run_for_tenant(tenant=self.tenant, actor=self.actor)  # type: ignore[attr-defined]
        return Response(ReconciliationReportSerializer(report.as_response()).data)

    @extend_schema(
        summary="Allocate a payment to invoices by hand (a split)",
        request=AllocateInputSerializer,
        responses={201: PaymentAllocationOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], url_path="allocate", pagination_class=None, filter_backends=[])
    def allocate(self, request: Request, pk: str | None = None) -> Response:
        payment = self.get_object()  # type: ignore[attr-defined]  # first: another tenant's id is a 404
        tenant = self.tenant  # type: ignore[attr-defined]
        data = AllocateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        parts = data.validated_data["allocations"]
        invoices = {
            invoice.pk: invoice
            for invoice in Invoice.objects.for_tenant(tenant).filter(pk__in=[part["invoice_id"] for part in parts])
        }
        resolved = []
        for part in parts:
            invoice = invoices.get(part["invoice_id"])
            if invoice is None:
                raise NotFoundError(INVOICE_NOT_FOUND.format(invoice_id=part["invoice_id"]))
            try:
                amount = to_minor(part["amount"], payment.currency)
            except MoneyError as exc:
                raise AllocationInvalid(str(exc), details={"amount": [str(exc)]}) from exc
            resolved.append((invoice, amount))
        allocations = allocation_split(
            tenant=tenant,
            payment=payment,
            parts=resolved,
            actor=self.actor,  # type: ignore[attr-defined]
            note=data.validated_data["note"],
        )
        return _allocations_response(allocations)

    @extend_schema(
        summary="Accept the engine's suggestion for a payment",
        request=None,
        responses={201: PaymentAllocationOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], url_path="accept-suggestion", pagination_class=None, filter_backends=[])
    def accept_suggestion(self, request: Request, pk: str | None = None) -> Response:
        payment = self.get_object()  # type: ignore[attr-defined]
        allocations = allocation_accept_suggestion(tenant=self.tenant, payment=payment, actor=self.actor)  # type: ignore[attr-defined]
        return _allocations_response(allocations)


class PaymentAllocationViewSet(
    TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Allocations of payments to invoices, reversals included (they are rows too)."""

    serializer_class = PaymentAllocationOutputSerializer

    def get_queryset(self) -> QuerySet[Any]:
        return PaymentAllocation.objects.for_tenant(self.tenant).order_by("-created_at", "id")

    @extend_schema(
        summary="Reverse an allocation (a reversing entry; the invoice's balance and status are restored)",
        request=ReverseInputSerializer,
        responses={201: PaymentAllocationOutputSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], url_path="reverse", pagination_class=None, filter_backends=[])
    def reverse(self, request: Request, pk: str | None = None) -> Response:
        allocation = self.get_object()
        data = ReverseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversals = allocation_reverse(
            tenant=self.tenant, allocation=allocation, actor=self.actor, reason=data.validated_data["reason"]
        )
        return _allocations_response(reversals)
