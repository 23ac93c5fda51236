"""Signed checkpoints of the audit chain (audit.checkpoints): a superuser who deletes the newest
events leaves a valid, shorter chain, and only a witness outside the table can tell. These tests
delete with the triggers bypassed, as such an attacker would, and expect verify_audit to name it."""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings as django_settings
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from audit.checkpoints import (
    CHECKPOINT_EVENT,
    FORGED,
    HEAD_REWRITTEN,
    MISSING_MANY,
    MISSING_ONE,
    NOT_A_CHECKPOINT,
    TAIL_MISSING,
    UNKNOWN_KEY,
    Checkpoint,
    audit_checkpoint_take,
    checkpoint_public_key,
    checkpoint_verifying_keys,
)
from audit.models import AuditEvent, OutboxMessage
from audit.publisher import outbox_publish_pending
from audit.services import audit_record, outbox_subject
from core.actors import Actor
from matching import tasks as matching_tasks
from matching.models import MatchRun
from recon_site.management.commands.verify_audit import NO_CHECKPOINT, NO_WITNESS
from recon_site.schedules import schedules_ensure
from tenants import tasks as audit_tasks
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.audit.test_outbox_nats import broker, stream_messages  # noqa: F401  (the NATS fixture)
from tests.factories import InvoiceFactory, InvoiceLineFactory, TenantFactory

ACTOR = Actor(kind="user", id="42", label="clerk@example.com")


def _record(tenant: Tenant, n: int) -> list[AuditEvent]:
    """`n` events written in one transaction, then sealed; as stored."""
    with transaction.atomic():
        written = [
            audit_record(
                tenant=tenant,
                actor=ACTOR,
                entity_type="invoice",
                entity_id=uuid.uuid4(),
                action="approved",
                after={"total": "125.00"},
            )
            for _ in range(n)
        ]
    seal(tenant)
    stored = AuditEvent.objects.for_tenant(tenant).in_bulk([event.pk for event in written])
    return [stored[event.pk] for event in written]


def _head(tenant: Tenant) -> tuple[int, str]:
    return (
        AuditEvent.objects.for_tenant(tenant)
        .filter(sequence__isnull=False)
        .order_by("-sequence")
        .values_list("sequence", "hash")
        .first()
    )


def _delete_newest_as_superuser(tenant: Tenant, count: int) -> None:
    """The attack: a superuser session with triggers off (replica role) deletes the newest events."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("RESET ROLE")  # the suite's superuser, not the app's runtime role
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # flush the test transaction's deferred FK checks
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE id IN "
            "(SELECT id FROM audit_auditevent WHERE tenant_id = %s ORDER BY sequence DESC LIMIT %s)",
            [tenant.pk, count],
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute(f'SET ROLE "{django_settings.DB_RUNTIME_ROLE}"')  # back to the app's role


def _verify(*args: str) -> tuple[int, str]:
    """verify_audit's exit code and output."""
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
    except CommandError as failure:
        return failure.returncode, out.getvalue()
    return 0, out.getvalue()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def witness_file(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "witness" / "audit-checkpoints.jsonl"
    settings.AUDIT_CHECKPOINT_FILE = str(path)
    return path


def _tail_missing(chain_sequence: int, checkpoint: Checkpoint, source: str) -> str:
    missing = checkpoint.sequence - chain_sequence
    return TAIL_MISSING.format(
        chain_sequence=chain_sequence,
        checkpointed_at=checkpoint.checkpointed_at,
        source=source,
        sequence=checkpoint.sequence,
        head_hash=checkpoint.head_hash,
        missing=MISSING_ONE if missing == 1 else MISSING_MANY.format(count=missing),
    )


# --- the defect: a deleted tail -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("deleted", [1, 5])
def test_deleting_the_newest_events_makes_verify_audit_fail_naming_the_missing_tail(
    tenant: Tenant, witness_file: Path, deleted: int
) -> None:
    _record(tenant, 10)
    checkpoint = audit_checkpoint_take(tenant=tenant)
    assert checkpoint is not None and (checkpoint.sequence, checkpoint.head_hash) == _head(tenant)

    _delete_newest_as_superuser(tenant, deleted)

    code, out = _verify("--tenant", tenant.slug, "--checkpoints", str(witness_file))
    assert code == 1
    # The chain alone still verifies: that is the hole the checkpoint closes.
    assert f"{tenant.slug}: {checkpoint.sequence - deleted} events, chain intact" in out
    source = f"{witness_file} line 1"
    assert f"{tenant.slug}: CHECKPOINT: {_tail_missing(checkpoint.sequence - deleted, checkpoint, source)}" in out
    expected = "the newest event is missing" if deleted == 1 else f"the {deleted} newest events are missing"
    assert expected in out


@pytest.mark.django_db(transaction=True)
def test_a_committed_deletion_by_a_superuser_session_after_the_scheduled_checkpoint_is_named(
    tmp_path: Path, settings: Any
) -> None:
    """End to end with real commits: the schedule's task checkpoints, then another connection —
    a superuser with triggers off — deletes the newest five events and commits."""
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")
    tenant = TenantFactory()
    _record(tenant, 8)
    head_sequence, head_hash = _head(tenant)
    assert audit_tasks.checkpoint_audit_chains().startswith("checkpointed 1 of")

    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as attacker:
        attacker.execute("SET session_replication_role = replica")
        attacker.execute(
            "DELETE FROM audit_auditevent WHERE tenant_id = %s AND sequence > %s", [tenant.pk, head_sequence - 5]
        )

    code, out = _verify("--tenant", str(tenant.pk))  # the configured file, as an operator runs it
    assert code == 1
    assert f"{tenant.slug}: {head_sequence - 5} events, chain intact" in out
    assert (
        f"the chain ends at sequence {head_sequence - 5} but the checkpoint of " in out
        and f"saw sequence {head_sequence} with head {head_hash}: the 5 newest events are missing" in out
    )


@pytest.mark.django_db
def test_events_deleted_then_replaced_by_new_ones_are_named_at_the_checkpointed_position(
    tenant: Tenant, witness_file: Path
) -> None:
    """The tail is deleted and the app goes on writing: the chain is longer than the checkpoint
    again, but the event at the checkpointed position is not the one the checkpoint saw."""
    _record(tenant, 6)
    checkpoint = audit_checkpoint_take(tenant=tenant)
    assert checkpoint is not None
    _delete_newest_as_superuser(tenant, 3)
    _record(tenant, 5)
    replaced = AuditEvent.objects.for_tenant(tenant).get(sequence=checkpoint.sequence)

    code, out = _verify("--tenant", tenant.slug)
    assert code == 1
    assert "chain intact" in out
    expected = HEAD_REWRITTEN.format(
        sequence=checkpoint.sequence,
        actual=replaced.hash,
        checkpointed_at=checkpoint.checkpointed_at,
        source=f"{witness_file} line 1",
        head_hash=checkpoint.head_hash,
        later="",
    )
    assert f"{tenant.slug}: CHECKPOINT: {expected}" in out


# --- what passes ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_untampered_chain_that_grew_past_its_checkpoints_exits_zero(
    tenant: Tenant, other_tenant: Tenant, witness_file: Path
) -> None:
    _record(tenant, 3)
    _record(other_tenant, 2)
    first = audit_checkpoint_take(tenant=tenant)
    audit_checkpoint_take(tenant=other_tenant)
    _record(tenant, 4)
    latest = audit_checkpoint_take(tenant=tenant)
    _record(tenant, 2)  # grown past the latest checkpoint too
    assert first is not None and latest is not None and latest.sequence == first.sequence + 4

    code, out = _verify()
    assert code == 0, out
    assert (
        f"{tenant.slug}: agrees with 2 checkpoints (latest of {latest.checkpointed_at}: sequence {latest.sequence})"
        in out
    )
    assert f"{other_tenant.slug}: agrees with 1 checkpoints" in out
    assert "OK: 2 chains intact." in out


@pytest.mark.django_db
def test_a_chain_no_checkpoint_has_seen_is_noted_not_failed(tenant: Tenant, witness_file: Path) -> None:
    witness_file.parent.mkdir(parents=True)
    witness_file.write_text("")
    _record(tenant, 2)
    code, out = _verify("--tenant", tenant.slug)
    assert code == 0
    assert NO_CHECKPOINT.format(slug=tenant.slug) in out


@pytest.mark.django_db
def test_without_any_witness_verify_says_a_deleted_tail_cannot_be_detected(tenant: Tenant, settings: Any) -> None:
    settings.AUDIT_CHECKPOINT_FILE = ""
    _record(tenant, 1)
    code, out = _verify("--tenant", tenant.slug)
    assert code == 0
    assert NO_WITNESS.format(path="(AUDIT_CHECKPOINT_FILE is empty)") in out


# --- forged and unreadable checkpoints ----------------------------------------------------------


@pytest.mark.django_db
def test_a_forged_checkpoint_is_named_and_fails_verification(tenant: Tenant, witness_file: Path) -> None:
    """A checkpoint edited to claim a shorter chain (to cover a deletion) no longer verifies."""
    _record(tenant, 4)
    genuine = audit_checkpoint_take(tenant=tenant)
    assert genuine is not None
    forged = {**genuine.as_record(), "sequence": genuine.sequence + 3}
    with open(witness_file, "a", encoding="utf-8") as witness:
        witness.write(json.dumps(forged) + "\n")

    code, out = _verify("--tenant", tenant.slug)
    assert code == 1
    expected = FORGED.format(
        source=f"{witness_file} line 2",
        sequence=genuine.sequence + 3,
        checkpointed_at=genuine.checkpointed_at,
        key_id=genuine.key_id,
    )
    assert f"{tenant.slug}: CHECKPOINT: {expected}" in out
    assert "newest" not in out  # a forged checkpoint is not evidence of a missing tail


@pytest.mark.django_db
def test_a_checkpoint_signed_with_another_key_is_named_and_accepted_with_that_public_key(
    tenant: Tenant, witness_file: Path, settings: Any
) -> None:
    """What an auditor does: verifies with the public key handed over, without the private key."""
    settings.AUDIT_CHECKPOINT_KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()
    signer_public_key = checkpoint_public_key()
    _record(tenant, 3)
    checkpoint = audit_checkpoint_take(tenant=tenant)
    assert checkpoint is not None
    settings.AUDIT_CHECKPOINT_KEY = ""  # the auditor's environment: another key entirely

    code, out = _verify("--tenant", tenant.slug)
    assert code == 1
    expected = UNKNOWN_KEY.format(
        source=f"{witness_file} line 1",
        sequence=checkpoint.sequence,
        checkpointed_at=checkpoint.checkpointed_at,
        key_id=checkpoint.key_id,
    )
    assert f"{tenant.slug}: CHECKPOINT: {expected}" in out

    code, out = _verify("--tenant", tenant.slug, f"--public-key={signer_public_key}")  # a key may start with "-"
    assert code == 0, out
    assert f"{tenant.slug}: agrees with 1 checkpoints" in out


@pytest.mark.django_db
def test_a_public_key_that_is_not_one_is_refused_naming_the_option(tenant: Tenant) -> None:
    with pytest.raises(CommandError, match="--public-key must be url-safe base64 of 32 bytes"):
        call_command("verify_audit", "--public-key", "c2hvcnQ=", stdout=StringIO())


@pytest.mark.django_db
def test_an_unreadable_line_in_the_checkpoint_file_fails_verification(tenant: Tenant, witness_file: Path) -> None:
    _record(tenant, 1)
    audit_checkpoint_take(tenant=tenant)
    with open(witness_file, "a", encoding="utf-8") as witness:
        witness.write('{"tenant_id": "cut in the mid\n')
    code, out = _verify("--tenant", tenant.slug)
    assert code == 1
    assert f"CHECKPOINT: {NOT_A_CHECKPOINT.format(source=f'{witness_file} line 2', reason='not JSON')}" in out


@pytest.mark.django_db
def test_a_checkpoint_file_named_but_absent_is_an_error(tenant: Tenant, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read the checkpoint file"):
        call_command("verify_audit", "--checkpoints", str(tmp_path / "nowhere.jsonl"), stdout=StringIO())


# --- the witnesses --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_checkpoint_is_appended_to_the_file_and_queued_once_per_change(tenant: Tenant, witness_file: Path) -> None:
    _record(tenant, 2)
    first = audit_checkpoint_take(tenant=tenant)
    assert audit_checkpoint_take(tenant=tenant) is None  # the head has not moved: nothing new to witness
    _record(tenant, 1)
    second = audit_checkpoint_take(tenant=tenant)
    assert first is not None and second is not None

    assert _lines(witness_file) == [first.as_record(), second.as_record()]
    keys = checkpoint_verifying_keys()
    public_key = keys[second.key_id]
    public_key.verify(bytes.fromhex(second.signature), second.signed_content())  # raises if it does not hold
    queued = OutboxMessage.objects.for_tenant(tenant).filter(
        subject=outbox_subject(CHECKPOINT_EVENT, tenant_id=tenant.pk)
    )
    assert [m.payload["payload"] for m in queued.order_by("created_at")] == [first.as_record(), second.as_record()]


@pytest.mark.django_db
def test_a_tenant_without_events_gets_no_checkpoint(tenant: Tenant, witness_file: Path) -> None:
    assert not AuditEvent.objects.for_tenant(tenant).exists()
    assert audit_checkpoint_take(tenant=tenant) is None
    assert not witness_file.exists()


@pytest.mark.django_db
def test_the_checkpoint_is_published_to_nats_in_the_event_envelope_and_read_back_by_verify(
    broker: Any,  # noqa: F811
    tenant: Tenant,
    witness_file: Path,
) -> None:
    _record(tenant, 7)
    checkpoint = audit_checkpoint_take(tenant=tenant)
    assert checkpoint is not None
    assert outbox_publish_pending().published == 1

    [(subject, headers, body)] = stream_messages(broker)
    assert subject == f"{broker.NATS_SUBJECT_PREFIX}.audit.checkpoint.{tenant.pk}"
    assert headers["Nats-Msg-Id"]
    assert body["event_type"] == "audit.checkpoint"
    assert body["source"] == "recon"
    assert body["tenant_id"] == str(tenant.pk)
    assert body["payload"] == checkpoint.as_record()

    # What an auditor with access to the stream (and no file) sees after a deletion.
    witness_file.unlink()
    _delete_newest_as_superuser(tenant, 2)
    code, out = _verify("--tenant", tenant.slug, "--nats")
    assert code == 1
    assert _tail_missing(checkpoint.sequence - 2, checkpoint, f"NATS {broker.NATS_STREAM} #1") in out


@pytest.mark.django_db
def test_verify_names_an_unreachable_nats_instead_of_passing(tenant: Tenant, settings: Any) -> None:
    from benchmarks.load.services import free_port

    settings.NATS_URL = f"nats://127.0.0.1:{free_port()}"
    settings.NATS_CONNECT_TIMEOUT_SECONDS = 1
    with pytest.raises(CommandError, match="cannot read checkpoints from NATS stream"):
        call_command("verify_audit", "--tenant", tenant.slug, "--nats", stdout=StringIO())


@pytest.mark.django_db
def test_export_audit_appends_a_signed_checkpoint_and_puts_it_in_the_proof(
    tenant: Tenant, tmp_path: Path, settings: Any
) -> None:
    settings.AUDIT_CHECKPOINT_FILE = ""
    _record(tenant, 3)
    checkpoints = tmp_path / "auditor" / "checkpoints.jsonl"
    prefix = tmp_path / "export" / "q4"
    call_command(
        "export_audit",
        "--tenant", tenant.slug, "--from", "2000-01-01", "--to", "2199-12-31",
        "--output", str(prefix), "--checkpoints", str(checkpoints),
        stdout=StringIO(),
    )  # fmt: skip
    [line] = _lines(checkpoints)
    assert (line["sequence"], line["head_hash"]) == _head(tenant)
    proof = json.loads(Path(f"{prefix}.proof.json").read_text())
    assert proof["checkpoint"] == line

    _delete_newest_as_superuser(tenant, 1)
    code, out = _verify("--tenant", tenant.slug, "--checkpoints", str(checkpoints))
    assert code == 1 and "the newest event is missing" in out


@pytest.mark.django_db
def test_the_audit_checkpoint_command_prints_the_public_key_and_takes_checkpoints(
    tenant: Tenant, witness_file: Path
) -> None:
    out = StringIO()
    call_command("audit_checkpoint", "--public-key", stdout=out)
    assert out.getvalue().startswith(checkpoint_public_key())

    _record(tenant, 2)
    out = StringIO()
    call_command("audit_checkpoint", "--tenant", tenant.slug, stdout=out)
    call_command("audit_checkpoint", "--tenant", tenant.slug, stdout=out)  # asked for: taken even unchanged
    sequence, head_hash = _head(tenant)
    assert f"{tenant.slug}: checkpoint of " in out.getvalue()
    assert f"sequence {sequence}, head {head_hash}, to the outbox (NATS) and {witness_file}" in out.getvalue()
    assert [line["sequence"] for line in _lines(witness_file)] == [sequence, sequence]


# --- when checkpoints are taken -------------------------------------------------------------------


def test_the_schedule_checkpoints_every_chain_at_the_configured_minutes(db: None) -> None:
    from django_q.models import Schedule

    schedules_ensure()
    schedule = Schedule.objects.get(name="checkpoint-audit-chains")
    assert (schedule.func, schedule.minutes) == (
        "tenants.tasks.checkpoint_audit_chains",
        django_settings.AUDIT_CHECKPOINT_EVERY_MINUTES,
    )
    assert django_settings.AUDIT_CHECKPOINT_EVERY_MINUTES == 60  # hourly by default
    assert schedule.schedule_type == Schedule.MINUTES


@pytest.mark.django_db
def test_the_scheduled_task_checkpoints_each_moved_chain_and_logs_a_lost_head(
    tenant: Tenant, other_tenant: Tenant, witness_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _record(tenant, 3)
    _record(other_tenant, 1)
    audit_tasks.checkpoint_audit_chains()
    assert {line["tenant_id"] for line in _lines(witness_file)} >= {str(tenant.pk), str(other_tenant.pk)}
    lines_before = len(_lines(witness_file))
    assert audit_tasks.checkpoint_audit_chains().startswith("checkpointed 0 of")  # nothing moved

    _delete_newest_as_superuser(tenant, 2)
    with caplog.at_level(logging.ERROR, logger="audit.checkpoints"):
        audit_tasks.checkpoint_audit_chains()
    assert len(_lines(witness_file)) == lines_before + 1  # the shorter chain is witnessed from now on
    assert any("2 newest events are missing" in record.getMessage() for record in caplog.records)


@pytest.mark.django_db
def test_a_matching_run_writes_a_checkpoint_of_the_events_it_appended(tenant: Tenant, witness_file: Path) -> None:
    invoice = InvoiceFactory(tenant=tenant, invoice_number="INV-CP-1", subtotal_amount=12500, total_amount=12500)
    InvoiceLineFactory(invoice=invoice, line_number=1)
    before = _head(tenant)

    matching_tasks.run_matching(str(tenant.pk), trigger=MatchRun.Trigger.SCHEDULE)

    after = _head(tenant)
    assert after != before  # the run wrote audit events
    [line] = [line for line in _lines(witness_file) if line["tenant_id"] == str(tenant.pk)]
    assert (line["sequence"], line["head_hash"]) == after
    assert OutboxMessage.objects.for_tenant(tenant).filter(payload__event_type=CHECKPOINT_EVENT).count() == 1


@pytest.mark.django_db
def test_the_run_matching_command_writes_a_checkpoint_too(tenant: Tenant, witness_file: Path) -> None:
    invoice = InvoiceFactory(tenant=tenant, invoice_number="INV-CP-2", subtotal_amount=12500, total_amount=12500)
    InvoiceLineFactory(invoice=invoice, line_number=1)
    call_command("run_matching", "--tenant", tenant.slug, stdout=StringIO())
    assert [(line["sequence"], line["head_hash"]) for line in _lines(witness_file)] == [_head(tenant)]


@pytest.mark.parametrize("option", ["--from", "--to"])
def test_a_date_export_audit_cannot_read_is_a_usage_error_naming_the_option_not_a_traceback(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """As an operator types it (`manage.py export_audit ...`), not through call_command."""
    dates = {"--from": "2026-01-01", "--to": "2026-12-31", option: "2026-13-01"}
    argv = ["manage.py", "export_audit", "--tenant", "demo", "--output", "/nonexistent/export"]
    argv += [part for name, value in dates.items() for part in (name, value)]
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(argv).execute()
    assert exited.value.code == 2
    assert f"argument {option}: '2026-13-01' is not an ISO date (YYYY-MM-DD)." in capsys.readouterr().err
