"""A clerk in Chromium enters a purchase order with two lines booked to two cost centres (the
line editor's "Cost centre" cell, #17 item 5 / #19), and the PO's page shows each line's."""

from __future__ import annotations

import re
from typing import Any

import pytest

from purchasing.models import PurchaseOrder
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

CLERK = "clerk-cost-centres"


@pytest.fixture
def desk(settings: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username=CLERK), role=Role.CLERK)
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    return tenant


def _fill_line(page: Any, number: int, description: str, quantity: str, unit_price: str, cost_centre: str) -> None:
    page.get_by_label(f"Description, line {number}").fill(description)
    page.get_by_label(f"Quantity, line {number}").press_sequentially(quantity, delay=30)
    page.get_by_label(f"Unit price, line {number}").press_sequentially(unit_price, delay=30)
    page.get_by_label(f"Cost centre, line {number}").fill(cost_centre)


def test_a_clerk_books_two_lines_of_a_po_to_two_cost_centres(live_server: Any, desk: Tenant) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, CLERK)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Purchase orders").click()
        page.get_by_role("link", name="New purchase order").click()
        page.get_by_role("heading", name="New purchase order").wait_for()
        page.get_by_label("Vendor", exact=True).fill("Nordic Fasteners AB")
        page.get_by_label("PO number").fill("PO-8200")
        page.get_by_label("Currency").select_option("EUR")
        page.get_by_label("Order date").fill("2026-11-02")
        assert page.get_by_test_id("line-editor").get_by_role("columnheader", name="Cost centre").is_visible()
        _fill_line(page, 1, "M8 hex bolts, zinc plated", "1000", "0.125", "WH-1")
        page.get_by_test_id("subtotal").filter(has_text="125.00").wait_for()
        page.get_by_role("button", name="Add a line").click()
        page.get_by_label("Description, line 2").wait_for()
        # What was typed in line 1 stays, its cost centre too.
        assert page.get_by_label("Cost centre, line 1").input_value() == "WH-1"
        _fill_line(page, 2, "Safety gloves, size 9", "40", "3.50", "FAC-2")
        page.get_by_test_id("subtotal").filter(has_text="265.00").wait_for()
        page.get_by_role("button", name="Create purchase order").click()

        page.get_by_text("Purchase order PO-8200 created with 2 line(s).").wait_for()
        page.get_by_role("heading", name=re.compile("PO-8200")).wait_for()
        assert page.get_by_test_id("cost-centre-1").inner_text() == "WH-1"
        assert page.get_by_test_id("cost-centre-2").inner_text() == "FAC-2"
        page.screenshot(path=str(SCREENSHOTS / "po-cost-centres.png"), full_page=True)
        assert page.console_errors == []
    purchase_order = PurchaseOrder.objects.for_tenant(desk).get(po_number="PO-8200")
    assert sorted(purchase_order.lines.values_list("line_number", "cost_centre")) == [(1, "WH-1"), (2, "FAC-2")]
