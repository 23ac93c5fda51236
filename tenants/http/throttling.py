"""Rate limits: per tenant after authentication, and a lower per-IP limit for everyone else.

Counting after authentication means one noisy anonymous caller cannot spend a tenant's budget
(the seed's decision log). The counters are shared by every process (`core.rate_counters`:
Redis when configured, PostgreSQL otherwise), each hit one atomic step, in a fixed window that
starts at a key's first hit; DRF's own throttle keeps a list of timestamps that each process
reads, appends to and writes back, so concurrent workers overwrite each other's hits.

With the store unreachable the limits fail open: the request is served unthrottled and a
warning is logged. A rate limit protects capacity, it guards no data (authentication, tenant
scoping and idempotency live in PostgreSQL); failing closed would turn a Redis outage into an
outage of the whole API, in the middle of a month-end close.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from core.rate_counters import rate_counter_hit
from tenants.authentication import TenantContext

logger = logging.getLogger(__name__)


class FailOpenRateThrottle(SimpleRateThrottle):
    """DRF's rates and `Retry-After`, counted in the shared store; the request goes through when
    its counter cannot be read or written."""

    resets_in: float = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            count = rate_counter_hit(key=key, window_seconds=self.duration, store=settings.RATE_LIMIT_STORE)
        except (RedisError, OSError, DatabaseError) as exc:
            logger.warning("Rate limit %s not applied, its counter store is unreachable: %s", self.scope, exc)
            return True
        self.resets_in = count.resets_in
        return count.hits <= self.num_requests

    def wait(self) -> float:
        # At least a second: a window ending this instant must not answer `Retry-After: 0`.
        return max(self.resets_in, 1.0)


class TenantRateThrottle(FailOpenRateThrottle):
    scope = "tenant"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, TenantContext):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.tenant.pk}


class AnonIpRateThrottle(FailOpenRateThrottle):
    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, TenantContext):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def get_ident(self, request: Request) -> str:
        return client_ip(request)


def client_ip(request: HttpRequest | Request) -> str:
    """The caller's address, as the per-IP limits (the API's, sign-in's) count it."""
    # With NUM_PROXIES unset DRF keys on the whole X-Forwarded-For header, which the caller
    # writes: a new value per request would be a new budget per request. Only a deployment
    # that declares its proxies (REST_FRAMEWORK["NUM_PROXIES"]) gets the header trusted.
    if api_settings.NUM_PROXIES is None:
        return request.META.get("REMOTE_ADDR", "")
    return BaseThrottle().get_ident(request)
