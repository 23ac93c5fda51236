"""A clerk works the invoices on hold in Chromium: the "On hold" list, an invoice's PO receipt
status, and releasing it to review with a reason; or the goods arrive: the clerk records the
receipt on the PO's "Record receipt" page, the matching run that follows matches the invoice again
by itself, and it is approved, its page saying what changed and why.

Matching runs synchronously, as tests/matching/runs.py starts it (MATCH_ON_INGEST off), in a
thread of its own while the page is open (tests/web/test_rematch_browser.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from invoices.models import Invoice, InvoiceStatus
from invoices.services import invoice_create
from purchasing.models import GoodsReceipt
from tenants.models import Role
from tests.audit.sealing import seal
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import (
    BOLTS,
    TEST_ACTOR,
    InvoiceFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    TenantFactory,
    UserFactory,
)
from tests.matching.runs import reload, results_of, run_matching
from tests.web.browser import chromium_page, log_in
from tests.web.test_rematch_browser import _in_own_thread

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Invoice:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-77", lines=[BOLTS])
    return InvoiceFactory(tenant=tenant, vendor=purchase_order.vendor, purchase_order=purchase_order,
                          po_number="PO-77", invoice_number="INV-HOLD-1", status=InvoiceStatus.ON_HOLD)  # fmt: skip


def test_a_clerk_releases_an_invoice_from_hold(live_server: Any, held: Invoice) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="On hold").click()
        page.wait_for_url(re.compile(r"/app/holds$"))
        row = page.get_by_test_id("hold-row")
        assert "INV-HOLD-1" in row.inner_text() and "0 / 1000" in row.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "holds.png"), full_page=True)
        row.get_by_role("link", name="INV-HOLD-1").click()
        assert page.get_by_test_id("hold-po-lines").inner_text().count("M8 hex bolts") == 1
        form = page.get_by_test_id("hold-form")
        form.get_by_label("Release it to review").check()
        form.get_by_role("button", name="Stop waiting").click()
        page.get_by_test_id("error-comment").wait_for()  # a reason is required, shown beside its box
        form = page.get_by_test_id("hold-form")
        form.get_by_label("Why").fill("Delivered on the 3rd; the receipt is booked late.")
        form.get_by_role("button", name="Stop waiting").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{held.pk}$"))
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")
    assert Invoice.objects.for_tenant(held.tenant_id).get(pk=held.pk).status == InvoiceStatus.PENDING_REVIEW


@pytest.fixture
def waiting_for_goods(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Invoice:
    """An invoice for 1000 bolts of PO-78, of which nothing is received yet: matching holds it."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-78", lines=[BOLTS])
    document = InvoiceDocumentFactory(
        invoice_number="INV-HOLD-2", vendor_id=purchase_order.vendor.pk, po_number="PO-78", lines=[BOLTS]
    )
    invoice = invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    run_matching(tenant)
    invoice = reload(invoice)
    assert invoice.status == InvoiceStatus.ON_HOLD, invoice.status
    return invoice


def test_the_goods_arrive_and_the_invoice_on_hold_is_matched_again_and_approved(
    live_server: Any, waiting_for_goods: Invoice
) -> None:
    invoice = waiting_for_goods
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="On hold").click()
        row = page.get_by_test_id("hold-row").filter(has_text="INV-HOLD-2")
        assert "0 / 1000" in row.inner_text()
        row.get_by_role("link", name="INV-HOLD-2").click()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("On hold")
        assert "M8 hex bolts" in page.get_by_test_id("hold-po-lines").inner_text()

        # The delivery note is in: the clerk books it on the purchase order the invoice waits for.
        page.get_by_role("main").get_by_role("link", name="On hold").click()
        page.get_by_test_id("hold-row").filter(has_text="INV-HOLD-2").get_by_role("link", name="PO-78").click()
        page.get_by_role("link", name="Record receipt").click()
        page.get_by_role("heading", name="Record a goods receipt").wait_for()
        page.get_by_label("Receipt number").fill("GR-78")
        page.get_by_role("button", name="Fill in everything outstanding").click()
        page.wait_for_function(
            "field => field.value === '1000'", arg=page.get_by_label("Received now, line 1").element_handle()
        )
        page.get_by_role("button", name="Record receipt").click()
        page.get_by_role("heading", name="GR-78").wait_for()
        assert "Invoices on hold waiting for these goods go back to matching." in page.inner_text("main")

        # The next matching run (here synchronous) takes the invoice again.
        _in_own_thread(lambda: run_matching(invoice.tenant))
        page.goto(f"/app/invoices/{invoice.pk}")
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        changes = page.get_by_test_id("match-changes")
        assert "On hold → Approved" in changes.get_by_test_id("change-decision").inner_text()
        assert changes.get_by_test_id("discrepancy-gone").count() == 1  # the missing receipt
        note = changes.get_by_test_id("rematch-note").inner_text()
        assert "Goods receipt GR-78 arrived for purchase order PO-78" in note, note
        assert "by the tenant's auto-approve rules" in note, note
        changes.screenshot(path=str(SCREENSHOTS / "hold-rematched.png"))

        page.get_by_role("link", name="On hold").click()
        page.get_by_test_id("hold-row").filter(has_text="INV-HOLD-2").wait_for(state="detached")
        assert page.console_errors == []

    receipt = GoodsReceipt.objects.for_tenant(invoice.tenant_id).get(receipt_number="GR-78")
    assert reload(invoice).status == InvoiceStatus.APPROVED
    assert len(results_of(invoice)) == 2  # the hold's result kept as history beside the new one
    moves = list(
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .order_by("xid", "append_seq")
    )
    # Held by matching, sent back to matching by the receipt's door, approved by the next run.
    assert [(event.before["status"], event.after["status"], event.actor_label) for event in moves] == [
        (InvoiceStatus.RECEIVED, InvoiceStatus.ON_HOLD, "matching"),
        (InvoiceStatus.ON_HOLD, InvoiceStatus.RECEIVED, "goods_receipt"),
        (InvoiceStatus.RECEIVED, InvoiceStatus.APPROVED, "matching"),
    ]
    assert moves[1].after["goods_receipt_id"] == str(receipt.pk)
    assert moves[2].after["match"]["discrepancies"] == []
    assert seal(invoice.tenant).unsealed == 0
    assert audit_chain_verify(tenant=invoice.tenant).intact
