"""The hash chain of a tenant's audit events: canonical form and hashing.

Canonical form of an event (what its `hash` covers, audit.fields.HASHED_FIELDS): the JSON object

    {"action", "actor_id", "actor_kind", "actor_label", "after", "before", "entity_id",
     "entity_type", "occurred_at", "prev_hash", "request_id", "sequence", "tenant_id"}

serialized with keys sorted at every level, no whitespace (separators `,` and `:`), non-ASCII
kept as UTF-8, `occurred_at` as ISO 8601 in UTC with microseconds (`2026-11-21T14:08:00.123456+00:00`),
`tenant_id` as the lowercase hyphenated UUID. `hash = sha256(utf8(canonical)).hexdigest()`.
The first event of a tenant has `prev_hash` = 64 zeros. Anyone with a database export can
recompute the chain with these rules and nothing else.

`before`/`after` hold JSON-safe values only (strings, integers, booleans, null, lists, objects):
`to_json_safe` turns Decimals and dates into strings first, so what is hashed is exactly what
PostgreSQL stores and gives back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from audit.fields import HASHED_FIELDS

GENESIS_HASH = "0" * 64


def to_json_safe(value: Any) -> Any:
    """Plain JSON values: Decimal → "12.50", date → "2026-11-21", UUID → str."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def canonical_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical_form(event: dict[str, Any]) -> bytes:
    body = {name: event[name] for name in HASHED_FIELDS}
    body["occurred_at"] = canonical_timestamp(event["occurred_at"])
    body["tenant_id"] = str(event["tenant_id"])
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_form(event)).hexdigest()
