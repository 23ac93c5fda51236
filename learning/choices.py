"""A person's choices on an invoice the engine honours when it matches the invoice again (issue
#20 item 1): an invoice line assigned by hand to a PO line of the invoice's PO, or to none.

Called by review.manual_choices inside its transaction, after the invoice's re-match move and
the decision's example (learning.services.example_record) are written: the choice cites the
example, supersedes the earlier choice of the same line (kept, with when), teaches the item
alias the assignment vouches for (as an approval does) and forgets one it contradicts, and is
audited on the invoice's timeline.
"""

from __future__ import annotations

from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from invoices.models import Invoice, InvoiceLine
from learning.models import ChoiceKind, DecisionExample, HumanChoice
from learning.services import item_aliases_teach, item_aliases_unlearn_pair
from purchasing.models import PurchaseOrderLine
from tenants.models import Tenant


def line_text(po_line: PurchaseOrderLine | None) -> str:
    """A PO line as a choice names it to a person ("PO line 2 · Duct tape"), or "no PO line"."""
    return f"PO line {po_line.line_number} · {po_line.description}" if po_line is not None else "no PO line"


def line_assignment_record(
    *,
    tenant: Tenant,
    example: DecisionExample,
    invoice: Invoice,
    invoice_line: InvoiceLine,
    po_line: PurchaseOrderLine | None,
    previous: PurchaseOrderLine | None,
    actor: Actor,
) -> HumanChoice:
    """Record that `invoice_line` bills `po_line` (None: no line of the PO), as `actor` chose;
    `previous` is the PO line the overridden match had paired it with."""
    now = timezone.now()
    HumanChoice.objects.for_tenant(tenant).filter(
        kind=ChoiceKind.LINE, invoice_line_id=invoice_line.pk, superseded_at__isnull=True
    ).update(superseded_at=now)
    choice = HumanChoice.objects.create(
        tenant=tenant,
        kind=ChoiceKind.LINE,
        invoice=invoice,
        invoice_line=invoice_line,
        po_line=po_line,
        purchase_order_id=po_line.purchase_order_id if po_line is not None else None,
        example=example,
        chosen_by_label=example.actor_label,
    )
    reason = f"Line {invoice_line.line_number} assigned to {line_text(po_line)}"
    if actor.kind == "user" and invoice.vendor_id is not None:
        if previous is not None and (po_line is None or previous.pk != po_line.pk):
            item_aliases_unlearn_pair(
                tenant=tenant, vendor_id=invoice.vendor_id, line=invoice_line, po_line=previous, actor=actor,
                why=f"line {invoice_line.line_number} of invoice {invoice.invoice_number} assigned elsewhere by hand",
            )  # fmt: skip
        if po_line is not None:
            item_aliases_teach(tenant=tenant, example=example, invoice=invoice, vendor_id=invoice.vendor_id,
                               actor=actor, pairs=[(invoice_line, po_line)])  # fmt: skip
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice.pk,
        action="line_assigned",
        before={"invoice_line": invoice_line.line_number, "po_line": previous.line_number if previous else None},
        after={
            "invoice_line": invoice_line.line_number,
            "po_line": po_line.line_number if po_line is not None else None,
            "reason": f"{reason}.",
        },
    )
    return choice
