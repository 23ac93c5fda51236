"""`invoice_review_many`: reviewers' decisions, one or many at once (a day's queue worked, a batch
from an integration). `review.decisions.invoice_review`, one decision, is this with one request,
so each rule of review.decisions is checked here and nowhere else.

Each decision is checked as on its own, in this order: the action and its comment; on the locked
row, the status the caller saw, the step of the approval chain it saw, the escalated queue's
roles, what an approval is missing (the discrepancies the caller confirmed, a comment over a high
or critical one), segregation of duties, the lifecycle table. A refused decision is reported in
its outcome with its error, and the others go ahead. The rows are locked once, in id order; the
moves are made through `invoice_transition_many` (one audit and one outbox INSERT per acting
person), the examples recorded through `learning.example_batches.example_record_many`: a few
statements per batch, not some twenty per decision.

What is more than a move is made one decision at a time, before the others, in the requests'
order, each all or nothing on its own: a dispute (it opens its dispute record, review.disputes,
in its transaction) and, when the tenant has an approval policy, an approval (its chain's step,
review.approvals, in a savepoint).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.actors import Actor
from core.exceptions import DocumentInvalid, DomainError, NotFoundError
from core.state_machine import StaleState
from invoices.lifecycle import INVOICE_LIFECYCLE, InvoiceMove, invoice_transition_many
from invoices.models import Invoice, InvoiceStatus
from learning.example_batches import example_record_many
from learning.models import ExampleKind
from matching.models import Discrepancy
from review.approvals import ApprovalChain, ApprovalRefused, chain_step_record, invoice_approval_chain, step_context
from review.decisions import (
    APPROVE_OVER_SERIOUS_NEEDS_COMMENT,
    COMMENT_REQUIRED,
    CONFIRM_DISCREPANCIES,
    DISCREPANCIES_CHANGED,
    ESCALATED_NEEDS_APPROVER,
    REVIEW_ACTIONS,
    SERIOUS_SEVERITIES,
    STEP_TAKEN_MEANWHILE,
    UNKNOWN_ACTION,
    DiscrepancyConfirmation,
    ReviewForbidden,
    can_review,
)
from review.disputes import dispute_open
from review.learning_record import review_example_requests
from review.models import ApprovalRule, DisputeReason
from review.segregation import Exclusions, invoice_approval_exclusions_many
from tenants.models import Tenant

S = InvoiceStatus

REPEATED_INVOICE = "Invoice {invoice_id} appears more than once in one batch of decisions."
INVOICE_NOT_FOUND = "No invoice with this id."

_EXAMPLE_KINDS = {"approve": ExampleKind.APPROVE, "reject": ExampleKind.REJECT}


@dataclass(frozen=True)
class ReviewRequest:
    """One reviewer's decision: `invoice_review`'s arguments.

    `confirmation`: None when the caller shows no discrepancies (the API, a batch); otherwise
    approving over any discrepancy needs it to name the latest match (review.decisions).
    `expected_step`: the step of the approval chain the caller's page showed as waiting.
    """

    invoice_id: uuid.UUID
    action: str
    actor: Actor
    role: str | None
    comment: str = ""
    expected_status: str | None = None
    confirmation: DiscrepancyConfirmation | None = None
    expected_step: int | None = None

    @property
    def reason(self) -> str:
        """The comment as it is kept (the transition's reason, the example's, the dispute's note)."""
        return (self.comment or "").strip()


@dataclass(frozen=True)
class ReviewOutcome:
    """What became of one decision: the invoice as it now is, or the reason it was refused."""

    request: ReviewRequest
    invoice: Invoice | None = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _Found:
    """What the approval checks read besides the locked rows, read once for all of them."""

    severities: dict[uuid.UUID, set[str]]  # by match: the severities of its discrepancies
    excluded: dict[uuid.UUID, Exclusions]  # by invoice: who may not approve it (review.segregation)


def _not_found(request: ReviewRequest) -> ReviewOutcome:
    """Not the tenant's invoice (or none): another tenant's is a 404 as any unknown id."""
    return ReviewOutcome(
        request, error=NotFoundError(INVOICE_NOT_FOUND, details={"invoice_id": str(request.invoice_id)})
    )


def _request_error(request: ReviewRequest) -> DomainError | None:
    """The checks that need no row: the action and its comment."""
    review_action = REVIEW_ACTIONS.get(request.action)
    if review_action is None:
        return DocumentInvalid(UNKNOWN_ACTION.format(action=request.action), details={"action": [request.action]})
    if review_action.comment_required and not request.reason:
        message = COMMENT_REQUIRED.format(action=request.action)
        return DocumentInvalid(message, details={"comment": [message]})
    return None


def _found(
    tenant: Tenant, decisions: Sequence[tuple[ReviewRequest, Invoice]], chains: dict[uuid.UUID, ApprovalChain]
) -> _Found:
    """The latest matches' severities and the segregation of duties of the approvals among
    `decisions` (request, locked row), read only where a check will ask: a match when the
    approval confirms discrepancies or has no comment, exclusions when a person approves (an
    invoice's chain has read its own: `chains`, by invoice)."""
    approving = [(request, current) for request, current in decisions if request.action == "approve"]
    match_ids = {
        current.latest_match_id
        for request, current in approving
        if current.latest_match_id is not None and (request.confirmation is not None or not request.reason)
    }
    severities: dict[uuid.UUID, set[str]] = defaultdict(set)
    if match_ids:
        found = (
            Discrepancy.objects.for_tenant(tenant)
            .filter(match_result_id__in=match_ids)
            .order_by()
            .values_list("match_result_id", "severity")
            .distinct()
        )
        for match_id, severity in found:
            severities[match_id].add(severity)
    deciding = [
        current
        for request, current in approving
        if request.actor.kind == "user" and current.status == S.PENDING_REVIEW and current.pk not in chains
    ]
    excluded = invoice_approval_exclusions_many(tenant=tenant, invoices=deciding) if deciding else {}
    excluded.update((invoice_id, chain.excluded) for invoice_id, chain in chains.items())
    return _Found(severities=severities, excluded=excluded)


def _approval_refusals(request: ReviewRequest, current: Invoice, found: _Found) -> dict[str, list[str]]:
    """Each field the approval is missing, with why (all at once: the page marks each)."""
    refusals: dict[str, list[str]] = {}
    severities = found.severities.get(current.latest_match_id, set()) if current.latest_match_id else set()
    confirmation = request.confirmation
    # On the locked row: a re-match between page and click is what the reviewer approves over.
    if confirmation is not None and severities:
        if confirmation.match_id is None:
            refusals["confirm_discrepancies"] = [CONFIRM_DISCREPANCIES]
        elif confirmation.match_id != current.latest_match_id:
            refusals["confirm_discrepancies"] = [DISCREPANCIES_CHANGED]
    if not request.reason and severities & set(SERIOUS_SEVERITIES):
        refusals["comment"] = [APPROVE_OVER_SERIOUS_NEEDS_COMMENT]
    return refusals


def _row_error(
    request: ReviewRequest, current: Invoice, *, found: _Found, chain: ApprovalChain | None
) -> DomainError | None:
    """The checks on the locked row, in their order (module docstring), but the lifecycle table's,
    which the move makes."""
    try:
        INVOICE_LIFECYCLE.check_expected(current.status, request.expected_status)
    except DomainError as exc:
        return exc
    if chain is not None and request.expected_step is not None:
        current_step = chain.current.position if chain.current else None
        if current_step != request.expected_step:
            message = STEP_TAKEN_MEANWHILE.format(step=request.expected_step)
            return StaleState(message, details={"current_step": current_step})
    if not can_review(role=request.role, invoice=current):
        return ReviewForbidden(ESCALATED_NEEDS_APPROVER)
    if request.action != "approve":
        return None
    if refusals := _approval_refusals(request, current, found):
        return DocumentInvalid(" ".join(m for messages in refusals.values() for m in messages), details=refusals)
    if request.actor.kind == "user" and current.status == S.PENDING_REVIEW:
        refusal = found.excluded.get(current.pk, {}).get(int(request.actor.id))
        if refusal:
            return ApprovalRefused(refusal)
    return None


def invoice_review_many(*, tenant: Tenant, requests: Sequence[ReviewRequest]) -> list[ReviewOutcome]:
    """Apply reviewers' decisions (module docstring), in the requests' order; one outcome each.

    All in one transaction: what is written for the accepted decisions commits together.
    """
    invoice_ids = [request.invoice_id for request in requests]
    if len(set(invoice_ids)) != len(invoice_ids):
        repeated = next(invoice_id for invoice_id in invoice_ids if invoice_ids.count(invoice_id) > 1)
        raise ValueError(REPEATED_INVOICE.format(invoice_id=repeated))
    outcomes = {
        index: ReviewOutcome(request, error=error)
        for index, request in enumerate(requests)
        if (error := _request_error(request)) is not None
    }
    going = [index for index in range(len(requests)) if index not in outcomes]
    if going:
        with transaction.atomic():
            outcomes.update(_review_checked(tenant=tenant, requests=requests, indexes=going))
    return [outcomes[index] for index in range(len(requests))]


def _review_checked(
    *, tenant: Tenant, requests: Sequence[ReviewRequest], indexes: list[int]
) -> dict[int, ReviewOutcome]:
    """The decisions whose action and comment passed: those that are more than a move one by one,
    in the requests' order, then the others together."""
    outcomes: dict[int, ReviewOutcome] = {}
    approving = any(requests[index].action == "approve" for index in indexes)
    chains = approving and ApprovalRule.objects.for_tenant(tenant).exists()
    batched: list[int] = []
    for index in indexes:
        request = requests[index]
        if request.action == "dispute":
            outcomes[index] = _dispute(tenant, request)
        elif request.action == "approve" and chains:
            outcomes[index] = _approve_in_chain(tenant, request)
        else:
            batched.append(index)
    if batched:
        decided = _review_rows(tenant=tenant, requests=[requests[index] for index in batched], chains=False)
        outcomes.update(zip(batched, decided, strict=True))
    return outcomes


def _approve_in_chain(tenant: Tenant, request: ReviewRequest) -> ReviewOutcome:
    """An approval where the tenant has an approval policy, on its own in a savepoint: a step of
    its chain is written before the move that completes it, and a refused one leaves nothing."""
    try:
        with transaction.atomic():
            [outcome] = _review_rows(tenant=tenant, requests=[request], chains=True)
            if outcome.error is not None:
                raise outcome.error
    except DomainError as exc:
        return ReviewOutcome(request, error=exc)
    return outcome


def _review_rows(*, tenant: Tenant, requests: Sequence[ReviewRequest], chains: bool) -> list[ReviewOutcome]:
    """Approvals, rejections and escalations: checked on rows locked once, moved through
    `invoice_transition_many` by acting person, their examples recorded together.

    `chains`: the tenant has an approval policy, so an approval of an invoice in review may be a
    step of its chain (review.approvals), recorded on the locked row: two approvers of the last
    step at once cannot both complete it, and the completing step's move carries its names.
    """
    wanted = [request.invoice_id for request in requests]
    # Locked in id order, as invoice_transition_many would lock them: it moves these very rows.
    current_by_id = {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(pk__in=wanted)
        .order_by("pk")
    }
    present = [(request, current) for request in requests if (current := current_by_id.get(request.invoice_id))]
    chain_by_id: dict[uuid.UUID, ApprovalChain] = {}
    for request, current in present:
        chain = None
        if chains and request.action == "approve" and current.status == S.PENDING_REVIEW:
            chain = invoice_approval_chain(tenant=tenant, invoice=current)
        if chain is not None:
            chain_by_id[current.pk] = chain
    found = _found(tenant, present, chain_by_id)
    outcomes: list[ReviewOutcome | None] = [None] * len(requests)
    moves_by_actor: dict[Actor, list[tuple[int, InvoiceMove]]] = defaultdict(list)
    for index, request in enumerate(requests):
        current = current_by_id.get(request.invoice_id)
        if current is None:
            outcomes[index] = _not_found(request)
            continue
        chain = chain_by_id.get(current.pk)
        if (error := _row_error(request, current, found=found, chain=chain)) is not None:
            outcomes[index] = ReviewOutcome(request, error=error)
            continue
        context: dict[str, Any] = {"review_action": request.action}
        if chain is not None:
            try:
                step, grant, complete = chain_step_record(
                    tenant=tenant, invoice=current, chain=chain, actor=request.actor, comment=request.reason
                )
            except DomainError as exc:
                outcomes[index] = ReviewOutcome(request, error=exc)
                continue
            if not complete:
                outcomes[index] = ReviewOutcome(request, invoice=current)
                continue
            named = step_context(chain=chain, step=step, grant=grant, actor=request.actor, comment=request.reason)
            context.update(named)
        review_action = REVIEW_ACTIONS[request.action]
        move = InvoiceMove(
            invoice_id=current.pk,
            to_status=review_action.to_status,
            queue=review_action.to_queue,
            reason=request.reason,
            # The status checked above, on the locked row: the compare-and-set of the move.
            expected_status=current.status,
            context=context,
        )
        moves_by_actor[request.actor].append((index, move))
    decided: list[tuple[Invoice, str, Actor, str]] = []
    for actor, moves in moves_by_actor.items():
        results = invoice_transition_many(
            tenant=tenant, moves=[move for _, move in moves], actor=actor, locked=current_by_id
        )
        for (index, move), result in zip(moves, results, strict=True):
            request = requests[index]
            if not result.ok:
                outcomes[index] = ReviewOutcome(request, error=result.error)
                continue
            invoice = current_by_id[move.invoice_id]  # its status, queue and updated_at set by the move
            outcomes[index] = ReviewOutcome(request, invoice=invoice)
            if request.action in _EXAMPLE_KINDS:
                # The decision as data (issue #20): what the reviewer vouched for over the match.
                decided.append((invoice, _EXAMPLE_KINDS[request.action], actor, move.reason))
    order = {request.invoice_id: index for index, request in enumerate(requests)}
    decided.sort(key=lambda entry: order[entry[0].pk])
    example_record_many(tenant=tenant, requests=review_example_requests(tenant=tenant, decisions=decided))
    return [outcome for outcome in outcomes if outcome is not None]


def _dispute(tenant: Tenant, request: ReviewRequest) -> ReviewOutcome:
    """Every dispute has its record (review.disputes: reason, owner, thread, how it ends): the
    API's and the decision form's "dispute" opens one with the reason "other", the comment as its
    first note and the acting member as its owner. The dispute page asks for the reason itself.
    `dispute_open` is all or nothing on its own: a refused dispute leaves nothing."""
    try:
        invoice = Invoice.objects.for_tenant(tenant).get(pk=request.invoice_id)
        dispute_open(
            tenant=tenant,
            invoice=invoice,
            actor=request.actor,
            role=request.role,
            author=None,
            reason=DisputeReason.OTHER,
            comment=request.reason,
            owner_id=request.actor.id if request.actor.kind == "user" else None,
            expected_status=request.expected_status,
        )
    except Invoice.DoesNotExist:
        return _not_found(request)
    except DomainError as exc:
        return ReviewOutcome(request, error=exc)
    invoice.refresh_from_db()  # its columns as the move left them (updated_at among them)
    return ReviewOutcome(request, invoice=invoice)
