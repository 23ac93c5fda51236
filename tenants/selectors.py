"""Reads of tenants: a tenant by reference, its settings and its amount limits per currency (the reads
every app uses)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core.amount_limits import AmountLimits, amount_limits_default
from core.exceptions import NotFoundError
from tenants.models import CurrencyLimit, Tenant, TenantSettings

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


def amount_limits_for(*, tenant: Tenant, currencies: Iterable[str]) -> dict[str, AmountLimits]:
    """The tenant's limits in each of `currencies`: its own (`CurrencyLimit`), else the defaults.

    The loaders of matching and reconciliation ask for the currencies of their batch, so the
    engines get one limit per currency they will meet and stay free of the database.
    """
    wanted = set(currencies)
    own = {
        limit.currency: AmountLimits(
            currency=limit.currency,
            auto_approve_below=limit.auto_approve_below,
            escalate_from=limit.escalate_from,
            write_off_max=limit.write_off_max,
            price_tolerance_floor=limit.price_tolerance_floor,
            new_vendor_first_invoice_max=limit.new_vendor_first_invoice_max,
        )
        for limit in CurrencyLimit.objects.for_tenant(tenant).filter(currency__in=wanted)
    }
    return {currency: own.get(currency) or amount_limits_default(currency=currency) for currency in sorted(wanted)}


def currency_limits_list(*, tenant: Tenant) -> list[CurrencyLimit]:
    """The currencies the tenant has set its own limits for."""
    return list(CurrencyLimit.objects.for_tenant(tenant).order_by("currency"))
