"""Admin of purchase orders and goods receipts: read-only views across tenants.

POs and receipts come from ERP connectors through the API; the matching engine reads them as
they were sent. The admin shows them (with what was received against each PO line) but does not
change them: a status change (closing a PO) belongs to a service that also writes the audit
event, not to a form.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import QuerySet, Sum
from django.http import HttpRequest

from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.admin_mixins import DocumentAdminMixin, ReadOnlyInlineMixin, TenantOwnedAdminMixin, TenantOwnedInlineMixin
from vendors.models import Vendor


class PurchaseOrderLineInline(TenantOwnedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = PurchaseOrderLine
    fields = ("line_number", "sku", "description", "quantity", "uom", "unit_price", "received_quantity")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PurchaseOrderLine]:
        return super().get_queryset(request).annotate(received=Sum("receipt_lines__quantity"))

    @admin.display(description="received")
    def received_quantity(self, line: PurchaseOrderLine) -> Decimal:
        return line.received or Decimal("0")  # type: ignore[attr-defined]


class GoodsReceiptInline(TenantOwnedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = GoodsReceipt
    fields = ("receipt_number", "received_date", "created_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(TenantOwnedAdminMixin, DocumentAdminMixin, admin.ModelAdmin):
    list_display = ("po_number", "vendor", "tenant", "status", "currency", "order_date", "expected_date", "created_at")
    list_filter = ("tenant", "status", "currency", "order_date")
    list_select_related = ("tenant", "vendor")
    search_fields = (
        "po_number",
        "vendor__name",
        "vendor__tax_id",
        "tenant__name",
        "tenant__slug",
        "id__exact",
    )
    date_hierarchy = "order_date"
    fieldsets = (
        (None, {"fields": ("id", "tenant", "po_number", "vendor", "currency", "status")}),
        ("Dates", {"fields": ("order_date", "expected_date", "closed_at", "created_at")}),
    )
    inlines = (PurchaseOrderLineInline, GoodsReceiptInline)

    def has_change_permission(self, request: HttpRequest, obj: PurchaseOrder | None = None) -> bool:
        return False


class GoodsReceiptLineInline(TenantOwnedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = GoodsReceiptLine
    fields = ("po_line_number", "sku", "description", "quantity")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[GoodsReceiptLine]:
        return super().get_queryset(request).select_related("purchase_order_line")

    @admin.display(description="PO line")
    def po_line_number(self, line: GoodsReceiptLine) -> int:
        return line.purchase_order_line.line_number

    @admin.display(description="SKU")
    def sku(self, line: GoodsReceiptLine) -> str:
        return line.purchase_order_line.sku

    @admin.display(description="description")
    def description(self, line: GoodsReceiptLine) -> str:
        return line.purchase_order_line.description


@admin.register(GoodsReceipt)
class GoodsReceiptAdmin(TenantOwnedAdminMixin, DocumentAdminMixin, admin.ModelAdmin):
    list_display = ("receipt_number", "purchase_order", "vendor", "tenant", "received_date", "created_at")
    list_filter = ("tenant", "received_date")
    list_select_related = ("tenant", "purchase_order__vendor")
    search_fields = (
        "receipt_number",
        "purchase_order__po_number",
        "purchase_order__vendor__name",
        "tenant__name",
        "tenant__slug",
        "id__exact",
    )
    date_hierarchy = "received_date"
    fields = ("id", "tenant", "receipt_number", "purchase_order", "vendor", "received_date", "created_at")
    readonly_fields = ("vendor",)
    inlines = (GoodsReceiptLineInline,)

    @admin.display(description="vendor", ordering="purchase_order__vendor__name")
    def vendor(self, receipt: GoodsReceipt) -> Vendor:
        return receipt.purchase_order.vendor

    def has_change_permission(self, request: HttpRequest, obj: GoodsReceipt | None = None) -> bool:
        return False
