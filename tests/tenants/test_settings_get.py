"""The tenant-settings read is one function (tenants.selectors.tenant_settings_get): it gives the
tenant's own row, the defaults when a tenant has none, never another tenant's; and no app reads
the settings any other way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.models import Tenant, TenantSettings
from tenants.selectors import tenant_settings_get
from tenants.services import tenant_settings_update
from tests.factories import TEST_ACTOR, TenantFactory
from tests.source_scan import app_modules, attribute_reads


@pytest.mark.django_db
def test_each_tenant_reads_its_own_settings(tenant: Tenant, other_tenant: Tenant) -> None:
    tenant_settings_update(tenant=tenant, actor=TEST_ACTOR, price_tolerance_pct="3.5", hold_max_days=30)
    tenant_settings_update(tenant=other_tenant, actor=TEST_ACTOR, price_tolerance_pct="9")

    ours, theirs = tenant_settings_get(tenant=tenant), tenant_settings_get(tenant=other_tenant)

    assert (ours.tenant_id, ours.price_tolerance_pct, ours.hold_max_days) == (tenant.pk, Decimal("3.5"), 30)
    assert (theirs.tenant_id, theirs.price_tolerance_pct, theirs.hold_max_days) == (other_tenant.pk, Decimal("9"), 14)


@pytest.mark.django_db
def test_a_tenant_without_a_settings_row_reads_the_defaults() -> None:
    bare = TenantFactory(settings=None)
    defaults = TenantSettings(tenant=bare)

    read = tenant_settings_get(tenant=bare)

    assert read.tenant_id == bare.pk and read._state.adding  # nothing was written
    assert [getattr(read, field.attname) for field in TenantSettings._meta.concrete_fields] == [
        getattr(defaults, field.attname) for field in TenantSettings._meta.concrete_fields
    ]
    assert not TenantSettings.objects.filter(tenant=bare).exists()


def test_no_app_reads_the_settings_another_way() -> None:
    """Outside the tenants app (which writes the row), `TenantSettings.objects` or the reverse
    accessor `tenant.settings` is a second read that can differ (no defaults, say: a missing row
    would raise instead)."""
    elsewhere = [
        f"{path}:{line}"
        for path, tree in app_modules()
        if not path.startswith("tenants/")
        for line in (*attribute_reads(tree, "TenantSettings", "objects"), *attribute_reads(tree, "tenant", "settings"))
    ]
    assert elsewhere == []
