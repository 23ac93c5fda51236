"""The purchase order lifecycle: open → closed or cancelled, through one function."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from purchasing.models import PurchaseOrder
from recon_site.state_machine import StateMachine
from tenants.models import Tenant

P = PurchaseOrder.Status

PURCHASE_ORDER_LIFECYCLE = StateMachine(
    entity="Purchase order",
    moves={
        P.OPEN: frozenset({P.CLOSED, P.CANCELLED}),
        P.CLOSED: frozenset(),
        P.CANCELLED: frozenset(),
    },
)


def purchase_order_transition(
    *, tenant: Tenant, purchase_order: PurchaseOrder, to_status: str, actor: Actor, reason: str = ""
) -> PurchaseOrder:
    """Close or cancel a PO if the table allows it; write the audit event with it."""
    with transaction.atomic():
        current = PurchaseOrder.objects.for_tenant(tenant).select_for_update().get(pk=purchase_order.pk)
        PURCHASE_ORDER_LIFECYCLE.check(current.status, to_status)
        before = {"status": current.status}
        current.status = to_status
        current.closed_at = timezone.now()
        current.save(update_fields=["status", "closed_at"])
        after = {"status": to_status, **({"reason": reason} if reason else {})}
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="purchase_order",
            entity_id=current.pk,
            action="transition",
            before=before,
            after=after,
        )
    purchase_order.status = current.status
    return current
