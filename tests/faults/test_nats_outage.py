"""NATS stopped in the middle of a matching drain (issue #8, faults).

`tests/audit/test_outbox_nats.py` proves the publisher alone against a broker that is down
(queued, backoff, breaker, delivered once back). This adds the whole path with a private
nats-server that is really stopped and started again on its store: batches of a matching drain
commit their outbox events, the commit's publish (the `_kick_publisher` task, run inline here
as a worker would run it) sends them; NATS stops after the first batch; the later batches still
finish and their events wait in the outbox; NATS comes back; `publish_events` delivers them; a
durable JetStream consumer created before the outage receives every event exactly once, even
when the publisher sends everything again.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from io import StringIO
from typing import Any

import nats
import pytest
from django.core.management import call_command

from audit.models import OutboxMessage
from audit.publisher import outbox_breaker_reset
from benchmarks.fixtures import FixtureBuilder
from invoices.models import Invoice, InvoiceStatus
from matching.models import MatchRun
from matching.services import matching_drain_tenant, matching_run_for_tenant
from matching.writer import MATCHING_ACTOR
from tenants.models import Tenant
from tenants.services import tenant_create, tenant_settings_update
from tests.audit.test_outbox_nats import stream_messages
from tests.factories import TEST_ACTOR
from tests.faults.services import PrivateNats, private_nats, wait_until

INVOICES = 60
BATCH = 20
CONSUMER = "compliance-ledger"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def nats_server(require_nats_server: None) -> Iterator[PrivateNats]:
    with private_nats() as server:
        yield server


@pytest.fixture
def publishing(settings: Any, nats_server: PrivateNats, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Events on, to the private server; the commit's publish task runs inline (django-q2 sync)."""
    from django_q.conf import Conf

    settings.NATS_ENABLED = True
    settings.NATS_URL = nats_server.url
    settings.NATS_CONNECT_TIMEOUT_SECONDS = 1
    monkeypatch.setattr(Conf, "SYNC", True)
    monkeypatch.setattr(Conf, "ORM", "default")  # where a sync task's result is saved
    outbox_breaker_reset()
    yield settings
    outbox_breaker_reset()


@pytest.fixture
def bench_tenant(transactional_db: None) -> Tenant:
    tenant, _ = tenant_create(name="Outage Ledger Ltd", slug="outage-ledger", actor=TEST_ACTOR)
    tenant_settings_update(tenant=tenant, actor=TEST_ACTOR, max_invoices_per_run=BATCH)
    FixtureBuilder(tenant=tenant, rng=random.Random(4), vendor_count=5, lines=3).build(
        INVOICES, progress=lambda done: None
    )
    return tenant


def consume(settings: Any) -> list[str]:
    """What the durable consumer receives now (acked): the `Nats-Msg-Id` of each message."""

    async def pull() -> list[str]:
        client = await nats.connect(settings.NATS_URL, connect_timeout=2, max_reconnect_attempts=1)
        try:
            jetstream = client.jetstream()
            subscription = await jetstream.pull_subscribe(
                f"{settings.NATS_SUBJECT_PREFIX}.>", durable=CONSUMER, stream=settings.NATS_STREAM
            )
            received: list[str] = []
            while True:
                try:
                    messages = await subscription.fetch(100, timeout=2)
                except TimeoutError:  # nats-py raises its own subclass or asyncio's: nothing more came
                    return received
                for message in messages:
                    received.append(message.headers["Nats-Msg-Id"])
                    await message.ack_sync()
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(pull(), timeout=30))


def unpublished(tenant: Tenant) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.for_tenant(tenant).filter(published_at__isnull=True))


def test_events_of_a_drain_survive_nats_stopping_and_arrive_once_when_it_is_back(
    bench_tenant: Tenant, publishing: Any, nats_server: PrivateNats
) -> None:
    tenant = bench_tenant

    # Batch 1 with NATS up: committed, published at commit, received by the consumer.
    first = matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=MATCHING_ACTOR)
    assert (first.status, first.invoices_matched) == (MatchRun.Status.FINISHED, BATCH)
    before_outage = list(OutboxMessage.objects.for_tenant(tenant))
    assert before_outage and not unpublished(tenant)
    received = consume(publishing)
    assert sorted(received) == sorted(str(message.id) for message in before_outage)

    nats_server.stop()

    # The rest of the drain with NATS down: every batch finishes, its events wait.
    runs = matching_drain_tenant(tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=MATCHING_ACTOR, max_batches=10)
    assert {run.status for run in runs} == {MatchRun.Status.FINISHED}
    assert sum(run.invoices_matched for run in runs) == INVOICES - BATCH
    assert not Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED).exists()
    waiting = unpublished(tenant)
    assert waiting, "the later batches wrote no events"
    assert all(message.attempts >= 1 and message.last_error for message in waiting)  # the commit's publish failed

    nats_server.start()  # same port, same JetStream store

    # The schedule's `publish_events` (here until done; the backoff makes a message wait 2 s).
    def drained() -> bool:
        call_command("publish_events", stdout=StringIO())
        return not unpublished(tenant)

    wait_until(drained, timeout=30, what="the outbox to drain", interval=0.5)
    received += consume(publishing)
    every_event = {str(message.id) for message in OutboxMessage.objects.for_tenant(tenant)}
    assert Counter(received) == Counter(every_event), "an event was lost or delivered twice"

    # A publisher that died after sending and before marking sends it all again: the broker
    # drops the copies (Nats-Msg-Id), so the consumer sees nothing new.
    OutboxMessage.objects.for_tenant(tenant).update(published_at=None, next_attempt_at=None)
    wait_until(drained, timeout=30, what="the re-send", interval=0.5)
    assert consume(publishing) == []
    assert len(stream_messages(publishing)) == len(every_event)
