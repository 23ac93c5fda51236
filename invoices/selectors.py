"""Reads of invoices, always starting from the tenant."""

from __future__ import annotations

from invoices.models import Invoice
from tenants.models import Tenant
from tenants.scoping import TenantQuerySet


def invoice_list(*, tenant: Tenant) -> TenantQuerySet:
    return Invoice.objects.for_tenant(tenant)
