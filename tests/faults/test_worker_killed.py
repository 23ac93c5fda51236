"""kill -9 of a django-q2 worker in the middle of a matching batch (issue #8, faults).

A real `manage.py qcluster` (django-q2's ORM broker on the test database) drains a bench tenant
in batches; the test waits until the worker's backend holds the tenant's matching lock and has
begun writing a batch (it has a transaction id: `pg_stat_activity.backend_xid`), then SIGKILLs
the cluster's whole process group. Then: every invoice is either untouched or wholly matched,
the lock died with the connection, the dead run is marked as such by the next run, which
matches the rest, and the tenant's audit chain verifies.
"""

from __future__ import annotations

import datetime as dt
import random
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent, OutboxMessage
from benchmarks.fixtures import FixtureBuilder
from core import locks
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from matching import tasks as matching_tasks
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import RUN_ABANDONED, matching_run_for_tenant
from matching.writer import DISCREPANCY_EVENT, MATCHING_ACTOR, PUBLISHED_SEVERITIES
from tenants.models import Tenant
from tenants.services import tenant_create, tenant_settings_update
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR
from tests.faults.services import Process, app_environment, scratch_dir, wait_until

INVOICES = 480
BATCH = 120  # four batches; one batch's write takes a few hundred ms, the window to kill in
LINES = 8

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def bench_tenant(transactional_db: None) -> Tenant:
    """The bench's synthetic tenant (its builders, not a copy): clean invoices and every fault kind."""
    tenant, _ = tenant_create(name="Killed Worker Ltd", slug="killed-worker", actor=TEST_ACTOR)
    tenant_settings_update(tenant=tenant, actor=TEST_ACTOR, max_invoices_per_run=BATCH)
    builder = FixtureBuilder(tenant=tenant, rng=random.Random(8), vendor_count=10, lines=LINES)
    builder.build(INVOICES, progress=lambda done: None)
    return tenant


@pytest.fixture
def orm_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process queues on django-q2's ORM broker, the one the spawned cluster reads (no
    REDIS_URL in its environment), so the task goes to this test's database and nowhere else."""
    from django_q.conf import Conf
    from django_q.models import Schedule

    monkeypatch.setattr(Conf, "ORM", "default")
    # The settings' broker class (core.task_broker, with REDIS_URL) comes before ORM in django-q2.
    monkeypatch.setattr(Conf, "BROKER_CLASS", None)
    monkeypatch.setattr(Conf, "SYNC", False)
    # The cluster also runs due schedules; none may start a second drain of this tenant meanwhile.
    Schedule.objects.update(next_run=timezone.now() + timezone.timedelta(days=1))


@pytest.fixture
def cluster(test_database_url: str, orm_broker: None) -> Iterator[Process]:
    env = app_environment(database_url=test_database_url, Q_WORKERS="1")
    with scratch_dir("qcluster") as directory:
        process = Process.start(
            "qcluster", [sys.executable, "manage.py", "qcluster"], log=directory / "qcluster.log", env=env
        )
        try:
            yield process
        finally:
            process.stop(signal.SIGTERM, timeout=5)


def _lock_holder_writing(tenant: Tenant) -> tuple[int, bool] | None:
    """(pid, has written in its open transaction) of the backend holding the tenant's matching lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT l.pid, a.backend_xid IS NOT NULL
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2
            """,
            # pg_locks shows the two int4 keys as unsigned oids.
            [locks.MATCHING, locks.tenant_lock_key(tenant.pk) & 0xFFFFFFFF],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def assert_no_invoice_half_written(tenant: Tenant) -> Counter[str]:
    """Each invoice: untouched (`received`, no result, no line assigned, no transition event), or
    matched whole (its latest result's decision, that result's discrepancies, a transition event
    carrying the result, an outbox event per high/critical discrepancy). Returns the statuses."""
    invoices = list(Invoice.objects.for_tenant(tenant).values("id", "status", "latest_match_id"))
    results = defaultdict(list)
    for result in MatchResult.objects.for_tenant(tenant).values("id", "invoice_id", "decision"):
        results[result["invoice_id"]].append(result)
    discrepancies = defaultdict(list)
    for found in Discrepancy.objects.for_tenant(tenant).values("id", "match_result_id", "type", "severity"):
        discrepancies[found["match_result_id"]].append(found)
    transitions = defaultdict(list)
    for event in AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="transition"):
        transitions[event.entity_id].append(event.after)
    published = {
        message.payload["payload"]["external_id"]
        for message in OutboxMessage.objects.for_tenant(tenant).filter(payload__event_type=DISCREPANCY_EVENT)
    }
    assigned = set(
        InvoiceLine.objects.for_tenant(tenant)
        .filter(matched_po_line__isnull=False)
        .values_list("invoice_id", flat=True)
    )

    for invoice in invoices:
        invoice_id, status = invoice["id"], invoice["status"]
        if status == InvoiceStatus.RECEIVED:
            assert invoice["latest_match_id"] is None, invoice
            assert results[invoice_id] == [], invoice
            assert transitions[str(invoice_id)] == [], invoice
            assert invoice_id not in assigned, invoice
            continue
        [result] = results[invoice_id]
        assert invoice["latest_match_id"] == result["id"] and result["decision"] == status, invoice
        [after] = transitions[str(invoice_id)]
        assert after["status"] == status and after["match"]["match_result_id"] == str(result["id"]), after
        found = discrepancies[result["id"]]
        assert sorted(d["type"] for d in after["match"]["discrepancies"]) == sorted(d["type"] for d in found)
        assert {str(d["id"]) for d in found if d["severity"] in PUBLISHED_SEVERITIES} <= published
    return Counter(invoice["status"] for invoice in invoices)


def test_a_worker_killed_mid_batch_leaves_no_invoice_half_written(bench_tenant: Tenant, cluster: Process) -> None:
    from django_q.tasks import async_task

    tenant = bench_tenant
    async_task("matching.tasks.run_matching", str(tenant.pk), trigger=MatchRun.Trigger.SCHEDULE)

    # Kill once one batch is committed and the next has begun writing, so both sides are seen:
    # invoices matched before the kill, and a batch cut off half way through its transaction.
    def writing() -> int | None:
        assert cluster.alive(), cluster.describe()
        holder = _lock_holder_writing(tenant)
        if not (holder and holder[1]):
            return None
        committed = MatchRun.objects.for_tenant(tenant).filter(status=MatchRun.Status.FINISHED).exists()
        return holder[0] if committed else None

    backend_pid = wait_until(writing, timeout=60, what="the worker to write a batch", interval=0.005)
    cluster.kill()

    # The session lock dies with the connection: PostgreSQL ends the backend and rolls back.
    wait_until(lambda: not _backend_alive(backend_pid), timeout=15, what=f"backend {backend_pid} to end")
    assert _lock_holder_writing(tenant) is None

    statuses = assert_no_invoice_half_written(tenant)
    assert 0 < statuses[InvoiceStatus.RECEIVED] < INVOICES, statuses  # killed mid-drain, not before or after
    [dead_run] = MatchRun.objects.for_tenant(tenant).filter(status=MatchRun.Status.RUNNING)
    assert not MatchResult.objects.for_tenant(tenant).filter(run=dead_run).exists()  # its batch rolled back

    # The next run (the schedule's, here called directly) takes the lock, marks the dead run and
    # finishes the batch and the rest.
    report = matching_tasks.run_matching(str(tenant.pk), trigger=MatchRun.Trigger.SCHEDULE)

    dead_run.refresh_from_db()
    assert (dead_run.status, dead_run.error) == (MatchRun.Status.FAILED, RUN_ABANDONED)
    assert dead_run.finished_at is not None
    later_runs = MatchRun.objects.for_tenant(tenant).exclude(pk=dead_run.pk).filter(started_at__gt=dead_run.started_at)
    assert set(later_runs.values_list("status", flat=True)) == {MatchRun.Status.FINISHED}, report
    statuses = assert_no_invoice_half_written(tenant)
    assert statuses[InvoiceStatus.RECEIVED] == 0, statuses
    assert sum(statuses.values()) == INVOICES
    assert not MatchRun.objects.for_tenant(tenant).filter(status=MatchRun.Status.RUNNING).exists()

    out = StringIO()
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)  # raises on a broken chain
    assert "chain intact" in out.getvalue()


def test_a_run_marks_only_the_runs_that_started_before_it_and_are_still_running(transactional_db: None) -> None:
    """The sweep needs the lock held and an earlier start: a run that started after this one may
    be alive, between recording itself and trying the lock, and is left alone."""
    tenant, _ = tenant_create(name="Sweep Ltd", slug="sweep", actor=TEST_ACTOR)
    now = timezone.now()

    def running(started: dt.datetime) -> MatchRun:
        return MatchRun.objects.create(
            tenant=tenant,
            trigger=MatchRun.Trigger.SCHEDULE,
            status=MatchRun.Status.RUNNING,
            started_at=started,
            requested_by_kind="system",
            requested_by_id="test",
        )

    dead, younger = running(now - dt.timedelta(minutes=5)), running(now + dt.timedelta(minutes=5))
    finished = matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=MATCHING_ACTOR)

    dead.refresh_from_db()
    younger.refresh_from_db()
    assert finished.status == MatchRun.Status.FINISHED
    assert (dead.status, dead.error) == (MatchRun.Status.FAILED, RUN_ABANDONED)
    assert younger.status == MatchRun.Status.RUNNING
