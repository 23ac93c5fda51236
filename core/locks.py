"""Per-tenant PostgreSQL advisory locks, row locks, and the one order every transaction takes them in.

A lock held by the database dies with its connection (DESIGN.md §1): no TTL to guess, and it
holds across any number of worker nodes. Each advisory use has its own class (the first int4), so
two uses never block each other; the second int4 is derived from the tenant, so tenants never do.
Listed here together so a new class cannot collide with an existing one.

The lock order
--------------
Two transactions deadlock when each holds a lock the other waits for. They cannot when every
transaction takes its locks in one order, so this is the order, lowest rank first:

1. `IDEMPOTENCY` — a keyed request's (tenant, Idempotency-Key); the first statement of its
   transaction (tenants.http.idempotency).
2. `MATCHING` — a goods receipt waits for the tenant's matching run before it writes anything.
3. `STATEMENT_IMPORT` — one bank statement import per tenant.
4. Row locks: `SELECT … FOR NO KEY UPDATE` (`select_for_update(no_key=True)`) of the rows the
   transaction will change. Among themselves: the tenant's own rows (tenant, settings) before
   documents, and several rows of one table in primary-key order. An UPDATE locks its rows
   too: a row other writers contend for is locked by a SELECT first (and so checked); an UPDATE
   of rows the transaction made itself, or that only its run's session lock guards (a match
   run's record), blocks nobody and may come anywhere.
5. `AUDIT` — the tenant's audit hash chain, taken by the sealer (audit.sealer) in a transaction
   of its own, while it chains the tenant's committed events. Writers of audit events do not take
   it (they insert unsealed events), so it no longer queues a tenant's writes behind each other.

Taking a lock of a lower rank while holding one of a higher rank, in one transaction, is the
mistake that deadlocks; the same rank again (another invoice row, the audit lock twice) is fine.

Why row locks are `FOR NO KEY UPDATE`, never plain `FOR UPDATE`: Django declares foreign keys
`DEFERRABLE INITIALLY DEFERRED`, so PostgreSQL checks them at COMMIT — after every other lock of
the transaction — and each check takes `FOR KEY SHARE` on the referenced row (the
tenant's row, for every tenant-owned row). `FOR UPDATE` conflicts with `FOR KEY SHARE`; `FOR NO
KEY UPDATE` does not. A transaction that held a tenant row `FOR UPDATE` and then waited for the
audit lock deadlocked against any audited write of that tenant, which held the audit lock and
waited at COMMIT for its foreign-key check on that row (issue #15: webhook-secret rotation, 22 of
38 requests failed; writers no longer take the audit lock, but any lock held to COMMIT closes the
same cycle). So rank-4 locks are taken `FOR NO KEY UPDATE`: they still serialize writers
of the row, and never block a foreign-key check. (An UPDATE of a unique column, or a DELETE, still
takes the stronger lock; such writes of a row other transactions reference do not happen under
the audit lock.)

Session locks (`tenant_lock_try`: a matching or reconciliation run) are taken outside any
transaction, before all of the above; each transaction of the run then follows the order.

Checked, not only written down: `LockOrderCheck` (installed on every connection by
`core.tenancy.db_backend`) raises `LockOrderViolation` on a statement that breaks the order, when
`settings.LOCK_ORDER_CHECKS` is on (default off; the test suite turns it on). It reads the
statements as they are sent, so it sees the ORM's row locks as well as these helpers' locks.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from core.tenancy.ref import TenantRef

AUDIT = 0xA0D  # sealing a tenant's audit hash chain (transaction)
IDEMPOTENCY = 0x1DE  # one request per (tenant, Idempotency-Key) (transaction; keyed by the key too)
MATCHING = 0x3A7C  # a matching run (session), and goods receipts waiting for it (transaction)
RECONCILIATION = 0x4EC0  # a reconciliation run (session)
STATEMENT_IMPORT = 0x57A7  # a bank statement import (transaction)

# The order above, by rank. ROWS is not an advisory class: any row lock or row write.
ROWS = -1
RANK: dict[int, int] = {IDEMPOTENCY: 1, MATCHING: 2, STATEMENT_IMPORT: 3, ROWS: 4, AUDIT: 5}
LOCK_NAME: dict[int, str] = {
    IDEMPOTENCY: "the idempotency-key lock",
    MATCHING: "the tenant's matching lock",
    STATEMENT_IMPORT: "the tenant's statement-import lock",
    ROWS: "a row lock",
    AUDIT: "the tenant's audit-chain lock",
}

LOCK_ORDER_BROKEN = (
    "Lock order broken: {taking} is taken after {holding} in the same transaction. The order is "
    "idempotency key < matching < statement import < row locks < audit chain (core/locks.py); "
    "a transaction taking them the other way round deadlocks against one that follows it. "
    "Statement: {statement}"
)
ROW_LOCK_BLOCKS_FOREIGN_KEYS = (
    "SELECT … FOR UPDATE blocks the foreign-key checks every audited transaction makes at COMMIT, "
    "after the audit lock (a deadlock): lock rows with select_for_update(no_key=True) "
    "(core/locks.py). Statement: {statement}"
)


class LockOrderViolation(RuntimeError):
    """A statement that would take a lock against the documented order (a latent deadlock)."""


def tenant_lock_key(tenant_id: Any) -> int:
    """32 bits of a hash of the tenant id; two tenants sharing them would only take turns."""
    digest = hashlib.blake2b(str(tenant_id).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def tenant_lock_try(lock_class: int, tenant_id: Any) -> bool:
    """Take the session lock if free; held until `tenant_unlock` or the connection ends.

    For work that spans several transactions (a run: its record, the batch write, retries).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, tenant_lock_key(tenant_id)])
        taken = bool(cursor.fetchone()[0])
    if taken:
        _session_locks().add((lock_class, tenant_lock_key(tenant_id)))
    return taken


def tenant_unlock(lock_class: int, tenant_id: Any) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, tenant_lock_key(tenant_id)])
    finally:
        _session_locks().discard((lock_class, tenant_lock_key(tenant_id)))


def session_locks_held() -> bool:
    """Whether this thread's connection holds a session lock (a run in progress): closing it would
    release the lock while the run goes on, and another worker could start the same tenant's run
    (core.task_broker.SessionLockSafeOrm keeps django-q2's ORM broker from doing that)."""
    return bool(_session_locks())


def _session_locks() -> set[tuple[int, int]]:
    """The session locks taken through this module on this thread's connection. Emptied when a new
    connection is made (`_new_connection_holds_no_lock`): the server released them with the old one."""
    held: set[tuple[int, int]] | None = getattr(connection, "recon_session_locks", None)
    if held is None:
        held = set()
        connection.recon_session_locks = held  # type: ignore[attr-defined]
    return held


@receiver(connection_created)
def _new_connection_holds_no_lock(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.recon_session_locks = set()


def tenant_lock_wait(lock_class: int, tenant_id: Any) -> None:
    """Wait for the lock and hold it to the end of the current transaction (see the order above)."""
    transaction_lock_wait(lock_class, tenant_lock_key(tenant_id))


def matching_lock_wait(*, tenant: TenantRef) -> None:
    """Wait for the tenant's matching lock and hold it to the end of the current transaction.

    Goods receipts (and PO changes, and the CSV import) take it before they write anything: a run
    loads received quantities, matches, then writes `on_hold`; a receipt committed in between
    would find the invoice still `received` (nothing to release) and the run would then put it
    on hold for goods that already arrived. Waiting for the run (one batch at most) closes that
    gap. Taken first in the transaction, before the audit lock, in the same order as a run
    (matching lock, then audit lock), so the two cannot deadlock. Here, in the kernel, because
    the writers that wait sit below matching.
    """
    tenant_lock_wait(MATCHING, tenant.pk)


def transaction_lock_wait(lock_class: int, key: int) -> None:
    """Wait for the advisory lock (`lock_class`, `key`) and hold it to the end of the transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("A transaction-level lock needs a transaction: the lock ends with it.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [lock_class, key])


def transaction_lock_try(lock_class: int, key: int) -> bool:
    """Take the advisory lock (`lock_class`, `key`) to the end of the transaction if it is free."""
    if not connection.in_atomic_block:
        raise RuntimeError("A transaction-level lock needs a transaction: the lock ends with it.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [lock_class, key])
        return bool(cursor.fetchone()[0])


# What the checker recognizes in a statement. Row locks are what Django's select_for_update()
# appends to a SELECT; function bodies (a migration creating a trigger) never start with SELECT.
_ADVISORY_XACT = re.compile(r"\bpg_(?:try_)?advisory_xact_lock(?:_shared)?\s*\(", re.IGNORECASE)
_SELECT = re.compile(r"^\s*\(?\s*SELECT\b", re.IGNORECASE)
# An advisory lock may also be taken in a CTE (tenants.http.idempotency claims a key with one).
_WITH = re.compile(r"^\s*WITH\b", re.IGNORECASE)
_ROW_LOCK = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.IGNORECASE)
_KEY_BLOCKING_ROW_LOCK = re.compile(r"\bFOR\s+UPDATE\b", re.IGNORECASE)
_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"([^"]+)"', re.IGNORECASE)


@functools.cache
def referenced_tables() -> frozenset[str]:
    """Tables some foreign key points at: the rows a COMMIT's foreign-key checks lock `FOR KEY SHARE`.

    A plain `FOR UPDATE` elsewhere (Django's own `update_or_create` takes one) blocks no such check.
    """
    from django.apps import apps

    return frozenset(
        field.related_model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is not None
    )


def order_checks_enabled() -> bool:
    return bool(settings.LOCK_ORDER_CHECKS)


def statement_lock(sql: str, params: Any) -> int | None:
    """The lock a statement takes, as a key of `RANK` (an advisory class, or ROWS); None if none."""
    select = bool(_SELECT.match(sql))
    if not select and not _WITH.match(sql):
        return None  # INSERTs (however long) are read no further
    if _ADVISORY_XACT.search(sql):
        if isinstance(params, (list, tuple)) and params and params[0] in RANK:
            return int(params[0])
        return None
    return ROWS if select and _ROW_LOCK.search(sql) else None


class LockOrderCheck:
    """An execute wrapper (`core.tenancy.db_backend` installs one per connection) that refuses a
    statement taking a lock against the order, while `order_checks_enabled()`.

    It remembers the highest rank taken in the current *application* transaction: the outermost
    `transaction.atomic()` block that is not a test case's own (a `TestCase` runs each test
    inside one database transaction, and each service's block is then a savepoint, which in
    production is a transaction of its own). `transaction_key` names that transaction.
    """

    def __init__(self, transaction_key: Callable[[], Any]) -> None:
        self.transaction_key = transaction_key
        self.key: Any = None
        self.held: tuple[int, str] | None = None  # (lock class, statement) of the highest rank
        # The lock statements sent in the transaction: the same one again (the same advisory
        # key, the same row by the same query) asks for a lock the transaction already holds,
        # waits for nobody, and so cannot break the order.
        self.taken: set[tuple[str, Any]] = set()

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if context["connection"].in_atomic_block and order_checks_enabled():
            lock = statement_lock(sql, params)
            if lock is not None:
                self.check(lock, sql, params)
        return execute(sql, params, many, context)

    def check(self, lock: int, sql: str, params: Any = None) -> None:
        key = self.transaction_key()
        if key != self.key:
            self.key, self.held, self.taken = key, None, set()
        statement = " ".join(sql.split())[:300]
        if (
            lock == ROWS
            and _SELECT.match(sql)
            and _KEY_BLOCKING_ROW_LOCK.search(sql)
            and not referenced_tables().isdisjoint(_TABLE.findall(sql))
        ):
            raise LockOrderViolation(ROW_LOCK_BLOCKS_FOREIGN_KEYS.format(statement=statement))
        again = (sql, _hashable(params))
        if again in self.taken:
            return
        self.taken.add(again)
        if self.held is not None and RANK[lock] < RANK[self.held[0]]:
            raise LockOrderViolation(
                LOCK_ORDER_BROKEN.format(
                    taking=LOCK_NAME[lock],
                    holding=LOCK_NAME[self.held[0]],
                    statement=statement,
                )
            )
        if self.held is None or RANK[lock] > RANK[self.held[0]]:
            self.held = (lock, statement)


def _hashable(params: Any) -> Any:
    if isinstance(params, (list, tuple)):
        return tuple(_hashable(value) for value in params)
    if isinstance(params, dict):
        return tuple(sorted((key, _hashable(value)) for key, value in params.items()))
    try:
        hash(params)
    except TypeError:
        return repr(params)
    return params
