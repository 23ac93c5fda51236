"""Reads of purchase orders and goods receipts, always starting from the tenant."""

from __future__ import annotations

from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.models import Tenant
from tenants.scoping import TenantQuerySet


def purchase_order_list(*, tenant: Tenant) -> TenantQuerySet:
    return PurchaseOrder.objects.for_tenant(tenant)


def goods_receipt_list(*, tenant: Tenant) -> TenantQuerySet:
    return GoodsReceipt.objects.for_tenant(tenant)
