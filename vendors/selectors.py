"""Reads of vendors, always starting from the tenant."""

from __future__ import annotations

import uuid

from core.tenancy.scoping import TenantQuerySet
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias
from vendors.names import normalize_tax_id, normalize_vendor_name


def vendor_list(*, tenant: Tenant) -> TenantQuerySet:
    return Vendor.objects.for_tenant(tenant)


def vendor_resolve_exact(
    *, tenant: Tenant, vendor_id: uuid.UUID | None = None, tax_id: str = "", name: str = ""
) -> Vendor | None:
    """The vendor an incoming document names, by id → tax id → normalized name or alias.

    Exact only: a fuzzy guess is the matching engine's job, where it is scored and explained.
    A name that fits several vendors resolves to none.
    """
    vendors = Vendor.objects.for_tenant(tenant)
    if vendor_id is not None:
        return vendors.filter(pk=vendor_id).first()
    if tax_id and (normalized_tax_id := normalize_tax_id(tax_id)):
        found = vendors.filter(tax_id=normalized_tax_id).first()
        if found is not None:
            return found
    normalized_name = normalize_vendor_name(name)
    if not normalized_name:
        return None
    by_name = list(vendors.filter(normalized_name=normalized_name)[:2])
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        return None
    alias = (
        VendorAlias.objects.for_tenant(tenant).select_related("vendor").filter(normalized_alias=normalized_name).first()
    )
    return alias.vendor if alias is not None else None
