"""The runtime role may refresh the planner's statistics of tenant tables inside its own
transaction (core.tenancy.statistics), and nothing more: the demo seed's one transaction plans
its later queries with them instead of with none."""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, connection, transaction

from core.tenancy.statistics import tenant_tables_analyze
from tenants.models import Tenant
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db


def _estimated_vendors(tenant: Tenant) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT * FROM vendors_vendor WHERE tenant_id = %s AND default_currency = 'EUR'",
            [tenant.pk],
        )
        (plan,) = cursor.fetchone()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def test_analyze_counts_the_transactions_own_rows_so_the_planner_sees_them(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] != "postgres"  # the runtime role, as the suite runs tests
    VendorFactory.create_batch(400, tenant=tenant)
    tenant_tables_analyze(["vendors_vendor"])
    # Without statistics `tenant_id = …` is guessed at half a percent of the rows: 2 of 400.
    assert _estimated_vendors(tenant) >= 300


def test_only_tables_under_row_level_security(tenant: Tenant) -> None:
    with pytest.raises(DatabaseError, match="not a table under row-level security"), transaction.atomic():
        tenant_tables_analyze(["django_migrations"])
    with pytest.raises(DatabaseError, match="not a table under row-level security"), transaction.atomic():
        tenant_tables_analyze(["vendors_vendor; DROP TABLE vendors_vendor"])


def test_the_runtime_role_cannot_read_the_statistics_it_refreshed(tenant: Tenant) -> None:
    VendorFactory.create_batch(50, tenant=tenant, name="Secret Supplier")
    tenant_tables_analyze(["vendors_vendor"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stats WHERE tablename = 'vendors_vendor'")
        assert cursor.fetchone()[0] == 0
