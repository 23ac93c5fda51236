"""Purchase order and goods receipt pages of the web app (a PO's own page shows its invoices: invoices.views)."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.http.listing import list_page
from purchasing.models import GoodsReceipt, PurchaseOrder
from purchasing.selectors import goods_receipt_list, purchase_order_list
from tenants.http.web import tenant_view, web_of

PAGE_SIZE = 50
PURCHASE_ORDER_SORTS = {
    "po_number": ("po_number",),
    "-po_number": ("-po_number",),
    "vendor": ("vendor__name", "po_number"),
    "-vendor": ("-vendor__name", "po_number"),
    "ordered": ("order_date", "po_number"),
    "-ordered": ("-order_date", "po_number"),
}
RECEIPT_SORTS = {
    "receipt_number": ("receipt_number",),
    "-receipt_number": ("-receipt_number",),
    "received": ("received_date", "receipt_number"),
    "-received": ("-received_date", "receipt_number"),
}


@tenant_view
def purchase_order_index(request: HttpRequest) -> HttpResponse:
    tenant = web_of(request).tenant
    orders = purchase_order_list(tenant=tenant).select_related("vendor")
    search = request.GET.get("q", "").strip()
    if search:
        orders = orders.filter(po_number__icontains=search)
    status = request.GET.get("status", "")
    if status in PurchaseOrder.Status.values:
        orders = orders.filter(status=status)
    listing = list_page(
        query=request.GET, queryset=orders, per_page=PAGE_SIZE, sorts=PURCHASE_ORDER_SORTS, default_sort="-ordered"
    )
    context = {
        "page": listing.page,
        "sort": listing.sort,
        "search": search,
        "status": status,
        "statuses": PurchaseOrder.Status.choices,
        "nav": "purchase-orders",
    }
    return render(request, "purchasing/po_list.html", context)


@tenant_view
def goods_receipt_index(request: HttpRequest) -> HttpResponse:
    tenant = web_of(request).tenant
    receipts = goods_receipt_list(tenant=tenant).select_related("purchase_order", "purchase_order__vendor")
    listing = list_page(
        query=request.GET, queryset=receipts, per_page=PAGE_SIZE, sorts=RECEIPT_SORTS, default_sort="-received"
    )
    context = {"page": listing.page, "sort": listing.sort, "nav": "receipts"}
    return render(request, "purchasing/receipt_list.html", context)


@tenant_view
def goods_receipt_detail(request: HttpRequest, receipt_id: uuid.UUID) -> HttpResponse:
    tenant = web_of(request).tenant
    try:
        receipt = (
            goods_receipt_list(tenant=tenant)
            .select_related("purchase_order", "purchase_order__vendor")
            .get(pk=receipt_id)
        )
    except GoodsReceipt.DoesNotExist as exc:
        raise Http404 from exc
    lines = receipt.lines.select_related("purchase_order_line").order_by("purchase_order_line__line_number")
    return render(request, "purchasing/receipt_detail.html", {"receipt": receipt, "lines": lines, "nav": "receipts"})
