"""Plumbing of the clerk's web app: who is acting for which tenant, and the security headers.

A browser request gets its tenant from the user's memberships only (DESIGN.md §3): the tenant
chosen in the session is honoured only while the user is still a member of it, and the check is
made again on every request, so a revoked membership takes effect at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.actors import Actor
from core.tenancy.rls import tenant_scope_enter
from tenants.authentication import current_membership, memberships_of
from tenants.models import Membership, Role, Tenant

NO_MEMBERSHIP = "Your account is not a member of any active organisation. Ask an administrator for access."
NUL_IN_INPUT = "The request contains a NUL character, which no field accepts. Nothing was saved."

# Roles that may start matching runs and act on the escalated queue.
APPROVER_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
# Roles that may bring files in on the Import page (every member may look at what came in).
IMPORTER_ROLES = frozenset({Role.CLERK, Role.ADMIN})


@dataclass(frozen=True)
class WebContext:
    """The acting user's tenant, role and the audit actor their actions are recorded under."""

    tenant: Tenant
    role: str
    actor: Actor
    memberships: tuple[Membership, ...]

    @property
    def is_approver(self) -> bool:
        return self.role in APPROVER_ROLES

    @property
    def can_import(self) -> bool:
        return self.role in IMPORTER_ROLES


def web_context_of(request: HttpRequest) -> WebContext | None:
    """The context for a logged-in user, or None when they belong to no active tenant."""
    membership = current_membership(request)
    if membership is None:
        return None
    user = request.user
    return WebContext(
        tenant=membership.tenant,
        role=membership.role,
        actor=Actor(kind="user", id=str(user.pk), label=user.get_username()),
        memberships=tuple(memberships_of(user)),
    )


ViewFunc = Callable[..., HttpResponse]


def web_of(request: HttpRequest) -> WebContext:
    """The `WebContext` that `tenant_view` put on the request: one typed read for every view."""
    context = getattr(request, "web", None)
    if not isinstance(context, WebContext):
        raise RuntimeError("web_of() is for views behind tenant_view (or an error page that set request.web).")
    return context


def tenant_view(view: ViewFunc) -> ViewFunc:
    """Log-in required; puts `request.web` (a `WebContext`) on the request.

    An `Http404` (another tenant's object, an unknown id) becomes the web app's own 404 page
    rather than the API's JSON envelope that `handler404` returns.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        context = web_context_of(request)
        if context is None:
            return render(request, "web/no_tenant.html", {"message": NO_MEMBERSHIP}, status=403)
        request.web = context  # type: ignore[attr-defined]
        tenant_scope_enter(context.tenant)
        # PostgreSQL cannot hold NUL in text or jsonb: a search or comment with one would fail in
        # the driver as a 500. The API's serializers refuse it per field; the pages read request
        # values directly, so they are refused here, once, for every page.
        if _has_nul(request):
            return render(request, "web/bad_request.html", {"message": NUL_IN_INPUT}, status=400)
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return render(request, "web/not_found.html", status=404)

    return wrapper


def _has_nul(request: HttpRequest) -> bool:
    submitted = (value for data in (request.GET, request.POST) for _, values in data.lists() for value in values)
    return any("\x00" in value for value in submitted)


def web_globals(request: HttpRequest) -> dict[str, Any]:
    """Template context for the layout: the tenant, the role, and the tenants to switch to."""
    context = getattr(request, "web", None)
    if context is None:
        return {}
    return {"web": context}


# --- Content-Security-Policy -----------------------------------------------------------------
# Django 5.2 has no built-in CSP (it arrives in 6.0), hence this middleware. Only our own
# scripts and styles: no inline <script>, no style="" attributes, no CDN. The web app draws its
# charts as server-rendered SVG, whose presentation attributes (width, fill) are not styles.
_CSP_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**overrides: str) -> str:
    """The site's policy, with the directives a page needs changed (`object_src="'self'"` for the
    invoice page that embeds its own original PDF); the middleware leaves a page's own policy be."""
    directives = {**_CSP_DIRECTIVES, **{name.replace("_", "-"): value for name, value in overrides.items()}}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()
# Third-party pages we serve but do not write: Swagger UI boots from an inline script, and the
# admin's widgets still set inline styles. They keep the other headers.
CSP_EXEMPT_PREFIXES = ("/api/docs/", "/admin/")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy and Permissions-Policy to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(CSP_EXEMPT_PREFIXES):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
