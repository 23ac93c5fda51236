"""A reviewer's decision as a labelled example (issue #20 item 1): the decision, and what the
match it overrode had found. Called by review's services inside their transaction
(review.decisions, review.disputes, and the many-form review.decisions_many);
learning.services.example_record (learning.example_batches for many) writes it and learns."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from core.actors import Actor
from invoices.models import Invoice
from learning.example_batches import ExampleRequest
from learning.models import DecisionExample
from learning.services import ExampleDiscrepancy, example_record
from matching.models import Discrepancy, MatchResult
from tenants.models import Tenant


def _match_facts(tenant: Tenant, match_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """What each match decided (by match id), as an example's details state it."""
    rows = (
        MatchResult.objects.for_tenant(tenant)
        .filter(pk__in=match_ids)
        .values("id", "decision", "decision_reason", "confidence", "line_assignments", "purchase_order_id")
    )
    return {
        match["id"]: {
            "match_decision": match["decision"],
            "match_reason": match["decision_reason"],
            "confidence": str(match["confidence"]),
            "assignments": match["line_assignments"],
            "purchase_order_id": str(match["purchase_order_id"]) if match["purchase_order_id"] else None,
        }
        for match in rows
    }


def _match_discrepancies(tenant: Tenant, match_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[ExampleDiscrepancy]]:
    found: dict[uuid.UUID, list[ExampleDiscrepancy]] = defaultdict(list)
    rows = (
        Discrepancy.objects.for_tenant(tenant)
        .filter(match_result_id__in=match_ids)
        .order_by("match_result_id", "invoice_line_number", "type")
        .values("match_result_id", "type", "severity", "expected", "actual", "invoice_line_number")
    )
    for row in rows:
        found[row["match_result_id"]].append(
            ExampleDiscrepancy(
                type=row["type"],
                severity=row["severity"],
                expected=row["expected"],
                actual=row["actual"],
                invoice_line_number=row["invoice_line_number"],
            )
        )
    return found


def review_example_requests(
    *, tenant: Tenant, decisions: Sequence[tuple[Invoice, str, Actor, str]]
) -> list[ExampleRequest]:
    """The examples of many decisions (invoice, kind, actor, comment), each over its invoice's
    latest match: two reads for all (`review_example_record`'s facts, for the many-form)."""
    match_ids = [invoice.latest_match_id for invoice, *_ in decisions if invoice.latest_match_id is not None]
    facts = _match_facts(tenant, match_ids) if match_ids else {}
    discrepancies = _match_discrepancies(tenant, match_ids) if match_ids else {}
    return [
        ExampleRequest(
            actor=actor,
            kind=kind,
            invoice=invoice,
            match_result_id=invoice.latest_match_id,
            comment=comment,
            discrepancies=discrepancies.get(invoice.latest_match_id, []) if invoice.latest_match_id else [],
            details=dict(facts.get(invoice.latest_match_id, {})) if invoice.latest_match_id else {},
        )
        for invoice, kind, actor, comment in decisions
    ]


def review_example_record(
    *,
    tenant: Tenant,
    invoice: Invoice,
    kind: str,
    actor: Actor,
    comment: str = "",
    details: dict[str, Any] | None = None,
    vendor_id: uuid.UUID | None = None,
) -> DecisionExample:
    """Record `kind` (learning.models.ExampleKind) taken on the invoice over its latest match
    (`vendor_id`: the vendor it concerns, when the invoice's is not the one: a vendor chosen)."""
    match_id = invoice.latest_match_id
    discrepancies: list[ExampleDiscrepancy] = []
    facts: dict[str, Any] = dict(details or {})
    if match_id is not None:
        facts.update(_match_facts(tenant, [match_id]).get(match_id, {}))
        discrepancies = _match_discrepancies(tenant, [match_id]).get(match_id, [])
    return example_record(
        tenant=tenant,
        actor=actor,
        kind=kind,
        invoice=invoice,
        vendor_id=vendor_id,
        match_result_id=match_id,
        comment=comment,
        discrepancies=discrepancies,
        details=facts,
    )
