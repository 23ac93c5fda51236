"""Rotating the webhook secret while the tenant's documents are written: real threads, real locks.

Issue #15: rotation held the tenant row `FOR UPDATE` and then waited for the tenant's audit lock,
while every audited write held the audit lock and, at COMMIT, waited for its foreign-key check
(`FOR KEY SHARE`) on that same tenant row. Two rotating and two writing threads for 15 s: 22 of 38
requests answered 503 "database unavailable". The rotation now locks the row `FOR NO KEY UPDATE`
(core/locks.py), which no foreign-key check waits for.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.http.views import LOG_CONFLICT_GIVEN_UP, LOG_CONFLICT_RETRY
from tenants.services import api_key_create
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, InvoiceFactory, TenantFactory, VendorFactory

ROTATE = "/api/webhook-secret/rotate"
SET_SECRET = "/api/webhook-secret"
SECONDS = 4.0


def _client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def _invoice_body(number: str, vendor_name: str) -> dict[str, Any]:
    return {
        "invoice_number": number,
        "vendor_name": vendor_name,
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "30.00",
        "lines": [{"description": "Paper", "quantity": "3", "unit_price": "10.00"}],
    }


@pytest.mark.django_db(transaction=True)
def test_rotating_the_webhook_secret_while_documents_are_written_never_fails_a_request(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """2 threads rotate (and set) the secret, 2 create and approve invoices, for 4 s: every
    request succeeds at its first attempt: no 5xx, no 409, not even a retried deadlock."""
    settings.MATCH_ON_INGEST = False  # the writes under test, not the task broker
    tenant = TenantFactory(name="Rotating Ltd")
    vendor = VendorFactory(tenant=tenant, name="Initech Supplies")
    in_review = [
        InvoiceFactory(
            tenant=tenant, vendor=vendor, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD
        )
        for _ in range(200)
    ]
    _, raw_key = api_key_create(tenant=tenant, name="concurrency", actor=TEST_ACTOR)
    deadline = time.monotonic() + SECONDS
    barrier = threading.Barrier(4)
    lock = threading.Lock()
    answers: list[tuple[str, int, bytes]] = []
    errors: list[BaseException] = []

    def rotate(client: APIClient, n: int) -> tuple[str, Any]:
        if n % 2:
            body = {"secret": f"sender-issued-key-{n:08d}"}
            return "set", client.put(SET_SECRET, data=json.dumps(body), content_type="application/json")
        return "rotate", client.post(ROTATE)

    def create(client: APIClient, n: int) -> tuple[str, Any]:
        body = _invoice_body(f"RACE-{threading.get_ident()}-{n}", vendor.name)
        return "create", client.post("/api/invoices", data=json.dumps(body), content_type="application/json")

    def approve(client: APIClient, n: int) -> tuple[str, Any]:
        invoice = in_review[n]
        return "approve", client.post(f"/api/invoices/{invoice.pk}/approve", {"comment": "ok"}, format="json")

    def worker(request: Callable[[APIClient, int], tuple[str, Any]]) -> None:
        client = _client(raw_key)
        try:
            barrier.wait(timeout=10)
            n = 0
            while time.monotonic() < deadline and n < len(in_review):
                kind, response = request(client, n)
                with lock:
                    answers.append((kind, response.status_code, response.content[:300]))
                n += 1
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    caplog.set_level(logging.WARNING, logger="tenants.http.views")
    threads = [threading.Thread(target=worker, args=(request,)) for request in (rotate, rotate, create, approve)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    failed = [answer for answer in answers if answer[1] not in (200, 201)]
    assert failed == [], f"{len(failed)} of {len(answers)} requests failed: {failed[:5]}"
    conflicts = [r.getMessage() for r in caplog.records if r.msg in (LOG_CONFLICT_RETRY, LOG_CONFLICT_GIVEN_UP)]
    assert conflicts == [], f"{len(conflicts)} requests met a deadlock: {conflicts[:3]}"
    kinds = {kind: sum(1 for answer in answers if answer[0] == kind) for kind in ("rotate", "set", "create", "approve")}
    assert min(kinds.values()) >= 5, kinds  # the four kinds of request really overlapped

    # Everything answered is stored, each with its audit event, in one unbroken chain.
    assert Invoice.objects.for_tenant(tenant).filter(invoice_number__startswith="RACE-").count() == kinds["create"]
    assert Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.APPROVED).count() == kinds["approve"]
    rotations = AuditEvent.objects.for_tenant(tenant).filter(
        entity_type="tenant", action__in=["webhook_secret_rotated", "webhook_secret_set"]
    )
    assert rotations.count() == kinds["rotate"] + kinds["set"]
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact
