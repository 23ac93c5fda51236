"""Paging and sorting of every list through one helper (core.http.listing): the links it builds
for tricky queries, the lists that use it, and a clerk paging and sorting a real queue in Chromium."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from core.http.listing import query_with
from invoices.models import Invoice
from tenants.models import Role, Tenant
from tests.factories import HOSES, InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import Scenario, build_scenario


def _with(query: str, **changes: object) -> str:
    return query_with(query=QueryDict(query), changes=changes)


# --- the URL the helper builds ----------------------------------------------------------------


def test_a_page_link_keeps_the_filters_and_replaces_the_page() -> None:
    assert _with("", page=2) == "?page=2"
    assert _with("vendor=v1&sort=-amount&page=1", page=2) == "?vendor=v1&sort=-amount&page=2"


def test_sorting_or_filtering_goes_back_to_the_first_page() -> None:
    assert _with("vendor=v1&page=3&sort=age", sort="amount") == "?vendor=v1&sort=amount"
    assert _with("page=3&q=bolts", q="hoses") == "?q=hoses"


def test_one_question_mark_whatever_the_query_held() -> None:
    # What the doubled links left behind: `??page=2` reads as the key `?page`.
    assert _with("?page=2&vendor=v1", page=3) == "?vendor=v1&page=3"
    assert _with("??sort=%3F%3Famount&page=2", sort="vendor") == "?sort=vendor"
    # A `?` inside a value is data, encoded.
    assert _with("q=why%3F", page=2) == "?q=why%3F&page=2"


def test_repeated_keys_are_all_kept_and_a_change_replaces_them_all() -> None:
    assert _with("status=approved&status=disputed", page=2) == "?status=approved&status=disputed&page=2"
    assert _with("status=approved&status=disputed&page=4", status="void") == "?status=void"
    assert _with("status=void", status=["approved", "rejected"]) == "?status=approved&status=rejected"


def test_unicode_and_reserved_characters_round_trip() -> None:
    built = _with("q=M%C3%BCller+%26+S%C3%B6hne&vendor=%E6%9D%B1%E4%BA%AC", page=2)
    assert built == "?q=M%C3%BCller+%26+S%C3%B6hne&vendor=%E6%9D%B1%E4%BA%AC&page=2"
    assert parse_qs(built[1:]) == {"q": ["Müller & Söhne"], "vendor": ["東京"], "page": ["2"]}


def test_none_removes_a_key() -> None:
    assert _with("sort=amount&vendor=v1", sort=None) == "?vendor=v1"
    assert _with("sort=amount") == "?sort=amount"


# --- the lists --------------------------------------------------------------------------------

pytestmark_db = pytest.mark.django_db


def _pagination_links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]*)" rel="(?:prev|next)"', html)


def _park_in_standard_queue(tenant: Tenant) -> None:
    Invoice.objects.for_tenant(tenant).filter(invoice_number__startswith="PG-").update(
        status="pending_review", review_queue="standard"
    )


@pytestmark_db
def test_the_queue_pages_and_sorts_with_its_filters(clerk: Client, scenario: Scenario) -> None:
    vendor = scenario.price_mismatch.vendor
    for number in range(30):
        InvoiceFactory(vendor=vendor, invoice_number=f"PG-{number:02}", lines=[HOSES.times(str(number + 1))])
    _park_in_standard_queue(scenario.tenant)
    url = reverse("web:queue", kwargs={"queue": "standard"})
    html = clerk.get(url, {"vendor": str(vendor.pk), "sort": "-amount"}).content.decode()
    [next_link] = _pagination_links(html)
    assert next_link == f"{url}?vendor={vendor.pk}&amp;sort=-amount&amp;page=2"
    # Every sort heading keeps the vendor and drops nothing else; none carries a page.
    sort_links = set(re.findall(r'class="sort[^"]*" href="([^"]*)"', html))
    assert f"{url}?vendor={vendor.pk}&amp;sort=amount" in sort_links  # -amount now: the other way next
    assert all("page=" not in link and "??" not in link and f"vendor={vendor.pk}" in link for link in sort_links)

    second = clerk.get(url, {"vendor": str(vendor.pk), "sort": "-amount", "page": "2"}).content.decode()
    assert "Page 2 of 2" in second
    [previous_link] = _pagination_links(second)
    assert previous_link == f"{url}?vendor={vendor.pk}&amp;sort=-amount&amp;page=1"


@pytestmark_db
@pytest.mark.parametrize(
    ("name", "sorts"),
    [
        ("web:vendors", ["name", "invoices"]),
        ("web:purchase-orders", ["po_number", "vendor", "ordered"]),
        ("web:receipts", ["receipt_number", "received"]),
        ("web:payments", ["booked", "amount", "counterparty"]),
    ],
)
def test_every_list_sorts_through_the_helper(clerk: Client, scenario: Scenario, name: str, sorts: list[str]) -> None:
    url = reverse(name)
    for sort in sorts:
        for key in (sort, f"-{sort}"):
            response = clerk.get(url, {"sort": key, "page": "1", "q": "x"})
            assert response.status_code == 200
            html = response.content.decode()
            # The active heading offers the other direction, the filter kept, the page dropped.
            other = sort if key.startswith("-") else f"-{sort}"
            direction = "desc" if key.startswith("-") else "asc"
            assert f'class="sort {direction}" href="{url}?q=x&amp;sort={other}"' in html


@pytestmark_db
def test_a_list_sorted_by_an_unknown_key_falls_back_to_its_default(clerk: Client, scenario: Scenario) -> None:
    response = clerk.get(reverse("web:purchase-orders"), {"sort": "status; DROP TABLE"})
    assert response.status_code == 200
    assert 'class="sort desc" href="/app/purchase-orders?sort=ordered"' in response.content.decode()


# --- in the browser ---------------------------------------------------------------------------


@pytest.fixture
def crowded_queue(settings: Any) -> Scenario:
    """31 invoices of one vendor in the standard queue (two pages of 25), 3 of another."""
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-paging"), role=Role.CLERK)
    scenario = build_scenario(tenant)
    vendor = scenario.price_mismatch.vendor
    for number in range(30):
        # Quantities 7, 14, … 210 modulo 97: amounts in no order the age sort would give.
        InvoiceFactory(vendor=vendor, invoice_number=f"PG-{number:02}", lines=[HOSES.times(str(number * 7 % 97 + 1))])
    other = VendorFactory(tenant=tenant, name="Brightline Office Supplies", tax_id="US123456789")
    for number in range(3):
        InvoiceFactory(vendor=other, invoice_number=f"PG-B{number}", lines=[HOSES.times("2")])
    _park_in_standard_queue(tenant)
    return scenario


def _amounts(page: Any) -> list[Decimal]:
    cells = page.locator('[data-testid="queue-row"] td.num .amount').all_inner_texts()
    return [Decimal(text.replace(",", "")) for text in cells]


def _rows(page: Any) -> list[str]:
    return page.locator('[data-testid="queue-row"]').evaluate_all("rows => rows.map(r => r.dataset.invoice)")


@pytest.mark.django_db(transaction=True)
def test_a_clerk_pages_and_sorts_the_standard_queue_keeping_the_vendor_filter(
    live_server: Any, crowded_queue: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    vendor = crowded_queue.price_mismatch.vendor
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-paging")
        page.goto("/app/queues/standard")
        assert page.get_by_test_id("queue-count").inner_text() == "34 invoices waiting"
        page.get_by_label("Vendor", exact=True).select_option(label=vendor.name)
        page.wait_for_url(re.compile(r"vendor="))
        page.get_by_test_id("queue-count").filter(has_text="31 invoices waiting").wait_for()
        first = _rows(page)
        assert len(first) == 25

        page.get_by_role("link", name="Next →").click()
        page.wait_for_url(re.compile(r"page=2"))
        assert page.get_by_text("Page 2 of 2").is_visible()
        second = _rows(page)
        assert len(second) == 6 and not set(first) & set(second)
        assert all(number.startswith(("PG-", "INV-")) and not number.startswith("PG-B") for number in second)
        assert f"vendor={vendor.pk}" in page.url and "??" not in page.url

        page.get_by_role("link", name="Amount").click()
        page.wait_for_url(re.compile(r"sort=amount"))
        page.locator("a.sort.asc", has_text="Amount").wait_for()
        query = parse_qs(urlsplit(page.url).query)
        assert query == {"vendor": [str(vendor.pk)], "sort": ["amount"]}  # back to page 1
        amounts = _amounts(page)
        assert len(amounts) == 25 and amounts == sorted(amounts)
        assert page.get_by_test_id("queue-count").inner_text() == "31 invoices waiting"

        # The other way, then page 2 of that order: still the vendor's invoices, still sorted.
        page.get_by_role("link", name="Amount").click()
        page.wait_for_url(re.compile(r"sort=-amount"))
        page.locator("a.sort.desc", has_text="Amount").wait_for()
        top = _amounts(page)
        assert top == sorted(top, reverse=True)
        page.get_by_role("link", name="Next →").click()
        page.wait_for_url(re.compile(r"page=2"))
        rest = _amounts(page)
        assert len(rest) == 6 and rest == sorted(rest, reverse=True) and max(rest) <= min(top)
        assert parse_qs(urlsplit(page.url).query) == {"vendor": [str(vendor.pk)], "sort": ["-amount"], "page": ["2"]}

        # A filter changed on page 2 starts again at page 1, keeping the sort.
        page.get_by_label("Vendor", exact=True).select_option(label="All vendors")
        page.get_by_test_id("queue-count").filter(has_text="34 invoices waiting").wait_for()
        page.wait_for_url(re.compile(r"vendor=&"))
        assert parse_qs(urlsplit(page.url).query).get("sort") == ["-amount"]
        assert "page" not in parse_qs(urlsplit(page.url).query)
        assert page.console_errors == []
