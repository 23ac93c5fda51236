"""Reads of tenants: a tenant by reference, and its settings (the one read every app uses)."""

from __future__ import annotations

import uuid

from core.exceptions import NotFoundError
from tenants.models import Tenant, TenantSettings

UNKNOWN_TENANT = "No tenant with id or slug {reference!r}."


def tenant_by_reference(reference: str) -> Tenant:
    """A tenant by UUID or slug (operator commands' `--tenant`)."""
    try:
        found = Tenant.objects.filter(pk=uuid.UUID(reference)).first()
    except ValueError:
        found = Tenant.objects.filter(slug=reference).first()
    if found is None:
        raise NotFoundError(UNKNOWN_TENANT.format(reference=reference))
    return found


def tenant_settings_get(*, tenant: Tenant) -> TenantSettings:
    """The tenant's thresholds and tolerances: its settings row, or the defaults if it has none.

    `tenant_create` writes the row with the tenant; a tenant made another way (the admin before its
    save hook, a fixture) reads the model's defaults instead of failing. The one read every app
    uses (matching, holds, payment reconciliation, the benchmarks): writes go through
    `tenants.services.tenant_settings_update`.
    """
    return TenantSettings.objects.filter(tenant=tenant).first() or TenantSettings(tenant=tenant)
