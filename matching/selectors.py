"""Reads of matching runs, results and discrepancies, always starting from the tenant."""

from __future__ import annotations

from core.tenancy.scoping import TenantQuerySet
from matching.models import Discrepancy, MatchRun
from tenants.models import Tenant


def match_run_list(*, tenant: Tenant) -> TenantQuerySet:
    return MatchRun.objects.for_tenant(tenant)


def discrepancy_list(*, tenant: Tenant) -> TenantQuerySet:
    return Discrepancy.objects.for_tenant(tenant)
