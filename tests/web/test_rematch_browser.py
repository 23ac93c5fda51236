"""Re-matching in Chromium: an invoice in review for goods not yet received is matched again by
itself when the receipt is booked (the page then shows the discrepancy gone and the change
listed), and "Re-match now" from an invoice's page.

Matching runs synchronously, as tests/matching/runs.py starts it (MATCH_ON_INGEST off); the
receipt and the runs are written in a thread of their own while the page is open, whose database
connection is closed after (tests/web/browser.py: not from Playwright's event loop).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from invoices.models import Invoice, InvoiceStatus
from purchasing.services import goods_receipt_create
from tenants.models import Role, Tenant
from tests.document_factories import GoodsReceiptDocumentFactory
from tests.factories import (
    HOSES,
    TEST_ACTOR,
    InvoiceFactory,
    Line,
    MembershipFactory,
    PurchaseOrderFactory,
    TenantFactory,
    UserFactory,
    VendorFactory,
)
from tests.matching.runs import reload, results_of, run_matching
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

WIDGETS = Line("WD-400", "Widget, steel", "400", "20.00")


@dataclass(frozen=True)
class Desk:
    tenant: Tenant
    short_delivery: Invoice  # in review: 400 billed, 250 received
    price_mismatch: Invoice  # in review: hoses at 19.00 against 18.40


def _in_own_thread(work: Callable[[], Any]) -> Any:
    def run() -> Any:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Desk:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    vendor = VendorFactory(tenant=tenant, name="Steelworks GmbH", tax_id="DE999888777")
    PurchaseOrderFactory(vendor=vendor, po_number="PO-700", lines=[WIDGETS])
    PurchaseOrderFactory(vendor=vendor, po_number="PO-701", lines=[HOSES])
    for po_number, quantity in (("PO-700", "250"), ("PO-701", "50")):
        goods_receipt_create(
            tenant=tenant,
            document=GoodsReceiptDocumentFactory(
                po_number=po_number, receipt_number=f"GR-{po_number}", quantities={1: quantity}
            ),
            actor=TEST_ACTOR,
        )
    short = InvoiceFactory(vendor=vendor, invoice_number="INV-700", po_number="PO-700", lines=[WIDGETS])
    price = InvoiceFactory(vendor=vendor, invoice_number="INV-701", po_number="PO-701", lines=[HOSES.at("19.00")])
    run_matching(tenant)
    desk = Desk(tenant, reload(short), reload(price))
    assert desk.short_delivery.status == desk.price_mismatch.status == InvoiceStatus.PENDING_REVIEW
    return desk


def test_a_late_receipt_rematches_the_invoice_in_review_by_itself(live_server: Any, desk: Desk) -> None:
    invoice = desk.short_delivery
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")
        assert "More billed than received" in page.get_by_test_id("discrepancy").inner_text()
        assert "nothing to compare yet" in page.get_by_test_id("match-changes").inner_text()

        # The missing 150 arrive; the invoice goes back to matching with the receipt, and the run
        # (here synchronous) matches it again.
        def receive_the_rest() -> None:
            goods_receipt_create(
                tenant=desk.tenant,
                document=GoodsReceiptDocumentFactory(
                    po_number="PO-700", receipt_number="GR-PO-700-B", quantities={1: "150"}
                ),
                actor=TEST_ACTOR,
            )
            run_matching(desk.tenant)

        _in_own_thread(receive_the_rest)
        page.reload()

        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        assert page.get_by_test_id("discrepancy").count() == 0
        changes = page.get_by_test_id("match-changes")
        assert "More billed than received" in changes.get_by_test_id("discrepancy-gone").inner_text()
        assert "Pending review (Standard) → Approved" in changes.get_by_test_id("change-decision").inner_text()
        note = changes.get_by_test_id("rematch-note").inner_text()
        assert "Goods receipt GR-PO-700-B arrived for purchase order PO-700" in note
        assert "It was pending review (standard queue)" in note and "by the tenant's auto-approve rules" in note
        assert changes.get_by_test_id("rematch-button").count() == 0  # approved: not open any more
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        changes.screenshot(path=str(SCREENSHOTS / "rematch-changes.png"))
        assert page.console_errors == []
    assert len(results_of(invoice)) == 2


def test_rematch_now_from_the_invoice_page(live_server: Any, desk: Desk) -> None:
    invoice = desk.price_mismatch
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        page.get_by_role("button", name="Re-match now").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{invoice.pk}$"))
        page.get_by_text("INV-701 is being matched again").wait_for()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Received")
        note = page.get_by_test_id("rematch-note").inner_text()
        assert "Re-match asked for by" in note and "The next matching run decides again." in note

        _in_own_thread(lambda: run_matching(desk.tenant))
        page.reload()

        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")
        changes = page.get_by_test_id("match-changes")
        assert "(unchanged)" in changes.get_by_test_id("change-decision").inner_text()
        assert "Price differs from PO" in changes.get_by_test_id("discrepancy-kept").inner_text()
        assert page.console_errors == []
    assert reload(invoice).status == InvoiceStatus.PENDING_REVIEW and len(results_of(invoice)) == 2
