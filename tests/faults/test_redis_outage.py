"""Redis stopped under the running web app (issue #8, faults).

Redis holds two things for the web app: the rate-limit counters (the cache) and django-q2's task
queue (matching on ingest, the publish-at-commit of outbox events). With a private redis-server
as REDIS_URL and the real app under gunicorn: while Redis is down every request is still served
(reads, creates that queue matching, an approval that queues the publisher, a refused key),
the rate limit fails open, nothing is a 500; once Redis is back the limit counts and binds again.
The behaviour is documented in the README ("When a service is down").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import TEST_ACTOR, InvoiceFactory, TenantFactory
from tests.faults.services import (
    HttpResponse,
    PrivateRedis,
    WebApp,
    app_environment,
    free_port,
    http,
    private_redis,
    scratch_dir,
    web_app,
)

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 8  # per minute, per tenant: low enough to reach, high enough for the steps before it


def invoice_body(number: str) -> dict[str, object]:
    return {
        "invoice_number": number,
        "vendor_name": "Initech Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "20.00",
        "lines": [{"description": "Paper", "quantity": "2", "unit_price": "10.00"}],
    }


@pytest.fixture
def redis_server(require_redis_server: None) -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


@pytest.fixture
def tenant(transactional_db: None) -> Tenant:
    return TenantFactory(name="Cache Outage Ltd")


@pytest.fixture
def app(test_database_url: str, redis_server: PrivateRedis) -> Iterator[WebApp]:
    env = app_environment(
        database_url=test_database_url,
        redis_url=redis_server.url,
        # Events on, to a broker nobody listens on: only the publish task's queueing is exercised.
        nats_url=f"nats://127.0.0.1:{free_port()}",
        MATCH_ON_INGEST="true",
        THROTTLE_TENANT_RATE=f"{RATE}/min",
    )
    with scratch_dir("web") as directory, web_app(env, directory) as running:
        yield running


def throttle_counters(server: PrivateRedis) -> list[bytes]:
    client = redis.Redis.from_url(server.url, socket_timeout=2)
    try:
        return list(client.scan_iter(match="recon:*throttle_tenant*"))
    finally:
        client.close()


def test_with_redis_down_requests_are_served_unthrottled_and_the_limit_binds_again_after(
    tenant: Tenant, app: WebApp, redis_server: PrivateRedis
) -> None:
    _, api_key = api_key_create(tenant=tenant, name="outage", actor=TEST_ACTOR)
    to_approve = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    invoices = f"{app.base}/api/invoices"

    assert http(invoices, api_key=api_key).status == 200
    assert throttle_counters(redis_server), "the rate limit does not count in Redis"

    redis_server.stop()

    served: list[HttpResponse] = [
        http(invoices, api_key=api_key),
        # Queues matching at commit (MATCH_ON_INGEST): the queue is down, the invoice is stored.
        http(invoices, method="POST", api_key=api_key, body=invoice_body("INV-REDIS-1")),
        # Writes an outbox event, whose commit queues the publisher: down too.
        http(f"{invoices}/{to_approve.pk}/approve", method="POST", api_key=api_key, body={"comment": "ok"}),
        http(f"{app.base}/health"),
    ]
    served += [http(invoices, api_key=api_key) for _ in range(RATE)]  # past the limit: not counted
    refused_key = http(invoices, api_key="not-a-key")  # the anonymous limit fails open too

    assert [response.status for response in served] == [200, 201, 200, 200] + [200] * RATE, [
        (response.status, response.body[:200]) for response in served
    ]
    assert refused_key.status == 401 and refused_key.json()["error"]["code"] == "authentication_failed"
    assert Invoice.objects.for_tenant(tenant).filter(invoice_number="INV-REDIS-1").count() == 1
    to_approve.refresh_from_db()
    assert to_approve.status == InvoiceStatus.APPROVED

    redis_server.start()  # same port, empty (no persistence)

    statuses = [http(invoices, api_key=api_key).status for _ in range(RATE + 3)]
    # The first call after the restart may find the pooled connection dead (served, not counted).
    assert 429 in statuses and set(statuses[: RATE - 1]) == {200}, statuses
    first_refused = statuses.index(429)
    assert set(statuses[first_refused:]) == {429}, statuses
    assert throttle_counters(redis_server)
    assert app.process.alive(), app.process.describe()
