"""Matching runs against the real PostgreSQL: an invoice on hold for its goods, released by a
receipt and matched again, and holds past the tenant's limit escalated.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from invoices.models import Invoice
from matching.holds import matching_escalate_stale_holds
from matching.models import Discrepancy, MatchResult
from purchasing.services import goods_receipt_create
from tenants.models import Tenant
from tests.document_factories import GoodsReceiptDocumentFactory
from tests.factories import BOLTS, HOSES, TEST_ACTOR, InvoiceFactory, Line, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import (
    acme_vendor,
    found,
    reload,
    results_of,
    run_matching,
    set_tenant_settings,
    transitions_of,
)

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- a receipt releases the hold, the next run matches again -----------------------------


@pytest.mark.django_db
def test_a_goods_receipt_sends_the_held_invoice_back_and_the_next_run_approves_it(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-600", lines=[BOLTS, HOSES])
    PurchaseOrderFactory(vendor=acme, po_number="PO-601", lines=[BOLTS])
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-600", po_number="PO-600", lines=[BOLTS, HOSES])
    bystander = InvoiceFactory(vendor=acme, invoice_number="INV-601", po_number="PO-601", lines=[BOLTS.times("100")])
    first_run = run_matching(tenant)
    assert (reload(invoice).status, reload(bystander).status) == ("on_hold", "on_hold")
    [old] = results_of(invoice)
    old_row = MatchResult.objects.for_tenant(tenant).filter(pk=old.pk).values().get()
    old_discrepancies = list(Discrepancy.objects.for_tenant(tenant).filter(match_result=old).values())
    assert [(d["type"], d["match_result_id"]) for d in old_discrepancies] == [("receipt_missing", old.pk)]

    receipt = goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(
            po_number="PO-600", receipt_number="GR-600", quantities={1: "1000", 2: "50"}
        ),
        actor=TEST_ACTOR,
    )

    # Back to `received` by the receipt, in its transaction; the other PO's invoice keeps waiting.
    assert (reload(invoice).status, reload(bystander).status) == ("received", "on_hold")
    released = transitions_of(invoice)[-1]
    assert (released.actor_kind, released.actor_id) == ("system", "goods_receipt")
    assert released.before == {"status": "on_hold", "review_queue": None}
    assert released.after == {
        "status": "received",
        "review_queue": None,
        "reason": "Goods receipt GR-600 arrived for purchase order PO-600: matching again.",
        "goods_receipt_id": str(receipt.pk),
    }

    second_run = run_matching(tenant)

    assert second_run.invoices_matched == 1  # the bystander is still on hold, not in the batch
    invoice = reload(invoice)
    old_again, new = results_of(invoice)
    assert old_again.pk == old.pk and new.run_id == second_run.pk != first_run.pk
    # Its own earlier claim on the PO lines does not count against it: 1000 of 1000, clean.
    assert (invoice.status, invoice.latest_match_id) == ("approved", new.pk)
    assert (new.decision, new.confidence, found(new)) == ("approved", Decimal("1.0000"), [])
    assert MatchResult.objects.for_tenant(tenant).filter(pk=old.pk).values().get() == old_row
    assert list(Discrepancy.objects.for_tenant(tenant).filter(match_result=old).values()) == old_discrepancies
    assert [event.after["status"] for event in transitions_of(invoice)] == ["on_hold", "received", "approved"]


def _possible_duplicate_world(tenant: Tenant) -> Invoice:
    """An invoice on hold; then its renumbered re-send arrives and is flagged (correctly) as a
    possible duplicate of it; then the goods arrive and the original goes back to `received`."""
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-650", lines=[BOLTS])
    original = InvoiceFactory(vendor=acme, invoice_number="INV-650", po_number="PO-650", lines=[BOLTS])
    run_matching(tenant)
    assert reload(original).status == "on_hold"
    # Same vendor, same total 125.00, same day, another number; its line matches no PO line, so
    # it claims no quantity (only the duplicate check can tell the two apart).
    resend = InvoiceFactory(
        vendor=acme, invoice_number="INV-650-R", lines=[Line("", "Consulting services", "1", "125")]
    )
    run_matching(tenant)
    [resend_result] = results_of(resend)
    assert found(resend_result) == [("missing_po", "high"), ("possible_duplicate", "high")]
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(po_number="PO-650", receipt_number="GR-650", quantities={1: "1000"}),
        actor=TEST_ACTOR,
    )
    assert reload(original).status == "received"
    return original


@pytest.mark.django_db
@pytest.mark.parametrize(
    "newer_invoice_in_batch",
    [
        False,
        True,
    ],
)
def test_a_rematched_original_is_not_the_copy_of_its_later_resend(tenant: Tenant, newer_invoice_in_batch: bool) -> None:
    original = _possible_duplicate_world(tenant)
    if newer_invoice_in_batch:
        # Any invoice that arrived after the re-send, of any vendor.
        nordic = VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556000111")
        PurchaseOrderFactory(vendor=nordic, po_number="PO-660", lines=[HOSES], received=True)
        InvoiceFactory(vendor=nordic, invoice_number="NF-1", po_number="PO-660", lines=[HOSES])

    run_matching(tenant)

    # Goods received, 1000 of 1000 billed, 125.00: a clean 3-way match. The re-send is the copy.
    latest = reload(original).latest_match
    assert latest is not None
    assert found(latest) == []
    assert reload(original).status == "approved"


# --- holds that last too long --------------------------------------------------------------


@pytest.mark.django_db
def test_holds_past_the_tenants_limit_are_escalated_once(tenant: Tenant) -> None:
    set_tenant_settings(tenant, hold_max_days=5)
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-900", lines=[BOLTS, HOSES])
    PurchaseOrderFactory(vendor=acme, po_number="PO-901", lines=[BOLTS])
    older = InvoiceFactory(vendor=acme, invoice_number="INV-900", po_number="PO-900", lines=[BOLTS, HOSES])
    run_matching(tenant)
    newer = InvoiceFactory(vendor=acme, invoice_number="INV-901", po_number="PO-901", lines=[BOLTS])
    run_matching(tenant)
    assert (reload(older).status, reload(newer).status) == ("on_hold", "on_hold")
    newer_since = reload(newer).latest_match.created_at
    assert reload(older).latest_match.created_at < newer_since

    # Exactly 5 days after the newer one went on hold: it is not past the limit, the older one is.
    now = newer_since + dt.timedelta(days=5)
    assert matching_escalate_stale_holds(tenant=tenant, now=now) == 1
    assert matching_escalate_stale_holds(tenant=tenant, now=now) == 0

    older = reload(older)
    assert (older.status, older.review_queue, reload(newer).status) == ("pending_review", "escalated", "on_hold")
    escalations = [event for event in transitions_of(older) if event.actor_id == "hold_escalation"]
    assert len(escalations) == 1
    assert escalations[0].before == {"status": "on_hold", "review_queue": None}
    assert escalations[0].after == {
        "status": "pending_review",
        "review_queue": "escalated",
        "reason": "Still no goods receipt 5 days after it was put on hold.",
    }

    assert matching_escalate_stale_holds(tenant=tenant, now=now + dt.timedelta(microseconds=1)) == 1
    assert (reload(newer).status, reload(newer).review_queue) == ("pending_review", "escalated")


@pytest.mark.django_db
def test_receipts_for_other_lines_do_not_restart_the_hold_clock(tenant: Tenant) -> None:
    set_tenant_settings(tenant, hold_max_days=5)
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-950", lines=[BOLTS, HOSES])
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-950", po_number="PO-950", lines=[HOSES])
    run_matching(tenant)
    [first_hold] = results_of(invoice)
    # The bolts (PO line 1) arrive; the hoses this invoice bills (line 2) still do not.
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(po_number="PO-950", receipt_number="GR-950", quantities={1: "1000"}),
        actor=TEST_ACTOR,
    )
    run_matching(tenant)
    # Not released: the goods it waits for are not in this receipt.
    assert (reload(invoice).status, len(results_of(invoice))) == ("on_hold", 1)

    # 5 days and a moment after it went on hold, it is still waiting for its hoses.
    now = first_hold.created_at + dt.timedelta(days=5, microseconds=1)
    assert matching_escalate_stale_holds(tenant=tenant, now=now) == 1
    assert (reload(invoice).status, reload(invoice).review_queue) == ("pending_review", "escalated")
