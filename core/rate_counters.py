"""Counters every process of the app shares: API rate limits and failed sign-ins.

A counter counts the hits of one key (a tenant's API budget, an IP address's, a sign-in account's
failures) in a fixed window that starts at the key's first hit. Each hit is one atomic step in
the store, so any number of gunicorn workers and nodes count together and none loses another's
hit. Two stores:

- `redis` (`REDIS_URL` set): `SET NX EX` + `INCR` + `PTTL` in one MULTI/EXEC.
- `database`: the table `recon_site_ratecounter` in PostgreSQL, one `INSERT … ON CONFLICT DO
  UPDATE … RETURNING` per hit (the row lock serializes concurrent hits of one key). Without
  Redis, a per-process memory cache would give every worker its own budget (issue #15: 5
  workers served 1,300 requests in 10 s against a limit of 1,200 a minute).

The database store runs on a connection of its own, in autocommit, never inside the request's
transaction: an API POST with an Idempotency-Key runs in one transaction (tenants.http.views),
and a counter row updated in it would stay locked — every other request of the tenant waiting on
it — until that request ended, and its hit would vanish if the request rolled back.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

REDIS = "redis"
DATABASE = "database"
STORES = (REDIS, DATABASE)

# Expired rows are deleted by the hits that open a new window, this many at a time, so the table
# stays as small as the set of keys active within a window, with no scheduled task to run.
PURGE_BATCH = 100
MAX_KEY_LENGTH = 255  # RateCounter.key

_HIT = """
INSERT INTO recon_site_ratecounter AS counter (key, hits, window_ends)
VALUES (%(key)s, 1, now() + make_interval(secs => %(window)s))
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN counter.window_ends > now() THEN counter.hits + 1 ELSE 1 END,
    window_ends = CASE WHEN counter.window_ends > now() THEN counter.window_ends ELSE EXCLUDED.window_ends END
RETURNING hits, EXTRACT(EPOCH FROM window_ends - now())::float8
"""
_PEEK = """
SELECT hits, EXTRACT(EPOCH FROM window_ends - now())::float8
FROM recon_site_ratecounter WHERE key = %(key)s AND window_ends > now()
"""
_CLEAR = "DELETE FROM recon_site_ratecounter WHERE key = %(key)s"
# A count taken back to zero is no count: the row goes (hits > 0 is a constraint of the table).
_TAKE_BACK = """
WITH emptied AS (DELETE FROM recon_site_ratecounter WHERE key = %(key)s AND hits <= 1)
UPDATE recon_site_ratecounter SET hits = hits - 1 WHERE key = %(key)s AND hits > 1 AND window_ends > now()
"""
# SKIP LOCKED: two processes purging at once take different rows instead of queueing.
_PURGE = """
DELETE FROM recon_site_ratecounter WHERE key IN (
    SELECT key FROM recon_site_ratecounter WHERE window_ends <= now()
    ORDER BY window_ends LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
"""


@dataclass(frozen=True)
class Count:
    hits: int  # in the current window, this hit included
    resets_in: float  # seconds until the window ends and the count starts again at 0


def rate_counter_hit(*, key: str, window_seconds: int, store: str | None = None) -> Count:
    """Count one hit of `key`; a window of `window_seconds` starts at the first hit."""
    return _store(store).hit(_bounded(key), window_seconds)


def rate_counter_peek(*, key: str, store: str | None = None) -> Count | None:
    """The count of `key` in its current window, without counting; None when it has none."""
    return _store(store).peek(_bounded(key))


def rate_counter_clear(*, key: str, store: str | None = None) -> None:
    """Forget `key`'s count (a sign-in that succeeded clears its account's failures)."""
    _store(store).clear(_bounded(key))


def rate_counter_take_back(*, key: str, store: str | None = None) -> None:
    """Uncount one hit of `key` in its current window (a sign-in attempt counted before its
    password was checked, which turned out right)."""
    _store(store).take_back(_bounded(key))


def _bounded(key: str) -> str:
    """The key as stored: a long one (an address from a header, say) ends in its digest instead,
    so it fits the column and a caller cannot make a write fail — and the limit open — by length."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return key[: MAX_KEY_LENGTH - 65] + "~" + hashlib.sha256(key.encode()).hexdigest()


def _store(name: str | None) -> _RedisStore | _DatabaseStore:
    name = name or settings.RATE_LIMIT_STORE
    if name == REDIS:
        return _redis_store
    if name == DATABASE:
        return _database_store
    raise ValueError(f"Unknown rate counter store {name!r}; one of {STORES}")


class _RedisStore:
    """Keys `recon:<key>` (the cache's prefix, so `cache.clear()` clears them too)."""

    def __init__(self) -> None:
        self._client: Any = None
        self._lock = threading.Lock()

    def _redis(self) -> Any:
        # redis-py's pool notices a fork and reconnects in the child; one client per process.
        with self._lock:
            if self._client is None:
                import redis

                options = settings.CACHES["default"].get("OPTIONS", {})
                self._client = redis.Redis.from_url(settings.REDIS_URL, **options)
            return self._client

    def hit(self, key: str, window_seconds: int) -> Count:
        name = f"recon:{key}"
        pipeline = self._redis().pipeline(transaction=True)
        pipeline.set(name, 0, ex=window_seconds, nx=True)
        pipeline.incr(name)
        pipeline.pttl(name)
        _, hits, ttl_ms = pipeline.execute()
        if ttl_ms < 0:
            # The key expired between SET NX and INCR, and INCR made it anew without a TTL.
            self._redis().expire(name, window_seconds)
            ttl_ms = window_seconds * 1000
        return Count(hits=int(hits), resets_in=ttl_ms / 1000)

    def peek(self, key: str) -> Count | None:
        pipeline = self._redis().pipeline(transaction=True)
        pipeline.get(f"recon:{key}")
        pipeline.pttl(f"recon:{key}")
        hits, ttl_ms = pipeline.execute()
        if hits is None or ttl_ms < 0:
            return None
        return Count(hits=int(hits), resets_in=ttl_ms / 1000)

    def clear(self, key: str) -> None:
        self._redis().delete(f"recon:{key}")

    def take_back(self, key: str) -> None:
        # Only a key that still exists (its window open): DECR would create one without a TTL.
        self._redis().eval(
            "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
            1,
            f"recon:{key}",
        )


class _DatabaseStore:
    """One connection per process to the default database, autocommit, apart from Django's own.

    Shared by the process's threads under a lock (a hit is one short statement), so a threaded
    server opens one connection more per process, not one per request thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wrapper: Any = None
        self._pid = 0

    def _connection(self) -> Any:
        if self._wrapper is not None and self._pid != os.getpid():
            # Made before a fork: the socket belongs to the parent. Dropped, not closed, since
            # closing would end the parent's session too.
            self._wrapper = None
        if self._wrapper is None:
            # The default database's settings (the runtime role; the test database under
            # pytest), through Django's backend: its errors are Django's, so a PostgreSQL outage
            # is a 503 like any other (core.http.middleware).
            self._wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
            self._wrapper.inc_thread_sharing()  # the lock above serializes its users
            self._pid = os.getpid()
        return self._wrapper

    def _execute(self, sql: str, params: dict[str, Any]) -> Any:
        with self._lock:
            # A connection found dead (PostgreSQL restarted, an idle timeout) is replaced once:
            # the hit then counts on the new one instead of failing the request.
            for attempt in (1, 2):
                wrapper = self._connection()
                try:
                    with wrapper.cursor() as cursor:
                        cursor.execute(sql, params)
                        return cursor.fetchone() if cursor.description else None
                except (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    self._close()
                    if attempt == 2:
                        if isinstance(exc, (OperationalError, InterfaceError)):
                            raise
                        # psycopg's own (from the tenant-scope wrapper, core.tenancy.rls, which talks
                        # to the driver directly): as Django's, so it is a 503, not a 500.
                        raise OperationalError(str(exc)) from exc
        raise AssertionError("unreachable")

    def hit(self, key: str, window_seconds: int) -> Count:
        hits, resets_in = self._execute(_HIT, {"key": key, "window": window_seconds})
        if hits == 1:
            # A new window: the moment to sweep away windows that ended.
            self._execute(_PURGE, {"limit": PURGE_BATCH})
        return Count(hits=hits, resets_in=max(resets_in, 0.0))

    def peek(self, key: str) -> Count | None:
        row = self._execute(_PEEK, {"key": key})
        return Count(hits=row[0], resets_in=max(row[1], 0.0)) if row else None

    def clear(self, key: str) -> None:
        self._execute(_CLEAR, {"key": key})

    def take_back(self, key: str) -> None:
        self._execute(_TAKE_BACK, {"key": key})

    @property
    def connected(self) -> bool:
        return self._wrapper is not None

    def reset(self) -> None:
        """Forget every counter (the test suite, between tests: the rows are committed)."""
        self._execute("DELETE FROM recon_site_ratecounter", {})

    def close(self) -> None:
        """Close the connection (the test suite closes it before its database is dropped)."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is not None and self._pid == os.getpid():
            wrapper.close()


_redis_store = _RedisStore()
_database_store = _DatabaseStore()


def rate_counters_reset(*, only_if_connected: bool = False) -> None:
    """Every counter of the database store gone (tests). `only_if_connected`: unless this process
    has not opened the store's connection (then it has counted nothing since the last reset)."""
    if only_if_connected and not _database_store.connected:
        return
    _database_store.reset()


def rate_counters_close() -> None:
    """The database store's connection closed (tests, before the database is dropped)."""
    _database_store.close()
