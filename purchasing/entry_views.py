"""Purchase orders and goods receipts entered by hand in the web app (#17 item 5).

A new PO is a header and the shared line editor (tenants.http.line_entry); a goods receipt is
recorded from its PO's page, one "received now" cell per PO line. Both go through the one door
of each document (`purchase_order_create`, `goods_receipt_create`), as the API and CSV imports
do, so validation, the audit event and (for a receipt) invoices on hold going back to matching
are the door's; its refusals are put back beside the fields. Clerks and administrators enter
documents (`WebContext.can_import`); another member gets the 403 page, another tenant's PO the
404 page, before any role check.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.exceptions import DocumentInvalid, DuplicateDocument
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.entry_forms import (
    DESCRIPTION_REQUIRED,
    GoodsReceiptEntryForm,
    PurchaseOrderEntryForm,
    PurchaseOrderLineEntryForm,
    line_cost_centre,
    receipt_line_formset,
    tenant_currencies,
    vendor_names,
)
from purchasing.models import GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from purchasing.selectors import cost_centres_in_use, purchase_order_list
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.http.error_pages import method_not_allowed_page
from tenants.http.line_entry import (
    LINES_PREFIX,
    attach_errors,
    entered_lines,
    formset_with_row_added,
    line_editor,
    line_formset,
)
from tenants.http.web import ViewFunc, WebContext, tenant_view, web_of
from tenants.models import Tenant

ENTERERS_ONLY = "Only a clerk or an administrator can enter purchase orders and goods receipts."
PO_CREATED = "Purchase order {po_number} created with {count} line(s)."
RECEIPT_RECORDED = (
    "Goods receipt {receipt_number} recorded against {po_number}: {count} line(s). "
    "Invoices on hold waiting for these goods go back to matching."
)
OVER_ORDERED = "Line {line_number}: {received} received in all against {ordered} ordered."
PO_CLOSED = (
    "Purchase order {po_number} is closed: nothing more is expected on it. "
    "A late delivery is recorded once the order has been reopened."
)
PO_CANCELLED = "Purchase order {po_number} was cancelled: nothing can be received against it."


def _enterer(web: WebContext) -> None:
    if not web.can_import:
        raise PermissionDenied(ENTERERS_ONLY)


def _get_or_post(view: ViewFunc) -> ViewFunc:
    """A page with a form: GET shows it, POST sends it; another method gets the app's 405 page."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in ("GET", "HEAD", "POST"):
            return view(request, *args, **kwargs)
        return method_not_allowed_page(
            request,
            allowed=("GET", "HEAD", "POST"),
            back_url=reverse("web:purchase-orders"),
            back_label="the purchase orders",
        )

    return wrapper


def _minimal_editor_data(formset: Any, currency: str) -> dict[str, str]:
    """What the line editor adds up for a page being opened: the currency and the rows' count."""
    return {
        "currency": currency,
        f"{LINES_PREFIX}-TOTAL_FORMS": str(formset.total_form_count()),
        f"{LINES_PREFIX}-INITIAL_FORMS": "0",
    }


@tenant_view
@_get_or_post
def purchase_order_new(request: HttpRequest) -> HttpResponse:
    """A new purchase order: header, lines (the shared line editor), "Create purchase order"."""
    web = web_of(request)
    _enterer(web)
    own_currencies = tenant_currencies(tenant=web.tenant)
    form_options: dict[str, Any] = {"tenant": web.tenant, "own_currencies": own_currencies}
    status = 200
    if request.method != "POST":
        form = PurchaseOrderEntryForm(initial=PurchaseOrderEntryForm.initial_for(own_currencies), **form_options)
        formset = line_formset(extra=1, form=PurchaseOrderLineEntryForm)
        editor = line_editor(formset, _minimal_editor_data(formset, str(form.initial["currency"])))
    elif request.POST.get("action") == "add_line":
        # What was typed stays, with one more row; the header is not checked until it is sent.
        form = PurchaseOrderEntryForm(initial=request.POST.dict(), **form_options)
        formset = formset_with_row_added(request.POST, form=PurchaseOrderLineEntryForm)
        editor = line_editor(formset, formset.data)  # its data counts the added row
    else:
        form = PurchaseOrderEntryForm(request.POST, **form_options)
        formset = line_formset(request.POST, form=PurchaseOrderLineEntryForm)
        editor = line_editor(formset, request.POST)
        created = _purchase_order_create(web, form, formset)
        if created is not None:
            messages.success(request, PO_CREATED.format(po_number=created.po_number, count=created.lines.count()))
            return redirect("web:purchase-order-detail", purchase_order_id=created.pk)
        status = 400
    context = {
        "form": form,
        "editor": editor,
        "vendors": vendor_names(tenant=web.tenant),
        "cost_centres": cost_centres_in_use(tenant=web.tenant),
        "nav": "purchase-orders",
    }
    return render(request, "purchasing/po_new.html", context, status=status)


def _purchase_order_create(web: WebContext, form: PurchaseOrderEntryForm, formset: Any) -> PurchaseOrder | None:
    """The PO through its one door, or None with every error on the page."""
    form_valid, lines_valid = form.is_valid(), formset.is_valid()
    currency = form.cleaned_data.get("currency") if form_valid else None
    lines = entered_lines(formset, currency)
    for line in lines:
        # The API requires a description on a PO line; a SKU alone is not enough here either.
        if not line.description:
            formset.forms[line.index].add_error("description", DESCRIPTION_REQUIRED)
            lines_valid = False
    if not (form_valid and lines_valid):
        return None
    data = form.cleaned_data
    document = PurchaseOrderDocument(
        po_number=data["po_number"].strip(),
        vendor_id=data["vendor"].pk,
        currency=data["currency"],
        order_date=data["order_date"],
        expected_date=data["expected_date"],
        # PO lines are numbered in the order the page shows them; the editor's hidden
        # "PO line" cell is for invoices filled from a PO and means nothing here.
        lines=[
            PurchaseOrderLineDocument(
                line_number=number,
                description=line.description,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                cost_centre=line_cost_centre(formset.forms[line.index], order_cost_centre=data["cost_centre"]),
            )
            for number, line in enumerate(lines, start=1)
        ],
    )
    line_rows = {position: line.index for position, line in enumerate(lines)}
    try:
        return purchase_order_create(tenant=web.tenant, document=document, actor=web.actor)
    except DuplicateDocument as exc:
        attach_errors({"po_number": [exc.message]}, form, formset, line_rows)
    except DocumentInvalid as exc:
        attach_errors(exc.details, form, formset, line_rows, field_names={"vendor_id": "vendor"})
    return None


@dataclass(frozen=True)
class ReceiptRow:
    """A PO line on the receive page: what was ordered, what came so far, what is still to come."""

    line: PurchaseOrderLine
    received: Decimal

    @property
    def outstanding(self) -> Decimal:
        return max(self.line.quantity - self.received, Decimal(0))


def _receipt_rows(purchase_order: PurchaseOrder, tenant: Tenant) -> list[ReceiptRow]:
    lines = list(PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order=purchase_order))
    received = dict(
        GoodsReceiptLine.objects.for_tenant(tenant)
        .filter(purchase_order_line__in=lines)
        .values_list("purchase_order_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return [
        ReceiptRow(line=line, received=received.get(line.pk, Decimal(0)))
        for line in sorted(lines, key=lambda line: line.line_number)
    ]


def _typed(quantity: Decimal) -> str:
    """A quantity as a person types it: `12.5000` → `12.5`, `1000.0000` → `1000`."""
    return f"{quantity.normalize():f}" if quantity else ""


@tenant_view
@_get_or_post
def purchase_order_receive(request: HttpRequest, purchase_order_id: uuid.UUID) -> HttpResponse:
    """Record a goods receipt against a PO: a quantity received now per line, "Fill in everything
    outstanding", "Record receipt". Only lines with a quantity above 0 are on the receipt."""
    web = web_of(request)
    purchase_order = (
        purchase_order_list(tenant=web.tenant).select_related("vendor").filter(pk=purchase_order_id).first()
    )
    if purchase_order is None:
        raise Http404
    _enterer(web)
    rows = _receipt_rows(purchase_order, web.tenant)
    context: dict[str, Any] = {"order": purchase_order, "nav": "purchase-orders"}
    # The door refuses only a cancelled PO; a closed one expects nothing more (purchasing.lifecycle:
    # it is reopened for a late delivery), so the page does not offer to receive on it either.
    if purchase_order.status != PurchaseOrder.Status.OPEN:
        template = PO_CANCELLED if purchase_order.status == PurchaseOrder.Status.CANCELLED else PO_CLOSED
        context |= {"refusal": template.format(po_number=purchase_order.po_number), "rows": rows}
        return render(request, "purchasing/po_receive.html", context, status=409 if request.method == "POST" else 200)
    status = 200
    if request.method != "POST":
        form = GoodsReceiptEntryForm(initial=GoodsReceiptEntryForm.initial_for())
        formset = receipt_line_formset(rows=len(rows), initial=[{} for _ in rows])
    elif request.POST.get("action") == "fill_outstanding":
        # "Received all": every cell gets what is still outstanding; the header as typed.
        form = GoodsReceiptEntryForm(initial=request.POST.dict())
        formset = receipt_line_formset(rows=len(rows), initial=[{"quantity": _typed(row.outstanding)} for row in rows])
    else:
        form = GoodsReceiptEntryForm(request.POST)
        formset = receipt_line_formset(rows=len(rows), data=request.POST)
        recorded = _goods_receipt_create(web, purchase_order, rows, form, formset)
        if recorded is not None:
            receipt, count = recorded
            messages.success(
                request,
                RECEIPT_RECORDED.format(
                    receipt_number=receipt.receipt_number, po_number=purchase_order.po_number, count=count
                ),
            )
            for message in _over_ordered(purchase_order, web.tenant):
                messages.warning(request, message)
            return redirect("web:receipt-detail", receipt_id=receipt.pk)
        status = 400
    context |= {"form": form, "rows": list(zip(rows, formset.forms, strict=True)), "formset": formset}
    return render(request, "purchasing/po_receive.html", context, status=status)


def _goods_receipt_create(
    web: WebContext, purchase_order: PurchaseOrder, rows: list[ReceiptRow], form: Any, formset: Any
) -> tuple[Any, int] | None:
    """The receipt through its one door with the lines received now, or None with the errors shown."""
    form_valid, lines_valid = form.is_valid(), formset.is_valid()
    if not (form_valid and lines_valid):
        return None
    arrived = [
        (index, row, line_form.cleaned_data["quantity"])
        for index, (row, line_form) in enumerate(zip(rows, formset.forms, strict=True))
        if line_form.cleaned_data.get("quantity")
    ]
    document = GoodsReceiptDocument(
        receipt_number=form.cleaned_data["receipt_number"].strip(),
        po_number=purchase_order.po_number,
        received_date=form.cleaned_data["received_date"],
        lines=[GoodsReceiptLineDocument(po_line_number=row.line.line_number, quantity=qty) for _, row, qty in arrived],
    )
    line_rows = {position: index for position, (index, _, _) in enumerate(arrived)}
    try:
        receipt = goods_receipt_create(tenant=web.tenant, document=document, actor=web.actor)
    except DuplicateDocument as exc:
        attach_errors({"receipt_number": [exc.message]}, form, formset, line_rows)
        return None
    except DocumentInvalid as exc:
        attach_errors(exc.details, form, formset, line_rows)
        return None
    return receipt, len(arrived)


def _over_ordered(purchase_order: PurchaseOrder, tenant: Tenant) -> list[str]:
    """Lines received beyond what was ordered: the door records what arrived (more than ordered
    does arrive), and matching then holds the invoices to what was ordered; the clerk is told."""
    return [
        OVER_ORDERED.format(
            line_number=row.line.line_number, received=_typed(row.received), ordered=_typed(row.line.quantity)
        )
        for row in _receipt_rows(purchase_order, tenant)
        if row.received > row.line.quantity
    ]
