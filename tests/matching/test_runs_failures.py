"""Matching runs against the real PostgreSQL: one invoice that fails does not sink its batch,
a run that fails leaves everything as it was, and drains stop on failing invoices.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses
import gc
import uuid
from collections import Counter
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

import matching.engine.batch
import matching.services
import matching.writer
from audit.models import OutboxMessage
from audit.services import audit_deferred
from core import locks
from invoices.lifecycle import invoice_transition
from invoices.models import Invoice, InvoiceStatus
from matching.models import MatchResult, MatchRun
from matching.services import matching_drain_tenant
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import BOLTS, TEST_ACTOR, InvoiceFactory, PurchaseOrderFactory
from tests.matching.runs import (
    acme_vendor,
    assert_left_alone,
    reload,
    results_of,
    run_matching,
    set_tenant_settings,
    transitions_of,
)

S = InvoiceStatus

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- one bad invoice does not sink the batch ---------------------------------------------


def _three_small_invoices(tenant: Tenant) -> list[Invoice]:
    """100, 200 and 300 bolts on a received PO: 12.50, 25.00, 37.50, each auto-approved alone."""
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-700", lines=[BOLTS], received=True)
    return [
        InvoiceFactory(vendor=acme, invoice_number=f"INV-70{n}", po_number="PO-700", lines=[BOLTS.times(f"{n}00")])
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
    assert_left_alone(bad)
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
    assert_left_alone(bad)
    for invoice in (first, third):
        # Exactly one result and one transition: nothing of the rolled-back bulk attempt is left.
        assert reload(invoice).status == "approved"
        assert len(results_of(invoice)) == 1 and len(transitions_of(invoice)) == 1
    assert MatchResult.objects.for_tenant(tenant).count() == 2
    assert [m.payload["event_type"] for m in OutboxMessage.objects.for_tenant(tenant)] == ["invoice.approved"] * 2
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=StringIO())


@pytest.mark.django_db
def test_audit_events_held_back_go_with_a_rolled_back_bulk_write(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Matching inside one transaction with audit events held back (the demo seed's audit_deferred):
    the events of a bulk write that was rolled back are not appended with the ones that stayed."""
    first, bad, third = _three_small_invoices(tenant)
    real = matching.writer._write

    def write_then_break(**kwargs: Any) -> list[dict[str, str]]:
        failures = real(**kwargs)
        if any(outcome.invoice_id == bad.pk for outcome in kwargs["outcomes"]):
            raise IntegrityError("simulated constraint violation")
        return failures

    monkeypatch.setattr(matching.writer, "_write", write_then_break)
    with transaction.atomic(), audit_deferred():
        run = run_matching(tenant)

    assert (run.invoices_matched, run.invoices_failed) == (2, 1)
    for invoice in (first, third):
        assert len(transitions_of(invoice)) == 1  # not 2: the bulk attempt's event went with it
    assert transitions_of(bad) == []
    assert seal(tenant).unsealed == 0
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
    assert_left_alone(bad)
    for invoice in (first, third):
        assert reload(invoice).status == "approved"
        assert len(results_of(invoice)) == 1 and len(transitions_of(invoice)) == 1
    assert seal(tenant).unsealed == 0
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
    assert_left_alone(voided, status=S.VOID)
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


# Committed, as a worker's run is: the failed run and the lock it should release are not held
# up by a test transaction around them.
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
        assert_left_alone(invoice)
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
