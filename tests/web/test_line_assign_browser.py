"""A clerk assigns a line by hand in Chromium (issue #20 item 1): on the 3-way comparison of an
invoice in review, the vendor's "Freight surcharge" matched no PO line; the clerk picks the PO's
"Delivery charge" in that line's select and presses Assign. The invoice goes back to matching;
once the run has matched it (here synchronous, in a thread of its own as in
test_rematch_browser), the page shows it approved, the line paired with the PO line "assigned by"
the clerk, the reason naming the choice and the timeline the event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.matching.runs import acme_vendor, reload, run_matching
from tests.web.browser import chromium_page, log_in
from tests.web.test_rematch_browser import _in_own_thread

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

GLOVES = Line("", "Nitrile gloves size M, box of 100", "40", "12.50")
DELIVERY_PO = Line("", "Delivery charge", "2", "35.00")
FREIGHT = Line("", "Freight surcharge", "1", "35.00")


@pytest.fixture
def freight_in_review(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[Tenant, Invoice]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES, DELIVERY_PO], received=True)
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-1", po_number="PO-100", lines=[GLOVES, FREIGHT])
    run_matching(tenant)
    assert reload(invoice).status == InvoiceStatus.PENDING_REVIEW
    return tenant, invoice


def test_a_clerk_assigns_an_unmatched_line_to_its_po_line(live_server: Any, freight_in_review: Any) -> None:
    tenant, invoice = freight_in_review
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        freight = page.locator('[data-testid="comparison-row"][data-line="2"]')
        assert "no matching PO line" in freight.get_by_test_id("po-line").inner_text()

        freight.get_by_label("PO line for invoice line 2").select_option(label="PO line 2 · Delivery charge")
        freight.get_by_role("button", name="Assign").click()

        assert (
            "Line 2 now bills PO line 2. Invoice INV-1 is being matched again"
            in page.get_by_role("status").inner_text()
        )
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Received")
        assert page.get_by_test_id("line-assign").count() == 0  # nothing to assign until it is matched

        _in_own_thread(lambda: run_matching(tenant))
        page.reload()

        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        freight = page.locator('[data-testid="comparison-row"][data-line="2"]')
        cell = freight.get_by_test_id("po-line").inner_text()
        assert cell.startswith("2 · Delivery charge")
        assert "assigned by cleo-clerk on" in freight.get_by_test_id("assigned-by-hand").inner_text()
        reason = page.locator("section[aria-labelledby=confidence-title]").inner_text()
        assert "Line 2 assigned to PO line 2 by cleo-clerk on" in reason
        assert "Line assigned by hand" in page.get_by_test_id("timeline").inner_text()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "line-assigned-by-hand.png"), full_page=True)


def test_another_tenants_invoice_line_cannot_be_assigned(client: Any, freight_in_review: Any) -> None:
    _, invoice = freight_in_review
    other = TenantFactory(name="Globex Foreign")
    MembershipFactory(tenant=other, user=UserFactory(username="olga-other"), role=Role.ADMIN)
    client.force_login(UserFactory._meta.model.objects.get(username="olga-other"))
    line = InvoiceLine.objects.for_tenant(invoice.tenant_id).get(invoice=invoice, line_number=2)
    response = client.post(f"/app/invoices/{invoice.pk}/lines/{line.pk}/assign", {"po_line": "none"})
    assert response.status_code == 404
    assert reload(invoice).status == InvoiceStatus.PENDING_REVIEW
