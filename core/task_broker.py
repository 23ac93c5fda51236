"""django-q2's brokers as Recon uses them: Redis with one connection pool per Redis and process;
the ORM broker (no Redis configured) without closing a connection that holds a run's lock.

django-q2 builds a broker for every task it queues (`async_task` → `get_broker()`), and its Redis
broker a new client with a new connection pool (`redis.from_url`): each task queued opened a TCP
connection to Redis and dropped it. A create queues matching once it commits, so that connection
was part of every `POST /api/invoices` (~1.4 ms of socket connects alone, profiled under
bench_invoice_create). This broker takes its client from a pool kept for the process, as the
cache's is: the connection stays open between tasks. redis-py's pools notice a fork and start
afresh in the child, so gunicorn's and the cluster's forked workers never share a socket.

Chosen in settings (Q_CLUSTER["broker_class"]) only when Redis is the broker; it reads django-q2's
`Conf.REDIS` when a broker is built, so a queue configured at run time (the tests') is honoured.

django-q2's ORM broker calls `close_old_connections()` before each use outside a transaction, for
its cluster's long-lived broker thread. A matching run queues tasks between its transactions (the
audit sealer after a batch commits), holding the tenant's session lock (core.locks): once the
connection was older than `CONN_MAX_AGE`, queuing a task closed it, the server released the lock,
and another worker could start the same tenant's run while this one went on.
`SessionLockSafeOrm` leaves such a connection open; it is closed when the run's task ends.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django.db import DEFAULT_DB_ALIAS
from django_q.brokers.orm import ORM
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf
from django_q.models import OrmQ

from core.locks import session_locks_held

_pools: dict[str, redis.ConnectionPool] = {}
_pools_lock = threading.Lock()


class PooledRedis(Redis):
    """django-q2's Redis broker, on a connection pool shared by the process's brokers."""

    @staticmethod
    def get_connection(list_key: str | None = None) -> Any:
        configured = Conf.REDIS
        if not isinstance(configured, str):
            return Redis.get_connection(list_key)  # a dict of client options: django-q2's own way
        pool = _pools.get(configured)
        if pool is None:
            with _pools_lock:
                pool = _pools.setdefault(configured, redis.ConnectionPool.from_url(configured))
        return redis.Redis(connection_pool=pool)


class SessionLockSafeOrm(ORM):
    """django-q2's ORM broker, which does not close a connection holding a session lock."""

    @staticmethod
    def get_connection(list_key: str | None = None) -> Any:
        # core.locks takes its session locks on the default database's connection.
        if (Conf.ORM or DEFAULT_DB_ALIAS) == DEFAULT_DB_ALIAS and session_locks_held():
            return OrmQ.objects.using(Conf.ORM)
        return ORM.get_connection(list_key)
