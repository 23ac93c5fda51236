"""Who is calling, and for which tenant: API keys for clients, sessions for the browser.

Both authenticators put a `TenantContext` in `request.auth`; views read the tenant from there
and nowhere else (never from a body field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models.expressions import RawSQL
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from core.tenancy.rls import scope_set_sql, tenant_scope_enter
from tenants.models import ApiKey, Membership, Tenant, hash_api_key

SESSION_TENANT_KEY = "recon_tenant_id"


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant
    actor_kind: str  # "api_key" | "user"
    actor_id: str
    role: str | None = None


class ApiClient(AnonymousUser):
    """The `request.user` of an API-key call: authenticated, but not a person."""

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    def __str__(self) -> str:
        return f"api-key:{self.api_key.display_prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, TenantContext] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme != self.keyword:
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("Missing API key after 'Bearer'.")
        # Unscoped by necessity: the key is what tells us the tenant. The same statement fixes
        # row-level security's scope to that tenant for the rest of the request (core.tenancy.rls:
        # for the transaction of a keyed request, else for the session): the request's first
        # statement is then not a setting of its own.
        local = connection.in_atomic_block
        tenant_id_column = (
            f"{connection.ops.quote_name(ApiKey._meta.db_table)}.{connection.ops.quote_name('tenant_id')}"
        )
        api_key = (
            ApiKey.objects.unscoped()
            .select_related("tenant")
            .filter(key_hash=hash_api_key(raw_key), is_active=True, tenant__is_active=True)
            # The SQL names a column of the model's table; no value of the request's is in it.
            .annotate(scope_set=RawSQL(scope_set_sql(tenant_id_column, local=local), ()))  # noqa: S611
            .first()
        )
        scope = (str(api_key.tenant_id), "") if api_key is not None else None
        connection.rls_scope.set_by_statement(scope, local=local)  # type: ignore[attr-defined]
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        tenant_scope_enter(api_key.tenant_id)
        return ApiClient(api_key), TenantContext(api_key.tenant, "api_key", str(api_key.pk))

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def memberships_of(user: Any) -> list[Membership]:
    """The user's active memberships in active tenants, oldest first (a deactivated member no
    longer works in that tenant, from their next request on)."""
    return list(
        Membership.objects.unscoped()
        .select_related("tenant")
        .filter(user=user, is_active=True, tenant__is_active=True)
        .order_by("created_at")
    )


def current_membership(request: Any) -> Membership | None:
    """The membership for the tenant chosen in this session (the first one by default)."""
    memberships = memberships_of(request.user)
    chosen = request.session.get(SESSION_TENANT_KEY)
    for membership in memberships:
        if str(membership.tenant_id) == chosen:
            return membership
    return memberships[0] if memberships else None


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """A logged-in user acting in the tenant of their current membership (CSRF enforced)."""

    def authenticate(self, request: Request) -> tuple[Any, TenantContext] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        membership = current_membership(request._request)
        if membership is None:
            raise exceptions.PermissionDenied("This user is not a member of any tenant.")
        tenant_scope_enter(membership.tenant_id)
        return user, TenantContext(membership.tenant, "user", str(user.pk), membership.role)


class IsTenantMember(permissions.BasePermission):
    message = "Authentication with an API key or a tenant member's session is required."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, TenantContext)
