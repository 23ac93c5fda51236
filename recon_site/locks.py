"""Per-tenant PostgreSQL advisory locks: one key scheme, and the lock classes side by side.

A lock held by the database dies with its connection (DESIGN.md §1): no TTL to guess, and it
holds across any number of worker nodes. Each use has its own class (the first int4), so two
uses never block each other; the second int4 is derived from the tenant, so tenants never do.
Listed here together so a new class cannot collide with an existing one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import connection

AUDIT = 0xA0D  # appends to a tenant's audit hash chain (transaction)
IDEMPOTENCY = 0x1DE  # one request per (tenant, Idempotency-Key) (transaction; keyed by the key too)
MATCHING = 0x3A7C  # a matching run (session), and goods receipts waiting for it (transaction)
RECONCILIATION = 0x4EC0  # a reconciliation run (session)
STATEMENT_IMPORT = 0x57A7  # a bank statement import (transaction)


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
        return bool(cursor.fetchone()[0])


def tenant_unlock(lock_class: int, tenant_id: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, tenant_lock_key(tenant_id)])


def tenant_lock_wait(lock_class: int, tenant_id: Any) -> None:
    """Wait for the lock and hold it to the end of the current transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("A transaction-level lock needs a transaction: the lock ends with it.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [lock_class, tenant_lock_key(tenant_id)])
