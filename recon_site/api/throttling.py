"""Rate limits: per tenant after authentication, and a lower per-IP limit for everyone else.

Counting after authentication means one noisy anonymous caller cannot spend a tenant's budget
(the seed's decision log); the counters live in the cache (Redis when configured).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from tenants.authentication import TenantContext


class TenantRateThrottle(SimpleRateThrottle):
    scope = "tenant"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, TenantContext):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.tenant.pk}


class AnonIpRateThrottle(SimpleRateThrottle):
    scope = "anon"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, TenantContext):
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
