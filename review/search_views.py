"""The search pages: the list under the header's search box (an htmx fragment, as the clerk types)
and the full results page (`/app/search?q=`, where Enter without a chosen result leads).

Thin views over `review.search`; the box itself is templates/review/_search_box.html, included by
the layout on every page, and its keyboard handling recon_site/static/web/search.js.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from review.search import Kind, SearchHit, search_run
from tenants.http.web import tenant_view, web_of

# How many documents the header's list offers, and the results page shows of each kind.
SUGGESTIONS = 8
RESULTS_PER_KIND = 50

# The page each kind of document opens.
DOCUMENT_PAGES = {
    Kind.INVOICE: "web:invoice-detail",
    Kind.PURCHASE_ORDER: "web:purchase-order-detail",
    Kind.VENDOR: "web:vendor-detail",
}


@dataclass(frozen=True)
class ShownHit:
    """A search hit and the address of its document's page."""

    hit: SearchHit
    href: str


def _shown(hits: list[SearchHit]) -> list[ShownHit]:
    return [ShownHit(hit=hit, href=reverse(DOCUMENT_PAGES[Kind(hit.kind)], args=[hit.id])) for hit in hits]


@tenant_view
def search_suggest(request: HttpRequest) -> HttpResponse:
    """The options under the search box: the best documents of every kind, then "all results"."""
    text = request.GET.get("q", "")
    results = search_run(tenant=web_of(request).tenant, text=text, limit=SUGGESTIONS)
    context = {
        "query": results.query,
        "options": _shown(results.best(limit=SUGGESTIONS)),
        "all_results": f"{reverse('web:search')}?{request.GET.urlencode()}",
    }
    return render(request, "review/_search_options.html", context)


@tenant_view
def search_page(request: HttpRequest) -> HttpResponse:
    """Everything the text finds, by kind of document, each ranked."""
    text = request.GET.get("q", "")
    results = search_run(tenant=web_of(request).tenant, text=text, limit=RESULTS_PER_KIND)
    sections = [
        (Kind.INVOICE, _shown(results.invoices)),
        (Kind.PURCHASE_ORDER, _shown(results.purchase_orders)),
        (Kind.VENDOR, _shown(results.vendors)),
    ]
    context = {
        "query": results.query,
        "search_text": results.query.text,
        "sections": [(kind.value, kind.label, shown) for kind, shown in sections],
        "found": any(shown for _, shown in sections),
        "per_kind": RESULTS_PER_KIND,
    }
    return render(request, "review/search.html", context)
