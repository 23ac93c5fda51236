"""Who works which invoice, and how late it is (#18 item 4: assignment and service levels).

An invoice is handed to a member of the organisation (`invoice_assign`: by a colleague, who picks
the member, or by the member themselves, "Assign to me"), or handed back (unassigned). Every
change is an audit event of the invoice ("assigned", before → after) in the transaction that
makes it, and the member it was given to by someone else finds a notification. A hand-over made
on a page that showed another assignee than the current one is refused (`expected`), so two
clerks claiming the same invoice at once cannot both believe they have it. Disputes have their
own owner (review.disputes.dispute_assign); "My work" lists both.

Only work that can still be done is handed over (`ASSIGNABLE`): rejected, paid and void invoices
are done. An invoice in the escalated queue goes only to an approver or an administrator (whom
its decision needs). The assignee is kept when the invoice moves on, as the person who last had
it.

Service levels (`invoice_sla`), the same on every list:
- **age**: whole days since the invoice arrived in Recon;
- **overdue for review**: waiting for a person (a draft, in review, on hold, in dispute) for more
  than the tenant's `review_sla_days` (Settings → Matching; 3 by default);
- **payment overdue**: not yet paid and past the due date the document states.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import ConflictError, DocumentInvalid
from invoices.models import Invoice, InvoiceStatus
from review.decisions import can_review
from review.models import Dispute, DisputeStatus
from review.people import active_membership, member_choices, notify
from tenants.models import Membership, Tenant
from tenants.selectors import tenant_settings_get

S = InvoiceStatus

# Work that can still be done on the invoice: what can be handed to someone, and "My work".
ASSIGNABLE = (
    S.DRAFT, S.RECEIVED, S.ON_HOLD, S.PENDING_REVIEW, S.DISPUTED, S.APPROVED, S.PAYMENT_SCHEDULED, S.PARTIALLY_PAID,
)  # fmt: skip
# Waiting for a person's decision: what the review service level measures.
WAITING_FOR_A_PERSON = (S.DRAFT, S.PENDING_REVIEW, S.ON_HOLD, S.DISPUTED)
# Owed and not yet paid: what a passed due date makes late.
NOT_YET_PAID = (
    S.RECEIVED, S.ON_HOLD, S.PENDING_REVIEW, S.DISPUTED, S.APPROVED, S.PAYMENT_SCHEDULED, S.PARTIALLY_PAID,
)  # fmt: skip

FIELD = "assignee"
NOT_ASSIGNABLE = "Invoice {number} is {status}: there is nothing left to do on it, so it cannot be assigned."
CHANGED_MEANWHILE = "{current} while you were looking at it. Nothing was changed: check below and try again."
ESCALATED_NEEDS_APPROVER = "{name} is a clerk: an escalated invoice goes to an approver or an administrator."
ASSIGNED_TO_YOU = "{author} assigned invoice {number} to you."
ASSIGNED = "Invoice {number} assigned to {name}."
CLAIMED = "Invoice {number} is yours now."
UNASSIGNED = "Invoice {number} is no longer assigned to anyone."
UNCHANGED = "Invoice {number} was already assigned so; nothing changed."


class AssignmentChanged(ConflictError):
    """The page showed another assignee than the invoice has now."""

    code = "assignment_changed"


@dataclass(frozen=True)
class Sla:
    """How late one invoice is, as every list shows it (see the module's docstring)."""

    age_days: int
    due_date: dt.date | None
    review_overdue: bool
    payment_overdue: bool

    @property
    def overdue(self) -> bool:
        return self.review_overdue or self.payment_overdue

    @property
    def overdue_label(self) -> str:
        """What the highlight says, in the clerk's words."""
        if self.review_overdue and self.payment_overdue:
            return "Overdue for review; payment overdue"
        if self.review_overdue:
            return "Overdue for review"
        return "Payment overdue" if self.payment_overdue else ""


def review_sla_days(tenant: Tenant) -> int:
    """The tenant's review service level in days (its settings row, or the default)."""
    return tenant_settings_get(tenant=tenant).review_sla_days


def invoice_sla(
    *, status: str, received_at: dt.datetime, due_date: dt.date | None, sla_days: int, today: dt.date | None = None
) -> Sla:
    """The service level of an invoice with this status, arrival and due date, on `today`."""
    today = today or timezone.localdate()
    age = max((today - timezone.localdate(received_at)).days, 0)
    return Sla(
        age_days=age,
        due_date=due_date,
        review_overdue=status in WAITING_FOR_A_PERSON and age > sla_days,
        payment_overdue=status in NOT_YET_PAID and due_date is not None and due_date < today,
    )


def sla_of(invoice: Invoice, *, sla_days: int, today: dt.date | None = None) -> Sla:
    """`invoice_sla` of an invoice read whole (a queue's row, an invoice page, My work)."""
    return invoice_sla(
        status=invoice.status, received_at=invoice.created_at, due_date=invoice.due_date, sla_days=sla_days, today=today
    )


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def invoice_assign(
    *,
    tenant: Tenant,
    invoice: Invoice,
    actor: Actor,
    assignee_id: Any,
    expected_assignee_id: Any = ...,
) -> Invoice:
    """Give `invoice` to the member `assignee_id` (None or "": to nobody), audited.

    `expected_assignee_id`, when given, is the assignee the acting page showed (None: nobody):
    if someone else changed it since, nothing is changed and the refusal says who has it now.
    """
    membership = active_membership(tenant, assignee_id, field=FIELD) if assignee_id not in (None, "") else None
    assignee = membership.user if membership is not None else None
    with transaction.atomic():
        # Only the invoice's row is locked (select_for_update(of=...)): the assignee's user row
        # is read, not changed, and a nullable join cannot be locked anyway.
        locked = (
            Invoice.objects.for_tenant(tenant)
            .select_for_update(no_key=True, of=("self",))
            .select_related("assigned_to")
            .get(pk=invoice.pk)
        )
        if locked.status not in ASSIGNABLE:
            message = NOT_ASSIGNABLE.format(number=locked.invoice_number, status=locked.get_status_display().lower())
            raise DocumentInvalid(message, details={FIELD: [message]})
        if expected_assignee_id is not ... and str(expected_assignee_id or "") != str(locked.assigned_to_id or ""):
            current = (
                f"{locked.assigned_to.get_username()} took it"
                if locked.assigned_to is not None
                else "Someone handed it back"
            )
            message = CHANGED_MEANWHILE.format(current=current)
            raise AssignmentChanged(message, details={FIELD: [message]})
        if membership is not None and not can_review(role=membership.role, invoice=locked):
            message = ESCALATED_NEEDS_APPROVER.format(name=membership.user.get_username())
            raise DocumentInvalid(message, details={FIELD: [message]})
        if locked.assigned_to_id == (assignee.pk if assignee is not None else None):
            return locked
        before = {"assigned_to": _username(locked.assigned_to)}
        locked.assigned_to, locked.assigned_at = assignee, timezone.now() if assignee is not None else None
        locked.save(update_fields=["assigned_to", "assigned_at", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="invoice",
            entity_id=locked.pk,
            action="assigned",
            before=before,
            after={"assigned_to": _username(assignee)},
        )
        if assignee is not None and str(assignee.pk) != str(actor.id):
            notify(tenant, assignee, locked, ASSIGNED_TO_YOU.format(author=actor.label, number=locked.invoice_number))
    return locked


def assigned_invoices(*, tenant: Tenant, user_id: Any) -> QuerySet:
    """The invoices `user_id` has that can still be worked, oldest first (My work)."""
    return (
        Invoice.objects.for_tenant(tenant)
        .filter(assigned_to_id=user_id, status__in=ASSIGNABLE)
        .select_related("vendor")
        .order_by("created_at", "id")
    )


def owned_disputes(*, tenant: Tenant, user_id: Any) -> QuerySet:
    """The open disputes `user_id` owns, the most urgent (earliest due) first (My work)."""
    return (
        Dispute.objects.for_tenant(tenant)
        .filter(owner_id=user_id, status=DisputeStatus.OPEN)
        .select_related("invoice", "invoice__vendor")
        .order_by("due_date", "created_at", "id")
    )


def assignee_choices(members: Iterable[Membership]) -> list[tuple[str, str]]:
    """A list's "Assigned to" choices: anyone, me, nobody, then each member by name."""
    return [("", "Anyone"), ("me", "Me"), ("none", "Nobody"), *member_choices(members)]


def assignee_filter(*, value: str, user_id: Any) -> dict[str, Any] | None:
    """The ORM filter of a list's "Assigned to" choice: "me", "none" or a user's id; None for
    anyone (or a value that is none of these, ignored like any bad filter)."""
    if value == "me":
        return {"assigned_to_id": user_id}
    if value == "none":
        return {"assigned_to__isnull": True}
    if value.isdigit():
        return {"assigned_to_id": int(value)}
    return None
