"""Reads of purchase orders and goods receipts, always starting from the tenant."""

from __future__ import annotations

from core.tenancy.scoping import TenantQuerySet
from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.models import Tenant


def purchase_order_list(*, tenant: Tenant) -> TenantQuerySet:
    return PurchaseOrder.objects.for_tenant(tenant)


def goods_receipt_list(*, tenant: Tenant) -> TenantQuerySet:
    return GoodsReceipt.objects.for_tenant(tenant)
