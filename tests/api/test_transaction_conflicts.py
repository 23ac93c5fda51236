"""A deadlock or serialization failure reaching the API is run again, then a 409 — never a 503.

PostgreSQL rolls back one transaction of a deadlock (SQLSTATE 40P01) or of a serialization
failure (40001): the database is up, and the request can simply run again. It used to be
answered 503 "The database is unavailable" (issue #15). Some tests here have PostgreSQL raise
that very error in the middle of a real request (a `DO` block raising SQLSTATE 40P01 in place of
the audit INSERT: psycopg's DeadlockDetected, as Django wraps it); the last ones build a real
deadlock between two connections.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from rest_framework import permissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from core.http.errors import (
    CONCURRENT_UPDATE,
    CONCURRENT_UPDATE_PARTLY_SAVED,
    DATABASE_UNAVAILABLE_CODE,
    api_exception_handler,
    is_database_unavailable,
    is_transaction_conflict,
)
from core.http.middleware import DatabaseUnavailableMiddleware
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.http import views as api_views
from tenants.http.views import LOG_CONFLICT_RETRY, ConflictRetryMixin
from tenants.models import IdempotencyRecord, Tenant
from tenants.services import api_key_create
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, InvoiceFactory, VendorFactory
from vendors.models import Vendor

# What PostgreSQL answers the transaction it picks as a deadlock's victim, raised on demand.
DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$"
AUDIT_INSERT = 'INSERT INTO "audit_auditevent"'


def invoice_body(number: str = "INV-CONFLICT-1") -> dict[str, Any]:
    return {
        "invoice_number": number,
        "vendor_name": "Initech Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "30.00",
        "lines": [{"description": "Paper", "quantity": "3", "unit_price": "10.00"}],
    }


def post_invoice(api: APIClient, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post("/api/invoices", data=json.dumps(invoice_body()), content_type="application/json", headers=headers)


@contextmanager
def audit_inserts_deadlock(times: int) -> Iterator[list[int]]:
    """The next `times` statements writing audit events (an INSERT of its own, or one of a write
    that carries them, invoices.services) on this connection fail as a deadlock's victim would."""
    raised = [0]

    def victim(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        if AUDIT_INSERT in sql and raised[0] < times:
            raised[0] += 1
            return execute(DEADLOCK, None, False, context)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(victim):
        yield raised


def real_deadlock_error() -> OperationalError:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(DEADLOCK)
    except OperationalError as exc:
        return exc
    raise AssertionError("PostgreSQL did not raise")


def test_a_deadlock_reaching_the_api_runs_the_request_again_and_it_succeeds(
    api: APIClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    with audit_inserts_deadlock(times=1) as raised:
        response = post_invoice(api)

    assert raised == [1]
    assert response.status_code == 201, response.content
    [invoice] = Invoice.objects.for_tenant(tenant)
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(invoice.pk), action="created").count() == 1
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact
    assert [r.msg for r in caplog.records if r.msg == LOG_CONFLICT_RETRY] == [LOG_CONFLICT_RETRY]


def test_a_request_that_keeps_meeting_deadlocks_is_a_409_concurrent_update_never_a_503(
    api: APIClient, tenant: Tenant
) -> None:
    with audit_inserts_deadlock(times=100) as raised:
        response = post_invoice(api)

    assert raised == [1 + api_views.CONFLICT_RETRIES]
    assert response.status_code == 409, response.content
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "error": {
            "code": "concurrent_update",
            "message": CONCURRENT_UPDATE,
            "details": {"attempts": 1 + api_views.CONFLICT_RETRIES, "partly_saved": False},
        }
    }
    assert not Invoice.objects.for_tenant(tenant).exists()
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice").exists()


def test_a_keyed_request_that_met_deadlocks_stores_no_answer_so_its_retry_creates_the_invoice(
    api: APIClient, tenant: Tenant
) -> None:
    """The 409 says "send it again": with the same Idempotency-Key, that must not replay the 409."""
    with audit_inserts_deadlock(times=100):
        refused = post_invoice(api, key="conflict-key")
    assert refused.status_code == 409
    assert not IdempotencyRecord.objects.for_tenant(tenant).filter(key="conflict-key").exists()

    retry = post_invoice(api, key="conflict-key")
    assert retry.status_code == 201, retry.content
    assert "Idempotent-Replayed" not in retry
    assert Invoice.objects.for_tenant(tenant).count() == 1


def test_a_keyed_request_is_run_again_whole_after_a_deadlock(api: APIClient, tenant: Tenant) -> None:
    with audit_inserts_deadlock(times=2):
        response = post_invoice(api, key="whole-key")
    assert response.status_code == 201, response.content
    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert IdempotencyRecord.objects.for_tenant(tenant).get(key="whole-key").response_status == 201


SAVED_VENDOR = "Saved Before The Deadlock"


class _SavesThenDeadlocks(ConflictRetryMixin, APIView):
    """A write in two transactions: the first commits, the second is a deadlock's victim."""

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list[type] = []
    tenant: Tenant | None = None
    calls = 0

    def post(self, request: Request) -> Response:
        type(self).calls += 1
        with transaction.atomic():
            VendorFactory(tenant=self.tenant, name=SAVED_VENDOR)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(DEADLOCK)
        return Response({})


def test_a_request_that_saved_part_of_itself_before_a_deadlock_is_not_run_again(tenant: Tenant) -> None:
    """Running it again would save that part twice: a 409 that says part of it was saved."""
    _SavesThenDeadlocks.calls = 0
    view = _SavesThenDeadlocks.as_view(tenant=tenant)
    response = view(APIRequestFactory().post("/api/two-transactions", {}, format="json"))
    response.render()

    assert response.status_code == 409
    body = json.loads(response.content)
    assert body["error"]["code"] == "concurrent_update"
    assert body["error"]["message"] == CONCURRENT_UPDATE_PARTLY_SAVED
    assert body["error"]["details"] == {"attempts": 1, "partly_saved": True}
    assert _SavesThenDeadlocks.calls == 1
    assert Vendor.objects.for_tenant(tenant).filter(name=SAVED_VENDOR).count() == 1


def test_a_deadlock_is_a_conflict_and_a_lost_connection_is_unavailable(tenant: Tenant) -> None:
    deadlock = real_deadlock_error()
    assert type(deadlock.__cause__).__name__ == "DeadlockDetected"
    assert is_transaction_conflict(deadlock) and not is_database_unavailable(deadlock)

    lost = OperationalError("server closed the connection unexpectedly")
    assert is_database_unavailable(lost) and not is_transaction_conflict(lost)
    response = api_exception_handler(lost, {})
    assert response is not None and response.status_code == 503
    assert response.data["error"]["code"] == DATABASE_UNAVAILABLE_CODE


def test_a_deadlock_outside_a_retrying_view_is_a_409_in_the_api_and_on_the_web(tenant: Tenant) -> None:
    deadlock = real_deadlock_error()
    response = api_exception_handler(deadlock, {})
    assert response is not None and response.status_code == 409
    assert response.data["error"]["code"] == "concurrent_update"
    assert response.data["error"]["details"]["partly_saved"] is None

    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())
    page = middleware.process_exception(RequestFactory().post("/invoices/1/approve"), deadlock)
    assert page is not None and page.status_code == 409
    assert "Someone else was changing the same records" in page.content.decode()
    envelope = middleware.process_exception(RequestFactory().post("/api/invoices"), deadlock)
    assert envelope is not None and envelope.status_code == 409
    assert json.loads(envelope.content)["error"]["code"] == "concurrent_update"


# A real deadlock: another connection holds the tenant's row FOR UPDATE and, once the approval
# holds the invoice row and waits at COMMIT for that tenant row (the foreign-key check of the rows
# it wrote, core/locks.py), asks for the invoice row. PostgreSQL finds the cycle after
# deadlock_timeout (1 s by default) in the connection that has waited longest, the approval's (the
# other connection's own check is put off to 30 s), and rolls the approval back. (It used to be
# the tenant's audit lock, which writers held to COMMIT; they no longer take it: audit.sealer.)


@contextmanager
def tenant_row_holder_that_closes_a_cycle(tenant: Tenant, invoice: Invoice) -> Iterator[threading.Event]:
    params = connection.get_connection_params()
    holding = threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            # Its own connection, past Django: this transaction breaks the lock order on purpose.
            with psycopg.connect(**params) as raw:
                raw.execute("SET LOCAL deadlock_timeout = '30s'")
                raw.execute("SELECT id FROM tenants_tenant WHERE id = %s FOR UPDATE", [tenant.pk])
                holding.set()
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    waiting = raw.execute(
                        "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
                        " WHERE NOT granted AND datname = current_database() AND pid <> pg_backend_pid()"
                    ).fetchone()
                    if waiting and waiting[0]:
                        break
                    time.sleep(0.02)
                raw.execute("SELECT id FROM invoices_invoice WHERE id = %s FOR UPDATE", [invoice.pk])
                raw.rollback()
        except BaseException as exc:
            errors.append(exc)
            holding.set()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(timeout=10)
        yield holding
    finally:
        thread.join(timeout=30)
    assert not errors, errors


@pytest.fixture
def invoice_in_review(tenant: Tenant) -> Invoice:
    return InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)


@pytest.fixture
def key_client(tenant: Tenant) -> APIClient:
    _, raw_key = api_key_create(tenant=tenant, name="deadlock", actor=TEST_ACTOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.mark.django_db(transaction=True)
def test_an_approval_chosen_as_a_real_deadlocks_victim_runs_again_and_is_approved(
    tenant: Tenant, invoice_in_review: Invoice, key_client: APIClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tenants.http.views")
    with tenant_row_holder_that_closes_a_cycle(tenant, invoice_in_review):
        response = key_client.post(f"/api/invoices/{invoice_in_review.pk}/approve", {"comment": "ok"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    retries = [r for r in caplog.records if r.msg == LOG_CONFLICT_RETRY]
    assert len(retries) == 1 and "deadlock detected" in retries[0].getMessage()
    approvals = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(invoice_in_review.pk))
    assert approvals.count() == 1
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


@pytest.mark.django_db(transaction=True)
def test_a_real_deadlock_with_no_retries_left_is_a_409_and_the_invoice_is_unchanged(
    tenant: Tenant, invoice_in_review: Invoice, key_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_views, "CONFLICT_RETRIES", 0)
    with tenant_row_holder_that_closes_a_cycle(tenant, invoice_in_review):
        response = key_client.post(f"/api/invoices/{invoice_in_review.pk}/approve", {"comment": "ok"}, format="json")

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "concurrent_update"
    assert response.json()["error"]["details"] == {"attempts": 1, "partly_saved": False}
    invoice_in_review.refresh_from_db()
    assert invoice_in_review.status == InvoiceStatus.PENDING_REVIEW
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(invoice_in_review.pk)).exists()
