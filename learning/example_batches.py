"""`example_record_many`: many people's decisions recorded as examples at once (review's
many-form of the reviewer's decisions, review.decisions_many), with what `example_record` learns
from each.

One INSERT for the examples and one read of the approved invoices' matched lines; the aliases
each decision teaches or forgets, as one by one, in the decisions' order; each vendor's tolerance
suggestions reviewed once, after all of the batch's decisions on it, by the person who took the
last of them: the suggestion the last decision one by one would leave (its evidence is the
vendor's decisions of the window, this batch's included).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from core.actors import Actor
from invoices.models import Invoice, InvoiceLine
from learning.models import DecisionExample, ExampleKind
from learning.services import (
    ExampleDiscrepancy,
    example_aliases_learn,
    example_fields,
    matched_lines,
)
from learning.suggestion_reviews import tolerance_suggestions_review_many
from tenants.models import Tenant


@dataclass(frozen=True)
class ExampleRequest:
    """One decision to record: `example_record`'s arguments."""

    actor: Actor
    kind: str
    invoice: Invoice | None = None
    vendor_id: uuid.UUID | None = None
    match_result_id: uuid.UUID | None = None
    comment: str = ""
    discrepancies: Sequence[ExampleDiscrepancy] = ()
    details: dict[str, Any] | None = field(default=None)


def example_record_many(*, tenant: Tenant, requests: Sequence[ExampleRequest]) -> list[DecisionExample]:
    """`example_record` for each request, in the caller's transaction (module docstring)."""
    if not requests:
        return []
    with transaction.atomic():
        examples = DecisionExample.objects.bulk_create(
            DecisionExample(
                **example_fields(
                    tenant=tenant,
                    actor=request.actor,
                    kind=request.kind,
                    invoice=request.invoice,
                    vendor_id=request.vendor_id,
                    match_result_id=request.match_result_id,
                    payment_id=None,
                    comment=request.comment,
                    discrepancies=request.discrepancies,
                    details=request.details,
                )
            )
            for request in requests
        )
        taught = [
            (example, request)
            for example, request in zip(examples, requests, strict=True)
            if request.actor.kind == "user" and example.vendor_id is not None and request.invoice is not None
        ]
        approved = [
            request.invoice.pk for _, request in taught if request.kind == ExampleKind.APPROVE and request.invoice
        ]
        matched: dict[uuid.UUID, list[InvoiceLine]] = defaultdict(list)
        for line in matched_lines(tenant=tenant, invoice_ids=approved) if approved else []:
            matched[line.invoice_id].append(line)
        last_actor: dict[uuid.UUID, Actor] = {}
        for example, request in taught:
            assert request.invoice is not None and example.vendor_id is not None
            example_aliases_learn(
                tenant=tenant,
                example=example,
                invoice=request.invoice,
                actor=request.actor,
                matched=matched.get(request.invoice.pk, []),
            )
            if request.kind in (ExampleKind.APPROVE, ExampleKind.REJECT):
                last_actor.pop(example.vendor_id, None)  # in the order of each vendor's last decision
                last_actor[example.vendor_id] = request.actor
        if last_actor:
            tolerance_suggestions_review_many(tenant=tenant, actors=last_actor)
    return examples
