"""Matching runs against the real PostgreSQL: each decision written through the database, and
results and discrepancies kept as history the database refuses to change.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import OutboxMessage
from invoices.models import Invoice, InvoiceStatus
from matching.models import Discrepancy, MatchResult
from matching.writer import DISCREPANCY_EVENT
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, InvoiceFactory, Line, PurchaseOrderFactory
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching, transitions_of

S = InvoiceStatus

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- each decision through the database --------------------------------------------------

PUMP = Line("HP-200", "Hydraulic pump P-200", "10", "1000.00")


def _approved(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES], received=True)
    return InvoiceFactory(vendor=acme, invoice_number="INV-42", po_number="PO-100", lines=[BOLTS, HOSES])


def _on_hold(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES])
    return InvoiceFactory(vendor=acme, invoice_number="INV-42", po_number="PO-100", lines=[BOLTS, HOSES])


def _standard(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES], received=True)
    return InvoiceFactory(vendor=acme, invoice_number="INV-42", po_number="PO-100", lines=[BOLTS, HOSES.at("18.80")])


def _escalated_high(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES], received=True)
    return InvoiceFactory(vendor=acme, invoice_number="INV-42", po_number="PO-100", lines=[BOLTS, HOSES.at("21.00")])


def _escalated_total(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[PUMP], received=True)
    return InvoiceFactory(vendor=acme, invoice_number="INV-42", po_number="PO-100", lines=[PUMP.at("1025.00")])


def _rejected(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES], received=True)
    InvoiceFactory(tenant=tenant, vendor=acme, invoice_number="INV-0001", status=S.APPROVED, total_amount=99900)
    return InvoiceFactory(vendor=acme, invoice_number="inv 1", po_number="PO-100", lines=[BOLTS, HOSES])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("build", "status", "queue", "reason", "confidence", "discrepancies", "events"),
    [
        pytest.param(
            _approved, "approved", None, "Auto-approved: clean 3-way match (confidence 1.0000).", "1.0000",
            [], ["invoice.approved"], id="approved-clean-3-way",
        ),
        # receipt_match 0 on both lines: 0.3 + 0.3 + 0 + 0.2 = 0.8.
        pytest.param(
            _on_hold, "on_hold", None, "On hold until the goods are received.", "0.8000",
            [("receipt_missing", "medium")], [], id="on-hold-receipt-missing",
        ),
        # 18.80 is 0.40 over 18.40, tolerance 0.368: price_match (1 + 0.98261) / 2 = 0.9913.
        pytest.param(
            _standard, "pending_review", "standard", "Review: price_mismatch.", "0.9983",
            [("price_mismatch", "medium")], [], id="pending-review-standard",
        ),
        pytest.param(
            _escalated_high, "pending_review", "escalated", "Escalated: price_mismatch.", "0.9000",
            [("price_mismatch", "high")], [DISCREPANCY_EVENT], id="escalated-high-discrepancy",
        ),
        # 1025.00 is 25.00 over 1000.00, tolerance 20.00 (medium); price_match 1 - 5/1000 × 10 =
        # 0.95; confidence 0.99; 10 × 1025.00 = 10250.00 ≥ 10000.00.
        pytest.param(
            _escalated_total, "pending_review", "escalated", "Escalated: total 10250.00 EUR is at or above 10000.00.",
            "0.9900", [("price_mismatch", "medium")], [], id="escalated-total-at-or-above-escalate-from",
        ),
        pytest.param(
            _rejected, "rejected", None, "Rejected: duplicate_invoice.", "1.0000",
            [("duplicate_invoice", "critical")], [DISCREPANCY_EVENT, "invoice.rejected"], id="rejected-duplicate",
        ),
    ],
)  # fmt: skip
def test_each_decision_through_the_database(
    tenant: Tenant,
    build: Callable[[Tenant], Invoice],
    status: str,
    queue: str | None,
    reason: str,
    confidence: str,
    discrepancies: list[tuple[str, str]],
    events: list[str],
) -> None:
    invoice = build(tenant)
    run = run_matching(tenant)
    assert (run.status, run.invoices_matched) == ("finished", 1)
    invoice = reload(invoice)
    [result] = results_of(invoice)
    assert (invoice.status, invoice.review_queue, invoice.latest_match_id) == (status, queue, result.pk)
    assert (result.decision, result.review_queue, result.decision_reason) == (status, queue, reason)
    assert result.confidence == Decimal(confidence)
    assert found(result) == discrepancies
    [event] = transitions_of(invoice)
    assert (event.after["status"], event.after["review_queue"], event.after["reason"]) == (status, queue, reason)
    assert sorted(m.payload["event_type"] for m in OutboxMessage.objects.for_tenant(tenant)) == events


# --- results are history -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE matching_matchresult SET decision = 'approved', confidence = 1 WHERE invoice_id = %s",
        "DELETE FROM matching_matchresult WHERE invoice_id = %s",
        "UPDATE matching_discrepancy SET severity = 'low', expected = '0' WHERE invoice_id = %s",
        "DELETE FROM matching_discrepancy WHERE invoice_id = %s",
    ],
)
@pytest.mark.parametrize(("role", "refusal"), [("runtime", "permission denied"), ("superuser", "immutable")])
def test_the_database_refuses_to_change_or_delete_results(
    tenant: Tenant, statement: str, role: str, refusal: str
) -> None:
    """The app's runtime role has no UPDATE/DELETE on results; the trigger refuses any other role."""
    invoice = _escalated_high(tenant)
    run_matching(tenant)
    before = (
        list(MatchResult.objects.for_tenant(tenant).values()),
        list(Discrepancy.objects.for_tenant(tenant).values()),
    )
    assert len(before[1]) == 1

    with pytest.raises(DatabaseError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
        if role == "superuser":
            cursor.execute("RESET ROLE")  # the suite's own role (tests/conftest.py)
        cursor.execute(statement, [invoice.pk])

    assert (
        list(MatchResult.objects.for_tenant(tenant).values()),
        list(Discrepancy.objects.for_tenant(tenant).values()),
    ) == before
