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

`invoice_review` is the many-form `review.decisions_many.invoice_review_many` with one request:
these rules are checked there, once for one decision or a batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.actors import Actor
from core.exceptions import DomainError
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
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


@dataclass(frozen=True)
class DiscrepancyConfirmation:
    """What the reviewer's page showed and confirmed before approving: the id of the match whose
    discrepancies were listed, or None when nothing was confirmed."""

    match_id: uuid.UUID | None = None


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
    """Apply a reviewer's decision through the one transition function: `invoice_review_many`
    with one request (review.decisions_many, where this module's rules are checked), its refusal
    raised. `invoice` takes the status and queue the decision left it in.

    `expected_step`: the step of the invoice's approval chain the caller's page showed as waiting;
    if another approver took it meanwhile, a 409 instead of approving the next step unseen.

    `confirmation`: None when the caller shows no discrepancies (the API); otherwise approving
    over any discrepancy needs it to name the latest match (module docstring).
    """
    # The many-form builds on this module's rules, so it is imported when first used.
    from review.decisions_many import ReviewRequest, invoice_review_many

    request = ReviewRequest(
        invoice_id=invoice.pk,
        action=action,
        actor=actor,
        role=role,
        comment=comment or "",
        expected_status=expected_status,
        confirmation=confirmation,
        expected_step=expected_step,
    )
    [outcome] = invoice_review_many(tenant=tenant, requests=[request])
    if outcome.error is not None:
        raise outcome.error
    assert outcome.invoice is not None  # an outcome is the invoice or the refusal
    invoice.status, invoice.review_queue = outcome.invoice.status, outcome.invoice.review_queue
    return outcome.invoice
