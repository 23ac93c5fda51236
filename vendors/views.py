"""Read-only vendor pages of the web app."""

from __future__ import annotations

import uuid

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from invoices.selectors import invoice_list
from purchasing.selectors import purchase_order_list
from tenants.http.web import tenant_view
from vendors.models import Vendor
from vendors.selectors import vendor_list

PAGE_SIZE = 50


@tenant_view
def vendor_index(request: HttpRequest) -> HttpResponse:
    tenant = request.web.tenant  # type: ignore[attr-defined]
    vendors = vendor_list(tenant=tenant).annotate(invoice_count=Count("invoices")).order_by("name", "id")
    search = request.GET.get("q", "").strip()
    if search:
        vendors = vendors.filter(name__icontains=search)
    page = Paginator(vendors, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "vendors/list.html", {"page": page, "search": search, "nav": "vendors"})


@tenant_view
def vendor_detail(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    tenant = request.web.tenant  # type: ignore[attr-defined]
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
