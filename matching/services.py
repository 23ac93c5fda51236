"""Matching runs: lock the tenant, load in bulk, run the engine, write the outcome in bulk.

One run = one batch of at most `max_invoices_per_run` invoices in `received` (TenantSettings),
under the tenant's session advisory lock, so at most one run per tenant is ever writing,
whatever the number of workers; a second run finds the lock taken and is recorded as `skipped`.

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
tells the whole story and the chain grows by one event per invoice, not two.

Each invoice succeeds or fails on its own: the engine turns an exception into a failure for that
invoice; if the bulk write raises, the batch is written again invoice by invoice, each in its
own transaction. A failed invoice stays in `received`, is listed on the run, and is tried again by
the next run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.actors import Actor, system_actor
from audit.services import audit_record, outbox_enqueue_many
from core import locks
from core.ids import uuid7
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import Invoice, InvoiceLine, InvoiceStatus, ReviewQueue
from matching.engine import ENGINE_VERSION, InvoiceRecord, MatchFailure, MatchOutcome, match_batch
from matching.loading import LoadedBatch, load_batch, matchable_invoices, tenant_settings_for
from matching.models import Discrepancy, MatchResult, MatchRun
from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.models import Tenant
from tenants.scoping import tenant_rows_insert, tenant_rows_update

logger = logging.getLogger(__name__)

# Who the audit log names for the engine's decisions; the run records who asked for it.
MATCHING_ACTOR = system_actor("matching")
RECEIPT_ACTOR = system_actor("goods_receipt")
HOLD_ESCALATION_ACTOR = system_actor("hold_escalation")

DISCREPANCY_EVENT = "invoice.discrepancy.detected"
# Discrepancy types whose expected/actual are amounts of money (the event's amount_* fields).
MONEY_DISCREPANCIES = frozenset({"price_mismatch", "total_mismatch", "tax_mismatch"})
PUBLISHED_SEVERITIES = frozenset({"high", "critical"})

DISCREPANCY_TITLE = "{label} on invoice {invoice_number}"
REQUEUED_FOR_RECEIPT = "Goods receipt {receipt_number} arrived for purchase order {po_number}: matching again."
REQUEUED_FOR_PO_STATUS = "Purchase order {po_number} was {status}: matching again."
HOLD_EXPIRED = "Still no goods receipt {days} days after it was put on hold."
RUN_CLAIMED_ELSEWHERE = "Run {run_id} was already taken by another worker."
RUN_ABANDONED = (
    "Abandoned: its worker stopped before the run finished (killed, or its database connection was lost); "
    "its uncommitted batch was rolled back and its invoices were left in `received` for the next run."
)
ESCALATION_CHUNK = 500


class _QueryCounter:
    """A `connection.execute_wrapper` that counts the statements a run sends."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def matching_lock_wait(*, tenant: Tenant) -> None:
    """Wait for the tenant's matching lock and hold it to the end of the current transaction.

    Goods receipts take it before they write anything: a run loads received quantities, matches,
    then writes `on_hold`; a receipt committed in between would find the invoice still `received`
    (nothing to release) and the run would then put it on hold for goods that already arrived.
    Waiting for the run (one batch at most) closes that gap. Taken first in the transaction, before
    the audit lock, in the same order as a run (matching lock, then audit lock), so the two
    cannot deadlock.
    """
    locks.tenant_lock_wait(locks.MATCHING, tenant.pk)


def matching_runs_abandon(*, tenant: Tenant, current: MatchRun) -> int:
    """Mark as failed the tenant's runs still `running` that started before `current`; returns how many.

    Called with the tenant's matching lock held, which proves that no earlier run is still
    working: a worker killed mid-run (kill -9, OOM, a lost node) loses the session lock with its
    connection, and its batch transaction rolls back, but its run row would say `running`
    forever. A live run between releasing the lock and saving its outcome can be caught here
    too; its own `save()` then writes every field again, so its real outcome wins.
    """
    return (
        MatchRun.objects.for_tenant(tenant)
        .filter(status=MatchRun.Status.RUNNING, started_at__lt=current.started_at)
        .exclude(pk=current.pk)
        .update(status=MatchRun.Status.FAILED, error=RUN_ABANDONED, finished_at=timezone.now())
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one batch, back on after.

    A batch allocates a few hundred thousand short-lived objects (rows, records, outcomes,
    payloads), nearly all acyclic, which reference counting frees as soon as they are dropped.
    The collector, counting allocations, still ran a generation-0 pass every 700 of them and now
    and then a full pass over the worker's whole heap: 15 % of a batch's time, and its slowest
    batches (measured: `bench_matching` p99 248 → 158 ms). Whatever cycles a batch leaves (an
    exception's traceback, say) are collected by the passes after it; a batch is bounded
    (`max_invoices_per_run`), so the memory it can hold meanwhile is too.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _elapsed_ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


def _failure(invoice_id: uuid.UUID, error: str) -> dict[str, str]:
    return {"invoice_id": str(invoice_id), "error": error}


def matching_run_for_tenant(
    *,
    tenant: Tenant,
    trigger: str,
    actor: Actor,
    run: MatchRun | None = None,
    exclude_invoice_ids: Collection[uuid.UUID] = (),
) -> MatchRun:
    """Run one batch of the tenant's `received` invoices through the engine; returns the run.

    `run`: a queued run to carry out (one the API created); it is claimed with a compare-and-set
    so a task delivered twice runs it once. Without one, a new run is recorded, requested by
    `actor`. If another run of the tenant holds the lock, this one is recorded as `skipped`
    and returns at once: the running one picks up the same invoices.
    """
    counter = _QueryCounter()
    started = time.perf_counter()
    now = timezone.now()
    with connection.execute_wrapper(counter):
        if run is None:
            run = MatchRun.objects.create(
                tenant=tenant,
                trigger=trigger,
                status=MatchRun.Status.RUNNING,
                started_at=now,
                requested_by_kind=actor.kind,
                requested_by_id=str(actor.id),
                requested_by_label=actor.label,
            )
        else:
            claimed = (
                MatchRun.objects.for_tenant(tenant)
                .filter(pk=run.pk, status=MatchRun.Status.QUEUED)
                .update(status=MatchRun.Status.RUNNING, started_at=now)
            )
            if not claimed:
                logger.info(RUN_CLAIMED_ELSEWHERE.format(run_id=run.pk))
                run.refresh_from_db()
                return run
            run.status, run.started_at = MatchRun.Status.RUNNING, now
        # A session lock: a run spans several transactions (the run record, the batch write,
        # the per-invoice retries); a worker that dies mid-run loses it with its connection.
        if not locks.tenant_lock_try(locks.MATCHING, tenant.pk):
            run.status = MatchRun.Status.SKIPPED
        else:
            try:
                matching_runs_abandon(tenant=tenant, current=run)
                with _collector_paused():
                    _run_batch(tenant=tenant, run=run, exclude_invoice_ids=exclude_invoice_ids)
                run.status = MatchRun.Status.FINISHED
            except Exception as exc:
                # The run itself broke (the loader, say): recorded, and the invoices stay in
                # `received` for the next run; the traceback goes to the log.
                logger.exception("Matching run %s of tenant %s failed", run.pk, tenant.pk)
                run.status = MatchRun.Status.FAILED
                run.error = f"{type(exc).__name__}: {exc}"
            finally:
                locks.tenant_unlock(locks.MATCHING, tenant.pk)
    run.finished_at = timezone.now()
    run.duration_ms = _elapsed_ms(started)
    run.query_count = counter.count
    run.save()
    logger.info(
        "Matching run %s: %s, %s matched, %s failed, %s ms, %s queries",
        run.pk,
        run.status,
        run.invoices_matched,
        run.invoices_failed,
        run.duration_ms,
        run.query_count,
    )
    return run


def _run_batch(*, tenant: Tenant, run: MatchRun, exclude_invoice_ids: Collection[uuid.UUID]) -> None:
    """Load, match and write one batch, filling the run's counts and timings."""
    start = time.perf_counter()
    tenant_settings = tenant_settings_for(tenant)
    batch = load_batch(
        tenant=tenant,
        limit=tenant_settings.max_invoices_per_run,
        tenant_settings=tenant_settings,
        exclude_invoice_ids=exclude_invoice_ids,
    )
    run.load_ms = _elapsed_ms(start)

    start = time.perf_counter()
    outcomes = match_batch(batch.invoices, batch.context) if batch.invoices else []
    run.engine_ms = _elapsed_ms(start)

    start = time.perf_counter()
    failures = [
        _failure(outcome.invoice_id, outcome.error) for outcome in outcomes if isinstance(outcome, MatchFailure)
    ]
    matched = [outcome for outcome in outcomes if isinstance(outcome, MatchOutcome)]
    failures += _persist(tenant=tenant, run=run, batch=batch, outcomes=matched)
    run.write_ms = _elapsed_ms(start)

    run.failures = failures
    run.invoices_failed = len(failures)
    run.invoices_matched = len(outcomes) - len(failures)
    run.engine_version = matched[0].engine_version if matched else ENGINE_VERSION


def _persist(
    *, tenant: Tenant, run: MatchRun, batch: LoadedBatch, outcomes: list[MatchOutcome]
) -> list[dict[str, str]]:
    """Write the outcomes in bulk; if that raises, invoice by invoice. Returns the failures."""
    if not outcomes:
        return []
    try:
        # Pipelined: PostgreSQL runs each statement while Python builds the next (the write's
        # server work, ~half of it, mostly overlaps); an error surfaces at the block's end and
        # rolls the whole batch back, as without the pipeline.
        with transaction.atomic(), connection.pipelined():
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
            with transaction.atomic():
                failures += _write(tenant=tenant, run=run, batch=batch, outcomes=[outcome])
        except Exception as exc:
            failures.append(_failure(outcome.invoice_id, f"{type(exc).__name__}: {exc}"))
    return failures


def _write(*, tenant: Tenant, run: MatchRun, batch: LoadedBatch, outcomes: list[MatchOutcome]) -> list[dict[str, str]]:
    """The bulk write of DESIGN.md §5 for these outcomes; returns the invoices refused as moved
    meanwhile (voided by an administrator while the engine ran, say), which get no result.

    In this order for the pipeline (see _persist): the moves, which read the locked invoices and
    the audit chain's head; then the lines, the costliest statement for the server (a thousand
    rows, three indexes each) and the cheapest for Python, which builds the result and
    discrepancy rows while it runs; then those.
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
    results = [_result(tenant=tenant, run=run, outcome=o, result_id=result_ids[o.invoice_id]) for o in outcomes]
    discrepancies = [
        Discrepancy(
            tenant=tenant,
            match_result_id=result_ids[outcome.invoice_id],
            invoice_id=outcome.invoice_id,
            type=found.type,
            severity=found.severity,
            message=found.message,
            invoice_line_number=found.invoice_line_number,
            po_line_number=found.po_line_number,
            expected=found.expected,
            actual=found.actual,
        )
        for outcome in outcomes
        for found in outcome.discrepancies
    ]
    tenant_rows_insert(tenant=tenant, rows=results)
    tenant_rows_insert(tenant=tenant, rows=discrepancies)
    outcome_of = {outcome.invoice_id: outcome for outcome in outcomes}
    outbox_enqueue_many(
        tenant=tenant,
        events=[
            (
                DISCREPANCY_EVENT,
                _discrepancy_event(
                    batch=batch, record=records[d.invoice_id], outcome=outcome_of[d.invoice_id], discrepancy=d
                ),
            )
            for d in discrepancies
            if d.severity in PUBLISHED_SEVERITIES
        ],
    )
    return [_failure(invoice_id, f"{type(error).__name__}: {error}") for invoice_id, error in refused.items()]


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
        context={
            "match": {
                "match_result_id": result_id,
                "run_id": run.pk,
                "confidence": outcome.confidence,
                "breakdown": _breakdown(outcome),
                "vendor_id": outcome.vendor_id,
                "purchase_order_id": outcome.purchase_order_id,
                "discrepancies": [{"type": found.type, "severity": found.severity} for found in outcome.discrepancies],
                "engine_version": outcome.engine_version,
            }
        },
    )


def _matched_lines(record: InvoiceRecord, outcome: MatchOutcome) -> list[tuple[uuid.UUID, uuid.UUID | None]]:
    """(invoice line id, the PO line it matched or None) for every line of the invoice."""
    assigned = {assignment.invoice_line_id: assignment.po_line_id for assignment in outcome.assignments}
    return [(line.id, assigned.get(line.id)) for line in record.lines]


def _result(*, tenant: Tenant, run: MatchRun, outcome: MatchOutcome, result_id: uuid.UUID) -> MatchResult:
    return MatchResult(
        id=result_id,
        tenant=tenant,
        invoice_id=outcome.invoice_id,
        run=run,
        vendor_id=outcome.vendor_id,
        purchase_order_id=outcome.purchase_order_id,
        confidence=outcome.confidence,
        breakdown=_breakdown(outcome),
        decision=outcome.status,
        review_queue=outcome.review_queue,
        decision_reason=outcome.decision_reason,
        engine_version=outcome.engine_version,
        line_assignments=[
            {
                "invoice_line_number": assignment.invoice_line_number,
                "po_line_number": assignment.po_line_number,
                "score": str(assignment.score),
            }
            for assignment in outcome.assignments
        ],
    )


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
    *, batch: LoadedBatch, record: InvoiceRecord, outcome: MatchOutcome, discrepancy: Discrepancy
) -> dict[str, Any]:
    """The payload of `invoice.discrepancy.detected` (DESIGN.md §7); the envelope is the outbox's."""
    vendor = batch.context.vendors.get(outcome.vendor_id) if outcome.vendor_id else None
    po_number = batch.purchase_order_numbers.get(outcome.purchase_order_id) if outcome.purchase_order_id else None
    is_money = discrepancy.type in MONEY_DISCREPANCIES
    return {
        "external_id": str(discrepancy.id),
        "source_system": "recon",
        "discrepancy_type": discrepancy.type,
        "severity": discrepancy.severity,
        "title": DISCREPANCY_TITLE.format(
            label=discrepancy.type.replace("_", " ").capitalize(), invoice_number=record.invoice_number
        ),
        "description": discrepancy.message,
        "amount_expected": _event_amount(discrepancy.expected) if is_money else None,
        "amount_actual": _event_amount(discrepancy.actual) if is_money else None,
        "currency": record.currency,
        "metadata": {
            "invoice_id": str(record.id),
            "invoice_number": record.invoice_number,
            "vendor": vendor.name if vendor is not None else record.vendor_name_raw,
            "po_number": po_number or record.po_number or None,
            "confidence": float(outcome.confidence),
        },
    }


def matching_drain_tenant(
    *, tenant: Tenant, trigger: str, actor: Actor, max_batches: int, run: MatchRun | None = None
) -> list[MatchRun]:
    """Run batches until no invoice is left in `received` or `max_batches` have run.

    `run` (a queued one from the API) carries out the first batch; each further batch is a run
    of its own. Invoices that failed are left out of the later batches of this drain, so a batch
    of invoices that keep failing cannot hold up the rest.
    """
    limit = tenant_settings_for(tenant).max_invoices_per_run
    if run is None:
        # A run the API queued whose task never arrived (broker down, message lost) is carried
        # out by whichever drain comes next, so the run its caller follows does not stay
        # `queued` forever. Claiming is a compare-and-set: its own task, if it arrives, skips it.
        run = MatchRun.objects.for_tenant(tenant).filter(status=MatchRun.Status.QUEUED).order_by("created_at").first()
    runs: list[MatchRun] = []
    failed: set[uuid.UUID] = set()
    for _ in range(max_batches):
        done = matching_run_for_tenant(tenant=tenant, trigger=trigger, actor=actor, run=run, exclude_invoice_ids=failed)
        run = None
        runs.append(done)
        if done.status != MatchRun.Status.FINISHED:
            break
        failed.update(uuid.UUID(failure["invoice_id"]) for failure in done.failures)
        # A batch that was not full took everything there was when it loaded, but invoices may
        # have been committed since: their own drains were skipped, as this run held the lock,
        # so this drain must take them. Asked after the run released the lock, hence complete.
        if done.invoices_matched + done.invoices_failed < limit and not (
            matchable_invoices(tenant=tenant, exclude_invoice_ids=failed).exists()
        ):
            break
    return runs


def matching_run_request(*, tenant: Tenant, actor: Actor) -> MatchRun:
    """Record a queued run (`POST /api/matching/runs`) and start it in the background on commit."""
    with transaction.atomic():
        run = MatchRun.objects.create(
            tenant=tenant,
            trigger=MatchRun.Trigger.API,
            requested_by_kind=actor.kind,
            requested_by_id=str(actor.id),
            requested_by_label=actor.label,
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="match_run",
            entity_id=run.pk,
            action="requested",
            after={"trigger": run.trigger, "status": run.status},
        )
        matching_enqueue(tenant=tenant, trigger=MatchRun.Trigger.API, run=run)
    return run


def matching_enqueue(*, tenant: Tenant, trigger: str, run: MatchRun | None = None) -> None:
    """Queue `matching.tasks.run_matching` for the tenant once the current transaction commits.

    Once per tenant and transaction (an import of many invoices queues one drain, not one per
    invoice). A broker that is down loses nothing: the scheduled run picks the invoices up, so
    the error is logged and the caller's request still succeeds (`robust`).
    """
    tenant_id = str(tenant.pk)
    run_id = str(run.pk) if run is not None else None
    if run_id is None and any(
        isinstance(func, functools.partial) and func.func is _enqueue_now and func.args[:2] == (tenant_id, None)
        for _, func, _ in connection.run_on_commit
    ):
        return
    # update_wrapper: Django's robust on_commit logs the callback's __qualname__, which a bare
    # partial lacks (the logging itself would then raise out of the commit).
    callback = functools.update_wrapper(functools.partial(_enqueue_now, tenant_id, run_id, trigger), _enqueue_now)
    transaction.on_commit(callback, robust=True)


def _enqueue_now(tenant_id: str, run_id: str | None, trigger: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task(
            "matching.tasks.run_matching", tenant_id, run_id=run_id, trigger=trigger, task_name=f"matching-{tenant_id}"
        )
    except Exception:
        # The data is committed; the schedule (or, for a queued run, the next drain) picks it up.
        logger.exception("Could not queue matching for tenant %s (run %s); the schedule will", tenant_id, run_id)


def matching_requeue_for_receipt(*, tenant: Tenant, goods_receipt: GoodsReceipt) -> list[uuid.UUID]:
    """Put the `on_hold` invoices waiting for these goods back to `received`, in the receipt's transaction.

    Invoices wait on hold for exactly this (DESIGN.md §4); the next run matches them again with
    the new received quantities. A run is queued at commit when MATCH_ON_INGEST is on.
    Returns the ids of the invoices moved.
    """
    purchase_order: PurchaseOrder = goods_receipt.purchase_order
    arrived = list(goods_receipt.lines.values_list("purchase_order_line_id", flat=True))
    # Only invoices waiting for these goods: one whose matched lines received nothing new keeps
    # waiting (and its hold clock keeps running). One with no matched line at all is tried again.
    # Per waiting invoice, through its own lines (the invoice index), not over the tenant's lines.
    its_lines = InvoiceLine.objects.for_tenant(tenant).filter(invoice_id=OuterRef("pk"))
    waiting = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.ON_HOLD)
        .filter(Q(purchase_order=purchase_order) | Q(purchase_order__isnull=True, po_number=purchase_order.po_number))
        .filter(
            Exists(its_lines.filter(matched_po_line_id__in=arrived))
            | ~Exists(its_lines.filter(matched_po_line__isnull=False))
        )
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    if not waiting:
        return []
    reason = REQUEUED_FOR_RECEIPT.format(
        receipt_number=goods_receipt.receipt_number, po_number=purchase_order.po_number
    )
    return _requeue_on_hold(
        tenant=tenant,
        invoice_ids=waiting,
        reason=reason,
        context={"goods_receipt_id": str(goods_receipt.pk)},
        actor=RECEIPT_ACTOR,
        trigger=MatchRun.Trigger.RECEIPT,
    )


def matching_requeue_for_purchase_order(
    *, tenant: Tenant, purchase_order: PurchaseOrder, actor: Actor
) -> list[uuid.UUID]:
    """Put the PO's `on_hold` invoices back to `received` after it was closed or cancelled.

    They were waiting for goods that will now not come as ordered, so they need a reviewer, not
    HOLD_MAX_DAYS more of waiting: matched again, they get `po_closed`. Runs in the caller's
    transaction (purchasing.lifecycle, which holds the matching lock); the audit events name
    whoever changed the PO. Returns the ids of the invoices moved.
    """
    waiting = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.ON_HOLD)
        .filter(Q(purchase_order=purchase_order) | Q(purchase_order__isnull=True, po_number=purchase_order.po_number))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    reason = REQUEUED_FOR_PO_STATUS.format(po_number=purchase_order.po_number, status=purchase_order.status)
    return _requeue_on_hold(
        tenant=tenant,
        invoice_ids=waiting,
        reason=reason,
        context={"purchase_order_id": str(purchase_order.pk)},
        actor=actor,
        trigger=MatchRun.Trigger.API,
    )


def _requeue_on_hold(
    *,
    tenant: Tenant,
    invoice_ids: list[uuid.UUID],
    reason: str,
    context: dict[str, str],
    actor: Actor,
    trigger: str,
) -> list[uuid.UUID]:
    """`on_hold` → `received` for these invoices, one audited move each; a run queued at commit."""
    if not invoice_ids:
        return []
    results = invoice_transition_many(
        tenant=tenant,
        moves=[
            InvoiceMove(
                invoice_id=invoice_id,
                to_status=InvoiceStatus.RECEIVED,
                reason=reason,
                expected_status=InvoiceStatus.ON_HOLD,
                context=context,
            )
            for invoice_id in invoice_ids
        ],
        actor=actor,
    )
    moved = [result.move.invoice_id for result in results if result.ok]
    if moved and settings.MATCH_ON_INGEST:
        matching_enqueue(tenant=tenant, trigger=trigger)
    return moved


def matching_escalate_stale_holds(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Escalate `on_hold` invoices still waiting for goods after the tenant's `hold_max_days`.

    An invoice went on hold when its latest match said so, so that result's time is the start
    of the wait (`updated_at` for one put on hold some other way). Safe to run twice: the second
    finds nothing. Returns how many were escalated.
    """
    now = now or timezone.now()
    max_days = tenant_settings_for(tenant).hold_max_days
    stale = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.ON_HOLD)
        .annotate(held_since=Coalesce("latest_match__created_at", "updated_at"))
        .filter(held_since__lt=now - dt.timedelta(days=max_days))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    escalated = 0
    reason = HOLD_EXPIRED.format(days=max_days)
    for start in range(0, len(stale), ESCALATION_CHUNK):
        with transaction.atomic():
            results = invoice_transition_many(
                tenant=tenant,
                moves=[
                    InvoiceMove(
                        invoice_id=invoice_id,
                        to_status=InvoiceStatus.PENDING_REVIEW,
                        queue=ReviewQueue.ESCALATED,
                        reason=reason,
                        expected_status=InvoiceStatus.ON_HOLD,
                    )
                    for invoice_id in stale[start : start + ESCALATION_CHUNK]
                ],
                actor=HOLD_ESCALATION_ACTOR,
            )
        escalated += sum(result.ok for result in results)
    return escalated
