"""Matching runs against the real PostgreSQL: quantities received over every receipt of a PO,
and what earlier invoices billed on its lines.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices.lifecycle import invoice_transition
from invoices.models import InvoiceStatus
from matching.models import Discrepancy
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, TEST_ACTOR, GoodsReceiptFactory, InvoiceFactory, PurchaseOrderFactory
from tests.matching.runs import (
    acme_vendor,
    found,
    matched_po_lines,
    po_line,
    reload,
    results_of,
    run_matching,
)

S = InvoiceStatus

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- receipts and what earlier invoices billed -------------------------------------------


@pytest.mark.django_db
def test_received_quantities_are_summed_over_every_receipt_of_the_po(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    purchase_order = PurchaseOrderFactory(vendor=acme, po_number="PO-300", lines=[BOLTS, HOSES])
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-300-1", quantities={1: "300", 2: "20"})
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-300-2", quantities={1: "300", 2: "30"})
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-300", po_number="PO-300", lines=[BOLTS, HOSES])

    run_matching(tenant)

    [result] = results_of(invoice)
    # Bolts: 300 + 300 = 600 of the 1000 billed arrived; hoses: 20 + 30 = all 50.
    [short] = Discrepancy.objects.for_tenant(tenant).filter(match_result=result)
    assert (short.type, short.severity, short.invoice_line_number, short.po_line_number) == (
        "quantity_not_received",
        "medium",
        1,
        1,
    )
    assert (short.expected, short.actual) == ("600", "1000")
    assert short.message == "Line 1: 1000 billed in total but only 600 received on PO line 1."
    # receipt_match (600/1000 + 1) / 2 = 0.8; 0.3 + 0.3 + 0.2 × 0.8 + 0.2 = 0.96, but not clean.
    assert result.breakdown["receipt_match"] == "0.8000" and result.confidence == Decimal("0.9600")
    assert (reload(invoice).status, reload(invoice).review_queue) == ("pending_review", "standard")
    assert result.decision_reason == "Review: quantity_not_received."


@pytest.mark.django_db
def test_a_later_run_counts_what_earlier_invoices_billed_on_the_po_line(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    purchase_order = PurchaseOrderFactory(vendor=acme, po_number="PO-400", lines=[BOLTS, HOSES], received=True)
    first = InvoiceFactory(vendor=acme, invoice_number="INV-401", po_number="PO-400", lines=[BOLTS.times("600")])
    run_matching(tenant)
    # 600 × 0.125 = 75.00, clean: approved; its line now points at PO line 1.
    assert reload(first).status == "approved"
    assert matched_po_lines(first) == [po_line(purchase_order, 1).pk]

    second = InvoiceFactory(vendor=acme, invoice_number="INV-402", po_number="PO-400", lines=[BOLTS.times("500")])
    run_matching(tenant)

    [result] = results_of(second)
    rows = {d.type: d for d in Discrepancy.objects.for_tenant(tenant).filter(match_result=result)}
    assert sorted((d.type, d.severity) for d in rows.values()) == [
        ("quantity_exceeds_po", "high"),
        ("quantity_not_received", "medium"),
    ]
    exceeds = rows["quantity_exceeds_po"]
    assert (exceeds.expected, exceeds.actual, exceeds.invoice_line_number, exceeds.po_line_number) == (
        "1000",
        "1100",
        1,
        1,
    )
    assert exceeds.message == "Line 1 bills 500; with 600 billed before, that is 1100 of the 1000 ordered on PO line 1."
    assert (rows["quantity_not_received"].expected, rows["quantity_not_received"].actual) == ("1000", "1100")
    # Of the 1000 received, 600 were billed before: 400 / 500 = 0.8 of this line is covered.
    assert result.breakdown["receipt_match"] == "0.8000"
    assert (reload(second).status, reload(second).review_queue) == ("pending_review", "escalated")


@pytest.mark.django_db
@pytest.mark.parametrize("how", ["void", "rejected"])
def test_a_void_or_rejected_earlier_invoice_bills_nothing(tenant: Tenant, how: str) -> None:
    acme = acme_vendor(tenant)
    purchase_order = PurchaseOrderFactory(vendor=acme, po_number="PO-500", lines=[BOLTS], received=True)
    earlier = InvoiceFactory(vendor=acme, invoice_number="INV-501", po_number="PO-500", lines=[BOLTS.times("600")])
    if how == "rejected":
        # Billed 600 then 300 more under the same number in the same run: the copy is rejected.
        kept = earlier
        earlier = InvoiceFactory(vendor=acme, invoice_number="INV 501", po_number="PO-500", lines=[BOLTS.times("300")])
        run_matching(tenant)
        assert (reload(kept).status, reload(earlier).status) == ("approved", "rejected")
        later_quantity = "400"  # 600 (kept) + 400 = 1000: exactly what was ordered; + 300 would exceed
    else:
        run_matching(tenant)
        invoice_transition(
            tenant=tenant,
            invoice=earlier,
            to_status=S.VOID,
            actor=TEST_ACTOR,
            reason="Credit note for the full amount.",
        )
        later_quantity = "1000"  # the void 600 no longer counts: all 1000 are open again
    # The link stays on the earlier invoice's line; only its status takes it out of the count.
    assert matched_po_lines(earlier) == [po_line(purchase_order, 1).pk]

    later = InvoiceFactory(
        vendor=acme, invoice_number="INV-502", po_number="PO-500", lines=[BOLTS.times(later_quantity)]
    )
    run_matching(tenant)

    [result] = results_of(later)
    assert found(result) == []
    assert (reload(later).status, result.confidence) == ("approved", Decimal("1.0000"))
