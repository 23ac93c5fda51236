"""An approver resolves a vendor and a purchase order by hand in Chromium (issue #20 item 2): an
invoice from a trading name Recon does not know gets its vendor from the "Who sent it?" card, and
the name then shows on "What Recon learned"; an invoice naming a PO that does not exist gets one of
the vendor's open POs from the "Which purchase order?" card. After each, the run (synchronous,
in a thread of its own as in test_rematch_browser) approves it, and the page says who chose what.
"""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.matching.runs import acme_vendor, reload, run_matching
from tests.web.browser import chromium_page, log_in
from tests.web.test_rematch_browser import _in_own_thread

pytestmark = pytest.mark.django_db(transaction=True)

GLOVES = Line("GL-M", "Nitrile gloves size M, box of 100", "400", "12.50")


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[Tenant, Invoice, Invoice]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="anna-approver"), role=Role.APPROVER)
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES], received=True)
    unknown = InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw="Acme Handelsgesellschaft",
                             invoice_number="INV-1", po_number="PO-100", lines=[GLOVES.times("10")])  # fmt: skip
    typo = InvoiceFactory(vendor=acme, invoice_number="INV-2", po_number="PO-10O", lines=[GLOVES.times("20")])
    run_matching(tenant)
    assert reload(unknown).status == reload(typo).status == InvoiceStatus.PENDING_REVIEW
    return tenant, unknown, typo


def test_an_approver_chooses_the_vendor_and_recon_learns_the_name(live_server: Any, desk: Any) -> None:
    tenant, unknown, _ = desk
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "anna-approver")
        page.goto(f"/app/invoices/{unknown.pk}")
        card = page.get_by_test_id("manual-choice")
        assert "Who sent it?" in card.inner_text()
        card.get_by_label("Vendor").select_option(label="Acme Supplies Ltd")
        card.get_by_role("button", name="Set vendor").click()
        message = page.get_by_role("status").inner_text()
        assert "Invoice INV-1 is now Acme Supplies Ltd's and is being matched again." in message
        assert "Recon will recognise “Acme Handelsgesellschaft” as Acme Supplies Ltd from now on." in message

        _in_own_thread(lambda: run_matching(tenant))
        page.reload()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        assert page.get_by_test_id("manual-choice").count() == 0
        reason = page.locator("section[aria-labelledby=confidence-title]").inner_text()
        assert "Vendor Acme Supplies Ltd chosen by anna-approver on" in reason
        assert "Vendor chosen by hand" in page.get_by_test_id("timeline").inner_text()

        page.goto("/app/learned")
        assert "Acme Handelsgesellschaft" in page.locator("main").inner_text()


def test_an_approver_chooses_the_purchase_order_of_a_mistyped_number(live_server: Any, desk: Any) -> None:
    tenant, _, typo = desk
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "anna-approver")
        page.goto(f"/app/invoices/{typo.pk}")
        card = page.get_by_test_id("manual-choice")
        assert "Purchase order PO-10O does not exist." in card.inner_text()
        card.get_by_label("Purchase order").select_option(label="PO-100")
        card.get_by_role("button", name="Set purchase order").click()
        assert "Invoice INV-2 now bills purchase order PO-100" in page.get_by_role("status").inner_text()

        _in_own_thread(lambda: run_matching(tenant))
        page.reload()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        reason = page.locator("section[aria-labelledby=confidence-title]").inner_text()
        assert "Purchase order PO-100 chosen by anna-approver on" in reason
