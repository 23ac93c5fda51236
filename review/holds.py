"""Invoices on hold, acted on by a person (#18 item 2): an invoice waits `on_hold` for goods its PO
has not received yet (DESIGN.md §4). A receipt sends it back to matching by itself, and one still
waiting after the tenant's `hold_max_days` escalates by itself (matching.holds). Between the two, a
reviewer may decide not to wait: release it to the standard review queue (the goods came outside
Recon, or the invoice can be paid without them), or escalate it to an approver now. Waiting is
doing nothing. Each move goes through the lifecycle's one function, with the reason given.

The ageing view lists every invoice on hold, the longest waiting first, with the day it escalates
by itself and what its PO has received so far.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DocumentInvalid
from invoices.lifecycle import invoice_transition
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from purchasing.models import GoodsReceiptLine, PurchaseOrderLine
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get

HOLD_ACTIONS = {"release": ReviewQueue.STANDARD, "escalate": ReviewQueue.ESCALATED}
HOLD_ACTION_LABELS = {"release": "Released from hold to review", "escalate": "Escalated from hold to an approver"}
REASON_REQUIRED = "Say why this invoice should not wait for its goods any more."
UNKNOWN_HOLD_ACTION = "Release it to review or escalate it."


def hold_release(
    *,
    tenant: Tenant,
    invoice: Invoice,
    actor: Actor,
    action: str,
    comment: str,
) -> Invoice:
    """Stop waiting: on_hold → pending_review, in the standard queue ("release") or the escalated
    one ("escalate"). A reason is required: the auditor will ask why goods were not waited for."""
    queue = HOLD_ACTIONS.get(action)
    if queue is None:
        raise DocumentInvalid(UNKNOWN_HOLD_ACTION, details={"action": [UNKNOWN_HOLD_ACTION]})
    comment = (comment or "").strip()
    if not comment:
        raise DocumentInvalid(REASON_REQUIRED, details={"comment": [REASON_REQUIRED]})
    return invoice_transition(
        tenant=tenant,
        invoice=invoice,
        to_status=InvoiceStatus.PENDING_REVIEW,
        queue=queue,
        actor=actor,
        reason=comment,
        expected_status=InvoiceStatus.ON_HOLD,
        context={"review_action": f"hold_{action}"},
    )


@dataclass(frozen=True)
class HeldInvoice:
    invoice: Invoice
    held_since: dt.datetime
    days_waiting: int
    escalates_on: dt.date
    ordered: Decimal  # the PO's quantity ordered, all lines
    received: Decimal  # received so far

    @property
    def overdue(self) -> bool:
        return self.escalates_on <= timezone.localdate()


def holds_ageing(*, tenant: Tenant, limit: int = 200, invoice_ids: list[Any] | None = None) -> list[HeldInvoice]:
    """Invoices on hold (all, or those of `invoice_ids`), the longest waiting first, each with its
    PO's receipt status (3 queries). The wait starts as matching.holds counts it for escalation."""
    max_days = tenant_settings_get(tenant=tenant).hold_max_days
    on_hold = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.ON_HOLD)
    if invoice_ids is not None:
        on_hold = on_hold.filter(pk__in=invoice_ids)
    held = list(
        on_hold.select_related("vendor", "purchase_order", "assigned_to")
        .annotate(held_since=Coalesce("latest_match__created_at", "updated_at"))
        .order_by("held_since", "id")[:limit]
    )
    po_ids = {invoice.purchase_order_id for invoice in held if invoice.purchase_order_id}
    ordered = dict(
        PurchaseOrderLine.objects.for_tenant(tenant)
        .filter(purchase_order_id__in=po_ids)
        .values_list("purchase_order_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    received = dict(
        GoodsReceiptLine.objects.for_tenant(tenant)
        .filter(purchase_order_line__purchase_order_id__in=po_ids)
        .values_list("purchase_order_line__purchase_order_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    now = timezone.now()
    rows = []
    for invoice in held:
        since = invoice.held_since  # type: ignore[attr-defined]
        rows.append(
            HeldInvoice(
                invoice=invoice,
                held_since=since,
                days_waiting=(now - since).days,
                escalates_on=(since + dt.timedelta(days=max_days)).date(),
                ordered=ordered.get(invoice.purchase_order_id, Decimal(0)),
                received=received.get(invoice.purchase_order_id, Decimal(0)),
            )
        )
    return rows
