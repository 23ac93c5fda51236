"""The invoice list page, its exports and saved views through the Django client: every invoice of
the tenant, a fixed number of queries per page whatever its size, bad filters shown and left out
(never a 500), exports of exactly the listed rows, and saved views their own user's only."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AuditEvent
from review.invoice_list import INVOICE_LIST_SORTS
from review.models import SavedInvoiceView
from review.saved_views import SAVED_VIEW_ENTITY
from tenants.http.web import NUL_IN_INPUT
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, UserFactory, VendorFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db

LIST = "/app/invoices"
# The page's reads: session, user, memberships (tenant_view, twice: the current one and the
# switcher's), the header's unread notifications, the count, the page's ids, their rows, the
# vendors of the filter, the members of the "Assigned to" filter, the tenant's review service
# level (the rows' lateness), the user's views.
PAGE_QUERIES = 12


def _rows(html: str) -> list[str]:
    return re.findall(r'data-testid="invoice-row" data-invoice="([^"]*)"', html)


def _csv(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def many_invoices(scenario: Scenario) -> Scenario:
    """The Monday scenario and 60 more invoices of two vendors, in three states."""
    acme = scenario.price_mismatch.vendor
    brightline = VendorFactory(tenant=scenario.tenant, name="Brightline Office Supplies")
    for number in range(60):
        InvoiceFactory(
            vendor=acme if number % 3 else brightline,
            invoice_number=f"LI-{number:03}",
            total_amount=(number * 7919) % 100_000 + 100,
            status=("approved", "disputed", "on_hold")[number % 3],
        )
    return scenario


def test_the_list_is_the_first_place_in_the_navigation(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(reverse("web:dashboard")).content.decode()
    nav = html[html.index('aria-label="Main"') :]
    assert re.search(r"<ul>\s*<li><a href=\"/app/invoices\">Invoices</a>", nav)
    listed = clerk.get(LIST).content.decode()
    assert '<a href="/app/invoices" aria-current="page">Invoices</a>' in listed


def test_every_invoice_in_every_state_newest_first(
    clerk: Client, foreign_scenario: Scenario, scenario: Scenario
) -> None:
    html = clerk.get(LIST).content.decode()
    assert _rows(html) == ["INV-200-B", "INV-200", "INV-100"]
    assert "3</strong> invoices" in html
    assert "Pending review" in html and "Approved" in html and "Price differs from PO" in html
    assert "X-INV" not in html


def test_the_number_of_queries_does_not_grow_with_the_page(clerk: Client, many_invoices: Scenario) -> None:
    counts = {}
    for size in ("25", "200"):
        with CaptureQueriesContext(connection) as queries:
            response = clerk.get(LIST, {"per_page": size, "sort": "-amount", "discrepancy": "", "status": "approved"})
        assert response.status_code == 200
        counts[size] = len(queries)
        assert len(_rows(response.content.decode())) == min(int(size), 21)
    assert counts["25"] == counts["200"] == PAGE_QUERIES, counts


def test_paging_keeps_the_filters_and_sort(clerk: Client, many_invoices: Scenario) -> None:
    first = clerk.get(LIST, {"status": ["disputed", "on_hold"], "sort": "amount", "per_page": "25"}).content.decode()
    [next_link] = re.findall(r'<a href="([^"]*)" rel="next"', first)
    assert parse_qs(urlsplit(next_link.replace("&amp;", "&")).query) == {
        "status": ["disputed", "on_hold"],
        "sort": ["amount"],
        "per_page": ["25"],
        "page": ["2"],
    }
    second = clerk.get(next_link.replace("&amp;", "&")).content.decode()
    assert "Page 2 of 2" in second
    assert len(_rows(first)) == 25 and len(_rows(second)) == 15
    assert not set(_rows(first)) & set(_rows(second))


@pytest.mark.parametrize(
    "query",
    [
        {"invoice_from": "2026-02-30"},
        {"received_to": "99999-99-99"},
        {"amount_min": "1e999999"},
        {"amount_max": "9" * 5000},
        {"amount_min": "-1"},
        {"amount_min": "NaN"},
        {"currency": "€"},
        {"vendor": "'; DROP TABLE invoices_invoice; --"},
        {"status": ["approved", "bogus"]},
        {"per_page": "0"},
        {"page": "-1"},
        {"page": "99999999999999999999"},
        {"sort": "amount; DROP TABLE"},
        {"?page": "2", "??sort": "amount"},
    ],
    ids=repr,
)
def test_bad_filters_are_shown_and_left_out(clerk: Client, scenario: Scenario, query: dict[str, Any]) -> None:
    response = clerk.get(LIST, query)
    assert response.status_code == 200
    html = response.content.decode()
    assert len(_rows(html)) == 3 or "status" in query  # the bad filter filters nothing
    field_error = set(query) & {"invoice_from", "received_to", "amount_min", "amount_max", "currency", "vendor"}
    assert ('data-testid="filter-errors"' in html) == bool(field_error or "status" in query or "per_page" in query)
    export = clerk.get(reverse("web:invoices-export-csv"), query)
    assert export.status_code == 200 and len(_csv(export)) == len(_rows(html))


def test_a_field_error_names_the_field(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(LIST, {"amount_min": "ten", "invoice_to": "31/12/2026"}).content.decode()
    assert "Amount from: &#x27;ten&#x27; is not a decimal number." in html
    assert "Invoice date to: Enter a valid date." in html
    assert 'value="ten"' in html  # what was typed stays in the field, to correct it


def test_a_nul_anywhere_is_a_400(clerk: Client, scenario: Scenario) -> None:
    for url in (LIST, reverse("web:invoices-export-csv"), reverse("web:invoices-export-xlsx")):
        response = clerk.get(url, {"po": "PO\x00-1"})
        assert response.status_code == 400 and NUL_IN_INPUT in response.content.decode()


def test_htmx_swaps_only_the_results(clerk: Client, scenario: Scenario) -> None:
    response = clerk.get(LIST, {"sort": "amount"}, headers={"HX-Request": "true", "HX-Target": "invoice-results"})
    html = response.content.decode()
    assert "<html" not in html and 'data-testid="invoice-count"' in html
    assert '<input type="hidden" name="sort" value="amount" form="invoice-filters">' in html


def test_the_exports_hold_exactly_the_listed_rows_of_every_page(clerk: Client, many_invoices: Scenario) -> None:
    query = {"status": ["approved", "disputed"], "sort": "-amount", "per_page": "25"}
    listed: list[str] = []
    page = 1
    while True:
        html = clerk.get(LIST, {**query, "page": str(page)}).content.decode()
        listed += _rows(html)
        if 'rel="next"' not in html:
            break
        page += 1
    assert page == 2 and len(listed) == 41  # 40 of the 60, and the scenario's approved INV-200
    [csv_link] = re.findall(r'href="([^"]*)" download data-testid="export-csv"', html)
    exported = _csv(clerk.get(csv_link.replace("&amp;", "&")))
    assert [row["Invoice number"] for row in exported] == listed
    assert {row["Status"] for row in exported} == {"Approved", "Disputed"}
    [xlsx_link] = re.findall(r'href="([^"]*)" download data-testid="export-xlsx"', html)
    response = clerk.get(xlsx_link.replace("&amp;", "&"))
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == listed


@pytest.mark.parametrize("sort", sorted(INVOICE_LIST_SORTS))
def test_pages_past_the_middle_hold_the_rows_of_the_lists_order(
    clerk: Client, many_invoices: Scenario, sort: str
) -> None:
    """Pages 2 and 3 of 63 are read backwards from the end (invoice_list_page_ids): together with
    page 1 they are the export's rows, in its (forward) order, ties between equal keys included."""
    listed: list[str] = []
    for page in ("1", "2", "3"):
        listed += _rows(clerk.get(LIST, {"sort": sort, "per_page": "25", "page": page}).content.decode())
    exported = _csv(clerk.get(reverse("web:invoices-export-csv"), {"sort": sort}))
    assert len(listed) == 63
    assert listed == [row["Invoice number"] for row in exported]


def test_the_export_is_a_download_named_for_the_day(clerk: Client, scenario: Scenario) -> None:
    response = clerk.get(reverse("web:invoices-export-csv"))
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="invoices-\d{8}-\d{4}\.csv"', response["Content-Disposition"])


# --- saved views ------------------------------------------------------------------------------


def _events(tenant: Tenant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_type=SAVED_VIEW_ENTITY).order_by("xid", "append_seq")
    )


def test_a_clerk_saves_opens_renames_and_deletes_a_view(clerk: Client, scenario: Scenario) -> None:
    shown = "status=pending_review&sort=-amount&bogus=1&page=2"
    saved = clerk.post(reverse("web:invoice-view-save"), {"name": "Waiting, largest first", "query": shown})
    # Stored as the list reads it: the list's own filters, no page, nothing else.
    assert saved.status_code == 302 and saved["Location"] == f"{LIST}?status=pending_review&sort=-amount"
    view = SavedInvoiceView.objects.for_tenant(scenario.tenant).get()
    assert view.query == "status=pending_review&sort=-amount"

    html = clerk.get(saved["Location"]).content.decode()
    assert "View &#x27;Waiting, largest first&#x27; saved." in html
    assert f'<a href="/app/invoices/views/{view.pk}" aria-current="true">Waiting, largest first</a>' in html
    assert _rows(html) == ["INV-100", "INV-200-B"]

    opened = clerk.get(reverse("web:invoice-view", kwargs={"saved_view_id": view.pk}))
    assert opened.status_code == 302 and opened["Location"] == saved["Location"]

    renamed = clerk.post(
        reverse("web:invoice-view-rename", kwargs={"saved_view_id": view.pk}), {"name": "Waiting", "query": shown}
    )
    assert renamed.status_code == 302 and renamed["Location"] == saved["Location"]
    view.refresh_from_db()
    assert view.name == "Waiting"

    deleted = clerk.post(reverse("web:invoice-view-delete", kwargs={"saved_view_id": view.pk}), {"query": ""})
    assert deleted.status_code == 302 and deleted["Location"] == LIST
    assert "View &#x27;Waiting&#x27; deleted." in clerk.get(LIST).content.decode()
    assert [event.action for event in _events(scenario.tenant)] == ["created", "updated", "deleted"]


def test_a_refused_name_says_why_and_saves_nothing(clerk: Client, scenario: Scenario) -> None:
    response = clerk.post(reverse("web:invoice-view-save"), {"name": "  ", "query": "status=void"}, follow=True)
    assert "Give the view a name." in response.content.decode()
    assert response.redirect_chain == [(f"{LIST}?status=void", 302)]
    assert not SavedInvoiceView.objects.for_tenant(scenario.tenant).exists()


def test_another_users_view_is_a_404(clerk: Client, scenario: Scenario, foreign_clerk: Client) -> None:
    colleague = UserFactory(username="colleague")
    MembershipFactory(tenant=scenario.tenant, user=colleague, role=Role.ADMIN)
    theirs = Client()
    theirs.force_login(colleague)
    theirs.post(reverse("web:invoice-view-save"), {"name": "Colleague's own", "query": "status=void"})
    view = SavedInvoiceView.objects.for_tenant(scenario.tenant).get()
    for intruder in (clerk, foreign_clerk):
        assert intruder.get(reverse("web:invoice-view", kwargs={"saved_view_id": view.pk})).status_code == 404
        for action in ("rename", "delete"):
            url = reverse(f"web:invoice-view-{action}", kwargs={"saved_view_id": view.pk})
            assert intruder.post(url, {"name": "Mine now"}).status_code == 404
        assert "Colleague&#x27;s own" not in intruder.get(LIST).content.decode()
    view.refresh_from_db()
    assert view.name == "Colleague's own"
    assert [event.action for event in _events(scenario.tenant)] == ["created"]


def test_the_view_forms_answer_a_get_with_the_invoice_list_or_the_404_page(clerk: Client, scenario: Scenario) -> None:
    view = SavedInvoiceView.objects.create(
        tenant=scenario.tenant, user=UserFactory(), name="Somebody's", query="status=void"
    )
    response = clerk.get(reverse("web:invoice-view-save"))
    assert (response.status_code, response["Location"]) == (302, "/app/invoices")
    # Somebody else's view: the 404 page, as for a missing one (the owner's redirect:
    # tests/web/test_form_addresses_get.py).
    for url in (
        reverse("web:invoice-view-rename", kwargs={"saved_view_id": view.pk}),
        reverse("web:invoice-view-delete", kwargs={"saved_view_id": view.pk}),
    ):
        response = clerk.get(url)
        assert response.status_code == 404 and b"<h1>Not found</h1>" in response.content
