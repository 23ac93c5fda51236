"""Purchase orders and goods receipts API: create (one atomic write), list, read; close, cancel
and reopen a purchase order (purchasing.lifecycle)."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.fields import (
    BusinessDateField,
    CurrencyCodeField,
    IntegerStringField,
    QuantityField,
    UnitPriceField,
)
from core.http.uploads import UPLOAD_PARSERS
from purchasing.csv_import import GoodsReceiptsCsv, PurchaseOrdersCsv
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.lifecycle import PURCHASE_ORDER_ACTIONS, purchase_order_act
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from purchasing.selectors import goods_receipt_list, purchase_order_list
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.http.file_imports import csv_import_action, csv_import_schema
from tenants.http.views import TenantAPIMixin


class PurchaseOrderLineInputSerializer(serializers.Serializer):
    line_number = IntegerStringField(min_value=1, max_value=2_147_483_647)
    sku = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=500)
    quantity = QuantityField()
    unit_price = UnitPriceField()
    uom = serializers.CharField(max_length=16, required=False, allow_blank=True, default="EA")
    cost_centre = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The cost centre the line is booked to (your own codes); approval rules may name it.",
    )


class PurchaseOrderInputSerializer(serializers.Serializer):
    po_number = serializers.CharField(max_length=64)
    vendor_id = serializers.UUIDField()
    currency = CurrencyCodeField()
    order_date = BusinessDateField()
    expected_date = BusinessDateField(required=False, allow_null=True, default=None)
    lines = PurchaseOrderLineInputSerializer(many=True, allow_empty=False, min_length=1, max_length=10_000)


class GoodsReceiptLineInputSerializer(serializers.Serializer):
    po_line_number = IntegerStringField(min_value=1, max_value=2_147_483_647)
    quantity = QuantityField()


class GoodsReceiptInputSerializer(serializers.Serializer):
    receipt_number = serializers.CharField(max_length=64)
    po_number = serializers.CharField(max_length=64)
    received_date = BusinessDateField()
    lines = GoodsReceiptLineInputSerializer(many=True, allow_empty=False, min_length=1, max_length=10_000)


class PurchaseOrderLineOutputSerializer(serializers.ModelSerializer):
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)
    unit_price = serializers.DecimalField(max_digits=18, decimal_places=6)

    class Meta:
        model = PurchaseOrderLine
        fields = ["id", "line_number", "sku", "description", "quantity", "uom", "unit_price", "cost_centre"]


class PurchaseOrderOutputSerializer(serializers.ModelSerializer):
    vendor_id = serializers.UUIDField()
    lines = PurchaseOrderLineOutputSerializer(many=True)

    class Meta:
        model = PurchaseOrder
        fields = [
            "id",
            "po_number",
            "vendor_id",
            "currency",
            "status",
            "order_date",
            "expected_date",
            "lines",
            "created_at",
        ]


class PurchaseOrderActionInputSerializer(serializers.Serializer):
    comment = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why; required to cancel. Kept in the audit event as `reason`.",
    )
    expected_status = serializers.ChoiceField(
        choices=PurchaseOrder.Status.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="The status your page showed; if the purchase order has moved since, the answer is 409 stale_state.",
    )


def _purchase_order_action_schema(action_name: str, summary: str) -> Any:
    return extend_schema(
        summary=summary,
        description=(
            "Through the purchase order lifecycle (open → closed, open → cancelled, closed → open; cancelled is "
            "final), audited in the same transaction. A move the table does not allow, or a cancel once goods "
            "were received, is 409 `illegal_transition`; an `expected_status` the order has left is 409 "
            "`stale_state`; nothing changes either way. Closing or cancelling sends the order's invoices that are "
            "`on_hold` back to matching, where they get `po_closed`."
            + (" A `comment` is required." if PURCHASE_ORDER_ACTIONS[action_name].comment_required else "")
        ),
        request=PurchaseOrderActionInputSerializer,
        responses={200: PurchaseOrderOutputSerializer},
    )


class PurchaseOrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=PurchaseOrder.Status.choices)
    vendor_id = django_filters.UUIDFilter(field_name="vendor_id")
    po_number = django_filters.CharFilter(field_name="po_number")
    order_date_from = django_filters.DateFilter(field_name="order_date", lookup_expr="gte")
    order_date_to = django_filters.DateFilter(field_name="order_date", lookup_expr="lte")

    class Meta:
        model = PurchaseOrder
        fields: list[str] = []


class PurchaseOrderViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    file_upload_actions = frozenset({"import_csv"})
    serializer_class = PurchaseOrderOutputSerializer
    filterset_class = PurchaseOrderFilter
    InputSerializer = PurchaseOrderInputSerializer

    def get_queryset(self) -> Any:
        return purchase_order_list(tenant=self.tenant).prefetch_related("lines")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.InputSerializer if self.action == "create" else PurchaseOrderOutputSerializer

    @extend_schema(
        request=PurchaseOrderInputSerializer,
        responses={201: PurchaseOrderOutputSerializer},
        description=(
            "All or nothing. Rules the schema cannot state, each a 400 naming the field: `vendor_id` must be one "
            "of your vendors; line numbers are unique within the order. A `po_number` you already have is 409."
        ),
    )
    def create(self, request: Request) -> Response:
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        document = PurchaseOrderDocument(
            po_number=data["po_number"].strip(),
            vendor_id=data["vendor_id"],
            currency=data["currency"],
            order_date=data["order_date"],
            expected_date=data["expected_date"],
            lines=[PurchaseOrderLineDocument(**line) for line in data["lines"]],
        )
        purchase_order = purchase_order_create(tenant=self.tenant, document=document, actor=self.actor)
        return Response(PurchaseOrderOutputSerializer(purchase_order).data, status=status.HTTP_201_CREATED)

    def _act(self, request: Request, action_name: str) -> Response:
        purchase_order = self.get_object()  # first: another tenant's id is a 404, whatever the body
        incoming = PurchaseOrderActionInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        purchase_order_act(
            tenant=self.tenant,
            purchase_order=purchase_order,
            action=action_name,
            actor=self.actor,
            comment=incoming.validated_data["comment"],
            expected_status=incoming.validated_data["expected_status"],
        )
        return Response(PurchaseOrderOutputSerializer(self.get_object()).data)

    @_purchase_order_action_schema("close", "Close a purchase order: nothing more is expected on it")
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        return self._act(request, "close")

    @_purchase_order_action_schema("cancel", "Cancel a purchase order before any goods arrived (comment required)")
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        return self._act(request, "cancel")

    @_purchase_order_action_schema("reopen", "Reopen a closed purchase order")
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        return self._act(request, "reopen")

    @csv_import_schema(PurchaseOrdersCsv)
    @action(detail=False, methods=["post"], url_path="import/csv", parser_classes=UPLOAD_PARSERS)
    def import_csv(self, request: Request) -> Response:
        return csv_import_action(self, request, kind=PurchaseOrdersCsv)


class GoodsReceiptLineOutputSerializer(serializers.ModelSerializer):
    po_line_number = serializers.IntegerField(source="purchase_order_line.line_number")
    quantity = serializers.DecimalField(max_digits=18, decimal_places=4)

    class Meta:
        model = GoodsReceiptLine
        fields = ["id", "po_line_number", "quantity"]


class GoodsReceiptOutputSerializer(serializers.ModelSerializer):
    po_number = serializers.CharField(source="purchase_order.po_number")
    purchase_order_id = serializers.UUIDField()
    lines = GoodsReceiptLineOutputSerializer(many=True)

    class Meta:
        model = GoodsReceipt
        fields = ["id", "receipt_number", "po_number", "purchase_order_id", "received_date", "lines", "created_at"]


class GoodsReceiptFilter(django_filters.FilterSet):
    po_number = django_filters.CharFilter(field_name="purchase_order__po_number")
    purchase_order_id = django_filters.UUIDFilter(field_name="purchase_order_id")
    received_date_from = django_filters.DateFilter(field_name="received_date", lookup_expr="gte")
    received_date_to = django_filters.DateFilter(field_name="received_date", lookup_expr="lte")

    class Meta:
        model = GoodsReceipt
        fields: list[str] = []


class GoodsReceiptViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    file_upload_actions = frozenset({"import_csv"})
    serializer_class = GoodsReceiptOutputSerializer
    filterset_class = GoodsReceiptFilter
    InputSerializer = GoodsReceiptInputSerializer

    def get_queryset(self) -> Any:
        return (
            goods_receipt_list(tenant=self.tenant)
            .select_related("purchase_order")
            .prefetch_related("lines__purchase_order_line")
        )

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.InputSerializer if self.action == "create" else GoodsReceiptOutputSerializer

    @extend_schema(
        request=GoodsReceiptInputSerializer,
        responses={201: GoodsReceiptOutputSerializer},
        description=(
            "All or nothing; invoices on hold for these goods are matched again. Rules the schema cannot state, "
            "each a 400 naming the field: `po_number` names one of your purchase orders that is not cancelled; "
            "each `po_line_number` is a line of it, once. A `receipt_number` you already have is 409."
        ),
    )
    def create(self, request: Request) -> Response:
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        document = GoodsReceiptDocument(
            receipt_number=data["receipt_number"].strip(),
            po_number=data["po_number"].strip(),
            received_date=data["received_date"],
            lines=[GoodsReceiptLineDocument(**line) for line in data["lines"]],
        )
        receipt = goods_receipt_create(tenant=self.tenant, document=document, actor=self.actor)
        return Response(GoodsReceiptOutputSerializer(receipt).data, status=status.HTTP_201_CREATED)

    @csv_import_schema(GoodsReceiptsCsv)
    @action(detail=False, methods=["post"], url_path="import/csv", parser_classes=UPLOAD_PARSERS)
    def import_csv(self, request: Request) -> Response:
        return csv_import_action(self, request, kind=GoodsReceiptsCsv)
