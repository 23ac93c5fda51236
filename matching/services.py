"""Matching runs: lock the tenant, load in bulk, run the engine, hand the outcome to the writer.

One run = one batch of at most `max_invoices_per_run` invoices in `received` (TenantSettings),
under the tenant's session advisory lock, so at most one run per tenant is ever writing,
whatever the number of workers; a second run finds the lock taken and is recorded as `skipped`.
A drain runs batches until nothing is left; a request from the API records a queued run and
starts it in the background. What a batch writes is matching.writer's; invoices waiting on hold
for goods are matching.holds'. Before it loads its batch, a run sends back to `received` the open
invoices a credit note arrived for since their latest match (matching.rematch), so it matches
them with the rest.

Each invoice succeeds or fails on its own: the engine turns an exception into a failure for that
invoice; if the bulk write raises, the batch is written again invoice by invoice, each in its
own transaction. A failed invoice stays in `received`, is listed on the run, and is tried again by
the next run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from core import locks
from core.actors import Actor
from matching.bank_account_rematch import matching_rematch_for_bank_accounts
from matching.engine import ENGINE_VERSION, MatchFailure, MatchOutcome, match_batch
from matching.enqueue import matching_enqueue
from matching.loading import load_batch, matchable_invoices
from matching.models import MatchRun
from matching.rematch import matching_rematch_for_credit_notes
from matching.writer import matching_outcomes_persist, run_failure
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get

logger = logging.getLogger(__name__)

RUN_CLAIMED_ELSEWHERE = "Run {run_id} was already taken by another worker."
RUN_ABANDONED = (
    "Abandoned: its worker stopped before the run finished (killed, or its database connection was lost); "
    "its uncommitted batch was rolled back and its invoices were left in `received` for the next run."
)


class _QueryCounter:
    """A `connection.execute_wrapper` that counts the statements a run sends."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


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
                _credited_rematch(tenant=tenant)
                _bank_accounts_rematch(tenant=tenant)
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


def _credited_rematch(*, tenant: Tenant) -> None:
    """The open invoices a credit note changed back to `received`, so this batch matches them
    (matching.rematch.matching_rematch_for_credit_notes). A failure here is logged and does not
    stop the batch: the invoices stay where they are and the next run tries again."""
    try:
        matching_rematch_for_credit_notes(tenant=tenant)
    except Exception:
        logger.exception("Re-matching the invoices credit notes changed failed for tenant %s", tenant.pk)


def _bank_accounts_rematch(*, tenant: Tenant) -> None:
    """The open invoices with a bank-account signal whose vendor's accounts changed since their
    match back to `received`, so this batch matches them (matching.bank_account_rematch). A
    failure is logged and does not stop the batch: the next run tries again."""
    try:
        matching_rematch_for_bank_accounts(tenant=tenant)
    except Exception:
        logger.exception("Re-matching the invoices bank-account changes concern failed for tenant %s", tenant.pk)


def _run_batch(*, tenant: Tenant, run: MatchRun, exclude_invoice_ids: Collection[uuid.UUID]) -> None:
    """Load, match and write one batch, filling the run's counts and timings."""
    start = time.perf_counter()
    tenant_settings = tenant_settings_get(tenant=tenant)
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
        run_failure(invoice_id=outcome.invoice_id, error=outcome.error)
        for outcome in outcomes
        if isinstance(outcome, MatchFailure)
    ]
    matched = [outcome for outcome in outcomes if isinstance(outcome, MatchOutcome)]
    failures += matching_outcomes_persist(tenant=tenant, run=run, batch=batch, outcomes=matched)
    run.write_ms = _elapsed_ms(start)

    run.failures = failures
    run.invoices_failed = len(failures)
    run.invoices_matched = len(outcomes) - len(failures)
    run.engine_version = matched[0].engine_version if matched else ENGINE_VERSION


def matching_drain_tenant(
    *, tenant: Tenant, trigger: str, actor: Actor, max_batches: int, run: MatchRun | None = None
) -> list[MatchRun]:
    """Run batches until no invoice is left in `received` or `max_batches` have run.

    `run` (a queued one from the API) carries out the first batch; each further batch is a run
    of its own. Invoices that failed are left out of the later batches of this drain, so a batch
    of invoices that keep failing cannot hold up the rest.
    """
    limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
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
