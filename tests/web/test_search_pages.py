"""The search box on every page, the list it fills as the clerk types (an htmx fragment) and the
full results page, with the Django client: what they show, where each result leads, in how many
queries, and never another tenant's documents."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db

SUGGEST = reverse("web:search-suggest")
RESULTS = reverse("web:search")


def _options(html: str) -> list[tuple[str, str]]:
    """(data-href, text of the title) of each option of the list, in order."""
    return re.findall(r'role="option"[^>]*data-href="([^"]+)"[^>]*>.*?search-title">([^<]*)<', html, re.S)


@pytest.mark.parametrize("path", ["/", "/app/queues/standard", "/app/vendors", "/app/payments", RESULTS])
def test_every_page_has_the_search_box_as_an_accessible_combobox(clerk: Client, path: str) -> None:
    html = clerk.get(path).content.decode()
    assert 'role="search"' in html and f'action="{RESULTS}"' in html
    box = re.search(r"<input id=\"search-input\"[^>]*>", html, re.S)
    assert box, path
    for attribute in (
        'role="combobox"',
        'aria-controls="search-listbox"',
        'aria-expanded="false"',
        'aria-autocomplete="list"',
        f'hx-get="{SUGGEST}"',
        'name="q"',
    ):
        assert attribute in box.group(0), attribute
    assert '<ul id="search-listbox" class="search-listbox" role="listbox"' in html
    assert 'for="search-input"' in html  # labelled


def test_signed_out_pages_have_no_search_box(client: Client) -> None:
    assert "search-input" not in client.get(reverse("web:login")).content.decode()
    assert client.get(SUGGEST, {"q": "INV"}).status_code == 302  # to the login page


def test_the_list_offers_the_ranked_documents_each_opening_its_page_then_all_results(
    clerk: Client, scenario: Scenario
) -> None:
    html = clerk.get(SUGGEST, {"q": "inv200"}).content.decode()
    options = _options(html)
    assert [title for _, title in options] == ["INV-200", "INV-200-B"]
    assert options[0][0] == reverse("web:invoice-detail", args=[scenario.original.pk])
    assert f'data-href="{RESULTS}?q=inv200"' in html and "All results for “inv200”" in html
    assert 'aria-selected="false"' in html and 'id="search-option-1"' in html

    vendor = scenario.original.vendor
    [(href, title)] = _options(clerk.get(SUGGEST, {"q": "indus"}).content.decode())
    assert (href, title) == (reverse("web:vendor-detail", args=[vendor.pk]), vendor.name)
    purchase_orders = _options(clerk.get(SUGGEST, {"q": "po-2"}).content.decode())
    assert purchase_orders[0][1] == "PO-2"
    assert purchase_orders[0][0].startswith("/app/purchase-orders/")


def test_each_option_says_what_kind_of_document_it_is(clerk: Client, scenario: Scenario) -> None:
    vendor = scenario.original.vendor
    InvoiceFactory(vendor=vendor, invoice_number="KIND-1")
    InvoiceFactory(vendor=vendor, invoice_number="KIND-2", document_type="credit_note")
    PurchaseOrderFactory(vendor=vendor, po_number="KIND-3")
    VendorFactory(tenant=scenario.tenant, name="Kind Supplies")
    html = clerk.get(SUGGEST, {"q": "kind"}).content.decode()
    kinds = re.findall(r'search-kind">([^<]*)<.*?search-title">([^<]*)<', html, re.S)
    assert sorted(kinds) == [
        ("Credit note", "KIND-2"),
        ("Invoice", "KIND-1"),
        ("Purchase order", "KIND-3"),
        ("Vendor", "Kind Supplies"),
    ]


def test_the_list_says_when_nothing_matches_and_is_empty_for_no_text(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(SUGGEST, {"q": "zz-404"}).content.decode()
    assert "No invoice, purchase order or vendor matches “zz-404”." in html
    assert _options(html) == []
    assert clerk.get(SUGGEST, {"q": "  "}).content.decode().strip() == ""


def test_typed_text_is_escaped(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(SUGGEST, {"q": '<script>alert("x")</script>'}).content.decode()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_the_results_page_shows_every_kind_ranked(clerk: Client, scenario: Scenario) -> None:
    vendor = scenario.original.vendor
    PurchaseOrderFactory(vendor=vendor, po_number="INV-200-PO")
    html = clerk.get(RESULTS, {"q": "INV-200"}).content.decode()
    invoices = html[html.index('data-testid="search-invoice"') : html.index('data-testid="search-purchase_order"')]
    assert invoices.index("INV-200<") < invoices.index("INV-200-B<")
    assert "1,045.00" in invoices and "Invoices" in invoices
    assert "INV-200-PO" in html[html.index('data-testid="search-purchase_order"') :]
    assert 'value="INV-200"' in html  # the box keeps what was typed
    nothing = clerk.get(RESULTS, {"q": "zz-404"}).content.decode()
    assert 'data-testid="search-nothing"' in nothing
    assert "Type an invoice or PO number" in clerk.get(RESULTS).content.decode()


def test_the_results_page_says_when_it_shows_only_the_best(clerk: Client, scenario: Scenario) -> None:
    vendor = VendorFactory(tenant=scenario.tenant)
    for number in range(51):
        InvoiceFactory(vendor=vendor, invoice_number=f"BULK-{number}")
    html = clerk.get(RESULTS, {"q": "bulk"}).content.decode()
    assert html.count('href="/app/invoices/') == 50
    assert "The best 50: type more to narrow them." in html


def test_another_tenants_documents_never_show(
    foreign_clerk: Client, scenario: Scenario, foreign_scenario: Scenario
) -> None:
    """The foreign scenario's documents are X-INV-200, X-PO-2 and "X-Acme Industrial Supplies"."""
    ours = {str(scenario.original.pk), str(scenario.duplicate.pk), str(scenario.original.vendor_id)}
    for typed in ("inv-200", "200", "acme", "indus", "po-2", "1,045.00", "1045"):
        for url in (SUGGEST, RESULTS):
            html = foreign_clerk.get(url, {"q": typed}).content.decode()
            assert not any(pk in html for pk in ours), (url, typed)
    assert "X-INV-200" in foreign_clerk.get(SUGGEST, {"q": "inv-200"}).content.decode()  # theirs, for them


def test_a_search_page_costs_the_same_queries_whatever_it_finds(clerk: Client, scenario: Scenario) -> None:
    vendor = VendorFactory(tenant=scenario.tenant, name="Query Count Ltd")
    for number in range(20):
        InvoiceFactory(vendor=vendor, invoice_number=f"QC-{number}")
    counts = {}
    for typed in ("zz-404", "qc-1", "qc", "indus", "1,045.00"):
        for url in (SUGGEST, RESULTS):
            with CaptureQueriesContext(connection) as queries:
                assert clerk.get(url, {"q": typed}).status_code == 200
            counts[url, typed] = len(queries)
    assert len({count for (url, _), count in counts.items() if url == SUGGEST}) == 1, counts
    assert len({count for (url, _), count in counts.items() if url == RESULTS}) == 1, counts
