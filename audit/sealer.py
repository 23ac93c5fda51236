"""Sealing: chaining a tenant's committed audit events onto its hash chain, after their commit.

A writer inserts its events *unsealed* in its own transaction (audit.services): no chain position,
no hashes, and no tenant-wide lock, so a tenant's audited writes do not queue behind each other
until commit. The database stamps each event with its transaction's id (`xid`, from
`pg_current_xact_id()`) and a database sequence's value (`append_seq`). The sealer then, under the
tenant's audit lock (core/locks.py, held only while it seals), takes the tenant's unsealed events
in `(xid, append_seq)` order, gives each the next `sequence`, its predecessor's hash as
`prev_hash`, and its own `hash` (audit.chain), and writes the three columns in one UPDATE.

The high-water mark. An event is sealed only when its `xid` is below the smallest transaction id
that can still commit in this database: the oldest transaction of this database still running
(pg_stat_activity.backend_xid, and prepared transactions), or, when there is none, the sealer's
own xid + 1. Every transaction with a smaller id has ended, so each of its events is visible to
the sealer's next statement or rolled back for ever; every event still to come — from a running
transaction or one not begun — has a larger id. So the sealed events are always the first ones
of the `(xid, append_seq)` order, for good: a later commit can never slip in before a sealed
event, and one transaction's events stay together, in the order it wrote them. This is the
`pg_snapshot_xmin(pg_current_snapshot())` rule restricted to this database: snapshots span the
whole PostgreSQL cluster, where any other database's long transaction would hold the seal back.
Ordering by `xid` rather than by `append_seq` alone is what makes the sealed events a prefix: an
older transaction can take its `append_seq` after a younger one that committed first.

The chain never forks: only the sealer writes positions, one per tenant at a time (the lock), and
each run re-reads the head after taking it; the UPDATE also only touches rows still unsealed, and
the table's trigger refuses any other change (migration 0005).

The window between commit and seal. A committed event is in the table, shown by every reader
(marked as not yet sealed), but no chain vouches for it until the sealer runs: a superuser who
deleted it before then would leave nothing to detect. The sealer runs right after each audited
commit (`audit_seal_soon`, a django-q2 task), on the `AUDIT_SEAL_EVERY_MINUTES` schedule for
everything else, and by `manage.py seal_audit`. A transaction still open holds back the sealing of
every event written after it started writing, until it ends (so a long one widens the window for
all tenants of the database); `verify_audit` reports each tenant's unsealed events and the age of
the oldest. A checkpoint (audit.checkpoints) only ever covers sealed events.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Min
from django.utils import timezone

from audit.chain import GENESIS_HASH, event_hash
from audit.fields import CHAIN_FIELDS, HASHED_FIELDS
from audit.models import CHAIN_ORDER, AuditEvent
from core import locks
from core.tenancy.ref import TenantRef
from core.tenancy.scoping import tenant_rows_update

logger = logging.getLogger(__name__)

# Events sealed per UPDATE (and per transaction): the tenant's lock is released between batches.
SEAL_BATCH = 5000
_CONTENT_FIELDS = tuple(name for name in HASHED_FIELDS if name not in CHAIN_FIELDS)

# The smallest transaction id that may still commit in this database (see the module doc).
# `backend_xid` is a 32-bit xid: widened to the 64-bit id (`xid8`) of the same epoch as our
# own, the running ids being within 2^31 of it (PostgreSQL's wraparound limit).
_HIGH_WATER_MARK = """
WITH own AS (SELECT pg_current_xact_id()::text::bigint AS xid),
running AS (
    SELECT backend_xid::text::bigint AS xid32 FROM pg_stat_activity
    WHERE datid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()
    UNION ALL
    SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database = current_database()
)
SELECT LEAST(
    own.xid + 1,
    (SELECT min(own.xid - (((own.xid % 4294967296) - running.xid32 + 6442450944) % 4294967296 - 2147483648))
     FROM running)
)
FROM own
"""


@dataclass(frozen=True)
class SealedTenant:
    """A tenant as a task names it (its id): audit sits below the tenants app and cannot load one."""

    pk: uuid.UUID
    slug: str

    @classmethod
    def of(cls, tenant_id: str) -> SealedTenant:
        return cls(pk=uuid.UUID(tenant_id), slug=tenant_id)


@dataclass(frozen=True)
class SealReport:
    sealed: int  # events sealed by this run
    unsealed: int  # events left unsealed (committed, but held back by an older open transaction)
    head_sequence: int


@dataclass(frozen=True)
class UnsealedSummary:
    count: int
    oldest_occurred_at: dt.datetime | None

    def oldest_age_seconds(self, now: dt.datetime | None = None) -> float | None:
        if self.oldest_occurred_at is None:
            return None
        return ((now or timezone.now()) - self.oldest_occurred_at).total_seconds()


def audit_high_water_mark() -> int:
    """Events with a smaller `xid` can be sealed now: no transaction below it can still commit."""
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction and then served from a copy: forget it, so
        # a transaction that ended since (a test's own, sealing twice) is seen to have ended.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(_HIGH_WATER_MARK)
        return int(cursor.fetchone()[0])


def audit_seal(*, tenant: TenantRef) -> SealReport:
    """Chain the tenant's committed unsealed events (see the module doc); safe to run at any time,
    twice, or concurrently (the second waits for the first and finds less to do)."""
    total = 0
    while True:
        with transaction.atomic():
            sealed, head_sequence, more = _seal_batch(tenant=tenant)
        total += sealed
        if not more:
            break
    unsealed = AuditEvent.objects.for_tenant(tenant).filter(sequence__isnull=True).count()
    return SealReport(sealed=total, unsealed=unsealed, head_sequence=head_sequence)


def _seal_batch(*, tenant: TenantRef) -> tuple[int, int, bool]:
    """One batch, in the caller's transaction: (sealed, head sequence, whether more may be waiting)."""
    locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
    # After the lock: a sealer that ran meanwhile has committed, and its positions are read here.
    high_water = audit_high_water_mark()
    events = AuditEvent.objects.for_tenant(tenant)
    head = events.filter(sequence__isnull=False).order_by("-sequence").values_list("sequence", "hash").first()
    sequence, prev_hash = head if head is not None else (0, GENESIS_HASH)
    pending = list(
        events.filter(sequence__isnull=True, xid__lt=high_water)
        .order_by(*CHAIN_ORDER)
        .values("id", *_CONTENT_FIELDS)[:SEAL_BATCH]
    )
    rows = []
    for event in pending:
        sequence += 1
        event["sequence"], event["prev_hash"] = sequence, prev_hash
        prev_hash = event_hash(event)
        rows.append((event["id"], sequence, event["prev_hash"], prev_hash))
    if rows:
        updated = tenant_rows_update(
            tenant=tenant, model=AuditEvent, fields=CHAIN_FIELDS, rows=rows, only_where={"sequence": None}
        )()
        if updated != len(rows):  # cannot happen under the lock; a fork is never written
            raise RuntimeError(f"sealing tenant {tenant.pk}: {updated} of {len(rows)} events were still unsealed")
    return len(rows), sequence, len(rows) == SEAL_BATCH


def audit_unsealed_summary(*, tenant: TenantRef) -> UnsealedSummary:
    """How many of the tenant's events are not sealed yet, and when the oldest was written."""
    summary = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(sequence__isnull=True)
        .aggregate(count=Count("id"), oldest=Min("occurred_at"))
    )
    return UnsealedSummary(count=summary["count"], oldest_occurred_at=summary["oldest"])


# How long a tenant's pending prompt seal is remembered: a kick lost with its worker is retried
# after this long by the next commit, and the schedule seals in any case.
_KICK_PENDING_SECONDS = 30
# How long a prompt seal waits for events an open transaction holds back before it leaves them to
# the schedule (or the commit of that transaction, which asks for a seal of its own).
SEAL_SOON_WAIT_SECONDS = 2.0


def _kick_key(tenant_id: object) -> str:
    return f"audit-seal-pending:{tenant_id}"


def audit_seal_soon(*, tenant: TenantRef) -> None:
    """After commit: ask a worker to seal the tenant's chain, unless a request is already queued.

    At most one request waits per tenant (a cache key, cleared when the worker starts on it, so a
    commit after that start asks again): under load, one seal run takes what many commits wrote.
    """
    from django_q.tasks import async_task

    try:
        if cache.add(_kick_key(tenant.pk), 1, timeout=_KICK_PENDING_SECONDS):
            async_task("audit.tasks.seal_audit_chain", str(tenant.pk), task_name="seal-audit-now")
    except Exception:
        # The events are committed; the schedule seals them.
        logger.exception("Could not ask for a seal of tenant %s's audit chain; the schedule will", tenant.pk)


def audit_seal_requested(*, tenant: TenantRef) -> SealReport:
    """The worker's side of `audit_seal_soon`: seal, and wait a little for events held back."""
    cache.delete(_kick_key(tenant.pk))
    deadline = time.monotonic() + SEAL_SOON_WAIT_SECONDS
    report = audit_seal(tenant=tenant)
    while report.unsealed and time.monotonic() < deadline:
        time.sleep(0.1)
        report = audit_seal(tenant=tenant)
    return report
