"""Rate limits: per tenant after authentication, and a lower per-IP limit for everyone else.

Counting after authentication means one noisy anonymous caller cannot spend a tenant's budget
(the seed's decision log); the counters live in the cache (Redis when configured).

With the cache unreachable the limits fail open: the request is served unthrottled and a
warning is logged. A rate limit protects capacity, it guards no data (authentication, tenant
scoping and idempotency live in PostgreSQL); failing closed would turn a Redis outage into an
outage of the whole API, in the middle of a month-end close.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tenants.authentication import TenantContext

logger = logging.getLogger(__name__)


class FailOpenRateThrottle(SimpleRateThrottle):
    """A rate limit that lets the request through when its counters cannot be read or written."""

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("Rate limit %s not applied, the cache is unreachable: %s", self.scope, exc)
            return True


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
        # With NUM_PROXIES unset DRF keys on the whole X-Forwarded-For header, which the caller
        # writes: a new value per request would be a new budget per request. Only a deployment
        # that declares its proxies (REST_FRAMEWORK["NUM_PROXIES"]) gets the header trusted.
        if api_settings.NUM_PROXIES is None:
            return request.META.get("REMOTE_ADDR", "")
        return super().get_ident(request)
