"""Draining the outbox to NATS JetStream.

- Messages are claimed with `SELECT … FOR UPDATE SKIP LOCKED`, so two publishers never send the
  same batch at once; each is sent with `Nats-Msg-Id` = its outbox id, so a re-send after a
  crash between "published" and "marked" is dropped by the broker's de-duplication.
- A failure stops the batch, counts an attempt on the message and schedules its retry with
  exponential backoff; nothing is ever dropped.
- A circuit breaker around the broker: `OUTBOX_BREAKER_FAIL_MAX` (5) consecutive failed batches
  open it for `OUTBOX_BREAKER_RESET_SECONDS` (60); then one half-open probe decides.
- With `NATS_ENABLED=false` (the default) nothing is sent and messages wait in the table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass

import nats
import pybreaker
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError as StreamNotFound

from audit.models import OutboxMessage

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300

_breaker: pybreaker.CircuitBreaker | None = None


def outbox_breaker() -> pybreaker.CircuitBreaker:
    """The process's breaker (built from settings on first use)."""
    global _breaker
    if _breaker is None:
        _breaker = pybreaker.CircuitBreaker(
            fail_max=settings.OUTBOX_BREAKER_FAIL_MAX,
            reset_timeout=settings.OUTBOX_BREAKER_RESET_SECONDS,
            name="nats-outbox",
            # On the failure that trips it, re-raise that failure (we record it on the messages).
            throw_new_error_on_trip=False,
        )
    return _breaker


def outbox_breaker_reset() -> None:
    """Forget the breaker (tests, or after changing its settings)."""
    global _breaker
    _breaker = None


@dataclass(frozen=True)
class PublishReport:
    published: int = 0
    failed: int = 0
    skipped_reason: str = ""


class BatchFailed(Exception):
    """The broker refused or could not be reached; carries how many went out before that."""

    def __init__(self, published_ids: list[str], error: BaseException) -> None:
        super().__init__(str(error))
        self.published_ids = published_ids
        self.error = error


def backoff_seconds(attempts: int) -> int:
    return min(MAX_BACKOFF_SECONDS, 2 ** min(attempts, 16))


async def _send_within_deadline(messages: list[OutboxMessage]) -> list[str]:
    # A broker that accepts the connection and then stalls must not hold the batch's row locks.
    deadline = settings.NATS_CONNECT_TIMEOUT_SECONDS * 2 + 0.05 * len(messages) + 10
    try:
        return await asyncio.wait_for(_send(messages), timeout=deadline)
    except TimeoutError as exc:
        raise BatchFailed([], exc) from exc


async def _send(messages: list[OutboxMessage]) -> list[str]:
    published: list[str] = []
    client = None
    try:
        client = await nats_connect()
        jetstream = client.jetstream()
        await _ensure_stream(jetstream)
        for message in messages:
            body = json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()
            await jetstream.publish(
                message.subject, body, headers={"Nats-Msg-Id": str(message.id)}, stream=settings.NATS_STREAM
            )
            published.append(str(message.id))
    except Exception as exc:  # any failure of the broker is a failed batch
        raise BatchFailed(published, exc) from exc
    finally:
        if client is not None and not client.is_closed:
            await client.close()
    return published


async def nats_connect() -> nats.NATS:
    """One connection to NATS_URL that gives up after one try instead of reconnecting."""
    return await nats.connect(
        settings.NATS_URL,
        connect_timeout=settings.NATS_CONNECT_TIMEOUT_SECONDS,
        # nats-py reads 0 as "retry forever"; 1 means one try per server, then give up.
        max_reconnect_attempts=1,
        allow_reconnect=False,
        error_cb=_quiet,
    )


async def _quiet(error: Exception) -> None:
    """nats-py logs every failed connect with a traceback; the batch failure is logged once instead."""


async def _ensure_stream(jetstream: nats.js.JetStreamContext) -> None:
    try:
        await jetstream.stream_info(settings.NATS_STREAM)
    except StreamNotFound:
        await jetstream.add_stream(
            StreamConfig(name=settings.NATS_STREAM, subjects=[f"{settings.NATS_SUBJECT_PREFIX}.>"])
        )


def outbox_publish_pending(*, limit: int | None = None) -> PublishReport:
    """Publish one batch of due messages; safe to run concurrently and repeatedly."""
    if not settings.NATS_ENABLED:
        return PublishReport(skipped_reason="NATS_ENABLED is false")
    breaker = outbox_breaker()
    now = timezone.now()
    with transaction.atomic():
        # The publisher serves every tenant: an operator path, hence unscoped.
        claimed = list(
            OutboxMessage.objects.unscoped()
            .select_for_update(skip_locked=True)
            .filter(published_at__isnull=True)
            .exclude(next_attempt_at__gt=now)
            .order_by("created_at")[: limit or settings.OUTBOX_BATCH_SIZE]
        )
        if not claimed:
            return PublishReport()
        try:
            published_ids = breaker.call(lambda: asyncio.run(_send_within_deadline(claimed)))
            error = None
        except pybreaker.CircuitBreakerError as exc:
            return PublishReport(skipped_reason=f"circuit breaker open: {exc}")
        except BatchFailed as exc:
            published_ids, error = exc.published_ids, exc.error
        sent = set(published_ids)
        OutboxMessage.objects.unscoped().filter(id__in=sent).update(published_at=timezone.now())
        failed = [message for message in claimed if str(message.id) not in sent]
        if error is not None and failed:
            # Only the first unsent message was actually tried; all wait for the backoff.
            for message in failed:
                message.attempts += 1
                message.last_error = f"{type(error).__name__}: {error}"[:2000]
                message.next_attempt_at = timezone.now() + dt.timedelta(seconds=backoff_seconds(message.attempts))
            OutboxMessage.objects.unscoped().bulk_update(failed, ["attempts", "last_error", "next_attempt_at"])
            logger.warning("outbox: %d published, %d left queued: %s", len(sent), len(failed), error)
    return PublishReport(published=len(sent), failed=len(failed) if error is not None else 0)
