"""Reads of purchase orders and goods receipts, always starting from the tenant."""

from __future__ import annotations

from core.tenancy.scoping import TenantQuerySet
from purchasing.models import GoodsReceipt, PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant


def purchase_order_list(*, tenant: Tenant) -> TenantQuerySet:
    return PurchaseOrder.objects.for_tenant(tenant)


def goods_receipt_list(*, tenant: Tenant) -> TenantQuerySet:
    return GoodsReceipt.objects.for_tenant(tenant)


def cost_centres_in_use(*, tenant: Tenant, limit: int = 500) -> list[str]:
    """The cost centres the tenant's PO lines carry, sorted (offered as one types a rule's)."""
    return list(
        PurchaseOrderLine.objects.for_tenant(tenant)
        .exclude(cost_centre="")
        .order_by("cost_centre")
        .values_list("cost_centre", flat=True)
        .distinct()[:limit]
    )
