"""Row-level security's scope in a request, as the runtime role sees it, statement by statement.

A request's scope costs no statement of its own when it can be avoided (core.tenancy.rls): the
API-key look-up reads the key with every tenant visible and fixes the key's tenant in the same
statement; a transaction that wants what the session holds sends nothing. These tests run outside
a test case's transaction (as production does), as the runtime role (RLS binds it), and record
what each statement of a request runs under.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from rest_framework.test import APIClient

from core.tenancy.rls import UNKNOWN, tenant_scope
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import TenantFactory, VendorFactory

pytestmark = pytest.mark.django_db(transaction=True)

Seen = tuple[str, str, str]  # (the statement's start, app.tenant_id, app.all_tenants)


@pytest.fixture
def as_runtime() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@pytest.fixture
def scopes_seen() -> Iterator[list[Seen]]:
    """Each statement sent, with the scope the server holds as it runs (read just before it, after
    core.tenancy.rls has applied what the statement wants)."""
    seen: list[Seen] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        raw = context["connection"].connection
        tenant_id, all_tenants = raw.execute(
            "SELECT current_setting('app.tenant_id', true), current_setting('app.all_tenants', true)"
        ).fetchone()
        seen.append((sql[:60], tenant_id or "", all_tenants or ""))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def _body(number: str) -> str:
    return json.dumps(
        {
            "invoice_number": number,
            "vendor_name": "Shared Name GmbH",
            "currency": "EUR",
            "invoice_date": "2026-10-10",
            "total_amount": "10.00",
            "lines": [{"description": "Widget", "quantity": "1", "unit_price": "10.00"}],
        }
    )


def _post(client: Any, number: str, *, keyed: bool) -> Any:
    headers = {"Idempotency-Key": f"key-{number}"} if keyed else {}
    return client.post("/api/invoices", data=_body(number), content_type="application/json", headers=headers)


def test_every_statement_after_the_key_look_up_runs_for_the_key_tenant_only(
    as_runtime: None, scopes_seen: list[Seen], client_for: Callable[[Tenant], Any]
) -> None:
    """Keyed and unkeyed creates of two tenants, one after the other on one connection: the key is
    read with every tenant visible, everything after it under the key's tenant alone — the vendor
    both tenants have by the same name resolves to the caller's."""
    acme, globex = TenantFactory(name="Acme"), TenantFactory(name="Globex")
    vendors = {tenant.pk: VendorFactory(tenant=tenant, name="Shared Name GmbH") for tenant in (acme, globex)}
    clients = {tenant.pk: client_for(tenant) for tenant in (acme, globex)}
    for number, (tenant, keyed) in enumerate([(acme, True), (globex, True), (acme, False), (globex, True)]):
        scopes_seen.clear()
        response = _post(clients[tenant.pk], f"INV-{number}", keyed=keyed)
        assert response.status_code == 201, response.content
        assert response.json()["vendor_id"] == str(vendors[tenant.pk].pk)
        statements = [seen for seen in scopes_seen if seen[0] not in ("BEGIN", "COMMIT")]
        [key_look_up] = [index for index, seen in enumerate(statements) if '"tenants_apikey"' in seen[0]]
        assert statements[key_look_up][1:] == ("", "on")
        after = statements[key_look_up + 1 :]
        assert after and all(seen[1:] == (str(tenant.pk), "") for seen in after), after
    for tenant in (acme, globex):
        assert Invoice.objects.for_tenant(tenant).filter(vendor=vendors[tenant.pk]).count() == 2


def test_a_bad_key_leaves_no_scope_and_the_next_request_gets_its_own(
    as_runtime: None, client_for: Callable[[Tenant], Any]
) -> None:
    acme = TenantFactory(name="Acme")
    VendorFactory(tenant=acme, name="Shared Name GmbH")
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer not-a-key")
    refused = stranger.post(
        "/api/invoices", data=_body("INV-X"), content_type="application/json", headers={"Idempotency-Key": "bad-key"}
    )
    assert refused.status_code == 401
    assert _post(client_for(acme), "INV-Y", keyed=True).status_code == 201
    with connection.cursor() as cursor:  # after the requests: no tenant on the connection
        cursor.execute("SELECT current_setting('app.tenant_id', true), count(*) FROM invoices_invoice")
        assert cursor.fetchone() in (("", 0), (None, 0))


def test_a_rolled_back_transaction_leaves_no_stale_belief_about_the_session(as_runtime: None) -> None:
    """The scope a transaction set as a session value goes with its rollback; the next transaction
    wanting that scope sets it again instead of trusting a value the server no longer holds."""
    acme = TenantFactory(name="Acme")
    with tenant_scope(acme):
        with pytest.raises(RuntimeError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            raise RuntimeError("rolled back")
        assert connection.rls_scope.session == UNKNOWN  # type: ignore[attr-defined]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone()[0] == str(acme.pk)
