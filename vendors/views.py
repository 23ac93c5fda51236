"""The vendor list of the web app (a vendor's own page shows its invoices: invoices.views)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.http.web import tenant_view
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
