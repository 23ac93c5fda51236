"""The outbox against the real nats-server with JetStream: exactly once, nothing on rollback,
queued while the broker is down, the circuit breaker, and delivery once it is back."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import nats
import pytest
from django.db import transaction
from nats.js.errors import NotFoundError

from audit.models import OutboxMessage
from audit.publisher import outbox_breaker, outbox_breaker_reset, outbox_publish_pending
from audit.services import outbox_enqueue
from benchmarks.load.services import free_port
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

DISCREPANCY = {
    "external_id": "6a1f0c1e-8a49-4a43-9f0a-0d6c1ad0b5a1",
    "source_system": "recon",
    "discrepancy_type": "price_mismatch",
    "severity": "high",
    "title": "Unit price 13.40 vs PO 12.75 on line 2",
    "description": "Billed 5.1 % above the purchase order price.",
    "amount_expected": "382.50",
    "amount_actual": "402.00",
    "currency": "EUR",
    "metadata": {"invoice_number": "INV-A-7790"},
}


@pytest.fixture
def broker(settings: Any, nats_url: str) -> Iterator[Any]:
    """A private stream and subject space per test, so tests never see each other's messages."""
    suffix = uuid.uuid4().hex[:10]
    settings.NATS_ENABLED = True
    settings.NATS_URL = nats_url
    settings.NATS_STREAM = f"RECON_TEST_{suffix}"
    settings.NATS_SUBJECT_PREFIX = f"recontest{suffix}"
    settings.NATS_DISCREPANCY_SUBJECT = f"recontest{suffix}.discrepancy.detected"
    settings.OUTBOX_BREAKER_RESET_SECONDS = 1
    outbox_breaker_reset()
    yield settings
    outbox_breaker_reset()
    asyncio.run(_delete_stream(nats_url, settings.NATS_STREAM))


async def _delete_stream(url: str, stream: str) -> None:
    client = await nats.connect(url)
    try:
        await client.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await client.close()


def stream_messages(settings: Any) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Every message in the test's stream: (subject, headers, body)."""

    async def read() -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        client = await nats.connect(settings.NATS_URL)
        try:
            jetstream = client.jetstream()
            try:
                info = await jetstream.stream_info(settings.NATS_STREAM)
            except NotFoundError:
                return []
            messages = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                raw = await jetstream.get_msg(settings.NATS_STREAM, seq)
                messages.append((raw.subject, dict(raw.headers or {}), json.loads(raw.data)))
            return messages
        finally:
            await client.close()

    return asyncio.run(read())


def test_a_committed_event_arrives_exactly_once_in_the_consumers_envelope(broker: Any, tenant: Tenant) -> None:
    with transaction.atomic():
        message = outbox_enqueue(tenant=tenant, event_type="invoice.discrepancy.detected", payload=DISCREPANCY)
    assert outbox_publish_pending().published == 1
    assert outbox_publish_pending().published == 0  # the second run finds nothing to do
    # A publisher that died after sending but before marking sends again: the broker drops it.
    OutboxMessage.objects.for_tenant(tenant).update(published_at=None)
    assert outbox_publish_pending().published == 1

    [(subject, headers, body)] = stream_messages(broker)
    assert subject == broker.NATS_DISCREPANCY_SUBJECT
    assert headers["Nats-Msg-Id"] == str(message.id)
    # The compliance ledger's required fields (DESIGN.md §7).
    assert body["event_type"] == "invoice.discrepancy.detected"
    assert body["source"] == "recon"
    assert body["tenant_id"] == str(tenant.pk)
    assert body["timestamp"].endswith("+00:00")
    assert body["payload"] == DISCREPANCY


def test_other_events_go_to_recon_subjects(broker: Any, tenant: Tenant) -> None:
    with transaction.atomic():
        outbox_enqueue(tenant=tenant, event_type="invoice.approved", payload={"invoice_id": "x"})
    outbox_publish_pending()
    [(subject, _, body)] = stream_messages(broker)
    assert subject == f"{broker.NATS_SUBJECT_PREFIX}.invoice.approved"
    assert body["event_type"] == "invoice.approved"


def test_a_rolled_back_change_publishes_nothing(broker: Any, tenant: Tenant) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        outbox_enqueue(tenant=tenant, event_type="invoice.approved", payload={"invoice_id": "x"})
        raise Boom
    assert not OutboxMessage.objects.for_tenant(tenant).exists()
    assert outbox_publish_pending().published == 0
    assert stream_messages(broker) == []


def test_nothing_is_sent_while_nats_is_disabled(settings: Any, tenant: Tenant) -> None:
    settings.NATS_ENABLED = False
    with transaction.atomic():
        outbox_enqueue(tenant=tenant, event_type="invoice.approved", payload={})
    report = outbox_publish_pending()
    assert report.skipped_reason == "NATS_ENABLED is false"
    assert OutboxMessage.objects.for_tenant(tenant).get().published_at is None


def test_broker_down_keeps_messages_opens_the_breaker_and_delivers_once_back(broker: Any, tenant: Tenant) -> None:
    real_url = broker.NATS_URL
    broker.NATS_URL = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    with transaction.atomic():
        for n in range(3):
            outbox_enqueue(tenant=tenant, event_type="invoice.approved", payload={"n": n})

    for attempt in range(1, 6):
        report = outbox_publish_pending()
        assert report.published == 0 and report.failed == 3
        queued = OutboxMessage.objects.for_tenant(tenant)
        assert all(m.attempts == attempt and m.published_at is None and m.last_error for m in queued)
        assert all(m.next_attempt_at is not None for m in queued)  # backing off
        queued.update(next_attempt_at=None)  # skip the wait, not the breaker
    assert outbox_breaker().current_state == "open"
    report = outbox_publish_pending()
    assert report.skipped_reason.startswith("circuit breaker open")
    assert OutboxMessage.objects.for_tenant(tenant).filter(attempts=5).count() == 3  # not even tried

    broker.NATS_URL = real_url
    time.sleep(broker.OUTBOX_BREAKER_RESET_SECONDS + 0.2)  # the half-open probe is allowed now
    assert outbox_publish_pending().published == 3
    assert outbox_breaker().current_state == "closed"
    delivered = stream_messages(broker)
    assert sorted(body["payload"]["n"] for _, _, body in delivered) == [0, 1, 2]
    assert not OutboxMessage.objects.for_tenant(tenant).filter(published_at__isnull=True).exists()
