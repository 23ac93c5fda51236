"""Matching runs against the real PostgreSQL: a run loads and writes in a constant number of
queries, whether its batch holds 5 invoices or 40.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from matching.models import MatchResult, MatchRun
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, GoodsReceiptFactory, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import run_matching
from vendors.models import Vendor

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- a constant number of queries --------------------------------------------------------


def _history_and_pos(tenant: Tenant, group: int) -> tuple[Vendor, list[str]]:
    """One vendor's world: five POs (three received in full, one in two receipts, one not at all)
    and one earlier invoice, matched (approved) in a run before the measured batch."""
    vendor = VendorFactory(tenant=tenant, name=f"Vendor {group} Industrial", tax_id=f"DE{900000 + group}")
    numbers = [f"PO-{group}-{kind}" for kind in "ABCDE"]
    for kind, po_number in zip("ABCDE", numbers, strict=True):
        if kind == "B":  # nothing received: the invoice goes on hold
            PurchaseOrderFactory(vendor=vendor, po_number=po_number, lines=[BOLTS, HOSES])
        elif kind == "C":  # received in two receipts
            purchase_order = PurchaseOrderFactory(vendor=vendor, po_number=po_number, lines=[BOLTS, HOSES])
            GoodsReceiptFactory(
                purchase_order=purchase_order, receipt_number=f"GR-{po_number}-1", quantities={1: "400", 2: "50"}
            )
            GoodsReceiptFactory(
                purchase_order=purchase_order, receipt_number=f"GR-{po_number}-2", quantities={1: "600"}
            )
        else:
            PurchaseOrderFactory(vendor=vendor, po_number=po_number, lines=[BOLTS, HOSES], received=True)
    InvoiceFactory(vendor=vendor, invoice_number=f"H-{group}", po_number=numbers[4], lines=[BOLTS, HOSES.times("10")])
    return vendor, numbers


def _batch(tenant: Tenant, group: int, vendor: Vendor, numbers: list[str]) -> None:
    """Five invoices, one per decision: approved, on hold, standard review, escalated, rejected.
    Totals differ (1045.00, 1020.00, 1065.00, 1175.00, 1.25; the history 309.00), so that no
    invoice is a `possible_duplicate` of another."""
    InvoiceFactory(vendor=vendor, invoice_number=f"A-{group}", po_number=numbers[0], lines=[BOLTS, HOSES])
    InvoiceFactory(vendor=vendor, invoice_number=f"B-{group}", po_number=numbers[1], lines=[BOLTS.times("800"), HOSES])
    InvoiceFactory(vendor=vendor, invoice_number=f"C-{group}", po_number=numbers[2], lines=[BOLTS, HOSES.at("18.80")])
    InvoiceFactory(vendor=vendor, invoice_number=f"D-{group}", po_number=numbers[3], lines=[BOLTS, HOSES.at("21.00")])
    # The earlier invoice H-<group> again ("h 0" is "H-0" normalized), on another PO: a duplicate.
    InvoiceFactory(vendor=vendor, invoice_number=f"h {group}", po_number=numbers[0], lines=[BOLTS.times("10")])


def _measured_run(tenant: Tenant) -> tuple[MatchRun, int]:
    with CaptureQueriesContext(connection) as queries:
        run = run_matching(tenant)
    return run, len(queries.captured_queries)


def _decisions(run: MatchRun) -> Counter[tuple[str, str | None]]:
    return Counter(
        MatchResult.objects.for_tenant(run.tenant_id).filter(run=run).values_list("decision", "review_queue")
    )


@pytest.mark.django_db
def test_a_run_sends_the_same_small_number_of_queries_for_5_or_40_invoices(tenant: Tenant) -> None:
    vendor, numbers = _history_and_pos(tenant, 0)
    assert run_matching(tenant).invoices_matched == 1  # the history
    _batch(tenant, 0, vendor, numbers)
    small, small_queries = _measured_run(tenant)

    worlds = [_history_and_pos(tenant, group) for group in range(1, 9)]
    assert run_matching(tenant).invoices_matched == 8
    for group, (vendor, numbers) in enumerate(worlds, start=1):
        _batch(tenant, group, vendor, numbers)
    large, large_queries = _measured_run(tenant)

    each = {
        ("approved", None): 1,
        ("on_hold", None): 1,
        ("pending_review", "standard"): 1,
        ("pending_review", "escalated"): 1,
        ("rejected", None): 1,
    }
    assert (small.status, small.invoices_matched, small.invoices_failed) == ("finished", 5, 0)
    assert _decisions(small) == Counter(each)
    assert (large.status, large.invoices_matched, large.invoices_failed) == ("finished", 40, 0)
    assert _decisions(large) == Counter(dict.fromkeys(each, 8))
    # Measured, the same for both: 33 statements inside the run's own counter (the bound below):
    # the run row, the lock, the settings, 15 loads (the vendors' bank accounts and accepted
    # history among them; shared accounts only when an invoice names one; the tolerance rules and
    # item aliases learned from clerks, the choices people made by hand, the names they taught); in one savepoint the
    # locking read, one UPDATE
    # per decision (5 here, at most 5 ever), the audit lock, head and INSERT, the
    # invoice.approved / rejected events, the results and the discrepancies (one INSERT), the
    # invoices, the lines,
    # the discrepancy events; the unlock. CaptureQueriesContext sees 1 more: the final
    # save of the run row. (Outside a test transaction the savepoint is BEGIN/COMMIT: 31.)
    assert small.query_count == large.query_count <= 33
    assert small_queries == large_queries == small.query_count + 1
