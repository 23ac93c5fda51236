"""A clerk works the invoice list in Chromium: filters by status and vendor, sorts by amount, pages,
saves the view, comes back to it later, and exports it as CSV — the file holds exactly the rows the
list showed, page after page, in the list's order."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

VIEW_NAME = "Acme approved or disputed, smallest first"


@pytest.fixture
def desk(settings: Any) -> Tenant:
    """Acme's 45 invoices in three states and 12 of another vendor; another tenant's look-alikes."""
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-list"), role=Role.CLERK)
    acme = VendorFactory(tenant=tenant, name="Acme Industrial Supplies")
    brightline = VendorFactory(tenant=tenant, name="Brightline Office Supplies")
    for number in range(45):
        InvoiceFactory(
            vendor=acme,
            invoice_number=f"AC-{number:03}",
            # Amounts in no order the numbers or the arrival give: 7919 is prime.
            total_amount=(number * 7919) % 50_000 + 1_000,
            status=("approved", "disputed", "on_hold")[number % 3],
        )
    for number in range(12):
        InvoiceFactory(vendor=brightline, invoice_number=f"BR-{number:03}", status="approved")
    other = TenantFactory(name="Other Co")
    InvoiceFactory(vendor=VendorFactory(tenant=other, name="Acme Industrial Supplies"), invoice_number="OTHER-1")
    return tenant


def _rows(page: Any) -> list[str]:
    return page.locator('[data-testid="invoice-row"]').evaluate_all("rows => rows.map(r => r.dataset.invoice)")


def _amounts(page: Any) -> list[Decimal]:
    cells = page.locator('[data-testid="invoice-row"] td.num .amount').all_inner_texts()
    return [Decimal(text.replace(",", "")) for text in cells]


def _count(page: Any, text: str) -> None:
    page.get_by_test_id("invoice-count").filter(has_text=re.compile(rf"^{text}$")).wait_for()


def test_a_clerk_filters_sorts_pages_saves_reopens_and_exports(
    live_server: Any, desk: Tenant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-list")
        # The list is the first place in the navigation.
        page.get_by_role("navigation", name="Main").get_by_role("link").first.click()
        page.get_by_role("heading", name="Invoices").wait_for()
        _count(page, "57 invoices")

        page.get_by_label("Approved", exact=True).check()
        _count(page, "27 invoices")  # 15 of Acme's, Brightline's 12
        page.get_by_label("Disputed", exact=True).check()
        _count(page, "42 invoices")
        page.get_by_label("Vendor", exact=True).select_option(label="Acme Industrial Supplies")
        _count(page, "30 invoices")
        page.get_by_label("Rows per page", exact=True).select_option("25")
        page.wait_for_url(re.compile(r"per_page=25"))
        assert len(_rows(page)) == 25

        page.get_by_role("link", name="Amount").click()
        page.locator("a.sort.asc", has_text="Amount").wait_for()
        first, first_amounts = _rows(page), _amounts(page)
        assert first_amounts == sorted(first_amounts) and len(first) == 25
        page.get_by_role("link", name="Next →").click()
        page.get_by_text("Page 2 of 2").wait_for()
        second, second_amounts = _rows(page), _amounts(page)
        assert len(second) == 5 and second_amounts == sorted(second_amounts)
        assert min(second_amounts) >= max(first_amounts)
        listed = first + second
        assert len(set(listed)) == 30 and all(number.startswith("AC-") for number in listed)
        shown = parse_qs(urlsplit(page.url).query)
        assert shown == {
            "status": ["approved", "disputed"],
            "vendor": [shown["vendor"][0]],
            "per_page": ["25"],
            "sort": ["amount"],
            "page": ["2"],
        }
        page.screenshot(path=str(SCREENSHOTS / "invoices.png"), full_page=True)

        page.get_by_label("Save this list as", exact=True).fill(VIEW_NAME)
        page.get_by_role("button", name="Save view").click()
        page.get_by_text(f"View '{VIEW_NAME}' saved.").wait_for()
        saved_link = page.get_by_test_id("saved-views").get_by_role("link", name=VIEW_NAME)
        assert saved_link.get_attribute("aria-current") == "true"

        # Later: elsewhere in the app, then back to the view.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
        page.get_by_role("heading", name="Dashboard").wait_for()
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
        _count(page, "57 invoices")
        page.get_by_test_id("saved-views").get_by_role("link", name=VIEW_NAME).click()
        _count(page, "30 invoices")
        assert parse_qs(urlsplit(page.url).query) == {k: v for k, v in shown.items() if k != "page"}
        assert _rows(page) == first
        assert page.get_by_label("Approved", exact=True).is_checked()
        assert page.get_by_label("Disputed", exact=True).is_checked()
        assert not page.get_by_label("On hold", exact=True).is_checked()

        with page.expect_download() as download:
            page.get_by_test_id("export-csv").click()
        target = tmp_path / "export.csv"
        download.value.save_as(target)
        with target.open(encoding="utf-8-sig", newline="") as exported:
            rows = list(csv.DictReader(exported))
        assert [row["Invoice number"] for row in rows] == listed
        assert {row["Vendor"] for row in rows} == {"Acme Industrial Supplies"}
        assert {row["Status"] for row in rows} == {"Approved", "Disputed"}
        assert page.console_errors == []
