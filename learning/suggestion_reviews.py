"""Tolerance suggestions reviewed after people's decisions: for each vendor a decision was
taken on, its approvals and rejections of the window are read again and its suggestion of each
kind (price, quantity) is opened, updated or withdrawn (learning.rules decides the pattern).

`tolerance_suggestions_review_many` reviews many vendors with one read per table for all of
them (a day's queue worked: the demo's reviews had spent some 2,400 statements here, five per
vendor and decision batch); `tolerance_suggestion_review` is it with one vendor.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from learning.models import DecisionExample, ExampleKind, ToleranceKind, ToleranceSuggestion
from learning.rules import WINDOW_DAYS, PriceDecision, tolerance_suggestion_of
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get
from vendors.models import Vendor

PRICE_MISMATCH = "price_mismatch"  # matching.engine.vocabulary's, which this layer cannot import
QUANTITY_FINDINGS = ("quantity_exceeds_po", "quantity_not_received")
# The findings whose difference (in percent) a tolerance of each kind would absorb.
FINDINGS_OF_KIND: dict[str, tuple[str, ...]] = {
    ToleranceKind.PRICE: (PRICE_MISMATCH,),
    ToleranceKind.QUANTITY: QUANTITY_FINDINGS,
}
TOLERANCE_FIELD: dict[str, str] = {
    ToleranceKind.PRICE: "price_tolerance_pct",
    ToleranceKind.QUANTITY: "quantity_tolerance_pct",
}


class _Example(NamedTuple):
    """What a review reads of a decision example: a row, not a model (a vendor's window can be
    hundreds of examples, read again after every batch of decisions)."""

    pk: uuid.UUID
    vendor_id: uuid.UUID
    invoice_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: dt.datetime
    kind: str
    actor_label: str


def _decisions(examples: Iterable[_Example], findings: Sequence[str]) -> list[PriceDecision]:
    decisions = []
    for example in examples:
        pcts = tuple(
            Decimal(item["pct"])
            for item in example.details.get("discrepancies", [])
            if item.get("type") in findings and item.get("pct") is not None
        )
        decisions.append(
            PriceDecision(
                example_id=example.pk,
                invoice_id=example.invoice_id,
                invoice_number=example.details.get("invoice_number", ""),
                decided_at=example.created_at,
                approved=example.kind == ExampleKind.APPROVE,
                pcts=pcts,
                decided_by=example.actor_label,
            )
        )
    return decisions


def tolerance_suggestion_review(*, tenant: Tenant, vendor_id: uuid.UUID, actor: Actor) -> list[ToleranceSuggestion]:
    """Re-read the vendor's recent decisions and open, update or withdraw its suggestion of each
    kind (price, quantity); the open ones after."""
    return tolerance_suggestions_review_many(tenant=tenant, actors={vendor_id: actor})[vendor_id]


def tolerance_suggestions_review_many(
    *, tenant: Tenant, actors: Mapping[uuid.UUID, Actor]
) -> dict[uuid.UUID, list[ToleranceSuggestion]]:
    """`tolerance_suggestion_review` for each vendor of `actors` (in its order, each in the name
    of its actor, the person whose decision led to it); the open suggestions after, by vendor.

    Reads each table once for all the vendors, then writes vendor by vendor: one vendor's
    writes never change what another's review reads (evidence, last decision and open
    suggestion are all the vendor's own), so this is the same as reviewing them one by one."""
    vendor_ids = list(actors)
    vendors = Vendor.objects.for_tenant(tenant).in_bulk(vendor_ids)
    missing = [vendor_id for vendor_id in vendor_ids if vendor_id not in vendors]
    if missing:
        raise Vendor.DoesNotExist(f"No vendor {missing[0]} in this tenant.")
    now = timezone.now()
    examples: dict[uuid.UUID, list[_Example]] = defaultdict(list)
    for row in (
        DecisionExample.objects.for_tenant(tenant)
        .filter(
            vendor_id__in=vendor_ids,
            kind__in=[ExampleKind.APPROVE, ExampleKind.REJECT],
            actor_kind="user",
            created_at__gte=now - dt.timedelta(days=WINDOW_DAYS),
        )
        .order_by("created_at")
        .values_list(*_Example._fields)
    ):
        example = _Example(*row)
        examples[example.vendor_id].append(example)
    last_decided = {
        (row["vendor_id"], row["kind"]): row["last"]
        for row in ToleranceSuggestion.objects.for_tenant(tenant)
        .filter(vendor_id__in=vendor_ids, decided_at__isnull=False)
        .order_by()
        .values("vendor_id", "kind")
        .annotate(last=Max("decided_at"))
    }
    open_ones = {
        (suggestion.vendor_id, suggestion.kind): suggestion
        for suggestion in ToleranceSuggestion.objects.for_tenant(tenant).filter(vendor_id__in=vendor_ids, status="open")
    }
    defaults = None
    reviewed: dict[uuid.UUID, list[ToleranceSuggestion]] = {}
    for vendor_id, actor in actors.items():
        vendor = vendors[vendor_id]
        tolerances = {kind: getattr(vendor, TOLERANCE_FIELD[kind]) for kind in ToleranceKind.values}
        if any(value is None for value in tolerances.values()):
            defaults = defaults or tenant_settings_get(tenant=tenant)
            tolerances = {
                kind: value if value is not None else getattr(defaults, TOLERANCE_FIELD[kind])
                for kind, value in tolerances.items()
            }
        opened = [
            _suggestion_review(
                tenant=tenant,
                vendor=vendor,
                kind=kind,
                actor=actor,
                now=now,
                examples=examples[vendor_id],
                current=tolerances[kind],
                last_decided=last_decided.get((vendor_id, kind)),
                open_one=open_ones.get((vendor_id, kind)),
            )
            for kind in ToleranceKind.values
        ]
        reviewed[vendor_id] = [suggestion for suggestion in opened if suggestion is not None]
    return reviewed


def _suggestion_review(
    *,
    tenant: Tenant,
    vendor: Vendor,
    kind: str,
    actor: Actor,
    now: dt.datetime,
    examples: Sequence[_Example],
    current: Decimal,
    last_decided: dt.datetime | None,
    open_one: ToleranceSuggestion | None,
) -> ToleranceSuggestion | None:
    """One kind of one vendor's review, over the vendor's decisions of the window, its tolerance
    of that kind (`current`), when a suggestion of that kind was last decided and the open one.

    No row lock: it runs after the decision's transition has taken the audit chain's lock, which
    every row lock must precede (core.locks). Two decisions at once on the same vendor both read
    the evidence; the unique open suggestion per vendor and kind makes the second an update."""
    vendor_id = vendor.pk
    pattern = tolerance_suggestion_of(
        _decisions(examples, FINDINGS_OF_KIND[kind]), now=now, current_pct=Decimal(current), not_before=last_decided
    )
    if pattern is None:
        if open_one is not None:
            open_one.delete()  # its evidence no longer holds (a rejection since): nobody decided it
            audit_record(tenant=tenant, actor=actor, entity_type="tolerance_suggestion", entity_id=open_one.pk,
                         action="withdrawn", before={"proposed_pct": str(open_one.proposed_pct)})  # fmt: skip
        return None
    evidence = [
        {
            "example_id": str(decision.example_id),
            "invoice_id": str(decision.invoice_id) if decision.invoice_id else None,
            "invoice_number": decision.invoice_number,
            "pct": str(max(decision.pcts)),
            "by": decision.decided_by,
            "on": decision.decided_at.date().isoformat(),
        }
        for decision in pattern.evidence
    ]
    fields = {
        "low_pct": pattern.low_pct,
        "high_pct": pattern.high_pct,
        "proposed_pct": pattern.proposed_pct,
        "approvals": len(pattern.evidence),
        "window_days": WINDOW_DAYS,
        "evidence": evidence,
    }
    if open_one is None:
        try:
            with transaction.atomic():
                open_one = ToleranceSuggestion.objects.create(tenant=tenant, vendor_id=vendor_id, kind=kind, **fields)
        except IntegrityError:  # another decision opened it meanwhile: update that one
            same = ToleranceSuggestion.objects.for_tenant(tenant).filter(vendor_id=vendor_id, kind=kind, status="open")
            same.update(**fields)
            return same.first()
        audit_record(tenant=tenant, actor=actor, entity_type="tolerance_suggestion", entity_id=open_one.pk,
                     action="proposed", after={"vendor_id": str(vendor_id), "kind": kind,
                                               "proposed_pct": str(pattern.proposed_pct),
                                               "approvals": len(evidence)})  # fmt: skip
    else:
        for name, value in fields.items():
            setattr(open_one, name, value)
        open_one.save(update_fields=list(fields))
    return open_one
