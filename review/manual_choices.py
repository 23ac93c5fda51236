"""A reviewer corrects the match by hand (issue #20 item 1): an invoice line assigned to another
line of the invoice's purchase order, or to none.

In one transaction, in the lock order (core.locks): the tenant's matching lock (a run must not
match the invoice between the check and the move), the invoice's row, then the invoice's re-match
move (`pending_review → received`, audited with the choice as its reason), the choice recorded as
a labelled example tied to the match it overrode (review.learning_record), and the choice itself
(learning.choices: superseding the line's earlier one, teaching the item alias it vouches for,
audited). A run is asked for at commit; it matches the invoice with the choice honoured
(matching.engine.lines), and the reason names who assigned the line and when.

Who may: whoever may act on the invoice in review (review.decisions.can_review: clerks on the
standard queue, approvers and administrators on both), signed in — an API key does not teach.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from core.actors import Actor
from core.exceptions import ConflictError, DocumentInvalid
from core.locks import matching_lock_wait
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from learning.choices import line_assignment_record, line_text
from learning.models import ChoiceKind, ExampleKind, HumanChoice
from matching.models import MatchRun
from matching.rematch import matching_rematch_locked
from purchasing.models import PurchaseOrderLine
from review.decisions import ESCALATED_NEEDS_APPROVER, ReviewForbidden, can_review
from review.learning_record import review_example_record
from tenants.models import Tenant

NOT_IN_REVIEW = "Lines can be assigned only while the invoice waits for review; invoice {number} is {status}."
NO_PURCHASE_ORDER = "Invoice {number} has no purchase order whose lines its lines could be assigned to."
NO_SUCH_LINE = "Invoice {number} has no such line."
NOT_A_LINE_OF_THE_PO = "Choose a line of purchase order {po_number}, or no PO line."
PO_LINE_TAKEN = "PO line {po_line} is already assigned by hand to line {line}: assign that line elsewhere first."
UNCHANGED = "Line {line} is already assigned by hand to {target}."
MATCH_CHANGED = (
    "The invoice was matched again since your page was loaded: check the lines as they are now and assign again."
)
PEOPLE_ONLY = "Lines are assigned by a person signed in."
REMATCH_REASON = "Line {line} assigned to {target} by {actor}: matching again."


def invoice_line_assign(
    *,
    tenant: Tenant,
    invoice: Invoice,
    invoice_line_id: uuid.UUID,
    po_line_id: uuid.UUID | None,
    actor: Actor,
    role: str | None,
    expected_match_id: uuid.UUID | None = None,
) -> HumanChoice:
    """Assign the invoice's line to `po_line_id` (a line of the invoice's PO; None: no PO line)
    and send the invoice back to matching with that assignment honoured (module docstring).

    `expected_match_id`: the match the page showed; another one since is a 409 and nothing
    changes, so nobody corrects a match they did not see."""
    if actor.kind != "user":
        raise ReviewForbidden(PEOPLE_ONLY)
    with transaction.atomic():
        matching_lock_wait(tenant=tenant)
        locked = (
            Invoice.objects.for_tenant(tenant)
            .select_for_update(no_key=True, of=("self",))
            .select_related("purchase_order")
            .get(pk=invoice.pk)
        )
        if not can_review(role=role, invoice=locked):
            raise ReviewForbidden(ESCALATED_NEEDS_APPROVER)
        if locked.status != InvoiceStatus.PENDING_REVIEW:
            raise ConflictError(
                NOT_IN_REVIEW.format(number=locked.invoice_number, status=locked.get_status_display().lower()),
                details={"status": locked.status},
            )
        if expected_match_id is not None and locked.latest_match_id != expected_match_id:
            raise ConflictError(MATCH_CHANGED)
        purchase_order = locked.purchase_order
        if purchase_order is None:
            raise ConflictError(NO_PURCHASE_ORDER.format(number=locked.invoice_number))
        invoice_line = (
            InvoiceLine.objects.for_tenant(tenant)
            .filter(invoice_id=locked.pk, pk=invoice_line_id)
            .select_related("matched_po_line")
            .first()
        )
        if invoice_line is None:
            raise DocumentInvalid(
                NO_SUCH_LINE.format(number=locked.invoice_number),
                details={"invoice_line": [NO_SUCH_LINE.format(number=locked.invoice_number)]},
            )
        po_line = None
        if po_line_id is not None:
            po_line = (
                PurchaseOrderLine.objects.for_tenant(tenant)
                .filter(pk=po_line_id, purchase_order_id=purchase_order.pk)
                .first()
            )
            if po_line is None:
                message = NOT_A_LINE_OF_THE_PO.format(po_number=purchase_order.po_number)
                raise DocumentInvalid(message, details={"po_line": [message]})
        active = {
            choice.invoice_line_id: choice
            for choice in HumanChoice.objects.for_tenant(tenant).filter(
                invoice_id=locked.pk, kind=ChoiceKind.LINE, superseded_at__isnull=True
            )
        }
        mine = active.get(invoice_line.pk)
        if mine is not None and mine.po_line_id == po_line_id:
            raise ConflictError(UNCHANGED.format(line=invoice_line.line_number, target=line_text(po_line)))
        if po_line is not None:
            for line_id, choice in active.items():
                if line_id != invoice_line.pk and choice.po_line_id == po_line.pk:
                    number = (
                        InvoiceLine.objects.for_tenant(tenant).values_list("line_number", flat=True).get(pk=line_id)
                    )
                    raise ConflictError(PO_LINE_TAKEN.format(po_line=po_line.line_number, line=number))
        target = line_text(po_line)
        previous = invoice_line.matched_po_line
        outcome = matching_rematch_locked(
            tenant=tenant,
            invoice_ids=[locked.pk],
            actor=actor,
            reason=REMATCH_REASON.format(line=invoice_line.line_number, target=target, actor=actor.label),
            facts={
                "line_assigned": {
                    "invoice_line": invoice_line.line_number,
                    "from": previous.line_number if previous is not None else None,
                    "to": po_line.line_number if po_line is not None else None,
                }
            },
            trigger=MatchRun.Trigger.API,
            run_now=True,
        )
        if locked.pk not in outcome.moved:  # the row is locked and in review: cannot happen
            raise ConflictError(outcome.skipped.get(locked.pk, NOT_IN_REVIEW))
        example = review_example_record(
            tenant=tenant,
            invoice=locked,
            kind=ExampleKind.LINE_REASSIGNMENT,
            actor=actor,
            details={
                "invoice_line_number": invoice_line.line_number,
                "po_line_number": po_line.line_number if po_line is not None else None,
                "previous_po_line_number": previous.line_number if previous is not None else None,
            },
        )
        return line_assignment_record(
            tenant=tenant,
            example=example,
            invoice=locked,
            invoice_line=invoice_line,
            po_line=po_line,
            previous=previous,
            actor=actor,
        )
