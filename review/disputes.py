"""Disputes: a disputed invoice's conversation with the vendor, and its end (#18; DESIGN.md §4).

A dispute is opened when a reviewer disputes an invoice in review (`dispute_open`: the invoice
moves pending_review → disputed through the lifecycle's one function, and the dispute records why
— price, quantity, goods not received, duplicate, other —, who owns it and until when). Its thread
holds internal notes and messages to the vendor; an `@username` of a member of the organisation
notifies them in the app. It ends (`dispute_resolve`) in one of:

- back to review (the vendor explained, or corrected something outside Recon):
  disputed → pending_review (standard queue);
- replaced by a corrected document (the vendor's new invoice supersedes it): disputed → void, and
  the new one is matched on its own;
- offset by a credit note: in full, void (the credit note voided it at the door); **partial**,
  disputed → pending_review, with the credit taken off what is owed;
- voided: disputed → void;
- rejected: disputed → rejected.

**Partial credit notes** (DESIGN.md is silent; defined here): a credit note for less than the
invoice's total changes no state by itself (invoices.services); what is owed becomes the amount due
less the credits (payments.reconciliation.loading.open_balances), which payments and the forecast
work on. Ending a dispute "offset by a credit note" with a partial credit sends the invoice back to
review, where the reviewer approves what is left (matching still checks the full total against the
PO: the credit is a payment matter, not a different invoice).

A thread entry may carry files, or files may be added alone (review.dispute_attachments: kept by
source_files, each an `attached` event of the dispute).

Every step is an audit event in the transaction that makes it: the dispute's own moves go through
`dispute_transition` (DISPUTE_LIFECYCLE: open → resolved), the invoice's through invoice_transition.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid
from core.state_machine import StateMachine
from core.text import nul_error
from invoices.lifecycle import invoice_transition
from invoices.models import DocumentType, Invoice, InvoiceStatus, ReviewQueue
from invoices.numbers import normalize_invoice_number
from learning.models import ExampleKind
from review.decisions import ESCALATED_NEEDS_APPROVER, ReviewForbidden, can_review
from review.dispute_attachments import dispute_attachments_checked, dispute_attachments_write
from review.intake.services import IncomingFile
from review.learning_record import review_example_record
from review.models import (
    Dispute,
    DisputeComment,
    DisputeCommentKind,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
)
from review.people import active_members, active_membership, notify
from tenants.models import Tenant

S = InvoiceStatus

DISPUTE_LIFECYCLE = StateMachine(
    entity="Dispute",
    moves={DisputeStatus.OPEN: frozenset({DisputeStatus.RESOLVED}), DisputeStatus.RESOLVED: frozenset()},
)

COMMENT_MAX = 5000
REASON_REQUIRED = "Say what is disputed: price, quantity, goods not received, duplicate or other."
COMMENT_REQUIRED = "Write what is wrong: the vendor and the auditor will read it."
COMMENT_TOO_LONG = f"At most {COMMENT_MAX} characters."
OUTCOME_UNKNOWN = "Choose how the dispute ends."
DUE_IN_PAST = "The due date cannot be before today."
ALREADY_RESOLVED = "This dispute has ended already; nothing was changed."
CORRECTION_REQUIRED = "Name the vendor's corrected invoice (its number)."
CORRECTION_UNKNOWN = "No other invoice of this vendor has this number."
CREDIT_NOTE_REQUIRED = "Name the credit note (its number)."
CREDIT_NOTE_UNKNOWN = "No credit note of this vendor credits this invoice under this number."
MENTIONED = "{author} mentioned you in the dispute of invoice {number}."
ASSIGNED = "{author} gave you the dispute of invoice {number}."
RESOLVED_REASON = "Dispute ended: {outcome}. {comment}"
SUPERSEDED_REASON = "Replaced by the vendor's corrected invoice {number}."

_MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")

# Where each outcome sends the disputed invoice (a credit in full has voided it already).
_OUTCOME_MOVES: dict[str, tuple[str, str | None]] = {
    DisputeOutcome.BACK_TO_REVIEW: (S.PENDING_REVIEW, ReviewQueue.STANDARD),
    DisputeOutcome.SUPERSEDED: (S.VOID, None),
    DisputeOutcome.CREDITED: (S.PENDING_REVIEW, ReviewQueue.STANDARD),
    DisputeOutcome.VOIDED: (S.VOID, None),
    DisputeOutcome.REJECTED: (S.REJECTED, None),
}


def _comment_checked(comment: str, *, field: str = "comment", required: bool = True) -> str:
    comment = (comment or "").strip()
    if required and not comment:
        raise DocumentInvalid(COMMENT_REQUIRED, details={field: [COMMENT_REQUIRED]})
    if problem := nul_error(comment):
        raise DocumentInvalid(problem, details={field: [problem]})
    if len(comment) > COMMENT_MAX:
        raise DocumentInvalid(COMMENT_TOO_LONG, details={field: [COMMENT_TOO_LONG]})
    return comment


def _audit(tenant: Tenant, actor: Actor, dispute: Dispute, action: str, before: Any, after: dict[str, Any]) -> None:
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="dispute",
        entity_id=dispute.pk,
        action=action,
        before=before,
        after=after,
    )


def dispute_open(
    *,
    tenant: Tenant,
    invoice: Invoice,
    actor: Actor,
    role: str | None,
    author: Any,
    reason: str,
    comment: str,
    owner_id: Any = None,
    due_date: dt.date | None = None,
    expected_status: str | None = None,
    files: Sequence[IncomingFile] = (),
) -> Dispute:
    """Dispute an invoice in review: pending_review → disputed, and the dispute with its first note.

    The owner defaults to whoever opens it; the comment is the first entry of the thread (an
    internal note, carrying `files` if any: review.dispute_attachments) and the invoice's
    transition reason.
    """
    if reason not in DisputeReason.values:
        raise DocumentInvalid(REASON_REQUIRED, details={"reason": [REASON_REQUIRED]})
    comment = _comment_checked(comment)
    checked = dispute_attachments_checked(files)
    if due_date is not None and due_date < timezone.localdate():
        raise DocumentInvalid(DUE_IN_PAST, details={"due_date": [DUE_IN_PAST]})
    with transaction.atomic():
        owner = active_membership(tenant, owner_id, field="owner").user if owner_id else author

        def may_act(current: Invoice) -> None:
            if not can_review(role=role, invoice=current):
                raise ReviewForbidden(ESCALATED_NEEDS_APPROVER)

        invoice_transition(
            tenant=tenant,
            invoice=invoice,
            to_status=S.DISPUTED,
            actor=actor,
            reason=comment,
            expected_status=expected_status,
            context={"review_action": "dispute", "dispute_reason": reason},
            guard=may_act,
        )
        dispute = Dispute.objects.create(tenant=tenant, invoice=invoice, reason=reason, owner=owner, due_date=due_date)
        review_example_record(tenant=tenant, invoice=invoice, kind=ExampleKind.DISPUTE, actor=actor, comment=comment,
                              details={"dispute_reason": reason})  # fmt: skip
        _audit(
            tenant,
            actor,
            dispute,
            "created",
            None,
            {
                "invoice_id": str(invoice.pk),
                "reason": reason,
                "owner": owner.get_username() if owner else None,
                "due_date": due_date.isoformat() if due_date else None,
                "status": dispute.status,
            },
        )
        first = _comment_write(tenant=tenant, dispute=dispute, actor=actor, author=author, body=comment)
        dispute_attachments_write(
            tenant=tenant, dispute=dispute, comment=first, actor=actor, author=author, files=checked
        )
        if owner is not None and owner != author:
            notify(tenant, owner, invoice, ASSIGNED.format(author=actor.label, number=invoice.invoice_number))
    return dispute


def dispute_comment_add(
    *,
    tenant: Tenant,
    dispute: Dispute,
    actor: Actor,
    author: Any,
    body: str,
    kind: str = DisputeCommentKind.INTERNAL,
    files: Sequence[IncomingFile] = (),
) -> DisputeComment | None:
    """Add to a dispute's thread: a comment, files (review.dispute_attachments), or both; every
    `@username` of a member is notified in the app.

    With files the comment may be left out (None is returned then: the files stand alone in the
    thread). Every file is checked before anything is written; the comment, the files and their
    audit events commit together or not at all.
    """
    checked = dispute_attachments_checked(files)
    body = _comment_checked(body, field="body", required=not checked)
    if kind not in DisputeCommentKind.values:
        raise DocumentInvalid("Choose an internal note or a message to the vendor.", details={"kind": ["Unknown."]})
    with transaction.atomic():
        locked = Dispute.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=dispute.pk)
        if locked.status != DisputeStatus.OPEN:
            raise DocumentInvalid(ALREADY_RESOLVED, details={"body": [ALREADY_RESOLVED]})
        comment = (
            _comment_write(tenant=tenant, dispute=locked, actor=actor, author=author, body=body, kind=kind)
            if body
            else None
        )
        dispute_attachments_write(
            tenant=tenant, dispute=locked, comment=comment, actor=actor, author=author, files=checked
        )
        return comment


def _comment_write(
    *, tenant: Tenant, dispute: Dispute, actor: Actor, author: Any, body: str, kind: str = DisputeCommentKind.INTERNAL
) -> DisputeComment:
    comment = DisputeComment.objects.create(
        tenant=tenant, dispute=dispute, author=author, author_label=actor.label or actor.id, kind=kind, body=body
    )
    mentioned = _mentioned_members(tenant, body, exclude=author)
    invoice = dispute.invoice
    for user in mentioned:
        notify(tenant, user, invoice, MENTIONED.format(author=actor.label, number=invoice.invoice_number))
    _audit(
        tenant,
        actor,
        dispute,
        "commented",
        None,
        {"comment_id": str(comment.pk), "kind": kind, "body": body, "mentions": [u.get_username() for u in mentioned]},
    )
    return comment


def _mentioned_members(tenant: Tenant, body: str, *, exclude: Any) -> list[Any]:
    names = {name.rstrip(".") for name in _MENTION.findall(body)}
    if not names:
        return []
    user_model = get_user_model()
    # Through the tenant's memberships (a user's other tenants are not visible from here).
    members = active_members(tenant).filter(**{f"user__{user_model.USERNAME_FIELD}__in": names})
    users = [membership.user for membership in members]
    return [user for user in users if user != exclude]


def dispute_assign(
    *, tenant: Tenant, dispute: Dispute, actor: Actor, owner_id: Any, due_date: dt.date | None
) -> Dispute:
    """Hand the dispute to a member and/or set its due date (audited before → after)."""
    if due_date is not None and due_date < timezone.localdate():
        raise DocumentInvalid(DUE_IN_PAST, details={"due_date": [DUE_IN_PAST]})
    with transaction.atomic():
        locked = (
            Dispute.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .select_related("invoice")
            .get(pk=dispute.pk)
        )
        if locked.status != DisputeStatus.OPEN:
            raise DocumentInvalid(ALREADY_RESOLVED, details={"owner": [ALREADY_RESOLVED]})
        owner = active_membership(tenant, owner_id, field="owner").user
        before = {"owner": locked.owner.get_username() if locked.owner else None, "due_date": _iso(locked.due_date)}
        changed_owner = owner != locked.owner
        locked.owner, locked.due_date = owner, due_date
        locked.save(update_fields=["owner", "due_date", "updated_at"])
        _audit(tenant, actor, locked, "updated", before, {"owner": owner.get_username(), "due_date": _iso(due_date)})
        if changed_owner and str(owner.pk) != str(actor.id):
            notify(
                tenant, owner, locked.invoice, ASSIGNED.format(author=actor.label, number=locked.invoice.invoice_number)
            )
    return locked


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class DisputeEnd:
    outcome: str
    comment: str = ""
    document_number: str = ""  # the corrected invoice, or the credit note


def dispute_resolve(*, tenant: Tenant, dispute: Dispute, actor: Actor, role: str | None, end: DisputeEnd) -> Dispute:
    """End a dispute (the module docstring's outcomes): the invoice's move and the dispute's, together."""
    if end.outcome not in DisputeOutcome.values:
        raise DocumentInvalid(OUTCOME_UNKNOWN, details={"outcome": [OUTCOME_UNKNOWN]})
    comment = _comment_checked(end.comment)
    with transaction.atomic():
        locked = (
            Dispute.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .select_related("invoice")
            .get(pk=dispute.pk)
        )
        DISPUTE_LIFECYCLE.check(locked.status, DisputeStatus.RESOLVED)
        invoice = locked.invoice
        context: dict[str, Any] = {"dispute_id": str(locked.pk), "dispute_outcome": end.outcome}
        if end.outcome == DisputeOutcome.SUPERSEDED:
            locked.superseded_by = _corrected_invoice(tenant, invoice, end.document_number)
            context["superseded_by"] = str(locked.superseded_by.pk)
            comment = f"{SUPERSEDED_REASON.format(number=locked.superseded_by.invoice_number)} {comment}"
        if end.outcome == DisputeOutcome.CREDITED:
            locked.credit_note = _credit_note_of(tenant, invoice, end.document_number)
            context["credit_note_id"] = str(locked.credit_note.pk)
        invoice.refresh_from_db(fields=["status", "review_queue"])
        to_status, queue = _OUTCOME_MOVES[end.outcome]
        if not (end.outcome == DisputeOutcome.CREDITED and invoice.status == S.VOID):  # credited in full
            invoice_transition(
                tenant=tenant,
                invoice=invoice,
                to_status=to_status,
                queue=queue,
                actor=actor,
                reason=RESOLVED_REASON.format(outcome=DisputeOutcome(end.outcome).label, comment=comment).strip(),
                expected_status=S.DISPUTED,
                context=context,
            )
        locked.status, locked.outcome, locked.resolved_at = DisputeStatus.RESOLVED, end.outcome, timezone.now()
        locked.save(update_fields=["status", "outcome", "resolved_at", "superseded_by", "credit_note", "updated_at"])
        _audit(
            tenant,
            actor,
            locked,
            "transition",
            {"status": DisputeStatus.OPEN},
            {"status": DisputeStatus.RESOLVED, "outcome": end.outcome, "reason": comment, **context},
        )
    return locked


def _vendor_invoices(tenant: Tenant, invoice: Invoice, number: str, field: str, missing: str) -> Any:
    key = normalize_invoice_number(number)
    if not key:
        raise DocumentInvalid(missing, details={field: [missing]})
    return (
        Invoice.objects.for_tenant(tenant)
        .filter(vendor_id=invoice.vendor_id, invoice_number_normalized=key)
        .exclude(pk=invoice.pk)
        .exclude(status=S.DRAFT)
        .order_by("-created_at")
    )


def _corrected_invoice(tenant: Tenant, invoice: Invoice, number: str) -> Invoice:
    found = _vendor_invoices(tenant, invoice, number, "document_number", CORRECTION_REQUIRED).filter(
        document_type=DocumentType.INVOICE
    )
    corrected = found.first()
    if corrected is None:
        raise DocumentInvalid(CORRECTION_UNKNOWN, details={"document_number": [CORRECTION_UNKNOWN]})
    return corrected


def _credit_note_of(tenant: Tenant, invoice: Invoice, number: str) -> Invoice:
    found = _vendor_invoices(tenant, invoice, number, "document_number", CREDIT_NOTE_REQUIRED).filter(
        document_type=DocumentType.CREDIT_NOTE, credited_invoice=invoice
    )
    credit_note = found.first()
    if credit_note is None:
        raise DocumentInvalid(CREDIT_NOTE_UNKNOWN, details={"document_number": [CREDIT_NOTE_UNKNOWN]})
    return credit_note
