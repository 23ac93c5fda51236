"""The invoice page's corrections by hand (review.manual_choices): a line assigned to another PO
line of the invoice's PO, or to none, from the select on its row of the 3-way comparison; the
vendor of an invoice whose vendor was not recognised; the PO of an invoice without one."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from core.exceptions import DocumentInvalid, DomainError
from core.http.forms import posted_uuid
from invoices.models import Invoice, InvoiceLine
from review.manual_choices import invoice_line_assign, invoice_purchase_order_choose, invoice_vendor_choose
from review.views import invoice_page, invoice_page_context
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of

NO_LINE = "none"
LINE_ASSIGNED = "Line {line} now bills {target}. Invoice {number} is being matched again with that assignment."
CHOOSE_A_LINE = "Choose a PO line, or “No PO line”."
CHOOSE_A_VENDOR = "Choose the vendor who sent this invoice."
CHOOSE_A_PO = "Choose the purchase order this invoice bills."
VENDOR_CHOSEN = "Invoice {number} is now {vendor}'s and is being matched again."
VENDOR_LEARNED = " Recon will recognise “{name}” as {vendor} from now on."
VENDOR_TAX_ID_LEARNED = " Recon will recognise the tax id {tax_id} as {vendor}'s from now on."
PO_CHOSEN = "Invoice {number} now bills purchase order {po_number} and is being matched again."


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_line_assign_view(request: HttpRequest, invoice_id: uuid.UUID, invoice_line_id: uuid.UUID) -> HttpResponse:
    """POST `po_line` (a PO line's id, or "none") and `expected_match` (the match the page showed);
    success back to the invoice page, a refusal re-renders it with the reason and its status."""
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    if (
        invoice is None
        or not InvoiceLine.objects.for_tenant(web.tenant).filter(invoice=invoice, pk=invoice_line_id).exists()
    ):
        raise Http404
    raw = request.POST.get("po_line", "")
    po_line_id = posted_uuid(raw)
    try:
        if raw != NO_LINE and po_line_id is None:
            raise DocumentInvalid(CHOOSE_A_LINE, details={"po_line": [CHOOSE_A_LINE]})
        choice = invoice_line_assign(
            tenant=web.tenant,
            invoice=invoice,
            invoice_line_id=invoice_line_id,
            po_line_id=po_line_id,
            actor=web.actor,
            role=web.role,
            expected_match_id=posted_uuid(request.POST.get("expected_match", "")),
        )
    except DomainError as exc:
        return _refused(request, invoice_id, exc)
    target = f"PO line {choice.po_line.line_number}" if choice.po_line is not None else "no PO line"
    line = choice.invoice_line.line_number if choice.invoice_line is not None else "?"
    messages.success(request, LINE_ASSIGNED.format(line=line, target=target, number=invoice.invoice_number))
    return redirect("web:invoice-detail", invoice_id=invoice.pk)


def _refused(request: HttpRequest, invoice_id: uuid.UUID, exc: DomainError) -> HttpResponse:
    context = invoice_page_context(request, invoice_id)
    context["error"] = exc.message
    return invoice_page(request, context, status=exc.status_code)


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_vendor_choose_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """POST `vendor` (a vendor's id) and `expected_match`."""
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    try:
        vendor_id = posted_uuid(request.POST.get("vendor", ""))
        if vendor_id is None:
            raise DocumentInvalid(CHOOSE_A_VENDOR, details={"vendor": [CHOOSE_A_VENDOR]})
        choice = invoice_vendor_choose(
            tenant=web.tenant, invoice=invoice, vendor_id=vendor_id, actor=web.actor, role=web.role,
            expected_match_id=posted_uuid(request.POST.get("expected_match", "")),
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, invoice_id, exc)
    vendor = choice.vendor.name if choice.vendor is not None else ""
    done = VENDOR_CHOSEN.format(number=invoice.invoice_number, vendor=vendor)
    if choice.example.details.get("taught_alias"):
        done += VENDOR_LEARNED.format(name=invoice.vendor_name_raw.strip(), vendor=vendor)
    if choice.example.details.get("taught_tax_id"):
        done += VENDOR_TAX_ID_LEARNED.format(tax_id=invoice.vendor_tax_id_raw.strip(), vendor=vendor)
    messages.success(request, done)
    return redirect("web:invoice-detail", invoice_id=invoice.pk)


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_purchase_order_choose_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """POST `purchase_order` (a PO's id) and `expected_match`."""
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    try:
        purchase_order_id = posted_uuid(request.POST.get("purchase_order", ""))
        if purchase_order_id is None:
            raise DocumentInvalid(CHOOSE_A_PO, details={"purchase_order": [CHOOSE_A_PO]})
        choice = invoice_purchase_order_choose(
            tenant=web.tenant, invoice=invoice, purchase_order_id=purchase_order_id, actor=web.actor,
            role=web.role, expected_match_id=posted_uuid(request.POST.get("expected_match", "")),
        )  # fmt: skip
    except DomainError as exc:
        return _refused(request, invoice_id, exc)
    po_number = choice.purchase_order.po_number if choice.purchase_order is not None else ""
    messages.success(request, PO_CHOSEN.format(number=invoice.invoice_number, po_number=po_number))
    return redirect("web:invoice-detail", invoice_id=invoice.pk)
