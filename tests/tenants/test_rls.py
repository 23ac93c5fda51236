"""Row-level security and the runtime role, proven against PostgreSQL itself.

The rest of the suite already runs as the runtime role (tests/conftest.py); this module checks
the database's side directly: the role's attributes and grants, a policy on every tenant-owned
table, and what a raw connection as that role can see and change with and without a tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from io import StringIO
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_record
from core.tenancy.rls import POLICY_NAME, tenant_owned_tables, tenant_scope
from core.tenancy.roles import APPEND_ONLY_TABLES, OWNER_ROLE, RUNTIME_ROLE, roles_ready
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, TenantFactory, VendorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_tenants() -> tuple[Tenant, Tenant]:
    acme, globex = TenantFactory(name="Acme"), TenantFactory(name="Globex")
    for tenant, count in ((acme, 2), (globex, 3)):
        vendor = VendorFactory(tenant=tenant)
        for number in range(count):
            InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number=f"INV-{number}")
        with transaction.atomic():
            audit_record(tenant=tenant, actor=TEST_ACTOR, entity_type="vendor", entity_id=vendor.pk, action="created")
    return acme, globex


@pytest.fixture
def as_runtime() -> Iterator[psycopg.Connection]:
    """A connection of our own as the runtime role, as the app's processes make (committed data)."""
    params = connection.get_connection_params()
    params["user"] = settings.DB_RUNTIME_ROLE
    params.pop("password", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield conn


def _scope(conn: psycopg.Connection, tenant: Tenant | None) -> None:
    conn.execute("SELECT set_config('app.tenant_id', %s, false)", [str(tenant.pk) if tenant else ""])


def test_the_runtime_role_is_neither_superuser_nor_owner_nor_bypassrls(as_runtime: psycopg.Connection) -> None:
    role = settings.DB_RUNTIME_ROLE
    superuser, bypass = as_runtime.execute(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert (superuser, bypass) == (False, False)
    owned = as_runtime.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = %s",
        [role],
    ).fetchone()[0]
    assert owned == 0


def test_every_tenant_owned_table_has_the_policy_enabled_and_forced(as_runtime: psycopg.Connection) -> None:
    tables = tenant_owned_tables()
    assert {"invoices_invoice", "audit_auditevent", "tenants_tenantsettings", "tenants_apikey"} <= set(tables)
    rows = as_runtime.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
        "  EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname AND p.policyname = %s) "
        "FROM pg_class c WHERE c.relname = ANY(%s)",
        [POLICY_NAME, tables],
    ).fetchall()
    assert sorted(rows) == [(table, True, True, True) for table in tables]


def test_the_policy_leaves_the_planners_row_estimates_alone(
    as_runtime: psycopg.Connection, two_tenants: tuple[Tenant, Tenant]
) -> None:
    """The policy repeats the query's own tenant filter; estimated as a second, independent
    filter (as `=` would be), it would divide every estimate under RLS by the number of tenants
    and mislead the plans (core.tenancy.rls.TENANT_OPERATOR)."""
    acme, _ = two_tenants
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE invoices_invoice")
    query = f"EXPLAIN (FORMAT JSON) SELECT * FROM invoices_invoice WHERE tenant_id = '{acme.pk}'"

    def estimate(rows: list[tuple[object, ...]]) -> int:
        return rows[0][0][0]["Plan"]["Plan Rows"]

    with connection.cursor() as cursor:  # the suite's superuser: no policy applies
        cursor.execute(query)
        without_policy = estimate(cursor.fetchall())
    _scope(as_runtime, acme)
    with_policy = estimate(as_runtime.execute(query).fetchall())
    assert without_policy == 2
    assert with_policy == without_policy


def test_an_unscoped_select_sees_only_the_current_tenants_rows(
    as_runtime: psycopg.Connection, two_tenants: tuple[Tenant, Tenant]
) -> None:
    acme, globex = two_tenants
    _scope(as_runtime, acme)
    rows = as_runtime.execute("SELECT DISTINCT tenant_id FROM invoices_invoice").fetchall()
    assert rows == [(acme.pk,)]
    assert as_runtime.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0] == 2
    # Even naming the other tenant outright finds nothing.
    hidden = as_runtime.execute("SELECT count(*) FROM invoices_invoice WHERE tenant_id = %s", [globex.pk])
    assert hidden.fetchone()[0] == 0


def test_with_no_tenant_set_nothing_is_visible(
    as_runtime: psycopg.Connection, two_tenants: tuple[Tenant, Tenant]
) -> None:
    for table in ("invoices_invoice", "vendors_vendor", "audit_auditevent", "tenants_apikey"):
        assert as_runtime.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
    _scope(as_runtime, None)  # set, but empty: still nothing
    assert as_runtime.execute("SELECT count(*) FROM invoices_invoice").fetchone()[0] == 0


def test_another_tenants_rows_cannot_be_changed_or_written(
    as_runtime: psycopg.Connection, two_tenants: tuple[Tenant, Tenant]
) -> None:
    acme, globex = two_tenants
    _scope(as_runtime, acme)
    changed = as_runtime.execute("UPDATE invoices_invoice SET currency = currency WHERE tenant_id = %s", [globex.pk])
    assert changed.rowcount == 0
    assert as_runtime.execute("DELETE FROM vendors_vendor WHERE tenant_id = %s", [globex.pk]).rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        as_runtime.execute("UPDATE vendors_vendor SET tenant_id = %s WHERE tenant_id = %s", [globex.pk, acme.pk])
    with tenant_scope(globex):
        assert Invoice.objects.for_tenant(globex).count() == 3


@pytest.mark.parametrize("statement", ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent"])
def test_the_audit_table_refuses_update_and_delete_to_the_runtime_role(
    as_runtime: psycopg.Connection, two_tenants: tuple[Tenant, Tenant], statement: str
) -> None:
    acme, _ = two_tenants
    _scope(as_runtime, acme)
    before = as_runtime.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0]
    assert before > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        as_runtime.execute(statement)
    assert as_runtime.execute("SELECT count(*) FROM audit_auditevent").fetchone()[0] == before


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_history_tables_are_insert_and_select_only(as_runtime: psycopg.Connection, table: str) -> None:
    role = settings.DB_RUNTIME_ROLE
    allowed = as_runtime.execute(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND table_name = %s ORDER BY 1",
        [role, table],
    ).fetchall()
    assert [row[0] for row in allowed] == ["INSERT", "SELECT"]


def test_no_table_may_be_truncated_or_altered_by_the_runtime_role(as_runtime: psycopg.Connection) -> None:
    role = settings.DB_RUNTIME_ROLE
    truncatable = as_runtime.execute(
        "SELECT count(*) FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES')",
        [role],
    ).fetchone()[0]
    assert truncatable == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_runtime.execute("ALTER TABLE invoices_invoice DISABLE ROW LEVEL SECURITY")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_runtime.execute("CREATE TABLE sneaky (id int)")


def test_inside_a_tenant_scope_the_orm_cannot_reach_another_tenant(two_tenants: tuple[Tenant, Tenant]) -> None:
    """The scope fixed at the trust boundary wins over whatever tenant a query names."""
    acme, globex = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
    try:
        with tenant_scope(acme):
            assert Invoice.objects.for_tenant(acme).count() == 2
            assert Invoice.objects.for_tenant(globex).count() == 0
            assert Invoice.objects.unscoped().count() == 2
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM invoices_invoice")
                assert cursor.fetchone()[0] == 2
        # Outside any scope, a raw query names no tenant and sees nothing.
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM invoices_invoice")
            assert cursor.fetchone()[0] == 0
        assert Invoice.objects.unscoped().count() == 5  # the operator's explicit escape hatch
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_a_request_leaves_no_tenant_behind(two_tenants: tuple[Tenant, Tenant], client_for: object) -> None:
    """After a request for one tenant, the next one (and the thread) starts unscoped."""
    acme, globex = two_tenants
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
    try:
        first = client_for(acme).get("/api/invoices")  # type: ignore[operator]
        second = client_for(globex).get("/api/invoices")  # type: ignore[operator]
        assert first.status_code == second.status_code == 200
        assert {row["invoice_number"] for row in first.json()["results"]} == {"INV-0", "INV-1"}
        assert len(second.json()["results"]) == 3
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone()[0] in ("", None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_the_admin_sees_every_tenant(two_tenants: tuple[Tenant, Tenant], admin_client: Client) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
    try:
        page = admin_client.get("/admin/invoices/invoice/").content.decode()
        assert page.count("INV-0") == 2  # one of each tenant
        assert AuditEvent.objects.unscoped().exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_db_roles_prepares_a_database_for_the_two_roles() -> None:
    """`manage.py db_roles` on a database made by a superuser: both roles, the owner owns it all."""
    params = connection.get_connection_params()
    scratch = f"recon_roles_{uuid.uuid4().hex[:8]}"
    admin_params = {**params, "dbname": "postgres"}
    with psycopg.connect(**admin_params, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        with psycopg.connect(**{**params, "dbname": scratch}, autocommit=True) as conn:
            conn.execute("CREATE TABLE made_before (id int)")  # e.g. migrated as the superuser earlier
            # A hardened server: temporary tables are not everyone's (bulk writes stage rows in one).
            conn.execute(f'REVOKE TEMPORARY ON DATABASE "{scratch}" FROM PUBLIC')
        # The host may be a Unix socket directory (the embedded server): percent-encoded in a URL.
        host = quote(params.get("host") or "127.0.0.1", safe="")
        url = f"postgres://{params['user']}@{host}:{params.get('port') or 5432}/{scratch}"
        out = StringIO()
        call_command("db_roles", "--superuser-url", url, stdout=out)
        assert "recon_owner (owner, migrates)" in out.getvalue()
        with psycopg.connect(**{**params, "dbname": scratch}, autocommit=True) as conn:
            owners = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database() "
                "UNION ALL SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'made_before'"
            ).fetchall()
            assert owners == [(OWNER_ROLE,), (OWNER_ROLE,)]
            assert roles_ready(conn, database=scratch, owner=OWNER_ROLE, runtime=RUNTIME_ROLE)
            temporary = "SELECT has_database_privilege(%s, current_database(), 'TEMPORARY')"
            assert conn.execute(temporary, [RUNTIME_ROLE]).fetchone() == (True,)
    finally:
        with psycopg.connect(**admin_params, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{scratch}" WITH (FORCE)')
