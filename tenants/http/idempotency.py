"""`Idempotency-Key` on POST (DESIGN.md §8), stored in PostgreSQL.

The whole keyed request runs in one transaction that first takes a transaction-scoped advisory
lock on (tenant, key):

- lock not available → another request with this key is running → 409;
- a stored response for the key with the same body fingerprint → replayed as it was;
- a stored response with another fingerprint → 422;
- otherwise the view runs, and its response is stored *in the same transaction* as the
  documents it created. A crash anywhere rolls both back, so a key can never leave a created
  invoice without its stored response (which a retry would then duplicate), nor the reverse.

5xx responses are not stored (the transaction is rolled back), so a retry after a server
fault runs again. Keys are per tenant and kept `IDEMPOTENCY_KEY_TTL_HOURS` (≥ 24 h).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone

from core import locks
from core.exceptions import DomainError
from core.http.schema import IDEMPOTENCY_KEY_MAX_LENGTH
from core.ids import uuid7
from core.tenancy.scoping import tenant_cursor
from tenants.models import IdempotencyRecord, Tenant

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

KEY_IN_FLIGHT = "A request with this Idempotency-Key is still being processed; retry shortly."
KEY_REUSED = "This Idempotency-Key was already used with a different request body."
KEY_TOO_LONG = f"Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."


class IdempotencyInFlight(DomainError):
    status_code = 409
    code = "idempotency_key_in_flight"


class IdempotencyKeyReused(DomainError):
    status_code = 422
    code = "idempotency_key_reused"


class IdempotencyKeyInvalid(DomainError):
    status_code = 400
    code = "idempotency_key_invalid"


# PostgreSQL's jsonb cannot hold U+0000 in any string, yet an error may echo a NUL the client
# sent (a CSV column name, a field value). Such a body is stored as its JSON text under this one
# key and read back on replay, so the replay is still exactly the first answer.
_BODY_AS_TEXT = "json_text_with_nul"


def _storable(text: str) -> str:
    """The JSON text to store for a response body's JSON text."""
    return json.dumps({_BODY_AS_TEXT: text}) if "\\u0000" in text else text


def _replayable(stored: Any) -> Any:
    if isinstance(stored, dict) and set(stored) == {_BODY_AS_TEXT}:
        return json.loads(stored[_BODY_AS_TEXT])
    return stored


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: Any


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request; JSON bodies are canonicalized so key order and spacing don't matter."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


def _lock_id(tenant: Tenant, key: str) -> int:
    digest = hashlib.blake2b(f"{tenant.pk}:{key}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def idempotency_begin(*, tenant: Tenant, key: str, fingerprint: str) -> StoredResponse | None:
    """Inside the request's transaction: lock the key and claim it, or return a response to replay.

    One statement in the usual case, a new key: the lock taken, and the key's record inserted
    (`in_flight`, in this transaction only) when none is stored — `INSERT … ON CONFLICT DO
    NOTHING`, which sees records committed after the statement began, so a request that took the
    lock just as an earlier one with the key committed finds its record all the same. A key
    already used reads its record with a second.
    """
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise IdempotencyKeyInvalid(KEY_TOO_LONG)
    locked, claimed = _claim(tenant=tenant, key=key, fingerprint=fingerprint)
    if not locked:
        raise IdempotencyInFlight(KEY_IN_FLIGHT)
    if claimed:
        return None
    expiry = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    record = IdempotencyRecord.objects.for_tenant(tenant).get(key=key)
    if record.created_at < expiry:
        # Gone now, before the request's own writes: a DELETE is a row lock, and the lock order
        # (core/locks.py) puts row locks before the audit lock those writes end with.
        record.delete()
        IdempotencyRecord.objects.create(tenant=tenant, key=key, request_fingerprint=fingerprint)
        return None
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(KEY_REUSED)
    return StoredResponse(status=record.response_status or 200, body=_replayable(record.response_body))


def _claim(*, tenant: Tenant, key: str, fingerprint: str) -> tuple[bool, bool]:
    """(the key's lock was taken, the key's record was inserted here), in one statement."""
    meta = IdempotencyRecord._meta
    # The model's table; every value a parameter.
    sql = (
        "WITH claim AS (SELECT pg_try_advisory_xact_lock(%s, %s) AS locked),"  # noqa: S608
        f" claimed AS (INSERT INTO {meta.db_table} (id, tenant_id, created_at, key, request_fingerprint, state)"
        " SELECT %s, %s, %s, %s, %s, %s FROM claim WHERE locked"
        " ON CONFLICT (tenant_id, key) DO NOTHING RETURNING id)"
        " SELECT locked, EXISTS (SELECT FROM claimed) FROM claim"
    )
    # The lock class first: core.locks.LockOrderCheck reads it there.
    params = [locks.IDEMPOTENCY, _lock_id(tenant, key)]
    params += [uuid7(), tenant.pk, timezone.now(), key, fingerprint, IdempotencyRecord.State.IN_FLIGHT]
    if not connection.in_atomic_block:
        raise RuntimeError("An Idempotency-Key is claimed inside the request's transaction: the lock ends with it.")
    with tenant_cursor(tenant) as cursor:
        cursor.execute(sql, params)
        locked, claimed = cursor.fetchone()
    return bool(locked), bool(claimed)


def idempotency_complete(*, tenant: Tenant, key: str, fingerprint: str, status: int, body_json: str) -> None:
    """Store the response of a keyed request in its record (same transaction as the request's
    writes). `body_json`: the body as JSON text (encoded once, by the caller), stored as it is."""
    IdempotencyRecord.objects.for_tenant(tenant).filter(key=key, request_fingerprint=fingerprint).update(
        state=IdempotencyRecord.State.DONE,
        response_status=status,
        response_body=RawSQL("%s::jsonb", (_storable(body_json),)),
        completed_at=timezone.now(),
    )
