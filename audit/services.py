"""Writing the audit log and the outbox. Both happen inside the caller's transaction.

A service that changes state calls `audit_record` (and `outbox_enqueue` for events other
services consume) before its `transaction.atomic()` block ends, so the change, its audit event
and its outgoing event commit together or not at all.

Events are inserted unsealed: no chain position or hash yet, and no tenant-wide lock, so two
writers of one tenant never wait for each other here. The sealer (audit.sealer) chains them after
their transaction commits, in an order no later commit can precede; the module doc there says
how, and how long an event stays unsealed. A commit that wrote events asks for a seal at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import canonical_timestamp, to_json_safe
from audit.models import AuditEvent, OutboxMessage
from audit.sealer import audit_seal_soon
from core.actors import Actor
from core.ids import uuid7
from core.observability import request_id_var
from core.tenancy.ref import TenantRef
from core.tenancy.scoping import InsertPart, rows_insert_part, tenant_rows_insert

NOT_IN_TRANSACTION = "audit_record must run inside the transaction of the change it records"


@dataclass(frozen=True)
class AuditEntry:
    entity_type: str
    entity_id: str
    action: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # The caller built `before` and `after` as JSON values (what to_json_safe gives), so they are
    # not walked again: an import's thousands of creation snapshots (invoices.bulk, whose snapshot
    # a test ties to `document_snapshot`).
    json_ready: bool = False


def audit_record(
    *,
    tenant: TenantRef,
    actor: Actor,
    entity_type: str,
    entity_id: Any,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the tenant's chain (inside the caller's transaction)."""
    entry = AuditEntry(entity_type, str(entity_id), action, before, after)
    return audit_record_many(tenant=tenant, actor=actor, entries=[entry])[0]


@dataclass
class _Deferred:
    """Events held back by `audit_deferred`, in the order they were recorded."""

    batches: list[tuple[TenantRef, Actor, list[AuditEntry]]] = field(default_factory=list)


_deferred: contextvars.ContextVar[_Deferred | None] = contextvars.ContextVar("audit_deferred", default=None)


@contextlib.contextmanager
def audit_deferred() -> Iterator[None]:
    """Inside the block, audit events are held back and appended, in order, when it ends.

    For a transaction that writes many documents through the services (a CSV import, the demo
    seed): held back, every event of the block is appended at its end with one INSERT per
    `APPEND_CHUNK`, still inside the caller's transaction (enforced), instead of one INSERT per
    service call; if the block raises, nothing is appended. The events returned inside the block
    are not saved yet. A caller that
    catches a service's error inside the block and goes on must roll the whole transaction back
    (as the CSV import does on any problem): the failed service's events may be held already —
    or wrap the part it may roll back and carry on from in `audit_attempt()`.
    """
    if not connection.in_atomic_block:
        raise RuntimeError(NOT_IN_TRANSACTION)
    if _deferred.get() is not None:  # nested: the outer block appends
        yield
        return
    held = _Deferred()
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
    if transaction.get_rollback():
        return  # the transaction is rolled back anyway
    # One append per tenant for the whole block (an INSERT per APPEND_CHUNK events), not one per
    # service call: the demo seed holds 4,311 calls' events.
    by_tenant: dict[Any, tuple[TenantRef, list[tuple[Actor, AuditEntry]]]] = {}
    for tenant, actor, entries in held.batches:
        _, actor_entries = by_tenant.setdefault(tenant.pk, (tenant, []))
        actor_entries.extend((actor, entry) for entry in entries)
    for tenant, actor_entries in by_tenant.values():
        _append(tenant=tenant, actor_entries=actor_entries)


@contextlib.contextmanager
def audit_attempt() -> Iterator[None]:
    """Around a savepoint that may be rolled back while the caller carries on (a bulk write that
    falls back to one document at a time): if the block raises, the events `audit_deferred` held
    inside it go with its rows, so they are not appended for writes that never happened. Outside
    `audit_deferred` events are rows of the savepoint already, and this changes nothing.
    """
    held = _deferred.get()
    mark = len(held.batches) if held is not None else 0
    try:
        yield
    except BaseException:
        if held is not None:
            del held.batches[mark:]
        raise


def audit_record_many(*, tenant: TenantRef, actor: Actor, entries: list[AuditEntry]) -> list[AuditEvent]:
    """Append several events in order, with one INSERT (batch matching)."""
    if not connection.in_atomic_block:
        raise RuntimeError(NOT_IN_TRANSACTION)
    if not entries:
        return []
    held = _deferred.get()
    if held is not None:
        held.batches.append((tenant, actor, list(entries)))
        return [
            AuditEvent(
                tenant_id=tenant.pk,
                actor_kind=actor.kind,
                actor_id=str(actor.id),
                actor_label=actor.label,
                entity_type=entry.entity_type,
                entity_id=entry.entity_id,
                action=entry.action,
                before=entry.before,
                after=entry.after,
            )
            for entry in entries  # made JSON-safe when they are appended, not twice
        ]
    return _append(tenant=tenant, actor_entries=[(actor, entry) for entry in entries])


# Rows per INSERT of an append: the rows travel as one JSON document (tenant_rows_insert); a
# bounded one keeps a large append's parameter to a few megabytes.
APPEND_CHUNK = 2000


def audit_insert_part(*, tenant: TenantRef, actor: Actor, entries: list[AuditEntry]) -> InsertPart | None:
    """`audit_record_many`'s events as a part of the caller's own statement
    (core.tenancy.scoping.tenant_inserts), so a document and its events go in with one INSERT: the
    same rows, the same sealing after commit. None when there is nothing to insert now: no
    entries, or events held back by `audit_deferred` (appended at its block's end, as always)."""
    if not connection.in_atomic_block:
        raise RuntimeError(NOT_IN_TRANSACTION)
    if not entries:
        return None
    held = _deferred.get()
    if held is not None:
        held.batches.append((tenant, actor, list(entries)))
        return None
    events = _events(tenant=tenant, actor_entries=[(actor, entry) for entry in entries])
    return rows_insert_part(tenant=tenant, rows=events)


def _append(*, tenant: TenantRef, actor_entries: list[tuple[Actor, AuditEntry]]) -> list[AuditEvent]:
    """Insert `actor_entries` unsealed, in order, in the caller's transaction; the database stamps
    each with the transaction's id and its order of writing (audit.sealer chains them after commit)."""
    events = _events(tenant=tenant, actor_entries=actor_entries)
    # One parameter per chunk, not an array per column (see tenant_rows_insert).
    for start in range(0, len(events), APPEND_CHUNK):
        tenant_rows_insert(tenant=tenant, rows=events[start : start + APPEND_CHUNK])
    return events


def _events(*, tenant: TenantRef, actor_entries: list[tuple[Actor, AuditEntry]]) -> list[AuditEvent]:
    """The unsealed events of `actor_entries`, to be inserted in this transaction, whose commit
    asks for a seal."""
    occurred_at = timezone.now()  # microsecond precision, as PostgreSQL keeps it
    request_id = request_id_var.get() or ""
    events = [
        _event(
            {
                "tenant_id": tenant.pk,
                "sequence": None,
                "xid": 0,
                "append_seq": 0,
                "occurred_at": occurred_at,
                "actor_kind": actor.kind,
                "actor_id": str(actor.id),
                "actor_label": actor.label,
                "entity_type": entry.entity_type,
                "entity_id": entry.entity_id,
                "action": entry.action,
                "before": entry.before if entry.json_ready else _json_safe(entry.before),
                "after": entry.after if entry.json_ready else _json_safe(entry.after),
                "request_id": request_id,
                "prev_hash": None,
                "hash": None,
            }
        )
        for actor, entry in actor_entries
    ]
    if not any(
        isinstance(func, functools.partial) and func.func is audit_seal_soon and func.keywords["tenant"].pk == tenant.pk
        for _, func, *_ in connection.run_on_commit
    ):
        # Once per tenant and transaction. Robust, as the publisher's kick: with the task broker
        # down the change is committed all the same, and the schedule seals it. update_wrapper:
        # Django's robust on_commit logs the callback's __qualname__, which a bare partial lacks.
        callback = functools.update_wrapper(functools.partial(audit_seal_soon, tenant=tenant), audit_seal_soon)
        transaction.on_commit(callback, robust=True)
    return events


def _plain(value: Any) -> bool:
    """Whether `value` is JSON already (what to_json_safe would give back unchanged): most events'
    before/after are a few strings, which need no round trip through the encoder. A loop, not
    all(generator): it runs for every event of a 10,000-invoice payment run."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return True
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not (item is None or isinstance(item, (str, int)) or _plain(item)):
                return False
        return True
    if isinstance(value, list):
        return all(map(_plain, value))
    return False


def _json_safe(value: Any) -> Any:
    return value if _plain(value) else to_json_safe(value)


# The model's fields in declaration order, for building events positionally: Django's __init__
# takes its fast path for positional values (no lookup of each keyword among the fields), which
# is most of the cost of a 10,000-event append's Python side (a payment run's approval).
_EVENT_FIELDS = tuple(field.attname for field in AuditEvent._meta.concrete_fields)


def _event(fields: dict[str, Any]) -> AuditEvent:
    values = {**fields, "id": uuid7(), "created_at": None}  # set on insert (auto_now_add)
    # django-stubs types positional model arguments as the first field's only.
    return AuditEvent(*(values[name] for name in _EVENT_FIELDS))  # type: ignore[misc]


def model_snapshot(instance: Any) -> dict[str, Any]:
    """A row's stored fields as JSON-safe values (the `before`/`after` of an audit event)."""
    return to_json_safe(
        {
            field.attname: getattr(instance, field.attname)
            for field in instance._meta.concrete_fields
            if field.attname not in ("tenant_id", "key_hash")
        }
    )


def document_snapshot(document: Any) -> dict[str, Any]:
    """An incoming document (a dataclass with its lines) as JSON-safe values, as it was received."""
    return to_json_safe(dataclasses.asdict(document))


def outbox_subject(event_type: str, *, tenant_id: Any = None) -> str:
    """`invoice.discrepancy.detected` → its configured subject; others → `recon.<event_type>`.

    Audit checkpoints go to `recon.audit.checkpoint.<tenant id>`: one subject per tenant, so a
    verifier reads a tenant's checkpoints straight from the stream (audit.witness).
    """
    if event_type == "invoice.discrepancy.detected":
        return settings.NATS_DISCREPANCY_SUBJECT
    if event_type == "audit.checkpoint":
        return f"{settings.NATS_SUBJECT_PREFIX}.{event_type}.{tenant_id}"
    return f"{settings.NATS_SUBJECT_PREFIX}.{event_type}"


def outbox_enqueue(*, tenant: TenantRef, event_type: str, payload: dict[str, Any]) -> OutboxMessage:
    """Queue an event in the envelope the consumers expect (DESIGN.md §7), in this transaction."""
    return outbox_enqueue_many(tenant=tenant, events=[(event_type, payload)])[0]


def outbox_enqueue_many(*, tenant: TenantRef, events: list[tuple[str, dict[str, Any]]]) -> list[OutboxMessage]:
    """Queue several `(event_type, payload)` events with one INSERT (batch matching), in this transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError(NOT_IN_TRANSACTION)
    if not events:
        return []
    timestamp = canonical_timestamp(timezone.now())
    messages = [
        OutboxMessage(
            tenant_id=tenant.pk,
            subject=outbox_subject(event_type, tenant_id=tenant.pk),
            payload={
                "event_type": event_type,
                "source": "recon",
                "tenant_id": str(tenant.pk),
                "timestamp": timestamp,
                # As an audit event's before/after: plain JSON already (most payloads: ids as
                # text, amounts in minor units) skips the round trip through the encoder, which
                # cost more than the rest of a 2,700-event enqueue (a reconciliation run's).
                "payload": _json_safe(payload),
            },
        )
        for event_type, payload in events
    ]
    tenant_rows_insert(tenant=tenant, rows=messages)
    if settings.NATS_ENABLED and not any(func is _kick_publisher for _, func, *_ in connection.run_on_commit):
        # Publish promptly after commit rather than waiting for the schedule; once per transaction.
        # Robust: with the task broker (Redis) down the change is committed all the same, and the
        # schedule publishes it; the caller must not get an error for a commit that happened.
        transaction.on_commit(_kick_publisher, robust=True)
    return messages


def _kick_publisher() -> None:
    from django_q.tasks import async_task

    async_task("audit.tasks.publish_outbox", task_name="publish-outbox-now")
