"""The matching writer: a batch's engine outcomes written to the database, in bulk.

What a batch writes, in one transaction (a fixed number of statements, whatever its size):
- the transitions `received → <decision>` through `invoice_transition_many` (compare-and-set
  per invoice, one audit event per invoice, `invoice.approved`/`invoice.rejected` events);
- one immutable `MatchResult` per invoice and its `Discrepancy` rows;
- the invoice's `latest_match`, resolved `vendor` and `purchase_order`, and each line's
  `matched_po_line` (what the next invoices count as already billed);
- one outbox event `invoice.discrepancy.detected` per high or critical discrepancy, in the
  compliance ledger's envelope (DESIGN.md §7).

The audit event of the transition carries the match (result and run ids, confidence,
breakdown, discrepancy types) in its `after`: the match is what caused the move, so one event
tells the whole story and the chain grows by one event per invoice, not two. If the bulk write
raises, the batch is written again invoice by invoice, each in its own transaction; the run
service (matching.services) decides what a batch is and records what failed.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_attempt, outbox_enqueue_many
from core.actors import system_actor
from core.ids import uuid7
from core.tenancy.scoping import tenant_inserts, tenant_rows_update, values_insert_part
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import InvoiceLine, InvoiceStatus
from matching.engine import InvoiceRecord, MatchOutcome
from matching.loading import LoadedBatch
from matching.models import Discrepancy, MatchResult, MatchRun
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Who the audit log names for the engine's decisions; the run records who asked for it.
MATCHING_ACTOR = system_actor("matching")

DISCREPANCY_EVENT = "invoice.discrepancy.detected"
# Discrepancy types whose expected/actual are amounts of money (the event's amount_* fields).
MONEY_DISCREPANCIES = frozenset({"price_mismatch", "total_mismatch", "tax_mismatch"})
PUBLISHED_SEVERITIES = frozenset({"high", "critical"})

DISCREPANCY_TITLE = "{label} on invoice {invoice_number}"


def run_failure(*, invoice_id: uuid.UUID, error: str) -> dict[str, str]:
    """One entry of a run's `failures`: the invoice left in `received` and why."""
    return {"invoice_id": str(invoice_id), "error": error}


def matching_outcomes_persist(
    *, tenant: Tenant, run: MatchRun, batch: LoadedBatch, outcomes: list[MatchOutcome]
) -> list[dict[str, str]]:
    """Write the outcomes in bulk; if that raises, invoice by invoice. Returns the failures."""
    if not outcomes:
        return []
    try:
        # Pipelined: PostgreSQL runs each statement while Python builds the next (the write's
        # server work, ~half of it, mostly overlaps); an error surfaces at the block's end and
        # rolls the whole batch back, as without the pipeline.
        # audit_attempt: events held by an enclosing audit_deferred go with the rolled-back write.
        with audit_attempt(), transaction.atomic(), connection.pipelined():  # type: ignore[attr-defined]  # core.tenancy.db_backend's
            return _write(tenant=tenant, run=run, batch=batch, outcomes=outcomes)
    except Exception:
        logger.warning("Bulk write of run %s failed; writing invoice by invoice", run.pk, exc_info=True)
    failures: list[dict[str, str]] = []
    for outcome in outcomes:
        try:
            # A transaction of its own: one bad invoice cannot sink the others, and each invoice's
            # row lock comes before its audit lock (core/locks.py). As savepoints of one
            # transaction, the second invoice's row lock came after the first one's audit lock,
            # and a reviewer holding that row while waiting for the audit lock made a deadlock.
            with audit_attempt(), transaction.atomic():
                failures += _write(tenant=tenant, run=run, batch=batch, outcomes=[outcome])
        except Exception as exc:
            failures.append(run_failure(invoice_id=outcome.invoice_id, error=f"{type(exc).__name__}: {exc}"))
    return failures


def _write(*, tenant: Tenant, run: MatchRun, batch: LoadedBatch, outcomes: list[MatchOutcome]) -> list[dict[str, str]]:
    """The bulk write of DESIGN.md §5 for these outcomes; returns the invoices refused as moved
    meanwhile (voided by an administrator while the engine ran, say), which get no result.

    In this order for the pipeline (see matching_outcomes_persist): the moves, which read the
    locked invoices and the audit chain's head; then the lines, the costliest statement for the
    server (a thousand rows, three indexes each) and the cheapest for Python, which builds the
    result and discrepancy rows while it runs; then those.
    """
    records = {invoice.id: invoice for invoice in batch.invoices}
    # The result ids first: each invoice's move names its result (latest_match, the audit event).
    result_ids = {outcome.invoice_id: uuid7() for outcome in outcomes}
    moves = invoice_transition_many(
        tenant=tenant,
        moves=[
            _move(run=run, outcome=o, result_id=result_ids[o.invoice_id], record=records[o.invoice_id])
            for o in outcomes
        ],
        actor=MATCHING_ACTOR,
    )
    refused = {result.move.invoice_id: result.error for result in moves if not result.ok}
    outcomes = [outcome for outcome in outcomes if outcome.invoice_id not in refused]
    tenant_rows_update(
        tenant=tenant,
        model=InvoiceLine,
        fields=("matched_po_line",),
        # Every line, so a line the new match leaves unassigned stops counting as billed.
        rows=[line for outcome in outcomes for line in _matched_lines(records[outcome.invoice_id], outcome)],
        skip_unchanged=True,
    )
    # Plain values by column, not model instances: a MatchResult or Discrepancy instance per row
    # (Model.__init__, then pre_save and the field conversions of the insert) cost more Python
    # than the rest of the batch's inserts. Both tables in one statement (tenant_inserts: two
    # data-modifying CTEs; a discrepancy's result is checked at COMMIT, as a deferred key).
    results = [_result(run=run, outcome=o, result_id=result_ids[o.invoice_id]) for o in outcomes]
    discrepancies: list[dict[str, Any]] = [
        {
            "id": uuid7(),
            # Each row its own instant, as auto_now_add gave each instance: the discrepancies of a
            # result are listed newest first (Discrepancy.Meta.ordering).
            "created_at": timezone.now(),
            "match_result_id": result_ids[outcome.invoice_id],
            "invoice_id": outcome.invoice_id,
            "type": found.type,
            "severity": found.severity,
            "message": found.message,
            "invoice_line_number": found.invoice_line_number,
            "po_line_number": found.po_line_number,
            "expected": found.expected,
            "actual": found.actual,
            "related_invoice_id": found.related_invoice_id,
        }
        for outcome in outcomes
        for found in outcome.discrepancies
    ]
    tenant_inserts(
        tenant=tenant,
        parts=[
            values_insert_part(tenant=tenant, model=MatchResult, rows=results),
            values_insert_part(tenant=tenant, model=Discrepancy, rows=discrepancies),
        ],
    )
    outcome_of = {outcome.invoice_id: outcome for outcome in outcomes}
    outbox_enqueue_many(
        tenant=tenant,
        events=[
            (
                DISCREPANCY_EVENT,
                _discrepancy_event(
                    batch=batch, record=records[d["invoice_id"]], outcome=outcome_of[d["invoice_id"]], discrepancy=d
                ),
            )
            for d in discrepancies
            if d["severity"] in PUBLISHED_SEVERITIES
        ],
    )
    return [
        run_failure(invoice_id=invoice_id, error=f"{type(error).__name__}: {error}")
        for invoice_id, error in refused.items()
    ]


def _breakdown(outcome: MatchOutcome) -> dict[str, str]:
    return {name: str(value) for name, value in outcome.breakdown.items()}


def _move(*, run: MatchRun, outcome: MatchOutcome, result_id: uuid.UUID, record: InvoiceRecord) -> InvoiceMove:
    return InvoiceMove(
        invoice_id=outcome.invoice_id,
        to_status=outcome.status,
        queue=outcome.review_queue,
        reason=outcome.decision_reason,
        expected_status=InvoiceStatus.RECEIVED,
        # Written with the move, in its UPDATE: one write of the invoice row, not two.
        also_set={
            "latest_match": result_id,
            "vendor": outcome.vendor_id or record.vendor_id,
            "purchase_order": outcome.purchase_order_id,
        },
        # Plain JSON values, as the audit log stores them (ids and the confidence as text): the
        # append then takes the event as it is, without a round trip through the JSON encoder
        # per invoice (audit.services._json_safe).
        context={
            "match": {
                "match_result_id": str(result_id),
                "run_id": str(run.pk),
                "confidence": str(outcome.confidence),
                "breakdown": _breakdown(outcome),
                "vendor_id": _text(outcome.vendor_id),
                "purchase_order_id": _text(outcome.purchase_order_id),
                "discrepancies": [{"type": found.type, "severity": found.severity} for found in outcome.discrepancies],
                "engine_version": outcome.engine_version,
            }
        },
    )


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _matched_lines(record: InvoiceRecord, outcome: MatchOutcome) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """(invoice line id, the PO line it matched or None) for every line of the invoice."""
    assigned = {assignment.invoice_line_id: assignment.po_line_id for assignment in outcome.assignments}
    return [(line.id, assigned.get(line.id)) for line in record.lines]


def _result(*, run: MatchRun, outcome: MatchOutcome, result_id: uuid.UUID) -> dict[str, Any]:
    """A MatchResult row by column (values_insert_part)."""
    return {
        "id": result_id,
        "created_at": timezone.now(),
        "invoice_id": outcome.invoice_id,
        "run_id": run.pk,
        "vendor_id": outcome.vendor_id,
        "purchase_order_id": outcome.purchase_order_id,
        "confidence": outcome.confidence,
        "breakdown": _breakdown(outcome),
        "decision": outcome.status,
        "review_queue": outcome.review_queue,
        "decision_reason": outcome.decision_reason,
        "engine_version": outcome.engine_version,
        "line_assignments": [
            {
                "invoice_line_number": assignment.invoice_line_number,
                "po_line_number": assignment.po_line_number,
                "score": str(assignment.score),
            }
            for assignment in outcome.assignments
        ],
    }


def _event_amount(value: str | None) -> float | None:
    """A decimal string as the JSON number the ledger expects.

    The one place an amount becomes a float, at the edge, for a consumer whose schema says
    "number": the engine's decimal strings have at most 18 significant digits in practice far
    fewer (a price or a total), and Python writes a float back with the shortest digits that
    read as the same value, so "130.00" is sent as 130.0 and "12.345678" as 12.345678.
    """
    if value is None:
        return None
    try:
        return float(Decimal(value))
    except InvalidOperation:
        return None


def _discrepancy_event(
    *, batch: LoadedBatch, record: InvoiceRecord, outcome: MatchOutcome, discrepancy: dict[str, Any]
) -> dict[str, Any]:
    """The payload of `invoice.discrepancy.detected` (DESIGN.md §7); the envelope is the outbox's.
    `discrepancy`: its row as written (by column)."""
    vendor = batch.context.vendors.get(outcome.vendor_id) if outcome.vendor_id else None
    po_number = batch.purchase_order_numbers.get(outcome.purchase_order_id) if outcome.purchase_order_id else None
    kind = discrepancy["type"]
    is_money = kind in MONEY_DISCREPANCIES
    return {
        "external_id": str(discrepancy["id"]),
        "source_system": "recon",
        "discrepancy_type": kind,
        "severity": discrepancy["severity"],
        "title": DISCREPANCY_TITLE.format(
            label=kind.replace("_", " ").capitalize(), invoice_number=record.invoice_number
        ),
        "description": discrepancy["message"],
        "amount_expected": _event_amount(discrepancy["expected"]) if is_money else None,
        "amount_actual": _event_amount(discrepancy["actual"]) if is_money else None,
        "currency": record.currency,
        "metadata": {
            "invoice_id": str(record.id),
            "invoice_number": record.invoice_number,
            "vendor": vendor.name if vendor is not None else record.vendor_name_raw,
            "po_number": po_number or record.po_number or None,
            "confidence": float(outcome.confidence),
        },
    }
