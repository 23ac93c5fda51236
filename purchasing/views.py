"""Purchase order and goods receipt pages of the web app (a PO's own page shows its invoices: invoices.views)."""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from purchasing.models import GoodsReceipt, PurchaseOrder
from purchasing.selectors import goods_receipt_list, purchase_order_list
from tenants.http.web import tenant_view

PAGE_SIZE = 50


@tenant_view
def purchase_order_index(request: HttpRequest) -> HttpResponse:
    tenant = request.web.tenant  # type: ignore[attr-defined]
    orders = purchase_order_list(tenant=tenant).select_related("vendor").order_by("-order_date", "po_number")
    search = request.GET.get("q", "").strip()
    if search:
        orders = orders.filter(po_number__icontains=search)
    status = request.GET.get("status", "")
    if status in PurchaseOrder.Status.values:
        orders = orders.filter(status=status)
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "search": search,
        "status": status,
        "statuses": PurchaseOrder.Status.choices,
        "nav": "purchase-orders",
    }
    return render(request, "purchasing/po_list.html", context)


@tenant_view
def goods_receipt_index(request: HttpRequest) -> HttpResponse:
    tenant = request.web.tenant  # type: ignore[attr-defined]
    receipts = (
        goods_receipt_list(tenant=tenant)
        .select_related("purchase_order", "purchase_order__vendor")
        .order_by("-received_date", "receipt_number")
    )
    page = Paginator(receipts, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "purchasing/receipt_list.html", {"page": page, "nav": "receipts"})


@tenant_view
def goods_receipt_detail(request: HttpRequest, receipt_id: uuid.UUID) -> HttpResponse:
    tenant = request.web.tenant  # type: ignore[attr-defined]
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
