"""The audit field list is named once (audit.fields): the hash, the verification, the export and
the API read it, every stored column but the id and the hash is hashed, and no second list of an
event's fields creeps back into the code."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import uuid
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

import audit.chain
from audit.chain import canonical_form, event_hash
from audit.fields import ACTOR_FIELDS, HASHED_FIELDS, PUBLISHED_FIELDS, WRITE_ORDER_FIELDS
from audit.models import AuditEvent
from audit.services import audit_record
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR
from tests.source_scan import app_modules, literal_collections

KNOWN_EVENT: dict[str, Any] = {
    "id": uuid.UUID("0190f5c2-7a3b-7c00-8000-0000000000ff"),
    "tenant_id": uuid.UUID("0190f5c2-7a3b-7c00-8000-000000000001"),
    "sequence": 7,
    "occurred_at": dt.datetime(2026, 11, 21, 15, 8, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    "actor_kind": "user",
    "actor_id": "42",
    "actor_label": "Zoë Clerk",
    "entity_type": "invoice",
    "entity_id": "inv-1",
    "action": "transition",
    "before": {"status": "received"},
    "after": {"status": "approved", "amount": "12.50"},
    "request_id": "req-1",
    "prev_hash": "ab" * 32,
    "hash": "not part of its own hash",
}
# Computed by the canonical form as written before the field list had one home: an auditor's
# re-computation of an existing chain must give the same hashes for ever.
KNOWN_HASH = "9306eefcb7a88d4cbe4a53d617e09ab82a1fe0cc7a852dedcf71ac5ca51d00be"

A_DIFFERENT_VALUE: dict[str, Any] = {
    "tenant_id": uuid.UUID("0190f5c2-7a3b-7c00-8000-000000000002"),
    "sequence": 8,
    "occurred_at": KNOWN_EVENT["occurred_at"] + dt.timedelta(microseconds=1),
    "before": None,
    "after": {"status": "approved", "amount": "12.51"},
}


def test_a_known_event_hashes_as_it_always_did() -> None:
    assert event_hash(KNOWN_EVENT) == KNOWN_HASH
    assert json.loads(canonical_form(KNOWN_EVENT))["occurred_at"] == "2026-11-21T14:08:00.123456+00:00"


@pytest.mark.parametrize("name", HASHED_FIELDS)
def test_the_hash_covers_each_hashed_field(name: str) -> None:
    changed = {**KNOWN_EVENT, name: A_DIFFERENT_VALUE.get(name, f"{KNOWN_EVENT[name]}!")}
    assert event_hash(changed) != KNOWN_HASH


def test_the_hash_covers_nothing_else() -> None:
    assert set(json.loads(canonical_form(KNOWN_EVENT))) == set(HASHED_FIELDS)
    assert event_hash({**KNOWN_EVENT, "id": uuid.uuid4(), "hash": "x" * 64}) == KNOWN_HASH


def test_every_stored_column_but_the_id_the_hash_and_the_write_order_is_hashed() -> None:
    """A column added to AuditEvent and not to HASHED_FIELDS could be altered unseen. The order of
    writing is not hashed (the database stamps it after the hash could be made) but verified:
    tests/audit/test_sealing.py alters it and expects the verification to name the event."""
    columns = [field.attname for field in AuditEvent._meta.concrete_fields]
    assert [name for name in columns if name not in WRITE_ORDER_FIELDS] == ["id", *HASHED_FIELDS, "hash"]


def test_the_chain_rules_name_the_hashed_fields() -> None:
    """audit/chain.py's docstring is what an auditor recomputes the chain from."""
    listed = re.search(r"\{(\"[^}]*)\}", audit.chain.__doc__ or "", re.DOTALL)
    assert listed is not None
    assert set(re.findall(r'"(\w+)"', listed[1])) == set(HASHED_FIELDS)


def test_the_published_fields_are_the_hashed_ones_and_the_hash_less_the_tenant() -> None:
    assert set(PUBLISHED_FIELDS) == (set(HASHED_FIELDS) - {"tenant_id"}) | {"hash"}
    assert set(ACTOR_FIELDS) <= set(HASHED_FIELDS)


def _two_events(tenant: Tenant) -> list[AuditEvent]:
    """Two events, sealed, as stored."""
    with transaction.atomic():
        written = [
            audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id="v1", action="created"),
            audit_record(
                tenant=tenant,
                actor=TEST_ACTOR,
                entity_type="vendor",
                entity_id="v1",
                action="renamed",
                before={"name": "Acme"},
                after={"name": "Acme GmbH"},
            ),
        ]
    seal(tenant)
    stored = AuditEvent.objects.for_tenant(tenant).in_bulk([event.pk for event in written])
    return [stored[event.pk] for event in written]


@pytest.mark.django_db
def test_the_export_writes_the_published_fields_and_each_line_re_hashes(tmp_path: Path, tenant: Tenant) -> None:
    events = _two_events(tenant)
    day = events[0].occurred_at.date().isoformat()
    prefix = tmp_path / "trail"
    call_command(
        "export_audit", "--tenant", tenant.slug, "--from", day, "--to", day, "--output", str(prefix), stdout=StringIO()
    )
    with open(f"{prefix}.csv", encoding="utf-8") as csv_file:
        assert next(csv.reader(csv_file)) == [*PUBLISHED_FIELDS, "sealed"]
    lines = [json.loads(line) for line in Path(f"{prefix}.jsonl").read_text().splitlines()]
    assert [set(line) for line in lines] == [{*HASHED_FIELDS, "hash"}] * 2
    for line, event in zip(lines, events, strict=True):
        # What an auditor does with the file alone: parse the time back, re-hash, compare.
        line["occurred_at"] = dt.datetime.fromisoformat(line["occurred_at"])
        assert event_hash(line) == line["hash"] == event.hash


@pytest.mark.django_db
def test_the_api_shows_the_published_fields_with_one_actor(api: APIClient, tenant: Tenant) -> None:
    events = _two_events(tenant)
    newest = api.get("/api/audit-events").json()["results"][0]
    assert set(newest) == {"id", "actor", "sealed", *(set(PUBLISHED_FIELDS) - set(ACTOR_FIELDS))}
    assert newest["sealed"] is True
    assert newest["actor"] == {"kind": TEST_ACTOR.kind, "id": str(TEST_ACTOR.id), "label": TEST_ACTOR.label}
    assert (newest["prev_hash"], newest["hash"]) == (events[0].hash, events[1].hash)


def test_no_second_list_of_the_event_fields() -> None:
    """A literal list naming `prev_hash` and other event fields, anywhere but audit/fields.py, is a
    copy that can drift from what the hash covers (the admin's column choice names no prev_hash)."""
    copies = [
        f"{path}:{line}"
        for path, tree in app_modules()
        if path != "audit/fields.py"
        for line, words in literal_collections(tree)
        if {"prev_hash", "sequence"} <= words
    ]
    assert copies == []
