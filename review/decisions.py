"""Reviewer actions on an invoice: approve, reject, escalate, dispute.

Each is a move of the lifecycle table (invoices.lifecycle) with its own rules on top:
- a comment is required to reject or dispute (the vendor and the auditor will ask why), to
  escalate (the approver who picks it up must know what to look at), and to approve over a high
  or critical discrepancy of the latest match (the auditor will ask why the reviewer overrode it);
- a caller that shows the discrepancies before approving (the invoice page, bulk approval) asks
  for `confirmation`: approving over ANY discrepancy of the latest match then needs the id of
  the match whose discrepancies the reviewer saw and confirmed, checked on the locked row, so a
  re-match between page and click is never approved unseen (bulk approval confirms none: only a
  clean invoice passes). The API does not ask: an integration reads the match in the response;
- clerks work the standard queue; only approvers and administrators act on the escalated one
  (and API keys, which act for an integration the tenant trusts with approvals);
- the caller may say which status its page showed (`expected_status`), so a reviewer who acted
  on a stale page gets a clear 409 instead of overwriting a colleague's decision;
- an approval policy (review.approvals) may ask for a chain of approvals: an `approve` then
  records one step and only the last one moves the invoice to approved; whoever entered or last
  changed the invoice, or changed its vendor's bank details, may not approve it (segregation of
  duties, review.segregation), chain or not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from core.actors import Actor
from core.exceptions import DocumentInvalid, DomainError
from core.state_machine import StaleState
from invoices.lifecycle import INVOICE_LIFECYCLE, invoice_transition
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from learning.models import ExampleKind
from matching.models import Discrepancy
from review.approvals import (
    approval_refused_for_user,
    chain_step_record,
    invoice_approval_chain,
    step_context,
)
from review.learning_record import review_example_record
from tenants.models import Role, Tenant

S = InvoiceStatus

COMMENT_REQUIRED = "A comment is required to {action} an invoice."
APPROVE_OVER_SERIOUS_NEEDS_COMMENT = "A comment is required to approve an invoice with a high or critical discrepancy."
SERIOUS_SEVERITIES = ("high", "critical")
CONFIRM_DISCREPANCIES = "Tick the box to confirm that you approve this invoice over the discrepancies listed."
DISCREPANCIES_CHANGED = (
    "The invoice was matched again since your page was loaded: check the discrepancies listed now and confirm again."
)
ESCALATED_NEEDS_APPROVER = "Only an approver or an administrator can act on the escalated queue."
UNKNOWN_ACTION = "Unknown review action {action!r}."
STEP_TAKEN_MEANWHILE = "Step {step} of the approval chain was approved by someone else meanwhile."


class ReviewForbidden(DomainError):
    status_code = 403
    code = "permission_denied"


@dataclass(frozen=True)
class ReviewAction:
    name: str
    to_status: str
    to_queue: str | None
    comment_required: bool


REVIEW_ACTIONS = {
    "approve": ReviewAction("approve", S.APPROVED, None, comment_required=False),
    "reject": ReviewAction("reject", S.REJECTED, None, comment_required=True),
    "dispute": ReviewAction("dispute", S.DISPUTED, None, comment_required=True),
    "escalate": ReviewAction("escalate", S.PENDING_REVIEW, ReviewQueue.ESCALATED, comment_required=True),
}

# What each decision reads as once made (the invoice's timeline, exports, the API).
REVIEW_ACTION_LABELS = {
    "approve": "Approved by a reviewer",
    "reject": "Rejected by a reviewer",
    "dispute": "Disputed with the vendor",
    "escalate": "Escalated to an approver",
}

# Who may act on an invoice in the escalated queue. `None` is an API key's role.
_ESCALATED_ROLES = {Role.APPROVER, Role.ADMIN, None}


def can_review(*, role: str | None, invoice: Invoice) -> bool:
    """Whether someone with `role` may act on this invoice at all (the UI hides what this refuses)."""
    if invoice.status == S.PENDING_REVIEW and invoice.review_queue == ReviewQueue.ESCALATED:
        return role in _ESCALATED_ROLES
    return True


def invoice_has_serious_discrepancy(*, tenant: Tenant, invoice: Invoice) -> bool:
    """Whether the invoice's latest match found anything high or critical."""
    if invoice.latest_match_id is None:
        return False
    return (
        Discrepancy.objects.for_tenant(tenant)
        .filter(match_result_id=invoice.latest_match_id, severity__in=SERIOUS_SEVERITIES)
        .exists()
    )


def invoice_has_discrepancy(*, tenant: Tenant, invoice: Invoice) -> bool:
    """Whether the invoice's latest match found anything at all."""
    if invoice.latest_match_id is None:
        return False
    return Discrepancy.objects.for_tenant(tenant).filter(match_result_id=invoice.latest_match_id).exists()


@dataclass(frozen=True)
class DiscrepancyConfirmation:
    """What the reviewer's page showed and confirmed before approving: the id of the match whose
    discrepancies were listed, or None when nothing was confirmed."""

    match_id: uuid.UUID | None = None


def _approval_refusals(
    *, tenant: Tenant, invoice: Invoice, comment: str, confirmation: DiscrepancyConfirmation | None
) -> dict[str, list[str]]:
    """Each field the approval is missing, with why (all at once: the page marks each)."""
    refusals: dict[str, list[str]] = {}
    if confirmation is not None and invoice_has_discrepancy(tenant=tenant, invoice=invoice):
        if confirmation.match_id is None:
            refusals["confirm_discrepancies"] = [CONFIRM_DISCREPANCIES]
        elif confirmation.match_id != invoice.latest_match_id:
            refusals["confirm_discrepancies"] = [DISCREPANCIES_CHANGED]
    if not comment and invoice_has_serious_discrepancy(tenant=tenant, invoice=invoice):
        refusals["comment"] = [APPROVE_OVER_SERIOUS_NEEDS_COMMENT]
    return refusals


def invoice_review(
    *,
    tenant: Tenant,
    invoice: Invoice,
    action: str,
    actor: Actor,
    role: str | None,
    comment: str = "",
    expected_status: str | None = None,
    confirmation: DiscrepancyConfirmation | None = None,
    expected_step: int | None = None,
) -> Invoice:
    """Apply a reviewer's decision through the one transition function.

    `expected_step`: the step of the invoice's approval chain the caller's page showed as waiting;
    if another approver took it meanwhile, a 409 instead of approving the next step unseen.

    `confirmation`: None when the caller shows no discrepancies (the API); otherwise approving
    over any discrepancy needs it to name the latest match (module docstring).
    """
    review_action = REVIEW_ACTIONS.get(action)
    if review_action is None:
        raise DocumentInvalid(UNKNOWN_ACTION.format(action=action), details={"action": [action]})
    comment = (comment or "").strip()
    if review_action.comment_required and not comment:
        message = COMMENT_REQUIRED.format(action=action)
        raise DocumentInvalid(message, details={"comment": [message]})
    if action == "dispute":
        return _dispute(tenant=tenant, invoice=invoice, actor=actor, role=role, comment=comment,
                        expected_status=expected_status)  # fmt: skip

    def may_act(current: Invoice) -> None:
        if not can_review(role=role, invoice=current):
            raise ReviewForbidden(ESCALATED_NEEDS_APPROVER)
        # On the locked row: a re-match between page and click is what the reviewer approves over.
        if action == "approve":
            refusals = _approval_refusals(tenant=tenant, invoice=current, comment=comment, confirmation=confirmation)
            if refusals:
                raise DocumentInvalid(" ".join(m for messages in refusals.values() for m in messages), details=refusals)
            if actor.kind == "user" and current.status == S.PENDING_REVIEW:
                approval_refused_for_user(tenant=tenant, invoice=current, user_id=int(actor.id))

    if action == "approve":
        return _approve(
            tenant=tenant,
            invoice=invoice,
            actor=actor,
            comment=comment,
            expected_status=expected_status,
            expected_step=expected_step,
            may_act=may_act,
        )
    with transaction.atomic():
        moved = invoice_transition(
            tenant=tenant,
            invoice=invoice,
            to_status=review_action.to_status,
            queue=review_action.to_queue,
            actor=actor,
            reason=comment,
            expected_status=expected_status,
            context={"review_action": action},
            guard=may_act,
        )
        if action == "reject":
            review_example_record(tenant=tenant, invoice=moved, kind=ExampleKind.REJECT, actor=actor, comment=comment)
    return moved


def _approve(
    *,
    tenant: Tenant,
    invoice: Invoice,
    actor: Actor,
    comment: str,
    expected_status: str | None,
    may_act: Callable[[Invoice], None],
    expected_step: int | None = None,
) -> Invoice:
    """One reviewer's approval, or one step of the invoice's approval chain (review.approvals).

    On the locked row: the chain, the reviewer's rights and the step are read and written in one
    transaction, so two approvers of the last step at once cannot both complete it, and the
    completing step's move to approved (through the one transition function) carries its names.
    """
    with transaction.atomic():
        current = Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=invoice.pk)
        INVOICE_LIFECYCLE.check_expected(current.status, expected_status)
        chain = invoice_approval_chain(tenant=tenant, invoice=current) if current.status == S.PENDING_REVIEW else None
        context: dict[str, Any] = {"review_action": "approve"}
        if chain is not None:
            current_step = chain.current.position if chain.current else None
            if expected_step is not None and current_step != expected_step:
                raise StaleState(
                    STEP_TAKEN_MEANWHILE.format(step=expected_step), details={"current_step": current_step}
                )
            may_act(current)
            step, grant, complete = chain_step_record(
                tenant=tenant, invoice=current, chain=chain, actor=actor, comment=comment
            )
            if not complete:
                invoice.status, invoice.review_queue = current.status, current.review_queue
                return current
            context.update(step_context(chain=chain, step=step, grant=grant, actor=actor, comment=comment))
        approved = invoice_transition(
            tenant=tenant,
            invoice=invoice,
            to_status=S.APPROVED,
            actor=actor,
            reason=comment,
            expected_status=expected_status,
            context=context,
            guard=may_act,
        )
        # The decision as data (issue #20): what the approver vouched for over the match.
        review_example_record(tenant=tenant, invoice=approved, kind=ExampleKind.APPROVE, actor=actor, comment=comment)
        return approved


def _dispute(
    *, tenant: Tenant, invoice: Invoice, actor: Actor, role: str | None, comment: str, expected_status: str | None
) -> Invoice:
    """Every dispute has its record (review.disputes: reason, owner, thread, how it ends): the
    API's and the decision form's "dispute" opens one with the reason "other", the comment as its
    first note and the acting member as its owner. The dispute page asks for the reason itself."""
    from review.disputes import dispute_open  # it builds on this module's rules
    from review.models import DisputeReason

    dispute = dispute_open(
        tenant=tenant,
        invoice=invoice,
        actor=actor,
        role=role,
        author=None,
        reason=DisputeReason.OTHER,
        comment=comment,
        owner_id=actor.id if actor.kind == "user" else None,
        expected_status=expected_status,
    )
    current = dispute.invoice
    current.refresh_from_db()
    invoice.status, invoice.review_queue = current.status, current.review_queue
    return current
