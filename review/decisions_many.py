"""`invoice_review_many`: many reviewers' decisions at once, with the checks and writes of
`review.decisions.invoice_review` made for all of them together (a day's queue worked, a batch
from an integration).

Each decision is checked as on its own: the action and its comment, the status the caller saw,
the escalated queue's roles, a comment to approve over a high or critical discrepancy,
segregation of duties, the lifecycle table. A refused decision is reported in its outcome with
the error `invoice_review` would raise, and the others go ahead. The rows are locked once, in id
order; the moves are made through `invoice_transition_many` (one audit and one outbox INSERT per
acting person), the examples recorded through `learning.example_batches.example_record_many`:
a few statements per batch, not some twenty per decision.

What the single form does with more than a move goes through it, one by one, inside the batch:
a dispute (it opens its dispute record, review.disputes) and an approval the tenant's approval
policy takes (a chain step, review.approvals). A caller that shows discrepancies and wants them
confirmed (`confirmation`) uses the single form; this one checks as the API does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction

from core.actors import Actor
from core.exceptions import DocumentInvalid, DomainError, NotFoundError
from invoices.lifecycle import INVOICE_LIFECYCLE, InvoiceMove, invoice_transition_many
from invoices.models import Invoice, InvoiceStatus
from learning.example_batches import example_record_many
from learning.models import ExampleKind
from matching.models import Discrepancy
from review.approvals import ApprovalRefused
from review.decisions import (
    APPROVE_OVER_SERIOUS_NEEDS_COMMENT,
    COMMENT_REQUIRED,
    ESCALATED_NEEDS_APPROVER,
    REVIEW_ACTIONS,
    SERIOUS_SEVERITIES,
    UNKNOWN_ACTION,
    ReviewForbidden,
    can_review,
    invoice_review,
)
from review.learning_record import review_example_requests
from review.models import ApprovalRule
from review.segregation import Exclusions, invoice_approval_exclusions_many
from tenants.models import Tenant

S = InvoiceStatus

REPEATED_INVOICE = "Invoice {invoice_id} appears more than once in one batch of decisions."
INVOICE_NOT_FOUND = "No invoice with this id."

_EXAMPLE_KINDS = {"approve": ExampleKind.APPROVE, "reject": ExampleKind.REJECT}


@dataclass(frozen=True)
class ReviewRequest:
    """One reviewer's decision: `invoice_review`'s arguments (the API's checks, no confirmation)."""

    invoice_id: uuid.UUID
    action: str
    actor: Actor
    role: str | None
    comment: str = ""
    expected_status: str | None = None


@dataclass(frozen=True)
class ReviewOutcome:
    """What became of one decision: the invoice as it now is, or the reason it was refused."""

    request: ReviewRequest
    invoice: Invoice | None = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _request_error(request: ReviewRequest) -> DomainError | None:
    """The checks of `invoice_review` that need no row: the action and its comment."""
    review_action = REVIEW_ACTIONS.get(request.action)
    if review_action is None:
        return DocumentInvalid(UNKNOWN_ACTION.format(action=request.action), details={"action": [request.action]})
    if review_action.comment_required and not request.comment.strip():
        message = COMMENT_REQUIRED.format(action=request.action)
        return DocumentInvalid(message, details={"comment": [message]})
    return None


def _one_by_one(tenant: Tenant, request: ReviewRequest) -> ReviewOutcome:
    """A decision made through the single form, in a savepoint: refused, it leaves nothing."""
    try:
        with transaction.atomic():
            invoice = Invoice.objects.for_tenant(tenant).get(pk=request.invoice_id)
            moved = invoice_review(
                tenant=tenant,
                invoice=invoice,
                action=request.action,
                actor=request.actor,
                role=request.role,
                comment=request.comment,
                expected_status=request.expected_status,
            )
    except Invoice.DoesNotExist:
        return ReviewOutcome(
            request, error=NotFoundError(INVOICE_NOT_FOUND, details={"invoice_id": str(request.invoice_id)})
        )
    except DomainError as exc:
        return ReviewOutcome(request, error=exc)
    return ReviewOutcome(request, invoice=moved)


def _serious_matches(tenant: Tenant, invoices: Sequence[Invoice]) -> set[uuid.UUID]:
    """The latest matches among `invoices`' that found anything high or critical."""
    match_ids = [invoice.latest_match_id for invoice in invoices if invoice.latest_match_id is not None]
    if not match_ids:
        return set()
    return set(
        Discrepancy.objects.for_tenant(tenant)
        .filter(match_result_id__in=match_ids, severity__in=SERIOUS_SEVERITIES)
        .values_list("match_result_id", flat=True)
    )


def _row_error(
    request: ReviewRequest, current: Invoice, *, serious: set[uuid.UUID], excluded: dict[uuid.UUID, Exclusions]
) -> DomainError | None:
    """The checks of `invoice_review` on the locked row, in its order."""
    try:
        INVOICE_LIFECYCLE.check_expected(current.status, request.expected_status)
    except DomainError as exc:
        return exc
    if not can_review(role=request.role, invoice=current):
        return ReviewForbidden(ESCALATED_NEEDS_APPROVER)
    if request.action != "approve":
        return None
    if not request.comment.strip() and current.latest_match_id in serious:
        refusals = {"comment": [APPROVE_OVER_SERIOUS_NEEDS_COMMENT]}
        return DocumentInvalid(APPROVE_OVER_SERIOUS_NEEDS_COMMENT, details=refusals)
    if request.actor.kind == "user" and current.status == S.PENDING_REVIEW:
        refusal = excluded.get(current.pk, {}).get(int(request.actor.id))
        if refusal:
            return ApprovalRefused(refusal)
    return None


def invoice_review_many(*, tenant: Tenant, requests: Sequence[ReviewRequest]) -> list[ReviewOutcome]:
    """Apply many reviewers' decisions (module docstring), in the requests' order; one outcome each.

    All in one transaction: what is written for the accepted decisions commits together.
    """
    invoice_ids = [request.invoice_id for request in requests]
    if len(set(invoice_ids)) != len(invoice_ids):
        repeated = next(invoice_id for invoice_id in invoice_ids if invoice_ids.count(invoice_id) > 1)
        raise ValueError(REPEATED_INVOICE.format(invoice_id=repeated))
    outcomes: dict[int, ReviewOutcome] = {}
    with transaction.atomic():
        chains = ApprovalRule.objects.for_tenant(tenant).exists()
        batched: list[int] = []
        for index, request in enumerate(requests):
            if (error := _request_error(request)) is not None:
                outcomes[index] = ReviewOutcome(request, error=error)
            elif request.action == "dispute" or (request.action == "approve" and chains):
                outcomes[index] = _one_by_one(tenant, request)
            else:
                batched.append(index)
        if batched:
            outcomes.update(_review_batched(tenant=tenant, requests=requests, indexes=batched))
    return [outcomes[index] for index in range(len(requests))]


def _review_batched(
    *, tenant: Tenant, requests: Sequence[ReviewRequest], indexes: list[int]
) -> dict[int, ReviewOutcome]:
    """Approvals without a chain, rejections and escalations: checked on rows locked once, moved
    through `invoice_transition_many` by acting person, their examples recorded together."""
    wanted = [requests[index].invoice_id for index in indexes]
    # Locked in id order, as invoice_transition_many locks them (it reads them again, locked already).
    current_by_id = {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(pk__in=wanted)
        .order_by("pk")
    }
    present = list(current_by_id.values())
    serious = _serious_matches(tenant, present)
    approving = {requests[index].invoice_id for index in indexes if requests[index].action == "approve"}
    excluded = invoice_approval_exclusions_many(
        tenant=tenant, invoices=[invoice for invoice in present if invoice.pk in approving]
    )
    outcomes: dict[int, ReviewOutcome] = {}
    moves_by_actor: dict[Actor, list[tuple[int, InvoiceMove]]] = defaultdict(list)
    for index in indexes:
        request = requests[index]
        current = current_by_id.get(request.invoice_id)
        if current is None:
            outcomes[index] = ReviewOutcome(
                request, error=NotFoundError(INVOICE_NOT_FOUND, details={"invoice_id": str(request.invoice_id)})
            )
            continue
        if (error := _row_error(request, current, serious=serious, excluded=excluded)) is not None:
            outcomes[index] = ReviewOutcome(request, error=error)
            continue
        review_action = REVIEW_ACTIONS[request.action]
        move = InvoiceMove(
            invoice_id=current.pk,
            to_status=review_action.to_status,
            queue=review_action.to_queue,
            reason=request.comment.strip(),
            # The status checked above, on the locked row: the compare-and-set of the move.
            expected_status=current.status,
            context={"review_action": request.action},
        )
        moves_by_actor[request.actor].append((index, move))
    decided: list[tuple[Invoice, str, Actor, str]] = []
    for actor, moves in moves_by_actor.items():
        results = invoice_transition_many(tenant=tenant, moves=[move for _, move in moves], actor=actor)
        for (index, move), result in zip(moves, results, strict=True):
            request = requests[index]
            if not result.ok:
                outcomes[index] = ReviewOutcome(request, error=result.error)
                continue
            invoice = current_by_id[move.invoice_id]
            invoice.status, invoice.review_queue = move.to_status, move.queue
            outcomes[index] = ReviewOutcome(request, invoice=invoice)
            if request.action in _EXAMPLE_KINDS:
                decided.append((invoice, _EXAMPLE_KINDS[request.action], actor, move.reason))
    order = {request.invoice_id: index for index, request in enumerate(requests)}
    decided.sort(key=lambda entry: order[entry[0].pk])
    example_record_many(tenant=tenant, requests=review_example_requests(tenant=tenant, decisions=decided))
    return outcomes
