"""The purchase order lifecycle: the table of moves and the one function that makes them.

| from      | to        | action   | by, and why                                                         |
|-----------|-----------|----------|---------------------------------------------------------------------|
| open      | closed    | close    | buyer or AP: everything expected has arrived and been billed, or    |
|           |           |          | the rest will never come (closed short). Comment optional.          |
| open      | cancelled | cancel   | buyer: the order is called off before any goods arrived. Comment    |
|           |           |          | (the reason) required; refused once a goods receipt exists — goods  |
|           |           |          | that arrived are closed, not cancelled.                             |
| closed    | open      | reopen   | a late delivery or invoice is legitimately expected after all.      |
|           |           |          | Comment optional.                                                   |
| cancelled | —         | —        | final: the vendor was told not to deliver; more goods need a new PO. |

What the other parts of Recon do with a PO that is not open:
- matching never infers one (only open POs are candidates); an invoice that names one gets a
  `po_closed` discrepancy (high: never auto-approved, escalated review), which says whether the
  order is closed or cancelled;
- a goods receipt against a cancelled PO is refused (purchasing.services);
- when a PO is closed or cancelled, its invoices `on_hold` (waiting for goods that will now not
  come as ordered) go back to `received` in the same transaction and are matched again, so they
  reach a reviewer with `po_closed` instead of waiting out HOLD_MAX_DAYS;
- when a PO is reopened, its open invoices (in review, on hold) whose latest match found it
  closed are matched again, in the same transaction: `po_closed` no longer holds.
PO lines are never changed once stored (no service edits them), so no other PO change
re-matches anything.

Every move writes its audit event (`purchase_order` / `transition`, before and after status, the
comment as `reason`) in the transaction that makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid
from core.locks import matching_lock_wait
from core.state_machine import IllegalTransition, StateMachine
from matching.holds import matching_requeue_for_purchase_order, matching_requeue_for_reopened_purchase_order
from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.models import Tenant

P = PurchaseOrder.Status

PURCHASE_ORDER_LIFECYCLE = StateMachine(
    entity="Purchase order",
    moves={
        P.OPEN: frozenset({P.CLOSED, P.CANCELLED}),
        P.CLOSED: frozenset({P.OPEN}),
        P.CANCELLED: frozenset(),
    },
)

COMMENT_REQUIRED = "A comment is required to {action} a purchase order."
CANCEL_AFTER_RECEIPT = (
    "Purchase order {po_number} has goods receipts, so it cannot be cancelled: close it instead "
    "(nothing more is expected, and what arrived stays on record)."
)


@dataclass(frozen=True)
class PurchaseOrderAction:
    name: str
    to_status: str
    comment_required: bool


PURCHASE_ORDER_ACTIONS = {
    "close": PurchaseOrderAction("close", P.CLOSED, comment_required=False),
    "cancel": PurchaseOrderAction("cancel", P.CANCELLED, comment_required=True),
    "reopen": PurchaseOrderAction("reopen", P.OPEN, comment_required=False),
}


def purchase_order_transition(
    *,
    tenant: Tenant,
    purchase_order: PurchaseOrder,
    to_status: str,
    actor: Actor,
    reason: str = "",
    expected_status: str | None = None,
) -> PurchaseOrder:
    """Move a PO to `to_status` if the table allows it; write the audit event with it.

    The row is locked and re-read, so two people acting at once are serialized and the second
    sees the first one's result; `expected_status` (what the caller's page showed) turns a lost
    race into a `stale_state` 409 instead of a silent second move. The tenant's matching lock is
    taken first, as a goods receipt does: a run in flight could otherwise put an invoice of
    this PO on hold after the requeue below looked for such invoices.
    """
    with transaction.atomic():
        matching_lock_wait(tenant=tenant)
        current = PurchaseOrder.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=purchase_order.pk)
        PURCHASE_ORDER_LIFECYCLE.check_expected(current.status, expected_status)
        PURCHASE_ORDER_LIFECYCLE.check(current.status, to_status)
        if to_status == P.CANCELLED and GoodsReceipt.objects.for_tenant(tenant).filter(purchase_order=current).exists():
            message = CANCEL_AFTER_RECEIPT.format(po_number=current.po_number)
            raise IllegalTransition(message, details={"from": str(current.status), "to": str(to_status)})
        before = {"status": str(current.status)}
        current.status = to_status
        current.closed_at = None if to_status == P.OPEN else timezone.now()
        current.save(update_fields=["status", "closed_at"])
        # Invoice rows are locked before the audit chain is appended to (row, then chain), the
        # order every other writer takes.
        if to_status != P.OPEN:
            matching_requeue_for_purchase_order(tenant=tenant, purchase_order=current, actor=actor)
        else:
            matching_requeue_for_reopened_purchase_order(tenant=tenant, purchase_order=current, actor=actor)
        after = {"status": str(to_status), **({"reason": reason} if reason else {})}
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="purchase_order",
            entity_id=current.pk,
            action="transition",
            before=before,
            after=after,
        )
    purchase_order.status, purchase_order.closed_at = current.status, current.closed_at
    return current


def purchase_order_act(
    *,
    tenant: Tenant,
    purchase_order: PurchaseOrder,
    action: str,
    actor: Actor,
    comment: str = "",
    expected_status: str | None = None,
) -> PurchaseOrder:
    """Close, cancel or reopen a PO (`PURCHASE_ORDER_ACTIONS`) through the one transition function."""
    po_action = PURCHASE_ORDER_ACTIONS[action]
    comment = (comment or "").strip()
    if po_action.comment_required and not comment:
        message = COMMENT_REQUIRED.format(action=action)
        raise DocumentInvalid(message, details={"comment": [message]})
    return purchase_order_transition(
        tenant=tenant,
        purchase_order=purchase_order,
        to_status=po_action.to_status,
        actor=actor,
        reason=comment,
        expected_status=expected_status,
    )
