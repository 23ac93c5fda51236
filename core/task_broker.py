"""django-q2's Redis broker, with one connection pool per Redis and process.

django-q2 builds a broker for every task it queues (`async_task` → `get_broker()`), and its Redis
broker a new client with a new connection pool (`redis.from_url`): each task queued opened a TCP
connection to Redis and dropped it. A create queues matching once it commits, so that connection
was part of every `POST /api/invoices` (~1.4 ms of socket connects alone, profiled under
bench_invoice_create). This broker takes its client from a pool kept for the process, as the
cache's is: the connection stays open between tasks. redis-py's pools notice a fork and start
afresh in the child, so gunicorn's and the cluster's forked workers never share a socket.

Chosen in settings (Q_CLUSTER["broker_class"]) only when Redis is the broker; it reads django-q2's
`Conf.REDIS` when a broker is built, so a queue configured at run time (the tests') is honoured.
"""

from __future__ import annotations

import threading
from typing import Any

import redis
from django_q.brokers.redis_broker import Redis
from django_q.conf import Conf

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
