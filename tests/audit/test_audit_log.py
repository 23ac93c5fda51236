"""The audit log: append-only in the database, hash-chained per tenant, verified by a command."""

from __future__ import annotations

import threading
import uuid
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from audit.chain import GENESIS_HASH, event_hash
from audit.models import AuditEvent
from audit.services import NOT_IN_TRANSACTION, audit_record
from audit.verify import audit_chain_verify
from core.actors import Actor, system_actor
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import TenantFactory

ACTOR = Actor(kind="user", id="42", label="clerk@example.com")


def _record(tenant: Tenant, n: int, action: str = "created") -> list[AuditEvent]:
    """`n` events written in one transaction, then sealed; as stored, in the order written."""
    with transaction.atomic():
        written = [
            audit_record(
                tenant=tenant,
                actor=ACTOR,
                entity_type="vendor",
                entity_id=uuid.uuid4(),
                action=action,
                after={"name": f"Vendor {i}", "amount": "12.50"},
            )
            for i in range(n)
        ]
    seal(tenant)
    stored = AuditEvent.objects.for_tenant(tenant).in_bulk([event.pk for event in written])
    return [stored[event.pk] for event in written]


CHANGES = [
    "UPDATE audit_auditevent SET action = 'tampered'",
    "DELETE FROM audit_auditevent",
    "TRUNCATE audit_auditevent",
    "TRUNCATE audit_auditevent CASCADE",
]


@pytest.mark.django_db
class TestAppendOnly:
    """UPDATE, DELETE and TRUNCATE are refused by the database: the app's runtime role has no
    privilege for them, and the triggers refuse them for every other role, superusers included."""

    @pytest.mark.parametrize("statement", CHANGES)
    @pytest.mark.parametrize(("role", "refusal"), [("runtime", "permission denied"), ("superuser", "append-only")])
    def test_each_change_is_refused(self, tenant: Tenant, statement: str, role: str, refusal: str) -> None:
        _record(tenant, 2)
        with connection.cursor() as cursor:
            if role == "superuser":
                cursor.execute("RESET ROLE")  # the suite's own role (tests/conftest.py)
            # Fire the deferred FK checks of the rows just written (the test runs in one
            # transaction), or PostgreSQL refuses TRUNCATE for that reason before our trigger runs.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with pytest.raises(DatabaseError, match=refusal), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
        assert AuditEvent.objects.for_tenant(tenant).filter(action="created").count() == 2

    def test_the_orm_cannot_change_or_delete_an_event_either(self, tenant: Tenant) -> None:
        event = _record(tenant, 1)[0]
        event.action = "tampered"
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            event.save()
        with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
            AuditEvent.objects.for_tenant(tenant).delete()


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused() -> None:
    """An event must commit with its change, so writing one in autocommit is a programming error."""
    with pytest.raises(RuntimeError, match=NOT_IN_TRANSACTION):
        audit_record(tenant=TenantFactory(), actor=ACTOR, entity_type="vendor", entity_id="x", action="created")


@pytest.mark.django_db
class TestChain:
    def test_events_link_from_genesis_with_hashes_over_their_canonical_form(self, tenant: Tenant) -> None:
        events = _record(tenant, 3)
        stored = list(AuditEvent.objects.for_tenant(tenant).order_by("xid", "append_seq").values())
        assert [e["sequence"] for e in stored] == [1, 2, 3]
        assert stored[0]["prev_hash"] == GENESIS_HASH
        assert stored[1]["prev_hash"] == stored[0]["hash"] == events[0].hash
        for event in stored:  # what PostgreSQL gives back hashes to what was written
            assert event_hash(event) == event["hash"]

    def test_each_tenant_has_its_own_chain(self, tenant: Tenant, other_tenant: Tenant) -> None:
        _record(tenant, 2)
        _record(other_tenant, 1)
        assert AuditEvent.objects.for_tenant(other_tenant).get().prev_hash == GENESIS_HASH
        assert audit_chain_verify(tenant=tenant).count == 2

    def test_a_rolled_back_change_leaves_no_event(self, tenant: Tenant) -> None:
        class Boom(Exception):
            pass

        with pytest.raises(Boom), transaction.atomic():
            audit_record(tenant=tenant, actor=ACTOR, entity_type="vendor", entity_id="v1", action="created")
            raise Boom
        assert not AuditEvent.objects.for_tenant(tenant).exists()
        _record(tenant, 1)  # and the chain goes on from genesis, with no hole
        assert audit_chain_verify(tenant=tenant).intact


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain() -> None:
    """Eight threads, each in its own transactions on its own connection, append to one tenant."""
    tenant = TenantFactory()
    threads_count, per_thread = 8, 15
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            barrier.wait()
            for n in range(per_thread):
                with transaction.atomic():
                    audit_record(
                        tenant=tenant,
                        actor=system_actor(f"worker-{index}"),
                        entity_type="invoice",
                        entity_id=f"{index}-{n}",
                        action="transition",
                    )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    seal(tenant)
    report = audit_chain_verify(tenant=tenant)
    assert report.intact and report.count == threads_count * per_thread
    sequences = list(
        AuditEvent.objects.for_tenant(tenant).order_by("xid", "append_seq").values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, threads_count * per_thread + 1))


def _superuser_sql(sql: str, params: list | None = None) -> None:
    """What an attacker with superuser rights would do: switch the guard off, change, switch it on."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("RESET ROLE")  # the suite's superuser, not the app's runtime role
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush the test transaction's deferred FK checks
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_no_update_delete")
        cursor.execute(sql, params or [])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_no_update_delete")
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')  # back to the app's role


@pytest.mark.django_db
class TestVerifyCommand:
    def test_intact_chains_exit_zero_and_print_the_count(self, tenant: Tenant) -> None:
        _record(tenant, 4)
        out = StringIO()
        call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
        assert f"{tenant.slug}: 4 events, chain intact" in out.getvalue()

    def test_an_altered_event_is_named(self, tenant: Tenant) -> None:
        events = _record(tenant, 5)
        _superuser_sql("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"amount": "99.00"}', events[2].pk])
        out = StringIO()
        with pytest.raises(CommandError) as failure:
            call_command("verify_audit", "--tenant", str(tenant.pk), stdout=out)
        assert failure.value.returncode == 1
        assert f"BROKEN at event #3 (id {events[2].pk})" in out.getvalue()
        assert "altered" in out.getvalue()

    def test_a_deleted_event_is_named(self, tenant: Tenant) -> None:
        events = _record(tenant, 5)
        _superuser_sql("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
        report = audit_chain_verify(tenant=tenant)
        assert report.broken is not None and report.broken.sequence == 3
        assert "missing" in report.broken.reason

    def test_an_event_inserted_out_of_order_is_named(self, tenant: Tenant) -> None:
        events = _record(tenant, 3)
        forged = {
            "tenant_id": tenant.pk,
            "sequence": 4,
            "occurred_at": events[0].occurred_at,
            "actor_kind": "user",
            "actor_id": "1",
            "actor_label": "",
            "entity_type": "invoice",
            "entity_id": "x",
            "action": "approved",
            "before": None,
            "after": None,
            "request_id": "",
            "prev_hash": events[1].hash,
        }
        forged["hash"] = event_hash(forged)
        # Written sealed, which only someone who can switch the table's triggers off can do.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("SET LOCAL session_replication_role = replica")
            AuditEvent.objects.bulk_create([AuditEvent(**forged, xid=events[-1].xid, append_seq=10**12)])
            cursor.execute("SET LOCAL session_replication_role = origin")
            cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
        report = audit_chain_verify(tenant=tenant)
        assert report.broken is not None and report.broken.sequence == 4
        assert "prev_hash" in report.broken.reason

    def test_all_tenants_are_checked_by_default(self, tenant: Tenant, other_tenant: Tenant) -> None:
        _record(tenant, 1)
        events = _record(other_tenant, 2)
        _superuser_sql("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [events[0].pk])
        out = StringIO()
        with pytest.raises(CommandError):
            call_command("verify_audit", stdout=out)
        assert f"{tenant.slug}: 1 events, chain intact" in out.getvalue()
        assert f"{other_tenant.slug}: BROKEN at event #1" in out.getvalue()
