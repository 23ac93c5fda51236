"""A clerk searches from the header in Chromium: types part of a number on the dashboard, moves to
the first result with the arrow key and opens it with Enter; types the start of a vendor's name
and opens the vendor; closes the list with Escape; and, with nothing chosen, Enter shows every
result. The list is a combobox and its listbox, as a screen reader announces them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tenants.models import Role, Tenant
from tests.factories import (
    InvoiceFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    TenantFactory,
    UserFactory,
    VendorFactory,
)
from tests.web.browser import chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS

BOX = "Search invoices, purchase orders and vendors"


@pytest.fixture
def searchable(settings: Any) -> dict[str, Any]:
    """A tenant whose numbers share digits (an end, an inside) and a vendor to find by name, next to
    another tenant holding the very same number."""
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-search"), role=Role.CLERK)
    nordic = VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    PurchaseOrderFactory(vendor=nordic, po_number="PO-100")
    wanted = InvoiceFactory(vendor=nordic, invoice_number="INV-7790")
    InvoiceFactory(vendor=nordic, invoice_number="INV-77901")
    InvoiceFactory(vendor=VendorFactory(tenant=tenant, name="Brightline Office Supplies"), invoice_number="BR-12")
    InvoiceFactory(tenant=TenantFactory(name="Globex Foreign"), invoice_number="INV-7790")
    return {"invoice": wanted, "vendor": nordic}


def _options(page: Any) -> list[str]:
    return page.get_by_role("listbox", name="Search results").get_by_role("option").all_inner_texts()


@pytest.mark.django_db(transaction=True)
def test_a_clerk_finds_an_invoice_by_part_of_its_number_and_a_vendor_by_its_name_from_the_header(
    live_server: Any, searchable: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    invoice_url = reverse("web:invoice-detail", args=[searchable["invoice"].pk])
    vendor_url = reverse("web:vendor-detail", args=[searchable["vendor"].pk])
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-search")
        page.get_by_role("heading", name="Dashboard").wait_for()
        box = page.get_by_role("combobox", name=BOX)
        listbox = page.get_by_role("listbox", name="Search results")
        assert box.get_attribute("aria-expanded") == "false"

        box.press_sequentially("7790", delay=40)
        first = listbox.get_by_role("option").first
        first.filter(has_text="INV-7790").wait_for()
        options = _options(page)
        assert "INV-7790" in options[0] and "INV-77901" in options[1]
        assert len(options) == 3 and options[-1] == "All results for “7790”"  # not the other tenant's
        assert box.get_attribute("aria-expanded") == "true"
        page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=False)

        box.press("ArrowDown")
        assert first.get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
        box.press("Enter")
        page.wait_for_url(re.compile(re.escape(invoice_url) + "$"))
        page.get_by_role("heading", name=re.compile("INV-7790")).wait_for()

        # From the invoice page: the start of the vendor's name; down twice and back up once.
        box = page.get_by_role("combobox", name=BOX)
        box.press_sequentially("nord", delay=40)
        listbox.get_by_role("option").first.filter(has_text="Nordic Fasteners AB").wait_for()
        box.press("ArrowDown")
        box.press("ArrowDown")
        box.press("ArrowUp")
        box.press("Enter")
        page.wait_for_url(re.compile(re.escape(vendor_url) + "$"))

        # Escape closes the list and keeps the text; Enter with nothing chosen shows every result.
        box = page.get_by_role("combobox", name=BOX)
        box.press_sequentially("inv", delay=40)
        listbox.get_by_role("option").first.filter(has_text="INV-77901").wait_for()
        box.press("Escape")
        assert listbox.is_hidden() and box.get_attribute("aria-expanded") == "false"
        assert box.input_value() == "inv"
        box.press("Enter")
        page.wait_for_url(re.compile(r"/app/search\?q=inv$"))
        page.get_by_role("heading", name="Search: “inv”").wait_for()
        results = page.get_by_test_id("search-invoice").get_by_role("link").all_inner_texts()
        assert results == ["INV-77901", "INV-7790"]  # both start with it: the newest first
        assert page.console_errors == []
