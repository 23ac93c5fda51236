"""Re-computing a tenant's audit chain, to prove nobody changed, removed or slipped in an event."""

from __future__ import annotations

from dataclasses import dataclass

from audit.chain import GENESIS_HASH, event_hash
from audit.fields import HASHED_FIELDS
from audit.models import AuditEvent
from core.tenancy.ref import TenantRef


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    event_id: str
    reason: str


@dataclass(frozen=True)
class ChainReport:
    tenant: TenantRef
    count: int
    head_hash: str
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None


def audit_chain_verify(*, tenant: TenantRef) -> ChainReport:
    """Walk the tenant's events in sequence order and name the first that does not fit.

    An edited event fails its own hash; a deleted one leaves a gap in the sequence (and the next
    event's `prev_hash` points at nothing); one inserted or re-ordered breaks the `prev_hash` link
    or goes back in time.
    """
    expected_sequence, prev_hash, previous_time, count = 1, GENESIS_HASH, None, 0
    events = AuditEvent.objects.for_tenant(tenant).order_by("sequence").values("id", *HASHED_FIELDS, "hash")
    for event in events.iterator(chunk_size=2000):
        reason = None
        if event["sequence"] != expected_sequence:
            reason = f"sequence {event['sequence']} where {expected_sequence} was expected (an event is missing)"
        elif event["prev_hash"] != prev_hash:
            reason = "prev_hash does not match the previous event's hash (inserted or re-ordered)"
        elif event_hash(event) != event["hash"]:
            reason = "its content does not match its hash (the event was altered)"
        elif previous_time is not None and event["occurred_at"] < previous_time:
            reason = "it is dated before the event preceding it (out of order)"
        if reason is not None:
            return ChainReport(tenant, count, prev_hash, ChainBreak(event["sequence"], str(event["id"]), reason))
        expected_sequence += 1
        prev_hash = event["hash"]
        previous_time = event["occurred_at"]
        count += 1
    return ChainReport(tenant, count, prev_hash, None)
