"""Re-computing a tenant's audit chain, to prove nobody changed, removed or slipped in an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.chain import GENESIS_HASH, event_hash
from audit.fields import HASHED_FIELDS, WRITE_ORDER_FIELDS
from audit.models import AuditEvent
from audit.sealer import UnsealedSummary, audit_unsealed_summary
from core.tenancy.ref import TenantRef


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    tenant: TenantRef
    count: int  # sealed events that verify
    head_hash: str
    broken: ChainBreak | None
    unsealed: UnsealedSummary

    @property
    def intact(self) -> bool:
        return self.broken is None


def audit_chain_verify(*, tenant: TenantRef) -> ChainReport:
    """Walk the tenant's sealed events in sequence order and name the first that does not fit; count
    the events not sealed yet (audit.sealer), which no chain vouches for.

    An edited event fails its own hash; a deleted one leaves a gap in the sequence (and the next
    event's `prev_hash` points at nothing); one inserted or re-ordered breaks the `prev_hash` link.
    The sealer chains in the order of writing (`xid`, `append_seq`), so a sealed event out of that
    order had its stamps changed, which would re-order what readers list (audit.fields). Not
    checked: `occurred_at` order. A transaction that ran long is sealed after events written
    later and committed first, so an event may be dated before the one preceding it.
    """
    expected_sequence, prev_hash, previous_order, count = 1, GENESIS_HASH, None, 0
    unsealed = audit_unsealed_summary(tenant=tenant)
    events = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(sequence__isnull=False)
        .order_by("sequence")
        .values("id", *HASHED_FIELDS, "hash", *WRITE_ORDER_FIELDS)
    )
    for event in events.iterator(chunk_size=2000):
        reason = None
        if event["sequence"] != expected_sequence:
            reason = f"sequence {event['sequence']} where {expected_sequence} was expected (an event is missing)"
        elif event["prev_hash"] != prev_hash:
            reason = "prev_hash does not match the previous event's hash (inserted or re-ordered)"
        elif event_hash(event) != event["hash"]:
            reason = "its content does not match its hash (the event was altered)"
        elif previous_order is not None and _write_order(event) <= previous_order:
            reason = "it was written before the event preceding it (its transaction id or order was altered)"
        if reason is not None:
            broken = ChainBreak(event["sequence"], str(event["id"]), reason)
            return ChainReport(tenant, count, prev_hash, broken, unsealed)
        expected_sequence += 1
        prev_hash = event["hash"]
        previous_order = _write_order(event)
        count += 1
    return ChainReport(tenant, count, prev_hash, None, unsealed)


def _write_order(event: dict[str, Any]) -> tuple[int, ...]:
    return tuple(event[name] for name in WRITE_ORDER_FIELDS)
