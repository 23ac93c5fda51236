"""Matching runs against the real PostgreSQL: what a run loads (in a constant number of queries),
what it writes (results, discrepancies, transitions, audit, outbox), re-matching after a receipt,
hold escalation, fault isolation, the tenant lock under real concurrency, and tenant scoping.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

import matching.engine.batch
import matching.services
import matching.writer
from audit.models import AuditEvent, OutboxMessage
from audit.services import outbox_subject
from core import locks
from core.actors import system_actor
from invoices.lifecycle import invoice_transition
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from matching.engine import ENGINE_VERSION
from matching.holds import matching_escalate_stale_holds
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_drain_tenant, matching_run_for_tenant
from matching.writer import DISCREPANCY_EVENT
from purchasing.models import GoodsReceipt, PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, TenantFactory
from tests.matching.db_builders import (
    BOLTS,
    HOSES,
    Line,
    discrepancy_messages,
    found,
    make_invoice,
    make_purchase_order,
    make_vendor,
    receive,
    reload,
    results_of,
    run_matching,
    set_tenant_settings,
    transitions_of,
)
from tests.threads import in_thread
from vendors.models import Vendor
from vendors.services import vendor_alias_add

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    """Runs are started by the tests themselves, never queued by ingestion or receipts."""
    settings.MATCH_ON_INGEST = False


def _received_po(tenant: Tenant, vendor: Vendor, po_number: str, *lines: Line, currency: str = "EUR") -> PurchaseOrder:
    """A PO whose lines have all arrived, in one receipt."""
    purchase_order = make_purchase_order(tenant, vendor=vendor, po_number=po_number, lines=lines, currency=currency)
    receive(
        tenant,
        po_number=po_number,
        receipt_number=f"GR-{po_number}",
        quantities={number: line.quantity for number, line in enumerate(lines, start=1)},
    )
    return purchase_order


def _po_line(purchase_order: PurchaseOrder, number: int) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.for_tenant(purchase_order.tenant_id).get(
        purchase_order=purchase_order, line_number=number
    )


def _matched_po_lines(invoice: Invoice) -> list[uuid.UUID | None]:
    return list(
        InvoiceLine.objects.for_tenant(invoice.tenant_id)
        .filter(invoice=invoice)
        .order_by("line_number")
        .values_list("matched_po_line_id", flat=True)
    )


# --- 1. a constant number of queries --------------------------------------------------------


def _history_and_pos(tenant: Tenant, group: int) -> tuple[Vendor, list[str]]:
    """One vendor's world: five POs (three received in full, one in two receipts, one not at all)
    and one earlier invoice, matched (approved) in a run before the measured batch."""
    vendor = make_vendor(tenant, f"Vendor {group} Industrial", tax_id=f"DE{900000 + group}")
    numbers = [f"PO-{group}-{kind}" for kind in "ABCDE"]
    for kind, po_number in zip("ABCDE", numbers, strict=True):
        if kind == "B":  # nothing received: the invoice goes on hold
            make_purchase_order(tenant, vendor=vendor, po_number=po_number, lines=[BOLTS, HOSES])
        elif kind == "C":  # received in two receipts
            make_purchase_order(tenant, vendor=vendor, po_number=po_number, lines=[BOLTS, HOSES])
            receive(tenant, po_number=po_number, receipt_number=f"GR-{po_number}-1", quantities={1: "400", 2: "50"})
            receive(tenant, po_number=po_number, receipt_number=f"GR-{po_number}-2", quantities={1: "600"})
        else:
            _received_po(tenant, vendor, po_number, BOLTS, HOSES)
    make_invoice(tenant, number=f"H-{group}", vendor=vendor, po_number=numbers[4], lines=[BOLTS, HOSES.times("10")])
    return vendor, numbers


def _batch(tenant: Tenant, group: int, vendor: Vendor, numbers: list[str]) -> None:
    """Five invoices, one per decision: approved, on hold, standard review, escalated, rejected.
    Totals differ (1045.00, 1020.00, 1065.00, 1175.00, 1.25; the history 309.00), so that no
    invoice is a `possible_duplicate` of another."""
    make_invoice(tenant, number=f"A-{group}", vendor=vendor, po_number=numbers[0], lines=[BOLTS, HOSES])
    make_invoice(tenant, number=f"B-{group}", vendor=vendor, po_number=numbers[1], lines=[BOLTS.times("800"), HOSES])
    make_invoice(tenant, number=f"C-{group}", vendor=vendor, po_number=numbers[2], lines=[BOLTS, HOSES.at("18.80")])
    make_invoice(tenant, number=f"D-{group}", vendor=vendor, po_number=numbers[3], lines=[BOLTS, HOSES.at("21.00")])
    # The earlier invoice H-<group> again ("h 0" is "H-0" normalized), on another PO: a duplicate.
    make_invoice(tenant, number=f"h {group}", vendor=vendor, po_number=numbers[0], lines=[BOLTS.times("10")])


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
    # Measured, the same for both: 30 statements inside the run's own counter (the bound below):
    # the run row, the lock, the settings, 9 loads; in one savepoint the locking read, one UPDATE
    # per decision (5 here, at most 5 ever), the audit lock, head and INSERT, the
    # invoice.approved / rejected events, the results, the discrepancies, the invoices, the
    # lines, the discrepancy events; the unlock. CaptureQueriesContext sees 1 more: the final
    # save of the run row. (Outside a test transaction the savepoint is BEGIN/COMMIT: 28.)
    assert small.query_count == large.query_count <= 30
    assert small_queries == large_queries == small.query_count + 1


# --- 2. what a run writes -------------------------------------------------------------------


def _acme(tenant: Tenant) -> Vendor:
    return make_vendor(tenant, "Acme Supplies Ltd", tax_id="DE123456789")


@pytest.mark.django_db
def test_what_a_run_writes_for_one_invoice(tenant: Tenant) -> None:
    acme = _acme(tenant)
    purchase_order = _received_po(tenant, acme, "PO-2001", BOLTS, HOSES)
    # Sent under a trading name nobody knew at ingestion; the alias is taught before the run.
    # Lines 125.00 + 50 × 21.00 = 1050.00 → 1175.00; tax at 19 % would be 223.25, 200.00 is
    # charged; 1175.00 + 200.00 = 1375.00, but the total says 1380.00.
    invoice = make_invoice(
        tenant,
        number="INV-9001",
        vendor_name="Acme Supply Co",
        po_number="PO-2001",
        lines=[BOLTS, HOSES.at("21.00")],
        tax="200.00",
        tax_rate="19",
        total="1380.00",
    )
    assert invoice.vendor_id is None
    vendor_alias_add(tenant=tenant, vendor=acme, alias="Acme Supply Co", actor=TEST_ACTOR)
    assert not OutboxMessage.objects.for_tenant(tenant).exists()

    run = run_matching(tenant)

    assert (run.status, run.trigger, run.invoices_matched, run.invoices_failed, run.failures) == (
        "finished",
        "command",
        1,
        0,
        [],
    )
    assert (run.engine_version, run.requested_by_kind, run.requested_by_id) == (ENGINE_VERSION, "system", "test")

    # The result: price_match = (1 + 0) / 2, since 21.00 is 2.60 over 18.40 and the score is
    # already 0 at 10 % of the price beyond the 2 % tolerance; 0.3 + 0.3 + 0.2 + 0.2 × 0.5 = 0.9.
    [result] = results_of(invoice)
    breakdown = {"po_match": "1.0000", "line_match": "1.0000", "receipt_match": "1.0000", "price_match": "0.5000"}
    assert result.run_id == run.pk
    assert result.confidence == Decimal("0.9000")
    assert result.breakdown == breakdown
    assert (result.decision, result.review_queue) == ("pending_review", "escalated")
    assert result.decision_reason == "Escalated: price_mismatch, total_mismatch."
    assert result.engine_version == ENGINE_VERSION
    assert (result.vendor_id, result.purchase_order_id) == (acme.pk, purchase_order.pk)
    assert [(a["invoice_line_number"], a["po_line_number"]) for a in result.line_assignments] == [(1, 1), (2, 2)]

    rows = {
        row["type"]: row
        for row in Discrepancy.objects.for_tenant(tenant)
        .filter(match_result=result, invoice=invoice)
        .values("id", "type", "severity", "message", "invoice_line_number", "po_line_number", "expected", "actual")
    }
    assert {kind: {k: v for k, v in row.items() if k != "id"} for kind, row in rows.items()} == {
        "price_mismatch": {
            "type": "price_mismatch",
            "severity": "high",  # 2.60 over, more than 5 × the tolerance of 0.368
            "message": "Line 2: unit price 21.00 is 14.1 % above the PO price 18.40 (tolerance 2 %).",
            "invoice_line_number": 2,
            "po_line_number": 2,
            "expected": "18.40",
            "actual": "21.00",
        },
        "total_mismatch": {
            "type": "total_mismatch",
            "severity": "high",
            "message": "The total 1380.00 EUR is not lines 1175.00 + tax 200.00 + shipping 0.00 = 1375.00.",
            "invoice_line_number": None,
            "po_line_number": None,
            "expected": "1375.00",
            "actual": "1380.00",
        },
        "tax_mismatch": {
            "type": "tax_mismatch",
            "severity": "medium",
            "message": "Tax at 19 % of 1175.00 is 223.25, but the invoice charges 200.00.",
            "invoice_line_number": None,
            "po_line_number": None,
            "expected": "223.25",
            "actual": "200.00",
        },
    }

    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "escalated")
    assert (invoice.latest_match_id, invoice.vendor_id, invoice.purchase_order_id) == (
        result.pk,
        acme.pk,
        purchase_order.pk,
    )
    assert _matched_po_lines(invoice) == [_po_line(purchase_order, 1).pk, _po_line(purchase_order, 2).pk]

    [event] = transitions_of(invoice)
    assert (event.actor_kind, event.actor_id) == ("system", "matching")
    assert event.before == {"status": "received", "review_queue": None}
    assert event.after == {
        "status": "pending_review",
        "review_queue": "escalated",
        "reason": "Escalated: price_mismatch, total_mismatch.",
        "match": {
            "match_result_id": str(result.pk),
            "run_id": str(run.pk),
            "confidence": "0.9000",
            "breakdown": breakdown,
            "vendor_id": str(acme.pk),
            "purchase_order_id": str(purchase_order.pk),
            "discrepancies": [
                {"type": "price_mismatch", "severity": "high"},
                {"type": "total_mismatch", "severity": "high"},
                {"type": "tax_mismatch", "severity": "medium"},
            ],
            "engine_version": ENGINE_VERSION,
        },
    }

    # The two high discrepancies are published, the medium one is not; nothing else is queued
    # (pending_review is no published transition).
    messages = OutboxMessage.objects.for_tenant(tenant).order_by("created_at")
    assert sorted(m.payload["payload"]["discrepancy_type"] for m in messages) == ["price_mismatch", "total_mismatch"]
    metadata = {
        "invoice_id": str(invoice.pk),
        "invoice_number": "INV-9001",
        "vendor": "Acme Supplies Ltd",
        "po_number": "PO-2001",
        "confidence": 0.9,
    }
    expected_payloads = {
        "price_mismatch": {
            "external_id": str(rows["price_mismatch"]["id"]),
            "source_system": "recon",
            "discrepancy_type": "price_mismatch",
            "severity": "high",
            "title": "Price mismatch on invoice INV-9001",
            "description": "Line 2: unit price 21.00 is 14.1 % above the PO price 18.40 (tolerance 2 %).",
            "amount_expected": 18.4,
            "amount_actual": 21.0,
            "currency": "EUR",
            "metadata": metadata,
        },
        "total_mismatch": {
            "external_id": str(rows["total_mismatch"]["id"]),
            "source_system": "recon",
            "discrepancy_type": "total_mismatch",
            "severity": "high",
            "title": "Total mismatch on invoice INV-9001",
            "description": "The total 1380.00 EUR is not lines 1175.00 + tax 200.00 + shipping 0.00 = 1375.00.",
            "amount_expected": 1375.0,
            "amount_actual": 1380.0,
            "currency": "EUR",
            "metadata": metadata,
        },
    }
    for message in messages:
        envelope = dict(message.payload)
        timestamp = dt.datetime.fromisoformat(envelope.pop("timestamp"))
        assert run.started_at <= timestamp <= run.finished_at
        assert message.subject == outbox_subject(DISCREPANCY_EVENT) == "recon.discrepancy.detected"
        assert message.published_at is None
        kind = envelope["payload"]["discrepancy_type"]
        assert envelope == {
            "event_type": "invoice.discrepancy.detected",
            "source": "recon",
            "tenant_id": str(tenant.pk),
            "payload": expected_payloads[kind],
        }
        assert isinstance(envelope["payload"]["amount_actual"], float)  # a JSON number, not a string

    # vendor, alias, PO, receipt, invoice: one event each; the run: one more.
    out = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: 6 events, chain intact" in out.getvalue()


# --- 3. each decision through the database --------------------------------------------------

PUMP = Line("HP-200", "Hydraulic pump P-200", "10", "1000.00")


def _approved(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-100", BOLTS, HOSES)
    return make_invoice(tenant, number="INV-42", vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES])


def _on_hold(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES])
    return make_invoice(tenant, number="INV-42", vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES])


def _standard(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-100", BOLTS, HOSES)
    return make_invoice(tenant, number="INV-42", vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES.at("18.80")])


def _escalated_high(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-100", BOLTS, HOSES)
    return make_invoice(tenant, number="INV-42", vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES.at("21.00")])


def _escalated_total(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-100", PUMP)
    return make_invoice(tenant, number="INV-42", vendor=acme, po_number="PO-100", lines=[PUMP.at("1025.00")])


def _rejected(tenant: Tenant) -> Invoice:
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-100", BOLTS, HOSES)
    InvoiceFactory(tenant=tenant, vendor=acme, invoice_number="INV-0001", status=S.APPROVED, total_amount=99900)
    return make_invoice(tenant, number="inv 1", vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES])


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


# --- 4. receipts and what earlier invoices billed -------------------------------------------


@pytest.mark.django_db
def test_received_quantities_are_summed_over_every_receipt_of_the_po(tenant: Tenant) -> None:
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-300", lines=[BOLTS, HOSES])
    receive(tenant, po_number="PO-300", receipt_number="GR-300-1", quantities={1: "300", 2: "20"})
    receive(tenant, po_number="PO-300", receipt_number="GR-300-2", quantities={1: "300", 2: "30"})
    invoice = make_invoice(tenant, number="INV-300", vendor=acme, po_number="PO-300", lines=[BOLTS, HOSES])

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
    acme = _acme(tenant)
    purchase_order = _received_po(tenant, acme, "PO-400", BOLTS, HOSES)
    first = make_invoice(tenant, number="INV-401", vendor=acme, po_number="PO-400", lines=[BOLTS.times("600")])
    run_matching(tenant)
    # 600 × 0.125 = 75.00, clean: approved; its line now points at PO line 1.
    assert reload(first).status == "approved"
    assert _matched_po_lines(first) == [_po_line(purchase_order, 1).pk]

    second = make_invoice(tenant, number="INV-402", vendor=acme, po_number="PO-400", lines=[BOLTS.times("500")])
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
    acme = _acme(tenant)
    purchase_order = _received_po(tenant, acme, "PO-500", BOLTS)
    earlier = make_invoice(tenant, number="INV-501", vendor=acme, po_number="PO-500", lines=[BOLTS.times("600")])
    if how == "rejected":
        # Billed 600 then 300 more under the same number in the same run: the copy is rejected.
        kept = earlier
        earlier = make_invoice(tenant, number="INV 501", vendor=acme, po_number="PO-500", lines=[BOLTS.times("300")])
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
    assert _matched_po_lines(earlier) == [_po_line(purchase_order, 1).pk]

    later = make_invoice(tenant, number="INV-502", vendor=acme, po_number="PO-500", lines=[BOLTS.times(later_quantity)])
    run_matching(tenant)

    [result] = results_of(later)
    assert found(result) == []
    assert (reload(later).status, result.confidence) == ("approved", Decimal("1.0000"))


# --- 5. a receipt releases the hold, the next run matches again -----------------------------


@pytest.mark.django_db
def test_a_goods_receipt_sends_the_held_invoice_back_and_the_next_run_approves_it(tenant: Tenant) -> None:
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-600", lines=[BOLTS, HOSES])
    make_purchase_order(tenant, vendor=acme, po_number="PO-601", lines=[BOLTS])
    invoice = make_invoice(tenant, number="INV-600", vendor=acme, po_number="PO-600", lines=[BOLTS, HOSES])
    bystander = make_invoice(tenant, number="INV-601", vendor=acme, po_number="PO-601", lines=[BOLTS.times("100")])
    first_run = run_matching(tenant)
    assert (reload(invoice).status, reload(bystander).status) == ("on_hold", "on_hold")
    [old] = results_of(invoice)
    old_row = MatchResult.objects.for_tenant(tenant).filter(pk=old.pk).values().get()
    old_discrepancies = list(Discrepancy.objects.for_tenant(tenant).filter(match_result=old).values())
    assert [(d["type"], d["match_result_id"]) for d in old_discrepancies] == [("receipt_missing", old.pk)]

    receipt = receive(tenant, po_number="PO-600", receipt_number="GR-600", quantities={1: "1000", 2: "50"})

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
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-650", lines=[BOLTS])
    original = make_invoice(tenant, number="INV-650", vendor=acme, po_number="PO-650", lines=[BOLTS])
    run_matching(tenant)
    assert reload(original).status == "on_hold"
    # Same vendor, same total 125.00, same day, another number; its line matches no PO line, so
    # it claims no quantity (only the duplicate check can tell the two apart).
    resend = make_invoice(tenant, number="INV-650-R", vendor=acme, lines=[Line("", "Consulting services", "1", "125")])
    run_matching(tenant)
    [resend_result] = results_of(resend)
    assert found(resend_result) == [("missing_po", "high"), ("possible_duplicate", "high")]
    receive(tenant, po_number="PO-650", receipt_number="GR-650", quantities={1: "1000"})
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
        nordic = make_vendor(tenant, "Nordic Fasteners AB", tax_id="SE556000111")
        _received_po(tenant, nordic, "PO-660", HOSES)
        make_invoice(tenant, number="NF-1", vendor=nordic, po_number="PO-660", lines=[HOSES])

    run_matching(tenant)

    # Goods received, 1000 of 1000 billed, 125.00: a clean 3-way match. The re-send is the copy.
    latest = reload(original).latest_match
    assert latest is not None
    assert found(latest) == []
    assert reload(original).status == "approved"


# --- 6. currencies with 0 and 3 decimals ----------------------------------------------------


@pytest.mark.django_db
def test_yen_and_dinar_invoices_keep_their_decimals_through_a_run(tenant: Tenant) -> None:
    nippon = make_vendor(tenant, "Nippon Fasteners KK", tax_id="JP1234567890", currency="JPY")
    gulf = make_vendor(tenant, "Gulf Trading WLL", tax_id="BH200300400", currency="BHD")
    ties = Line("CT-200", "Cable tie 200 mm", "1000", "12")
    valves = Line("VL-1", "Valve 1 inch", "10", "1.250")
    _received_po(tenant, nippon, "PO-J1", ties, currency="JPY")
    _received_po(tenant, gulf, "PO-B1", valves, currency="BHD")
    # 1000 × 12 = 12000 yen, the total says 12500. 10 × 1.250 = 12.500 dinar, tax stated 1.300
    # where 10 % is 1.250; total 13.800.
    yen = make_invoice(
        tenant, number="JP-77", vendor=nippon, po_number="PO-J1", lines=[ties], currency="JPY", total="12500"
    )
    dinar = make_invoice(
        tenant,
        number="BH-5",
        vendor=gulf,
        po_number="PO-B1",
        lines=[valves],
        currency="BHD",
        tax="1.300",
        tax_rate="10",
    )
    assert (yen.subtotal_amount, yen.total_amount) == (12000, 12500)
    assert (dinar.subtotal_amount, dinar.tax_amount, dinar.total_amount) == (12500, 1300, 13800)

    run_matching(tenant)

    [yen_result] = results_of(yen)
    [mismatch] = Discrepancy.objects.for_tenant(tenant).filter(match_result=yen_result)
    assert (mismatch.type, mismatch.severity, mismatch.expected, mismatch.actual) == (
        "total_mismatch",
        "high",
        "12000",
        "12500",
    )
    assert mismatch.message == "The total 12500 JPY is not lines 12000 + tax 0 + shipping 0 = 12000."
    assert (reload(yen).status, reload(yen).review_queue) == ("pending_review", "escalated")
    [message] = discrepancy_messages(tenant)
    payload = message.payload["payload"]
    assert (payload["currency"], payload["amount_expected"], payload["amount_actual"]) == ("JPY", 12000, 12500)
    assert payload["external_id"] == str(mismatch.pk)

    [dinar_result] = results_of(dinar)
    [tax] = Discrepancy.objects.for_tenant(tenant).filter(match_result=dinar_result)
    assert (tax.type, tax.severity, tax.expected, tax.actual) == ("tax_mismatch", "medium", "1.250", "1.300")
    assert tax.message == "Tax at 10 % of 12.500 is 1.250, but the invoice charges 1.300."
    # The auto-approve limit 100.00 is in the invoice's own currency: 100.000 dinar.
    assert reload(dinar).status == "approved"
    assert dinar_result.decision_reason == "Auto-approved: total 13.800 BHD is below the auto-approve limit 100.000."


# --- 7. one bad invoice does not sink the batch ---------------------------------------------


def _three_small_invoices(tenant: Tenant) -> list[Invoice]:
    """100, 200 and 300 bolts on a received PO: 12.50, 25.00, 37.50, each auto-approved alone."""
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-700", BOLTS)
    return [
        make_invoice(tenant, number=f"INV-70{n}", vendor=acme, po_number="PO-700", lines=[BOLTS.times(f"{n}00")])
        for n in (1, 2, 3)
    ]


def _matching_locks_held_here() -> int:
    """Advisory locks of the matching class held by this database session."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND pid = pg_backend_pid()",
            [locks.MATCHING],
        )
        return cursor.fetchone()[0]


def _assert_left_alone(invoice: Invoice, status: str = S.RECEIVED) -> None:
    assert reload(invoice).status == status
    assert results_of(invoice) == []
    assert all(event.actor_id != "matching" for event in transitions_of(invoice))


@pytest.mark.django_db
def test_an_invoice_the_engine_fails_on_is_recorded_and_the_others_commit(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, bad, third = _three_small_invoices(tenant)
    real = matching.engine.batch.match_invoice

    def exploding(invoice: Any, *args: Any) -> Any:
        if invoice.id == bad.pk:
            raise RuntimeError("engine exploded")
        return real(invoice, *args)

    monkeypatch.setattr(matching.engine.batch, "match_invoice", exploding)
    run = run_matching(tenant)

    assert (run.status, run.invoices_matched, run.invoices_failed) == ("finished", 2, 1)
    assert run.failures == [{"invoice_id": str(bad.pk), "error": "RuntimeError: engine exploded"}]
    _assert_left_alone(bad)
    for invoice in (first, third):
        assert reload(invoice).status == "approved" and len(results_of(invoice)) == 1


@pytest.mark.django_db
def test_a_failed_bulk_write_falls_back_to_one_savepoint_per_invoice(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, bad, third = _three_small_invoices(tenant)
    real = matching.writer._write

    def write_then_break(**kwargs: Any) -> list[dict[str, str]]:
        # Everything of the batch is written first, then it breaks: all of it must roll back.
        failures = real(**kwargs)
        if any(outcome.invoice_id == bad.pk for outcome in kwargs["outcomes"]):
            raise IntegrityError("simulated constraint violation")
        return failures

    monkeypatch.setattr(matching.writer, "_write", write_then_break)
    run = run_matching(tenant)

    assert (run.status, run.invoices_matched, run.invoices_failed) == ("finished", 2, 1)
    assert run.failures == [{"invoice_id": str(bad.pk), "error": "IntegrityError: simulated constraint violation"}]
    _assert_left_alone(bad)
    for invoice in (first, third):
        # Exactly one result and one transition: nothing of the rolled-back bulk attempt is left.
        assert reload(invoice).status == "approved"
        assert len(results_of(invoice)) == 1 and len(transitions_of(invoice)) == 1
    assert MatchResult.objects.for_tenant(tenant).count() == 2
    assert [m.payload["event_type"] for m in OutboxMessage.objects.for_tenant(tenant)] == ["invoice.approved"] * 2
    call_command("verify_audit", "--tenant", tenant.slug, stdout=StringIO())


@pytest.mark.django_db
def test_a_statement_postgresql_refuses_in_the_pipelined_write_falls_back_to_one_savepoint_per_invoice(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, bad, third = _three_small_invoices(tenant)
    real = matching.services.match_batch

    def out_of_range(batch: Any, context: Any) -> Any:
        # A confidence the table's CHECK refuses: the error comes from the server, mid-pipeline.
        return [
            dataclasses.replace(outcome, confidence=Decimal("1.5")) if outcome.invoice_id == bad.pk else outcome
            for outcome in real(batch, context)
        ]

    monkeypatch.setattr(matching.services, "match_batch", out_of_range)
    run = run_matching(tenant)

    assert (run.status, run.invoices_matched, run.invoices_failed) == ("finished", 2, 1)
    assert run.failures[0]["invoice_id"] == str(bad.pk)
    assert (
        run.failures[0]["error"].startswith("IntegrityError")
        and "matchresult_confidence_0_1" in run.failures[0]["error"]
    )
    _assert_left_alone(bad)
    for invoice in (first, third):
        assert reload(invoice).status == "approved"
        assert len(results_of(invoice)) == 1 and len(transitions_of(invoice)) == 1
    call_command("verify_audit", "--tenant", tenant.slug, stdout=StringIO())


def _run_while_one_is_voided(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> tuple[MatchRun, list[Invoice]]:
    """Three invoices; an administrator voids the middle one after the engine matched it."""
    invoices = _three_small_invoices(tenant)
    real = matching.services.match_batch

    def match_then_void(batch: Any, context: Any) -> Any:
        outcomes = real(batch, context)
        invoice_transition(
            tenant=tenant, invoice=invoices[1], to_status=S.VOID, actor=TEST_ACTOR, reason="Credit note."
        )
        return outcomes

    monkeypatch.setattr(matching.services, "match_batch", match_then_void)
    return run_matching(tenant), invoices


@pytest.mark.django_db
def test_an_invoice_voided_while_the_engine_ran_is_refused_and_the_others_commit(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, (first, voided, third) = _run_while_one_is_voided(tenant, monkeypatch)

    assert (run.invoices_matched, run.invoices_failed) == (2, 1)
    [failure] = run.failures
    assert failure["invoice_id"] == str(voided.pk)
    assert failure["error"].startswith("StaleState: Invoice is 'void' now, not ")
    _assert_left_alone(voided, status=S.VOID)
    assert [reload(first).status, reload(third).status] == ["approved", "approved"]


@pytest.mark.django_db
def test_the_failure_of_a_voided_invoice_names_the_status_as_users_know_it(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, _ = _run_while_one_is_voided(tenant, monkeypatch)
    assert run.failures[0]["error"] == (
        "StaleState: Invoice is 'void' now, not 'received': someone else acted first. Reload and try again."
    )


@pytest.mark.django_db
def test_a_drain_does_not_retry_a_failing_invoice_forever(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    set_tenant_settings(tenant, max_invoices_per_run=2)
    bad, second, third = _three_small_invoices(tenant)
    attempts: Counter[uuid.UUID] = Counter()
    real = matching.engine.batch.match_invoice

    def always_failing(invoice: Any, *args: Any) -> Any:
        attempts[invoice.id] += 1
        if invoice.id == bad.pk:
            raise RuntimeError("engine exploded")
        return real(invoice, *args)

    monkeypatch.setattr(matching.engine.batch, "match_invoice", always_failing)
    runs = matching_drain_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=TEST_ACTOR, max_batches=5)

    # Batch 1: the bad one and the second (full: 2 of 2); batch 2: the third alone (not full: stop).
    assert [(run.invoices_matched, run.invoices_failed) for run in runs] == [(1, 1), (1, 0)]
    assert attempts == Counter({bad.pk: 1, second.pk: 1, third.pk: 1})
    assert [reload(invoice).status for invoice in (bad, second, third)] == ["received", "approved", "approved"]


@pytest.mark.django_db
def test_a_drain_takes_an_invoice_that_arrived_while_its_last_batch_ran(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The invoice's own drain was skipped (this one held the lock), so this one must take it:
    under API load (manage.py load_test) such invoices were left in `received` until the schedule."""
    first, second, late = _three_small_invoices(tenant)
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(status=S.ON_HOLD)  # not there yet
    real = matching.engine.batch.match_invoice

    def arrives_meanwhile(invoice: Any, *args: Any) -> Any:
        Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(status=S.RECEIVED)
        return real(invoice, *args)

    monkeypatch.setattr(matching.engine.batch, "match_invoice", arrives_meanwhile)
    runs = matching_drain_tenant(tenant=tenant, trigger=MatchRun.Trigger.INGEST, actor=TEST_ACTOR, max_batches=5)

    assert [run.invoices_matched for run in runs] == [2, 1]
    assert [reload(invoice).status for invoice in (first, second, late)] == ["approved", "approved", "approved"]


# Committed set-up: a goods receipt holds the matching lock to the end of its transaction, which
# inside a test transaction would be the end of the test, hiding whether the run released its own.
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_loader_breaks_is_failed_leaves_everything_and_releases_the_lock(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoices = _three_small_invoices(tenant)

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("loader down")

    monkeypatch.setattr(matching.services, "load_batch", broken)
    run = run_matching(tenant)

    assert (run.status, run.error, run.invoices_matched) == ("failed", "RuntimeError: loader down", 0)
    assert _matching_locks_held_here() == 0
    for invoice in invoices:
        _assert_left_alone(invoice)
    monkeypatch.undo()
    assert run_matching(tenant).invoices_matched == 3
    assert _matching_locks_held_here() == 0


@pytest.mark.django_db
def test_the_cyclic_collector_is_paused_for_a_batch_and_back_on_after_it_even_when_it_breaks(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    _three_small_invoices(tenant)
    seen: list[bool] = []
    real_match_batch = matching.services.match_batch

    def observed(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real_match_batch(*args, **kwargs)

    monkeypatch.setattr(matching.services, "match_batch", observed)
    assert gc.isenabled()
    assert run_matching(tenant).invoices_matched == 3
    assert seen == [False]
    assert gc.isenabled()

    def broken(**kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        raise RuntimeError("loader down")

    monkeypatch.setattr(matching.services, "load_batch", broken)
    assert run_matching(tenant).status == MatchRun.Status.FAILED
    assert seen == [False, False]
    assert gc.isenabled()


# --- 8. results are history -----------------------------------------------------------------


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


# --- 9. holds that last too long --------------------------------------------------------------


@pytest.mark.django_db
def test_holds_past_the_tenants_limit_are_escalated_once(tenant: Tenant) -> None:
    set_tenant_settings(tenant, hold_max_days=5)
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-900", lines=[BOLTS, HOSES])
    make_purchase_order(tenant, vendor=acme, po_number="PO-901", lines=[BOLTS])
    older = make_invoice(tenant, number="INV-900", vendor=acme, po_number="PO-900", lines=[BOLTS, HOSES])
    run_matching(tenant)
    newer = make_invoice(tenant, number="INV-901", vendor=acme, po_number="PO-901", lines=[BOLTS])
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
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-950", lines=[BOLTS, HOSES])
    invoice = make_invoice(tenant, number="INV-950", vendor=acme, po_number="PO-950", lines=[HOSES])
    run_matching(tenant)
    [first_hold] = results_of(invoice)
    # The bolts (PO line 1) arrive; the hoses this invoice bills (line 2) still do not.
    receive(tenant, po_number="PO-950", receipt_number="GR-950", quantities={1: "1000"})
    run_matching(tenant)
    # Not released: the goods it waits for are not in this receipt.
    assert (reload(invoice).status, len(results_of(invoice))) == ("on_hold", 1)

    # 5 days and a moment after it went on hold, it is still waiting for its hoses.
    now = first_hold.created_at + dt.timedelta(days=5, microseconds=1)
    assert matching_escalate_stale_holds(tenant=tenant, now=now) == 1
    assert (reload(invoice).status, reload(invoice).review_queue) == ("pending_review", "escalated")


# --- 10. the tenant lock, with real threads and connections ---------------------------------


def _worker_run(tenant: Tenant, worker: str) -> Callable[[], MatchRun]:
    return lambda: matching_run_for_tenant(
        tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=system_actor(f"worker-{worker}")
    )


@pytest.fixture
def held_inside_the_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """`load_batch` (called with the tenant's lock held) signals `inside` and waits for `release`."""
    inside, release = threading.Event(), threading.Event()
    real = matching.services.load_batch

    def held(**kwargs: Any) -> Any:
        inside.set()
        if not release.wait(timeout=20):
            raise TimeoutError("never released")
        return real(**kwargs)

    monkeypatch.setattr(matching.services, "load_batch", held)
    yield inside, release
    release.set()  # never leave a thread hanging, whatever failed


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_tenant_one_runs_the_other_skips(
    held_inside_the_lock: tuple[threading.Event, threading.Event],
) -> None:
    inside, release = held_inside_the_lock
    tenant = TenantFactory()
    acme = _acme(tenant)
    _received_po(tenant, acme, "PO-1000", BOLTS)
    invoices = [
        make_invoice(tenant, number=f"INV-10{n}", vendor=acme, po_number="PO-1000", lines=[BOLTS.times(f"{n}0")])
        for n in range(1, 7)
    ]  # 10 … 60 bolts: 1.25 … 7.50, each approved
    first_runs: list[MatchRun] = []
    second_runs: list[MatchRun] = []
    errors: list[BaseException] = []

    first = in_thread(_worker_run(tenant, "1"), first_runs, errors)
    assert inside.wait(timeout=20), "the first run never got inside the lock"
    second = in_thread(_worker_run(tenant, "2"), second_runs, errors)
    second.join(timeout=20)  # returns at once: the lock is taken
    second_done_while_first_held = not second.is_alive() and first.is_alive()
    release.set()
    first.join(timeout=20)

    assert not errors and second_done_while_first_held
    [first_run], [second_run] = first_runs, second_runs
    assert (first_run.status, first_run.invoices_matched) == ("finished", 6)
    assert (second_run.status, second_run.invoices_matched) == ("skipped", 0)
    assert not MatchResult.objects.for_tenant(tenant).filter(run_id=second_run.pk).exists()
    for invoice in invoices:
        assert [result.run_id for result in results_of(invoice)] == [first_run.pk]
        assert reload(invoice).status == "approved"
    assert MatchRun.objects.for_tenant(tenant).get(pk=second_run.pk).status == "skipped"


@pytest.mark.django_db(transaction=True)
def test_runs_of_two_tenants_at_the_same_time_both_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = [TenantFactory(), TenantFactory()]
    invoices = []
    for tenant in tenants:
        acme = _acme(tenant)
        _received_po(tenant, acme, "PO-1100", BOLTS)
        invoices.append(make_invoice(tenant, number="INV-1100", vendor=acme, po_number="PO-1100", lines=[BOLTS]))
    # Both runs must be inside their tenant's lock at once to get past this barrier; a lock that
    # served both tenants would make one skip and leave the other waiting until it breaks.
    barrier = threading.Barrier(2, timeout=20)
    real = matching.services.load_batch

    def together(**kwargs: Any) -> Any:
        barrier.wait()
        return real(**kwargs)

    monkeypatch.setattr(matching.services, "load_batch", together)
    runs: list[MatchRun] = []
    errors: list[BaseException] = []
    threads = [in_thread(_worker_run(tenant, str(n)), runs, errors) for n, tenant in enumerate(tenants)]
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted((str(run.tenant_id), run.status, run.invoices_matched) for run in runs) == sorted(
        (str(tenant.pk), "finished", 1) for tenant in tenants
    )
    for invoice in invoices:
        assert reload(invoice).status == "approved" and len(results_of(invoice)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_receipt_booked_while_a_run_is_matching_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantFactory()
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-1200", lines=[BOLTS])
    invoice = make_invoice(tenant, number="INV-1200", vendor=acme, po_number="PO-1200", lines=[BOLTS])
    booked: list[GoodsReceipt] = []
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []
    real = matching.services.load_batch

    def load_then_book_the_receipt_elsewhere(**kwargs: Any) -> Any:
        batch = real(**kwargs)
        # A clerk books the goods receipt, on another connection, while the engine works.
        book = in_thread(
            lambda: receive(tenant, po_number="PO-1200", receipt_number="GR-1200", quantities={1: "1000"}),
            booked,
            errors,
        )
        threads.append(book)
        book.join(timeout=2)  # a fix that makes the receipt wait for the run may keep it waiting
        return batch

    monkeypatch.setattr(matching.services, "load_batch", load_then_book_the_receipt_elsewhere)
    run_matching(tenant)
    monkeypatch.undo()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors

    # The goods are in and the invoice bills exactly them: the next run must approve it.
    run_matching(tenant)
    assert reload(invoice).status == "approved"


# --- 11. tenants ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_touches_only_its_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    # The foreign tenant: a vendor, PO-7000 (only there) and PO-7001 (the same number as ours),
    # and an invoice waiting in `received`.
    initech = make_vendor(other_tenant, "Initech Components", tax_id="DE555000555")
    _received_po(other_tenant, initech, "PO-7000", BOLTS)
    _received_po(other_tenant, initech, "PO-7001", HOSES)
    foreign = make_invoice(other_tenant, number="INV-B1", vendor=initech, po_number="PO-7000", lines=[BOLTS])

    acme = _acme(tenant)
    ours = _received_po(tenant, acme, "PO-7001", BOLTS)
    same_number = make_invoice(tenant, number="INV-A1", vendor=acme, po_number="PO-7001", lines=[BOLTS])
    # Names the foreign tenant's vendor and PO: neither exists here.
    strays = make_invoice(
        tenant, number="INV-A2", vendor_name="Initech Components", po_number="PO-7000", lines=[BOLTS.times("5")]
    )

    run = run_matching(tenant)

    assert run.invoices_matched == 2
    [result] = results_of(same_number)
    assert (result.purchase_order_id, result.vendor_id, result.decision, found(result)) == (
        ours.pk,
        acme.pk,
        "approved",
        [],
    )
    [stray_result] = results_of(strays)
    assert (stray_result.vendor_id, stray_result.purchase_order_id) == (None, None)
    assert found(stray_result) == [("po_not_found", "high"), ("unknown_vendor", "high")]
    assert (reload(strays).vendor_id, reload(strays).purchase_order_id) == (None, None)

    _assert_left_alone(foreign)
    assert not MatchRun.objects.for_tenant(other_tenant).exists()
    assert not MatchResult.objects.for_tenant(other_tenant).exists()
    assert not InvoiceLine.objects.for_tenant(other_tenant).filter(matched_po_line__isnull=False).exists()
    assert not AuditEvent.objects.for_tenant(other_tenant).filter(actor_id="matching").exists()
    assert not OutboxMessage.objects.for_tenant(other_tenant).exists()


@pytest.mark.django_db
def test_a_receipt_of_another_tenant_releases_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    acme = _acme(tenant)
    make_purchase_order(tenant, vendor=acme, po_number="PO-8000", lines=[BOLTS])
    held = make_invoice(tenant, number="INV-8000", vendor=acme, po_number="PO-8000", lines=[BOLTS])
    run_matching(tenant)
    assert reload(held).status == "on_hold"

    initech = make_vendor(other_tenant, "Initech Components", tax_id="DE555000555")
    make_purchase_order(other_tenant, vendor=initech, po_number="PO-8000", lines=[BOLTS])
    receive(other_tenant, po_number="PO-8000", receipt_number="GR-8000", quantities={1: "1000"})

    assert reload(held).status == "on_hold"
    assert [event.after["status"] for event in transitions_of(held)] == ["on_hold"]
