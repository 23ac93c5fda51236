"""The vendor list of the web app (a vendor's own page shows its invoices: invoices.views)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.http.listing import list_page
from tenants.http.web import tenant_view, web_of
from vendors.selectors import vendor_list

PAGE_SIZE = 50
VENDOR_SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "invoices": ("invoice_count", "name"),
    "-invoices": ("-invoice_count", "name"),
}


@tenant_view
def vendor_index(request: HttpRequest) -> HttpResponse:
    tenant = web_of(request).tenant
    vendors = vendor_list(tenant=tenant).annotate(invoice_count=Count("invoices"))
    search = request.GET.get("q", "").strip()
    if search:
        vendors = vendors.filter(name__icontains=search)
    listing = list_page(
        query=request.GET, queryset=vendors, per_page=PAGE_SIZE, sorts=VENDOR_SORTS, default_sort="name"
    )
    context = {"page": listing.page, "sort": listing.sort, "search": search, "nav": "vendors"}
    return render(request, "vendors/list.html", context)
