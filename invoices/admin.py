"""Admin of invoices: everything visible across tenants, very little editable.

An invoice changes state only through the lifecycle's transition function (DESIGN.md §4), which
checks the transition table and writes the audit event in the same transaction, so `status` and
`review_queue` are read-only here. Amounts and lines are what the vendor sent and what matching
compared; they come in through the API and services and are read-only too. What remains editable
are the references an administrator may need to correct before matching: the vendor (limited to
the invoice's tenant), the PO number, the due date and the external id.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from core.money import MoneyError, format_minor
from invoices.models import Invoice, InvoiceLine
from tenants.admin_mixins import (
    DocumentAdminMixin,
    ReadOnlyInlineMixin,
    TenantOwnedAdminForm,
    TenantOwnedAdminMixin,
    TenantOwnedInlineMixin,
)


def money(minor: int | None, currency: str) -> str:
    """`12500, "EUR"` → `"125.00 EUR"`; an amount is never shown without its currency."""
    if minor is None:
        return "-"
    try:
        return f"{format_minor(minor, currency)} {currency}"
    except MoneyError:
        # The admin is where broken rows get looked at; one bad currency code must not take the
        # whole changelist down, so show the raw minor units instead.
        return f"{minor} (minor units) {currency}"


class InvoiceLineInline(TenantOwnedInlineMixin, ReadOnlyInlineMixin, admin.TabularInline):
    model = InvoiceLine
    fields = ("line_number", "sku", "description", "quantity", "unit_price", "line_amount", "po_line_number")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceLine]:
        return super().get_queryset(request).select_related("invoice")

    @admin.display(description="amount")
    def line_amount(self, line: InvoiceLine) -> str:
        return money(line.amount, line.invoice.currency)


class InvoiceAdminForm(TenantOwnedAdminForm):
    class Meta:
        model = Invoice
        fields = ("vendor", "po_number", "due_date", "external_id")


@admin.register(Invoice)
class InvoiceAdmin(TenantOwnedAdminMixin, DocumentAdminMixin, admin.ModelAdmin):
    form = InvoiceAdminForm
    list_display = (
        "invoice_number",
        "vendor_display",
        "tenant",
        "status",
        "review_queue",
        "total",
        "invoice_date",
        "due_date",
        "po_number",
        "source",
        "created_at",
    )
    list_filter = ("tenant", "status", "review_queue", "source", "currency", "invoice_date")
    list_select_related = ("tenant", "vendor")
    search_fields = (
        "invoice_number",
        "invoice_number_normalized",
        "vendor__name",
        "vendor_name_raw",
        "vendor_tax_id_raw",
        "po_number",
        "external_id",
        "tenant__name",
        "tenant__slug",
        "id__exact",
    )
    date_hierarchy = "invoice_date"
    readonly_fields = (
        "invoice_number",
        "invoice_number_normalized",
        "vendor_name_raw",
        "vendor_tax_id_raw",
        "currency",
        "invoice_date",
        "subtotal",
        "tax",
        "shipping",
        "total",
        "prepaid",
        "amount_due_display",
        "document_type",
        "converted_from",
        "status",
        "review_queue",
        "source",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "tenant",
                    "document_type",
                    "converted_from",
                    "invoice_number",
                    "invoice_number_normalized",
                    "status",
                    "review_queue",
                )
            },
        ),
        ("Vendor", {"fields": ("vendor", "vendor_name_raw", "vendor_tax_id_raw")}),
        ("References", {"fields": ("po_number", "external_id", "source")}),
        ("Dates", {"fields": ("invoice_date", "due_date", "created_at", "updated_at")}),
        ("Amounts", {"fields": ("currency", "subtotal", "tax", "shipping", "total", "prepaid", "amount_due_display")}),
    )
    inlines = (InvoiceLineInline,)

    @admin.display(description="vendor", ordering="vendor__name")
    def vendor_display(self, invoice: Invoice) -> str:
        # An unresolved vendor is still worth seeing: the name as the invoice gave it.
        if invoice.vendor is not None:
            return invoice.vendor.name
        return f"{invoice.vendor_name_raw or '-'} (unresolved)"

    @admin.display(description="subtotal", ordering="subtotal_amount")
    def subtotal(self, invoice: Invoice) -> str:
        return money(invoice.subtotal_amount, invoice.currency)

    @admin.display(description="tax", ordering="tax_amount")
    def tax(self, invoice: Invoice) -> str:
        return money(invoice.tax_amount, invoice.currency)

    @admin.display(description="shipping", ordering="shipping_amount")
    def shipping(self, invoice: Invoice) -> str:
        return money(invoice.shipping_amount, invoice.currency)

    @admin.display(description="total", ordering="total_amount")
    def total(self, invoice: Invoice) -> str:
        return money(invoice.total_amount, invoice.currency)

    @admin.display(description="prepaid (BT-113)", ordering="prepaid_amount")
    def prepaid(self, invoice: Invoice) -> str:
        return money(invoice.prepaid_amount, invoice.currency)

    @admin.display(description="amount due (BT-115)", ordering="amount_due")
    def amount_due_display(self, invoice: Invoice) -> str:
        return money(invoice.amount_due, invoice.currency)
