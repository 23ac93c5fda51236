"""The form of an invoice or credit note typed in by hand: its header here, its lines in the shared
line editor (tenants.http.line_entry). What the form reads becomes an `InvoiceDocument` for the one
door's rules (invoices.checks), so a page, a CSV row and an API call are refused alike."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from core.business_dates import business_date_error
from core.http.forms import currency_cleaned, date_input
from core.money import from_minor
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import DocumentType, Invoice, InvoiceLine
from tenants.http.line_entry import EnteredLine, LineTotals, typed_decimal

CREDITED_ONLY_ON_CREDIT_NOTES = "Only a credit note names the invoice it credits."
UNKNOWN_VENDOR = "No vendor is called “{name}”. Pick one from the list, or tick “Add this vendor” to create it."


def _any_number(_: Decimal) -> str | None:
    return None  # the door checks an amount's places in the currency and its sign


def _amount_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        max_length=40,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


class InvoiceEntryForm(forms.Form):
    """The header of a document typed in by hand. Nothing is required to keep a draft; the door
    says what is missing when it is submitted."""

    document_type = forms.ChoiceField(label="Kind", choices=DocumentType.choices, initial=DocumentType.INVOICE)
    vendor = forms.CharField(
        label="Vendor", required=False, max_length=255, widget=forms.TextInput(attrs={"list": "vendor-names"})
    )
    create_vendor = forms.BooleanField(label="Add this vendor", required=False)
    vendor_tax_id = forms.CharField(label="Vendor VAT or tax id", required=False, max_length=64)
    invoice_number = forms.CharField(label="Number", required=False, max_length=64)
    credited_invoice_number = forms.CharField(
        label="Invoice it credits", required=False, max_length=64, help_text="For a credit note: the invoice's number."
    )
    po_number = forms.CharField(
        label="Purchase order",
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "po-numbers"}),
    )
    currency = forms.CharField(
        label="Currency",
        required=False,
        max_length=3,
        widget=forms.TextInput(attrs={"list": "currencies", "autocapitalize": "characters", "size": 4}),
    )
    invoice_date = forms.DateField(label="Date", required=False, widget=date_input())
    due_date = forms.DateField(label="Due", required=False, widget=date_input())
    tax_amount = _amount_field("Tax")
    shipping_amount = _amount_field("Shipping")
    total_amount = _amount_field("Total on the document", "Leave empty to take lines + tax + shipping.")

    def clean_currency(self) -> str:
        text = self.cleaned_data.get("currency", "").strip()
        if not text:
            return ""
        return currency_cleaned(text)

    def _clean_date(self, name: str) -> dt.date | None:
        value = self.cleaned_data.get(name)
        if problem := business_date_error(value):
            raise forms.ValidationError(problem)
        return value

    def clean_invoice_date(self) -> dt.date | None:
        return self._clean_date("invoice_date")

    def clean_due_date(self) -> dt.date | None:
        return self._clean_date("due_date")

    def _clean_amount(self, name: str) -> Decimal | None:
        # Read as the line editor reads its cells: blank is None, a decimal comma is refused.
        return typed_decimal(self.cleaned_data.get(name, ""), _any_number)

    def clean_tax_amount(self) -> Decimal | None:
        return self._clean_amount("tax_amount")

    def clean_shipping_amount(self) -> Decimal | None:
        return self._clean_amount("shipping_amount")

    def clean_total_amount(self) -> Decimal | None:
        return self._clean_amount("total_amount")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("credited_invoice_number", "").strip() and data.get("document_type") != DocumentType.CREDIT_NOTE:
            self.add_error("credited_invoice_number", CREDITED_ONLY_ON_CREDIT_NOTES)
        return data


def entry_document(
    data: dict[str, Any],
    lines: list[EnteredLine],
    totals: LineTotals,
    *,
    vendor_id: Any = None,
) -> InvoiceDocument:
    """The document the form describes. A total left empty is the sum the page showed."""
    currency = data.get("currency", "")
    total = data.get("total_amount")
    if total is None:
        total = from_minor(totals.total, currency) if currency and totals.total is not None else Decimal(0)
    return InvoiceDocument(
        document_type=data.get("document_type") or DocumentType.INVOICE,
        invoice_number=data.get("invoice_number", ""),
        credited_invoice_number=data.get("credited_invoice_number", ""),
        currency=currency,
        invoice_date=data.get("invoice_date"),
        due_date=data.get("due_date"),
        total_amount=total,
        tax_amount=data.get("tax_amount") or Decimal(0),
        shipping_amount=data.get("shipping_amount") or Decimal(0),
        vendor_id=vendor_id,
        vendor_name="" if vendor_id else data.get("vendor", ""),
        vendor_tax_id="" if vendor_id else data.get("vendor_tax_id", ""),
        po_number=data.get("po_number", ""),
        lines=[
            InvoiceLineDocument(
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                po_line_number=line.po_line_number,
            )
            for line in lines
        ],
    )


def plain_decimal(value: Decimal | None) -> str:
    """A stored decimal as a person types it: no exponent, no trailing zeros of NUMERIC(18,6)."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def entry_initial(invoice: Invoice) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What a stored draft's page starts from: the header's values and the lines' rows."""
    currency = invoice.currency

    def amount(minor: int) -> str:
        return str(from_minor(minor, currency)) if currency and minor else ""

    header = {
        "document_type": invoice.document_type,
        "vendor": invoice.vendor.name if invoice.vendor is not None else invoice.vendor_name_raw,
        "vendor_tax_id": "" if invoice.vendor is not None else invoice.vendor_tax_id_raw,
        "invoice_number": invoice.invoice_number,
        "credited_invoice_number": invoice.credited_invoice_number,
        "po_number": invoice.po_number,
        "currency": currency,
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "tax_amount": amount(invoice.tax_amount),
        "shipping_amount": amount(invoice.shipping_amount),
        "total_amount": amount(invoice.total_amount),
    }
    lines = [
        {
            "description": line.description,
            "sku": line.sku,
            "quantity": plain_decimal(line.quantity),
            "unit_price": plain_decimal(line.unit_price),
            "po_line_number": line.po_line_number,
        }
        for line in InvoiceLine.objects.for_tenant(invoice.tenant_id).filter(invoice=invoice).order_by("line_number")
    ]
    return header, lines
