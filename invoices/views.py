"""The web app's pages of a vendor and of a purchase order, each with the invoices against it.

Here, not in vendors/ or purchasing/, because each reads invoices, the layer above theirs.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from invoices.line_totals import purchase_order_line_totals
from invoices.selectors import invoice_list
from purchasing.models import PurchaseOrder
from purchasing.selectors import goods_receipt_list, purchase_order_list
from tenants.http.web import tenant_view, web_of
from vendors.models import Vendor
from vendors.selectors import vendor_list


@tenant_view
def vendor_detail(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    tenant = web_of(request).tenant
    try:
        vendor = vendor_list(tenant=tenant).get(pk=vendor_id)
    except Vendor.DoesNotExist as exc:
        raise Http404 from exc
    context = {
        "vendor": vendor,
        "aliases": list(vendor.aliases.order_by("alias")),
        "purchase_orders": list(purchase_order_list(tenant=tenant).filter(vendor=vendor).order_by("-order_date")[:50]),
        "invoices": list(invoice_list(tenant=tenant).filter(vendor=vendor).order_by("-invoice_date")[:50]),
        "nav": "vendors",
    }
    return render(request, "vendors/detail.html", context)


@tenant_view
def purchase_order_detail(request: HttpRequest, purchase_order_id: uuid.UUID) -> HttpResponse:
    tenant = web_of(request).tenant
    try:
        order = purchase_order_list(tenant=tenant).select_related("vendor").get(pk=purchase_order_id)
    except PurchaseOrder.DoesNotExist as exc:
        raise Http404 from exc
    context = {
        "order": order,
        "line_totals": purchase_order_line_totals(tenant=tenant, purchase_order=order),
        "receipts": list(goods_receipt_list(tenant=tenant).filter(purchase_order=order).order_by("received_date")),
        "invoices": list(
            invoice_list(tenant=tenant).filter(purchase_order=order).select_related("vendor").order_by("invoice_date")
        ),
        "nav": "purchase-orders",
    }
    return render(request, "purchasing/po_detail.html", context)
