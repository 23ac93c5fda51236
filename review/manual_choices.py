"""A reviewer corrects the match by hand (issue #20 items 1 and 2): an invoice line assigned to
another line of the invoice's purchase order, or to none; the vendor of an invoice whose vendor
was not recognised; the purchase order of an invoice that names none or one that does not exist.

In one transaction, in the lock order (core.locks): the tenant's matching lock (a run must not
match the invoice between the check and the move), the invoice's row, then the invoice's re-match
move (`pending_review → received`, audited with the choice as its reason), the choice recorded as
a labelled example tied to the match it overrode (review.learning_record), and the choice itself
(learning.choices: superseding the earlier one, teaching the item alias or the vendor name it
vouches for, audited). A run is asked for at commit; it matches the invoice with the choice
honoured (matching.engine), and the reason names who chose what and when.

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
from learning.choices import (
    line_assignment_record,
    line_text,
    purchase_order_choice_record,
    vendor_choice_record,
)
from learning.models import ChoiceKind, ExampleKind, HumanChoice
from matching.models import MatchRun
from matching.rematch import matching_rematch_locked
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from review.decisions import ESCALATED_NEEDS_APPROVER, ReviewForbidden, can_review
from review.learning_record import review_example_record
from tenants.models import Tenant
from vendors.models import Vendor

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
NOT_IN_REVIEW_CHOICE = "A {what} can be chosen only while the invoice waits for review; invoice {number} is {status}."
VENDOR_KNOWN = "Invoice {number} is already matched to vendor {vendor}."
NOT_A_VENDOR = "Choose one of your active vendors."
VENDOR_FIRST = "Choose the vendor of invoice {number} first: a purchase order is chosen among the vendor's."
PO_KNOWN = "Invoice {number} is already matched to purchase order {po_number}."
NOT_AN_OPEN_PO = "Choose one of {vendor}'s open purchase orders in {currency}."
VENDOR_REASON = "Vendor {vendor} chosen by {actor}: matching again."
PO_REASON = "Purchase order {po_number} chosen by {actor}: matching again."


def _locked_in_review(
    *, tenant: Tenant, invoice: Invoice, actor: Actor, role: str | None, expected_match_id: uuid.UUID | None,
    message: str = NOT_IN_REVIEW, what: str = "",
) -> Invoice:  # fmt: skip
    """The invoice, locked under the matching lock, if `actor` may correct its match now."""
    if actor.kind != "user":
        raise ReviewForbidden(PEOPLE_ONLY)
    matching_lock_wait(tenant=tenant)
    locked = (
        Invoice.objects.for_tenant(tenant)
        .select_for_update(no_key=True, of=("self",))
        .select_related("purchase_order", "vendor")
        .get(pk=invoice.pk)
    )
    if not can_review(role=role, invoice=locked):
        raise ReviewForbidden(ESCALATED_NEEDS_APPROVER)
    if locked.status != InvoiceStatus.PENDING_REVIEW:
        raise ConflictError(
            message.format(number=locked.invoice_number, status=locked.get_status_display().lower(), what=what),
            details={"status": locked.status},
        )
    if expected_match_id is not None and locked.latest_match_id != expected_match_id:
        raise ConflictError(MATCH_CHANGED)
    return locked


def _rematch(*, tenant: Tenant, invoice: Invoice, actor: Actor, reason: str, facts: dict[str, object]) -> None:
    outcome = matching_rematch_locked(
        tenant=tenant, invoice_ids=[invoice.pk], actor=actor, reason=reason, facts=facts,
        trigger=MatchRun.Trigger.API, run_now=True,
    )  # fmt: skip
    if invoice.pk not in outcome.moved:  # the row is locked and in review: cannot happen
        raise ConflictError(outcome.skipped.get(invoice.pk, NOT_IN_REVIEW))


def invoice_vendor_choose(
    *,
    tenant: Tenant,
    invoice: Invoice,
    vendor_id: uuid.UUID,
    actor: Actor,
    role: str | None,
    expected_match_id: uuid.UUID | None = None,
) -> HumanChoice:
    """The vendor of an invoice whose vendor the engine did not recognise, chosen by a person:
    matched again as that vendor's, and the name it gives learned as the vendor's alias."""
    with transaction.atomic():
        locked = _locked_in_review(tenant=tenant, invoice=invoice, actor=actor, role=role,
                                   expected_match_id=expected_match_id, message=NOT_IN_REVIEW_CHOICE,
                                   what="vendor")  # fmt: skip
        if locked.vendor is not None:
            raise ConflictError(VENDOR_KNOWN.format(number=locked.invoice_number, vendor=locked.vendor.name))
        vendor = Vendor.objects.for_tenant(tenant).filter(pk=vendor_id, is_active=True).first()
        if vendor is None:
            raise DocumentInvalid(NOT_A_VENDOR, details={"vendor": [NOT_A_VENDOR]})
        chosen = {"vendor": vendor.name, "name_on_invoice": locked.vendor_name_raw}
        reason = VENDOR_REASON.format(vendor=vendor.name, actor=actor.label)
        _rematch(tenant=tenant, invoice=locked, actor=actor, reason=reason, facts={"vendor_chosen": chosen})
        example = review_example_record(
            tenant=tenant, invoice=locked, kind=ExampleKind.VENDOR_RESOLUTION, actor=actor,
            details={"vendor_id": str(vendor.pk), "vendor_name": vendor.name, "name_on_invoice": locked.vendor_name_raw,
                     "tax_id_on_invoice": locked.vendor_tax_id_raw},
            vendor_id=vendor.pk,
        )  # fmt: skip
        return vendor_choice_record(tenant=tenant, example=example, invoice=locked, vendor=vendor, actor=actor)


def invoice_purchase_order_choose(
    *,
    tenant: Tenant,
    invoice: Invoice,
    purchase_order_id: uuid.UUID,
    actor: Actor,
    role: str | None,
    expected_match_id: uuid.UUID | None = None,
) -> HumanChoice:
    """The PO of an invoice that names none, or one that does not exist, chosen by a person among
    its vendor's open POs in its currency: matched again against that PO."""
    with transaction.atomic():
        locked = _locked_in_review(tenant=tenant, invoice=invoice, actor=actor, role=role,
                                   expected_match_id=expected_match_id, message=NOT_IN_REVIEW_CHOICE,
                                   what="purchase order")  # fmt: skip
        if locked.vendor is None:
            raise ConflictError(VENDOR_FIRST.format(number=locked.invoice_number))
        if locked.purchase_order is not None:
            raise ConflictError(
                PO_KNOWN.format(number=locked.invoice_number, po_number=locked.purchase_order.po_number)
            )
        purchase_order = (
            PurchaseOrder.objects.for_tenant(tenant)
            .filter(
                pk=purchase_order_id,
                vendor_id=locked.vendor_id,
                status=PurchaseOrder.Status.OPEN,
                currency=locked.currency,
            )
            .first()
        )
        if purchase_order is None:
            message = NOT_AN_OPEN_PO.format(vendor=locked.vendor.name, currency=locked.currency)
            raise DocumentInvalid(message, details={"purchase_order": [message]})
        _rematch(tenant=tenant, invoice=locked, actor=actor,
                 reason=PO_REASON.format(po_number=purchase_order.po_number, actor=actor.label),
                 facts={"purchase_order_chosen": {"po_number": purchase_order.po_number,
                                                  "named_on_invoice": locked.po_number}})  # fmt: skip
        example = review_example_record(
            tenant=tenant, invoice=locked, kind=ExampleKind.PO_CHOICE, actor=actor,
            details={"purchase_order_id": str(purchase_order.pk), "po_number": purchase_order.po_number,
                     "named_on_invoice": locked.po_number},
        )  # fmt: skip
        return purchase_order_choice_record(
            tenant=tenant, example=example, invoice=locked, purchase_order=purchase_order, actor=actor
        )


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
    with transaction.atomic():
        locked = _locked_in_review(
            tenant=tenant, invoice=invoice, actor=actor, role=role, expected_match_id=expected_match_id
        )
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
        _rematch(
            tenant=tenant,
            invoice=locked,
            actor=actor,
            reason=REMATCH_REASON.format(line=invoice_line.line_number, target=target, actor=actor.label),
            facts={
                "line_assigned": {
                    "invoice_line": invoice_line.line_number,
                    "from": previous.line_number if previous is not None else None,
                    "to": po_line.line_number if po_line is not None else None,
                }
            },
        )
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
