"""Sealing (audit.sealer): events are written unsealed without a tenant-wide lock and chained after
commit, in an order no later commit can precede. Real transactions on their own connections."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from audit import tasks as audit_tasks
from audit.checkpoints import audit_checkpoint_take
from audit.models import CHAIN_ORDER, AuditEvent
from audit.sealer import audit_seal_soon, audit_unsealed_summary
from audit.services import audit_record
from audit.verify import audit_chain_verify
from core.actors import Actor
from recon_site.schedules import jobs
from tenants import tasks as tenant_tasks
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import TenantFactory

ACTOR = Actor(kind="user", id="42", label="clerk@example.com")


def _write(tenant: Tenant, label: str) -> None:
    audit_record(tenant=tenant, actor=ACTOR, entity_type="invoice", entity_id=label, action="approved")


def _commit(tenant: Tenant, *labels: str) -> None:
    with transaction.atomic():
        for label in labels:
            _write(tenant, label)


def _chain(tenant: Tenant) -> list[tuple[int | None, str]]:
    """(sequence, entity id) of every event, in chain order."""
    return list(AuditEvent.objects.for_tenant(tenant).order_by(*CHAIN_ORDER).values_list("sequence", "entity_id"))


class OpenTransaction(threading.Thread):
    """A transaction on a connection of its own, held open until `finish()`: it writes `early`
    events at once (taking its transaction id then) and `late` ones just before it commits."""

    def __init__(self, tenant: Tenant, *, early: tuple[str, ...] = (), late: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.tenant, self.early, self.late = tenant, early, late
        self.started, self.release, self.errors = threading.Event(), threading.Event(), []

    def run(self) -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")  # begun, with no transaction id yet
                for label in self.early:
                    _write(self.tenant, label)
                self.started.set()
                assert self.release.wait(30)
                for label in self.late:
                    _write(self.tenant, label)
        except BaseException as exc:
            self.errors.append(exc)
            self.started.set()
        finally:
            connections.close_all()

    def __enter__(self) -> OpenTransaction:
        self.start()
        assert self.started.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def finish(self) -> None:
        self.release.set()
        self.join(30)
        assert not self.errors


@pytest.mark.django_db(transaction=True)
def test_an_event_of_an_older_transaction_still_open_holds_back_the_younger_ones_that_committed() -> None:
    """T1 writes first and stays open; T2, begun later, commits first. T2's event must wait: sealed
    now, it would be preceded later by T1's. Once T1 commits, both are sealed, T1's first."""
    tenant = TenantFactory()
    _commit(tenant, "before")
    with OpenTransaction(tenant, early=("t1",)) as older:
        _commit(tenant, "t2")
        report = seal(tenant, settle=0)
        assert (report.sealed, report.unsealed) == (1, 1)  # "before" only; "t2" held back
        assert _chain(tenant) == [(1, "before"), (None, "t2")]  # t1 is not committed: invisible
        older.finish()
        assert seal(tenant, settle=0).sealed == 2
    assert _chain(tenant) == [(1, "before"), (2, "t1"), (3, "t2")]
    report = audit_chain_verify(tenant=tenant)
    assert report.intact and report.count == 3 and report.unsealed.count == 0


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_writes_after_a_seal_is_chained_after_the_sealed_events() -> None:
    """T1 begins first but writes nothing yet (no transaction id); T2 commits and is sealed; T1's
    event, written and committed later, goes after it — it never precedes a sealed event."""
    tenant = TenantFactory()
    with OpenTransaction(tenant, late=("t1",)) as older:
        _commit(tenant, "t2")
        assert seal(tenant, settle=0).sealed == 1
        older.finish()
    assert seal(tenant, settle=0).sealed == 1
    assert _chain(tenant) == [(1, "t2"), (2, "t1")]
    assert audit_chain_verify(tenant=tenant).intact


@pytest.mark.django_db(transaction=True)
def test_a_long_open_transaction_holds_back_later_events_and_verify_audit_says_how_many_and_how_old() -> None:
    """Any transaction of the database with an id, audited or not, of any tenant, holds back the
    events written after it: it might still write one. verify_audit reports them, and passes."""
    tenant, elsewhere = TenantFactory(), TenantFactory()
    with OpenTransaction(elsewhere, early=("other tenant",)):
        _commit(tenant, "a", "b")
        assert seal(tenant, settle=0).sealed == 0
        assert audit_unsealed_summary(tenant=tenant).count == 2
        out = StringIO()
        call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
        assert f"{tenant.slug}: 0 events, chain intact" in out.getvalue()
        assert f"{tenant.slug}: 2 events not sealed yet (the oldest written " in out.getvalue()
        # Readers show them, in the order they will be chained.
        assert _chain(tenant) == [(None, "a"), (None, "b")]
    assert seal(tenant, settle=0).sealed == 2
    out = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: 2 events, chain intact" in out.getvalue()
    assert "not sealed yet" not in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_two_sealers_at_once_seal_each_event_once_and_sealing_again_changes_nothing() -> None:
    tenant = TenantFactory()
    for n in range(12):
        _commit(tenant, *(f"{n}-{i}" for i in range(5)))
    barrier, reports, errors = threading.Barrier(2), [], []

    def sealer() -> None:
        try:
            barrier.wait()
            reports.append(seal(tenant, settle=0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(report.sealed for report in reports) == 60
    chain = _chain(tenant)
    assert [sequence for sequence, _ in chain] == list(range(1, 61))
    hashes = list(AuditEvent.objects.for_tenant(tenant).order_by("xid", "append_seq").values_list("hash", flat=True))
    assert seal(tenant, settle=0).sealed == 0
    assert (
        list(AuditEvent.objects.for_tenant(tenant).order_by("xid", "append_seq").values_list("hash", flat=True))
        == hashes
    )
    assert audit_chain_verify(tenant=tenant).intact


@pytest.mark.django_db(transaction=True)
def test_writers_of_one_tenant_do_not_wait_for_each_other_until_commit() -> None:
    """An open transaction that wrote an event does not block another writer of the same tenant
    (before, the tenant's audit lock was held to commit): the second commits while the first is open."""
    tenant = TenantFactory()
    with OpenTransaction(tenant, early=("open",)):
        done = threading.Event()

        def second() -> None:
            try:
                _commit(tenant, "second")
                done.set()
            finally:
                connections.close_all()

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(10)
        assert done.is_set()
    seal(tenant, settle=0)
    assert [entity for _, entity in _chain(tenant)] == ["open", "second"]


@pytest.mark.django_db(transaction=True)
def test_a_commit_asks_for_a_seal_and_the_task_seals() -> None:
    tenant = TenantFactory()
    cache.delete(f"audit-seal-pending:{tenant.pk}")
    _commit(tenant, "a")
    assert cache.get(f"audit-seal-pending:{tenant.pk}") == 1  # a request is queued for the worker
    _commit(tenant, "b")  # queued already: no second request
    assert audit_tasks.seal_audit_chain(str(tenant.pk)) == "sealed 2, 0 held back"
    assert cache.get(f"audit-seal-pending:{tenant.pk}") is None  # the next commit asks again
    audit_seal_soon(tenant=tenant)
    assert cache.get(f"audit-seal-pending:{tenant.pk}") == 1
    assert _chain(tenant) == [(1, "a"), (2, "b")]


@pytest.mark.django_db(transaction=True)
def test_the_schedule_and_the_command_seal_every_tenant(tmp_path: Path) -> None:
    assert any(job.func == "tenants.tasks.seal_audit_chains" for job in jobs())
    first, second = TenantFactory(), TenantFactory()
    _commit(first, "a")
    _commit(second, "b", "c")
    assert tenant_tasks.seal_audit_chains().startswith("sealed 3 events of")
    _commit(second, "d")
    out = StringIO()
    call_command("seal_audit", "--tenant", second.slug, stdout=out)
    assert f"{second.slug}: sealed 1 events, chain at sequence 3" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_checkpoint_covers_only_sealed_events(tmp_path: Path) -> None:
    tenant = TenantFactory()
    _commit(tenant, "a", "b")
    with OpenTransaction(tenant, early=("open",)):
        _commit(tenant, "held back")
        checkpoint = audit_checkpoint_take(tenant=tenant, path=str(tmp_path / "witness.jsonl"))
    assert checkpoint is not None and checkpoint.sequence == 2
    assert checkpoint.head_hash == AuditEvent.objects.for_tenant(tenant).get(sequence=2).hash


@pytest.mark.django_db(transaction=True)
def test_the_export_shows_unsealed_events_as_not_sealed(tmp_path: Path) -> None:
    tenant = TenantFactory()
    _commit(tenant, "a")
    with OpenTransaction(tenant, early=("open",)):
        _commit(tenant, "held back")
        prefix = tmp_path / "export"
        call_command(
            "export_audit",
            "--tenant",
            tenant.slug,
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--output",
            str(prefix),
            "--checkpoints",
            str(tmp_path / "witness.jsonl"),
            stdout=StringIO(),
        )
    rows = Path(f"{prefix}.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].endswith(",sealed")
    assert rows[1].startswith("1,") and rows[1].endswith(",yes") and ",a," in rows[1]
    assert rows[2].startswith(",") and rows[2].endswith(",no") and ",held back," in rows[2]
    proof = Path(f"{prefix}.proof.json").read_text(encoding="utf-8")
    assert '"count": 2' in proof and '"unsealed": 1' in proof and '"last_sequence": 1' in proof


@pytest.mark.django_db
class TestOnlyTheSealerChains:
    def test_an_event_cannot_be_written_sealed(self, tenant: Tenant) -> None:
        with pytest.raises(DatabaseError, match="written unsealed"), transaction.atomic():
            AuditEvent.objects.bulk_create(
                [
                    AuditEvent(
                        tenant_id=tenant.pk,
                        sequence=1,
                        occurred_at="2026-12-01T00:00:00Z",
                        actor_kind="user",
                        actor_id="1",
                        entity_type="invoice",
                        entity_id="x",
                        action="approved",
                        prev_hash="0" * 64,
                        hash="f" * 64,
                    )
                ]
            )

    def test_the_database_stamps_the_transaction_whatever_the_client_sends(self, tenant: Tenant) -> None:
        with transaction.atomic():
            _write(tenant, "a")
        event = AuditEvent.objects.for_tenant(tenant).get()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            assert event.xid == cursor.fetchone()[0]  # the test's own transaction
        assert event.append_seq > 0 and event.sequence is None and event.hash is None

    def test_sealing_cannot_change_what_the_event_says(self, tenant: Tenant) -> None:
        """Even a superuser (past the grants) cannot alter an unsealed event on the way to sealing it;
        the runtime role may set the chain columns only."""
        with transaction.atomic():
            _write(tenant, "a")
        event = AuditEvent.objects.for_tenant(tenant).get()
        statement = (
            "UPDATE audit_auditevent SET sequence = 1, prev_hash = %s, hash = %s, action = 'voided' WHERE id = %s"
        )
        refused = pytest.raises(DatabaseError, match="permission denied")
        with refused, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, ["0" * 64, "f" * 64, event.pk])
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(statement, ["0" * 64, "f" * 64, event.pk])
        with connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
        seal(tenant, settle=0)
        sealed = AuditEvent.objects.for_tenant(tenant).get()
        assert (sealed.sequence, sealed.action) == (1, "approved")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("UPDATE audit_auditevent SET sequence = NULL, prev_hash = NULL, hash = NULL")
        with connection.cursor() as cursor:
            cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')

    def test_readers_show_unsealed_events_after_the_sealed_ones(self, tenant: Tenant, api: object) -> None:
        _commit(tenant, "sealed")
        seal(tenant, settle=0)
        _commit(tenant, "pending")
        results = api.get("/api/audit-events?entity_type=invoice").json()["results"]  # type: ignore[attr-defined]
        assert [(r["entity_id"], r["sequence"] is None, r["hash"] is None, r["sealed"]) for r in results] == [
            ("pending", True, True, False),
            ("sealed", False, False, True),
        ]


@pytest.mark.django_db
def test_a_sealed_event_moved_in_the_order_of_writing_is_named(tenant: Tenant) -> None:
    """The order of writing is what readers list by: a superuser who swaps two sealed events' stamps
    (triggers off) re-orders the trail without touching a hash, and the verification says so."""
    _commit(tenant, "a", "b", "c")
    seal(tenant, settle=0)
    second = AuditEvent.objects.for_tenant(tenant).get(sequence=2)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE audit_auditevent SET append_seq = 0 WHERE id = %s", [second.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
    report = audit_chain_verify(tenant=tenant)
    assert report.broken is not None and report.broken.sequence == 2
    assert "written before the event preceding it" in report.broken.reason
