"""Shared fixtures: tenants, API clients per tenant (including the foreign one), services."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import TEST_ACTOR, TenantFactory
from tests.tenant_matrix import OWN_LABEL, SECRET, TenantDocuments, tenant_documents_build


def require_service(name: str, url: str | None, default_port: int) -> str:
    """The service's URL if it answers; else a failure in CI (REQUIRE_SERVICES=1), a skip elsewhere."""
    reason = ""
    if not url:
        reason = f"{name} is not configured (set its URL)"
    else:
        parsed = urlparse(url)
        try:
            with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
                pass
        except OSError as exc:
            reason = f"{name} at {url} is unreachable: {exc}"
    if reason:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 and {reason}")
        pytest.skip(reason)
    return url  # type: ignore[return-value]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """Before the test database is made: the two roles exist (the owner grants to the runtime one).
    Under pytest-xdist (`make test`) each worker gets a test database of its own: pytest-django's
    `_gw<n>` suffix, which overriding this fixture would otherwise drop."""
    import psycopg
    from django.conf import settings
    from django.db import connection

    from core.tenancy.roles import OWNER_ROLE

    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    with psycopg.connect(**params, autocommit=True) as conn:
        for role in (OWNER_ROLE, settings.DB_RUNTIME_ROLE):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS')


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's, plus the rate counters' own connection (core.rate_counters): no
    counts left from an earlier run of a kept database, and closed before the database is dropped."""
    from core.rate_counters import rate_counters_close, rate_counters_reset

    with django_db_blocker.unblock():
        rate_counters_reset()
    yield
    rate_counters_close()


@pytest.fixture(autouse=True)
def _rate_counters_forgotten(django_db_blocker: Any) -> Iterator[None]:
    """The database store's counters are committed on their own connection, outside the test's
    transaction: each test starts from none (sign-in failures, per-IP budgets)."""
    yield
    from core.rate_counters import rate_counters_reset

    with django_db_blocker.unblock():
        rate_counters_reset(only_if_connected=True)


def _uses_one_transaction(request: pytest.FixtureRequest) -> bool:
    """The test runs inside one rolled-back transaction (`db`, not `transactional_db`)."""
    marker = request.node.get_closest_marker("django_db")
    names = request.fixturenames
    if "transactional_db" in names or "live_server" in names or (marker and marker.kwargs.get("transaction")):
        return False
    return "db" in names or marker is not None


@pytest.fixture(autouse=True)
def _as_runtime_role(request: pytest.FixtureRequest) -> None:
    """Run the test as the app's runtime role, so row-level security binds it as in production.

    `SET ROLE` inside the test's transaction, which its rollback undoes. Transactional tests
    (their own connections, threads) stay on the suite's role.
    """
    if not _uses_one_transaction(request):
        return
    from django.conf import settings
    from django.db import connection

    request.getfixturevalue("_django_db_helper")
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')


@pytest.fixture
def redis_url() -> str:
    return require_service("Redis", os.environ.get("REDIS_URL"), 6379)


@pytest.fixture
def nats_url() -> str:
    return require_service("NATS", os.environ.get("NATS_URL"), 4222)


@pytest.fixture
def tenant(db: None) -> Tenant:
    return TenantFactory(name="Acme Manufacturing")


@pytest.fixture
def other_tenant(db: None) -> Tenant:
    """The foreign tenant: every ownership test tries it."""
    return TenantFactory(name="Globex Foreign")


def _client_for(tenant: Tenant) -> APIClient:
    _, raw_key = api_key_create(tenant=tenant, name="test", actor=TEST_ACTOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def api(tenant: Tenant) -> APIClient:
    return _client_for(tenant)


@pytest.fixture
def foreign_api(other_tenant: Tenant) -> APIClient:
    return _client_for(other_tenant)


@pytest.fixture
def client_for() -> Callable[[Tenant], APIClient]:
    return _client_for


@pytest.fixture
def tenant_a_documents(tenant: Tenant) -> TenantDocuments:
    """One object of each kind owned by `tenant` (A), marked with text tenant B must never see."""
    return tenant_documents_build(tenant, SECRET)


@pytest.fixture
def tenant_b_documents(other_tenant: Tenant) -> TenantDocuments:
    return tenant_documents_build(other_tenant, OWN_LABEL)


@pytest.fixture
def document_counts(db: None) -> Callable[[], dict[str, int]]:
    """Row counts of every document table, across all tenants: before/after a refused request."""
    from invoices.models import Invoice, InvoiceLine
    from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
    from source_files.models import SourceFile, SourceFileDocument
    from vendors.models import Vendor

    models = (
        Vendor,
        PurchaseOrder,
        PurchaseOrderLine,
        GoodsReceipt,
        GoodsReceiptLine,
        Invoice,
        InvoiceLine,
        SourceFile,  # an import refused is not kept either
        SourceFileDocument,
    )

    def counts() -> dict[str, int]:
        return {model.__name__: model.objects.unscoped().count() for model in models}

    return counts
