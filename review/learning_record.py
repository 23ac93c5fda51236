"""A reviewer's decision as a labelled example (issue #20 item 1): the decision, and what the
match it overrode had found. Called by review's services inside their transaction
(review.decisions, review.disputes); learning.services.example_record writes it and learns."""

from __future__ import annotations

import uuid
from typing import Any

from core.actors import Actor
from invoices.models import Invoice
from learning.models import DecisionExample
from learning.services import ExampleDiscrepancy, example_record
from matching.models import Discrepancy, MatchResult
from tenants.models import Tenant


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
        match = (
            MatchResult.objects.for_tenant(tenant)
            .filter(pk=match_id)
            .values("decision", "decision_reason", "confidence", "line_assignments", "purchase_order_id")
            .first()
        )
        if match is not None:
            facts.update(
                match_decision=match["decision"],
                match_reason=match["decision_reason"],
                confidence=str(match["confidence"]),
                assignments=match["line_assignments"],
                purchase_order_id=str(match["purchase_order_id"]) if match["purchase_order_id"] else None,
            )
        discrepancies = [
            ExampleDiscrepancy(
                type=row["type"],
                severity=row["severity"],
                expected=row["expected"],
                actual=row["actual"],
                invoice_line_number=row["invoice_line_number"],
            )
            for row in Discrepancy.objects.for_tenant(tenant)
            .filter(match_result_id=match_id)
            .order_by("invoice_line_number", "type")
            .values("type", "severity", "expected", "actual", "invoice_line_number")
        ]
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
