"""Rate counters shared by every process (core.rate_counters), with or without Redis.

Before (issue #15): without REDIS_URL the counters lived in each process's memory, and 5
gunicorn workers served 1,300 requests in 10 s against a limit of 1,200 a minute.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from core.rate_counters import (
    DATABASE,
    REDIS,
    rate_counter_clear,
    rate_counter_hit,
    rate_counter_peek,
    rate_counter_take_back,
)
from core.tenancy.roles import runtime_database_url
from tenants.services import api_key_create
from tests.factories import TEST_ACTOR, TenantFactory
from tests.faults.services import BASE_DIR, app_environment, wait_until

RATE = 30  # a minute, per tenant
REQUESTS_PER_PROCESS = 25  # two processes: 50, so each alone stays under the rate, together not


@pytest.fixture(params=[DATABASE, REDIS])
def store(request: pytest.FixtureRequest, db: None) -> str:
    if request.param == REDIS:
        request.getfixturevalue("redis_url")
    return request.param


def test_hits_of_a_key_count_up_in_its_window_and_start_again_after_it(store: str) -> None:
    key, other = f"test_{uuid.uuid4().hex}", f"test_{uuid.uuid4().hex}"
    assert rate_counter_peek(key=key, store=store) is None
    counts = [rate_counter_hit(key=key, window_seconds=1, store=store) for _ in range(3)]
    assert [count.hits for count in counts] == [1, 2, 3]
    assert all(0 < count.resets_in <= 1 for count in counts)
    assert rate_counter_hit(key=other, window_seconds=60, store=store).hits == 1  # keys apart
    assert rate_counter_peek(key=key, store=store).hits == 3  # type: ignore[union-attr]  (peeking counts nothing)

    time.sleep(1.1)

    assert rate_counter_peek(key=key, store=store) is None
    assert rate_counter_hit(key=key, window_seconds=60, store=store).hits == 1
    rate_counter_clear(key=other, store=store)
    assert rate_counter_peek(key=other, store=store) is None


def test_a_hit_taken_back_is_uncounted_and_a_count_taken_back_to_zero_is_gone(store: str) -> None:
    """A sign-in attempt is counted before its password is checked; a right one is taken back."""
    key = f"test_{uuid.uuid4().hex}"
    rate_counter_take_back(key=key, store=store)  # nothing counted: nothing to take back, no error
    assert rate_counter_peek(key=key, store=store) is None
    for _ in range(2):
        rate_counter_hit(key=key, window_seconds=60, store=store)
    rate_counter_take_back(key=key, store=store)
    assert rate_counter_peek(key=key, store=store).hits == 1  # type: ignore[union-attr]
    rate_counter_take_back(key=key, store=store)
    emptied = rate_counter_peek(key=key, store=store)
    assert emptied is None or emptied.hits == 0  # the database drops the row; Redis keeps a 0 to its TTL
    assert rate_counter_hit(key=key, window_seconds=60, store=store).hits == 1


def test_a_key_longer_than_the_column_still_counts_on_its_own(store: str) -> None:
    """An address taken from a header can be any length: it must neither fail the write (which
    would leave the limit open) nor share a count with another long key."""
    prefix = f"throttle_anon_{uuid.uuid4().hex}"
    first, second = prefix + "1" * 1000, prefix + "2" * 1000
    assert [rate_counter_hit(key=first, window_seconds=60, store=store).hits for _ in range(2)] == [1, 2]
    assert rate_counter_hit(key=second, window_seconds=60, store=store).hits == 1


def _rows(*keys: str) -> dict[str, int]:
    """The table as another connection sees it (what other processes see)."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
            # NOWAIT: a row still locked by a transaction of this test would fail here.
            cursor.execute(
                "SELECT key, hits FROM recon_site_ratecounter WHERE key = ANY(%s) FOR UPDATE NOWAIT", [list(keys)]
            )
            return dict(cursor.fetchall())
    finally:
        other.close()


def test_a_hit_counts_for_everyone_at_once_not_when_the_requests_transaction_ends(db: None) -> None:
    """An API POST with an Idempotency-Key runs in one transaction: its hit must neither hold the
    tenant's counter locked until then (every other request of the tenant would wait) nor vanish
    if that transaction rolls back."""
    key = f"test_{uuid.uuid4().hex}"
    with transaction.atomic():
        rate_counter_hit(key=key, window_seconds=60, store=DATABASE)
        assert _rows(key) == {key: 1}
        transaction.set_rollback(True)
    assert _rows(key) == {key: 1}


def test_counters_of_ended_windows_are_swept_when_a_new_window_opens(db: None) -> None:
    ended = [f"test_{uuid.uuid4().hex}" for _ in range(3)]
    for key in ended:
        rate_counter_hit(key=key, window_seconds=1, store=DATABASE)
    time.sleep(1.1)
    fresh = f"test_{uuid.uuid4().hex}"
    rate_counter_hit(key=fresh, window_seconds=60, store=DATABASE)
    assert _rows(*ended, fresh) == {fresh: 1}


SCRIPT = """
import pathlib, time
from django.test import Client
client = Client(HTTP_AUTHORIZATION="Bearer {api_key}")
client.get("/health")  # settings, URLs and connections loaded before the start line
pathlib.Path("{ready}").touch()
while not pathlib.Path("{go}").exists():
    time.sleep(0.01)
print(" ".join(str(client.get("/api/invoices").status_code) for _ in range({requests})))
"""


def test_the_tenant_rate_limit_holds_across_processes_without_redis(transactional_db: None, tmp_path: Path) -> None:
    tenant = TenantFactory(name="Two Workers Ltd")
    _, api_key = api_key_create(tenant=tenant, name="workers", actor=TEST_ACTOR)
    # The app's own settings (not the test settings) and no REDIS_URL, as `make run` starts it.
    env = app_environment(
        database_url=runtime_database_url(connection.settings_dict), THROTTLE_TENANT_RATE=f"{RATE}/min"
    )
    go = tmp_path / "go"
    processes = []
    for worker in range(2):
        ready = tmp_path / f"ready-{worker}"
        code = SCRIPT.format(api_key=api_key, ready=ready, go=go, requests=REQUESTS_PER_PROCESS)
        processes.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, str(BASE_DIR / "manage.py"), "shell", "-c", code],
                    cwd=BASE_DIR,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
        )
    try:
        wait_until(
            lambda: all(ready.exists() or process.poll() is not None for ready, process in processes),
            timeout=120,
            what="both processes to be ready",
            interval=0.1,
        )
        go.touch()  # both send their requests at once
        outputs = [process.communicate(timeout=120) for _, process in processes]
    finally:
        for _, process in processes:
            process.kill()
    statuses = []
    for (_, process), (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr[-3000:]
        statuses += stdout.splitlines()[-1].split()  # the script's line, after the shell's own
    assert len(statuses) == 2 * REQUESTS_PER_PROCESS
    # Each process alone stayed under the rate; together they went past it by 20.
    assert statuses.count("200") == RATE, statuses
    assert statuses.count("429") == 2 * REQUESTS_PER_PROCESS - RATE, statuses
