"""Queuing a task through the ORM broker (no Redis configured) never closes a connection that holds
a run's session lock (core.task_broker.SessionLockSafeOrm): django-q2's own broker closed one older
than CONN_MAX_AGE, the server released the lock, and a second run of the same tenant could start
while the first went on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection
from django_q.brokers.orm import ORM

from core import locks
from core.task_broker import SessionLockSafeOrm

pytestmark = pytest.mark.django_db(transaction=True)

TENANT_ID = uuid.UUID("01a25000-0000-7000-8000-00000000beef")


def _backend_and_locks() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid(),"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())"
        )
        pid, held = cursor.fetchone()
    return pid, held


def _connection_past_its_age() -> None:
    # What CONN_MAX_AGE does once the connection is old: close_old_connections() closes it.
    connection.close_at = time.monotonic() - 1


@pytest.fixture
def queue() -> Iterator[str]:
    name = f"session-locks-{uuid.uuid4().hex[:8]}"
    yield name
    ORM(list_key=name).delete_queue()


def test_a_run_holding_its_lock_keeps_its_connection_when_it_queues_a_task(queue: str) -> None:
    assert locks.tenant_lock_try(locks.MATCHING, TENANT_ID)
    try:
        before = _backend_and_locks()
        assert before[1] == 1
        _connection_past_its_age()
        SessionLockSafeOrm(list_key=queue).enqueue("a task")
        assert _backend_and_locks() == before  # same server session, the lock still held
    finally:
        locks.tenant_unlock(locks.MATCHING, TENANT_ID)
    assert not locks.session_locks_held()


def test_django_q2s_own_broker_would_have_dropped_the_lock(queue: str) -> None:
    """What the class above exists for: the plain ORM broker closes the old connection."""
    assert locks.tenant_lock_try(locks.MATCHING, TENANT_ID)
    pid, held = _backend_and_locks()
    assert held == 1
    _connection_past_its_age()
    ORM(list_key=queue).enqueue("a task")
    new_pid, held_now = _backend_and_locks()
    assert (new_pid, held_now) != (pid, 1)
    assert held_now == 0
    assert not locks.session_locks_held()  # a new connection holds no lock, and says so


def test_without_a_lock_old_connections_are_still_closed(queue: str) -> None:
    pid, _ = _backend_and_locks()
    _connection_past_its_age()
    SessionLockSafeOrm(list_key=queue).enqueue("a task")
    assert _backend_and_locks()[0] != pid
