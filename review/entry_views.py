"""Invoices and credit notes typed in by hand (#17 item 5; DESIGN.md §4 draft → received / void).

`New invoice` opens an empty form; "Save draft" keeps what has been typed as a draft (held to the
door's shape rules, not yet complete) and "Submit for matching" checks it complete by the one
door's rules (invoices.checks) and hands it to matching. A PDF with no e-invoice inside arrives as
an empty draft; its page shows the PDF beside the form. Each refusal is put back beside the field or
line cell it is about. Only clerks and administrators enter documents; anyone may look.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from audit.services import audit_deferred
from core.exceptions import DocumentInvalid, DomainError
from invoices.line_totals import purchase_order_line_totals
from invoices.models import Invoice, InvoiceSource, InvoiceStatus
from invoices.services import invoice_create, invoice_draft_discard, invoice_draft_save, invoice_draft_submit
from purchasing.entry_forms import currency_choices, tenant_currencies
from purchasing.models import PurchaseOrder
from review.entry_forms import UNKNOWN_VENDOR, InvoiceEntryForm, entry_document, entry_initial, plain_decimal
from review.originals import Original, invoice_original_read
from tenants.http.error_pages import post_only
from tenants.http.line_entry import (
    LINES_PREFIX,
    attach_errors,
    entered_lines,
    formset_with_row_added,
    line_editor,
    line_formset,
)
from tenants.http.web import WebContext, content_security_policy, tenant_view, web_of
from vendors.models import Vendor
from vendors.selectors import vendor_resolve_exact
from vendors.services import vendor_create
from vendors.tax_ids import tax_id_warnings

ENTERERS_ONLY = "Only a clerk or an administrator can enter invoices."
SAVED = "Draft saved."
SUBMITTED = "{kind} {number} is submitted: matching decides it now."
DISCARDED = "Draft discarded."
NOT_A_DRAFT = "This invoice is no longer a draft: it was submitted or discarded."
NO_SUCH_PO = "No purchase order has this number."
FILLED = "{count} line(s) of {po} filled in: what it ordered and is not yet billed."
NOTHING_LEFT = "Everything {po} ordered is billed already: no line filled in."
NEW_VENDOR_TAX_ID = "Vendor {vendor} added; its tax id deserves a second look: {message}"
VENDOR_NOT_KNOWN_YET = "Not one of your vendors yet: pick one from the list, or tick “Add this vendor”."
# Shown in pickers: enough for a tenant's vendors; more are found by typing the exact name.
PICKER_LIMIT = 1000


def _enterer(web: WebContext) -> None:
    if not web.can_import:
        raise PermissionDenied(ENTERERS_ONLY)


@tenant_view
def invoice_new(request: HttpRequest) -> HttpResponse:
    """An empty form (GET), or what it was given (POST)."""
    web = web_of(request)
    _enterer(web)
    if request.method == "POST":
        return _posted(request, web, draft=None)
    kind = request.GET.get("kind", "")
    form = InvoiceEntryForm(initial={"document_type": kind} if kind == "credit_note" else None)
    return _page(request, web, form=form, formset=line_formset(extra=1), data=QueryDict(), draft=None)


@tenant_view
def invoice_edit(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """A draft's form, as it was kept (GET), or changed (POST). Not a draft any more: its page."""
    web = web_of(request)
    _enterer(web)
    draft = get_object_or_404(Invoice.objects.for_tenant(web.tenant).select_related("vendor"), pk=invoice_id)
    if draft.status != InvoiceStatus.DRAFT:
        messages.info(request, NOT_A_DRAFT)
        return redirect("web:invoice-detail", invoice_id=draft.pk)
    if request.method == "POST":
        return _posted(request, web, draft=draft)
    header, rows = entry_initial(draft)
    data = _as_posted(header, rows)
    form = InvoiceEntryForm(initial=header)
    return _page(request, web, form=form, formset=line_formset(initial=rows, extra=1), data=data, draft=draft)


@tenant_view
@post_only(back="web:invoice-edit", back_label="the draft", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_discard(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    _enterer(web)
    draft = get_object_or_404(Invoice.objects.for_tenant(web.tenant), pk=invoice_id)
    try:
        invoice_draft_discard(tenant=web.tenant, draft=draft, actor=web.actor, reason=request.POST.get("reason", ""))
    except DomainError:
        messages.error(request, NOT_A_DRAFT)
        return redirect("web:invoice-detail", invoice_id=draft.pk)
    messages.success(request, DISCARDED)
    return redirect(reverse("web:invoices") + "?status=draft")


def _posted(request: HttpRequest, web: WebContext, *, draft: Invoice | None) -> HttpResponse:
    action = request.POST.get("action", "save")
    form = InvoiceEntryForm(request.POST)
    if action == "add_line":
        formset = formset_with_row_added(request.POST)
        return _page(request, web, form=form, formset=formset, data=formset.data, draft=draft)
    if action == "fill_from_po":
        return _filled_from_po(request, web, draft=draft)
    formset = line_formset(request.POST)
    valid = form.is_valid() & formset.is_valid()  # both run, so every error is shown at once
    if not valid:
        return _page(request, web, form=form, formset=formset, data=request.POST, draft=draft, status=400)
    data = form.cleaned_data
    editor = line_editor(formset, request.POST)
    lines = entered_lines(formset, data["currency"] or None)
    submitting = action == "submit"
    try:
        # The events held back to the end (audit_deferred): a vendor added here appends its event
        # before the draft's row is locked to submit it, against the lock order (core/locks.py).
        with transaction.atomic(), audit_deferred():
            vendor, vendor_added = _vendor_of(web, data, submitting=submitting)
            document = entry_document(data, lines, editor.totals, vendor_id=vendor.pk if vendor else None)
            if submitting and draft is None:
                invoice = invoice_create(
                    tenant=web.tenant, document=document, actor=web.actor, source=InvoiceSource.MANUAL
                )
            elif submitting:
                assert draft is not None
                invoice = invoice_draft_submit(tenant=web.tenant, draft=draft, document=document, actor=web.actor)
            else:
                invoice = invoice_draft_save(tenant=web.tenant, document=document, actor=web.actor, draft=draft)
    except DomainError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        line_rows = {number: line.index for number, line in enumerate(lines)}
        renamed = {"vendor_id": "vendor", "vendor_name": "vendor", "vendor_tax_id": "vendor_tax_id"}
        attach_errors(details, form, formset, line_rows, field_names=renamed)
        if not details:
            form.add_error(None, str(exc))
        return _page(request, web, form=form, formset=formset, data=request.POST, draft=draft, status=exc.status_code)
    if vendor is not None and vendor_added:
        # Created all the same (a warning, not a refusal, as on vendor create): said once more
        # after the page it was typed on is gone.
        for warning in tax_id_warnings(vendor.tax_id):
            messages.warning(request, NEW_VENDOR_TAX_ID.format(vendor=vendor.name, message=warning.message))
    if submitting:
        messages.success(
            request, SUBMITTED.format(kind=invoice.get_document_type_display(), number=invoice.invoice_number)
        )
        return redirect("web:invoice-detail", invoice_id=invoice.pk)
    messages.success(request, SAVED)
    return redirect("web:invoice-edit", invoice_id=invoice.pk)


def _vendor_of(web: WebContext, data: dict[str, Any], *, submitting: bool) -> tuple[Vendor | None, bool]:
    """The vendor the form names, and whether it was added now: one of the tenant's by exact name
    or tax id, or a new one when "Add this vendor" is ticked. A name that is no vendor may wait in
    a draft, not be submitted."""
    name, tax_id = data["vendor"].strip(), data["vendor_tax_id"].strip()
    if not name and not tax_id:
        return None, False
    vendor = vendor_resolve_exact(tenant=web.tenant, tax_id=tax_id, name=name)
    if vendor is not None:
        return vendor, False
    if data["create_vendor"]:
        return vendor_create(tenant=web.tenant, name=name, tax_id=tax_id, actor=web.actor), True
    if submitting:
        message = UNKNOWN_VENDOR.format(name=name or tax_id)
        raise DocumentInvalid(message, details={"vendor": [message]})
    return None, False


def _filled_from_po(request: HttpRequest, web: WebContext, *, draft: Invoice | None) -> HttpResponse:
    """The form with its lines replaced by what the PO ordered and is not yet billed, each keyed
    to its PO line; the PO's currency and vendor where the form has none. Nothing is saved."""
    po_number = request.POST.get("po_number", "").strip()
    purchase_order = (
        PurchaseOrder.objects.for_tenant(web.tenant).select_related("vendor").filter(po_number=po_number).first()
    )
    if purchase_order is None:
        form = InvoiceEntryForm(request.POST)
        form.is_valid()
        form.add_error("po_number", NO_SUCH_PO)
        formset = line_formset(request.POST)
        return _page(request, web, form=form, formset=formset, data=request.POST, draft=draft, status=400)
    rows = [
        {
            "description": totals.line.description,
            "sku": totals.line.sku,
            "quantity": plain_decimal(totals.ordered - totals.billed),
            "unit_price": plain_decimal(totals.line.unit_price),
            "po_line_number": totals.line.line_number,
        }
        for totals in purchase_order_line_totals(tenant=web.tenant, purchase_order=purchase_order)
        if totals.ordered > totals.billed
    ]
    data = request.POST.copy()
    for key in [key for key in data if key.startswith(f"{LINES_PREFIX}-")]:
        del data[key]
    data.update(_as_posted({}, rows))
    data["currency"] = data.get("currency") or purchase_order.currency
    if not data.get("vendor"):
        data["vendor"] = purchase_order.vendor.name
    if rows:
        messages.info(request, FILLED.format(count=len(rows), po=purchase_order.po_number))
    else:
        messages.warning(request, NOTHING_LEFT.format(po=purchase_order.po_number))
    form = InvoiceEntryForm(data)
    formset = formset_with_row_added(data)
    return _page(request, web, form=form, formset=formset, data=formset.data, draft=draft)


def _as_posted(header: dict[str, Any], rows: list[dict[str, Any]]) -> QueryDict:
    """Stored values in the shape a POST of the form has: what the totals are added up from."""
    data = QueryDict(mutable=True)
    for name, value in header.items():
        data[name] = "" if value is None else str(value)
    data[f"{LINES_PREFIX}-TOTAL_FORMS"] = str(len(rows))
    data[f"{LINES_PREFIX}-INITIAL_FORMS"] = "0"
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"{LINES_PREFIX}-{index}-{name}"] = "" if value is None else str(value)
    return data


def _page(
    request: HttpRequest,
    web: WebContext,
    *,
    form: InvoiceEntryForm,
    formset: Any,
    data: Any,
    draft: Invoice | None,
    status: int = 200,
) -> HttpResponse:
    original: Original | None = None
    if draft is not None:
        original = invoice_original_read(tenant=web.tenant, invoice=draft)
    vendor_name = str(data.get("vendor", "")).strip()
    tax_id = str(data.get("vendor_tax_id", "")).strip()
    vendors = Vendor.objects.for_tenant(web.tenant).filter(is_active=True).order_by("name")
    known_vendor = vendor_resolve_exact(tenant=web.tenant, name=vendor_name) if vendor_name else None
    orders = PurchaseOrder.objects.for_tenant(web.tenant).filter(status=PurchaseOrder.Status.OPEN)
    if known_vendor is not None:
        orders = orders.filter(vendor=known_vendor)
    context = {
        "form": form,
        "editor": line_editor(formset, data),
        "draft": draft,
        "invoice": draft,  # for the original's partial
        "original": original,
        "vendor_names": vendors.values_list("name", flat=True)[:PICKER_LIMIT],
        "po_numbers": orders.order_by("-order_date", "-id").values_list("po_number", flat=True)[:PICKER_LIMIT],
        # The same picker as a purchase order's: the tenant's own currencies first, then the common ones.
        "currencies": [
            code for group in currency_choices(tenant_currencies(tenant=web.tenant)) for code, _ in group[1]
        ],
        "vendor_hint": VENDOR_NOT_KNOWN_YET if vendor_name and known_vendor is None else "",
        # The check vendor create makes (python-stdnum), beside the field, for a vendor to be
        # added: a known vendor's tax id is the vendor page's business.
        "tax_id_warnings": tax_id_warnings(tax_id)
        if tax_id and vendor_resolve_exact(tenant=web.tenant, tax_id=tax_id) is None
        else [],
    }
    response = render(request, "invoices/entry.html", context, status=status)
    if original is not None and original.is_pdf:
        # The page shows the draft's PDF in an <object>, which the site's policy forbids.
        response["Content-Security-Policy"] = content_security_policy(object_src="'self'")
    return response
