"""Settings pages of access: users and their roles, API keys, the webhook signing secret, and
the audit trail of every settings change. A secret (a new user's password, an API key, a
webhook secret) is in the one response that creates it and nowhere else: not in a redirect's
session message, not in the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from core.exceptions import DomainError
from core.http.forms import errors_add
from core.http.listing import list_page
from recon_site.tenant_settings.access import admin_view, section_context
from recon_site.tenant_settings.audit_trail import settings_trail, trail_entries
from recon_site.tenant_settings.forms import ActiveForm, ApiKeyForm, InviteForm, RoleForm
from tenants.http.error_pages import post_only
from tenants.http.web import web_of
from tenants.models import ApiKey, Membership, Tenant
from tenants.services import (
    api_key_create,
    api_key_revoke,
    membership_active_set,
    membership_grant,
    user_invite,
    webhook_secret_rotate,
)

ROLE_CHANGED = "{username} is now {role}."
DEACTIVATED = "{username} can no longer work in this organisation."
REACTIVATED = "{username} can work in this organisation again."
KEY_REVOKED = "The key {prefix}… is revoked: calls with it are refused from now on."
AUDIT_PAGE_SIZE = 50


def _users_context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    memberships = Membership.objects.for_tenant(tenant).select_related("user").order_by("-is_active", "user__username")
    rows = [{"membership": m, "role_form": RoleForm(initial={"role": m.role}, prefix=str(m.pk))} for m in memberships]
    return {"rows": rows, "invite_form": InviteForm(), **section_context(section="web:settings-users"), **extra}


@admin_view
def user_index(request: HttpRequest) -> HttpResponse:
    return render(request, "settings/users.html", _users_context(web_of(request).tenant))


@admin_view
@post_only(back="web:settings-users", back_label="the users")
def user_invite_view(request: HttpRequest) -> HttpResponse:
    """A new user with a role here; the page shows their generated password once."""
    web = web_of(request)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            membership, raw_password = user_invite(tenant=web.tenant, actor=web.actor, **form.cleaned_data)
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            invited = {
                "membership": membership,
                "password": raw_password,
                "login_url": request.build_absolute_uri(reverse("web:login")),
            }
            return render(request, "settings/users.html", _users_context(web.tenant, invited=invited))
    return render(request, "settings/users.html", _users_context(web.tenant, invite_form=form), status=400)


def _refuse_invalid(form: Any) -> None:
    """A hand-made POST of the users page's one-field forms: the field's message as the refusal."""
    raise DomainError(next(iter(form.errors.values()))[0])


def _membership(request: HttpRequest, membership_id: str) -> Membership:
    tenant = web_of(request).tenant
    return get_object_or_404(Membership.objects.for_tenant(tenant).select_related("user"), pk=membership_id)


@admin_view
@post_only(back="web:settings-users", back_label="the users", owned=("membership_id", Membership))
def user_role_change(request: HttpRequest, membership_id: str) -> HttpResponse:
    web = web_of(request)
    membership = _membership(request, membership_id)
    form = RoleForm(request.POST, prefix=str(membership.pk))
    try:
        if not form.is_valid():
            _refuse_invalid(form)
        changed = membership_grant(
            tenant=web.tenant, user=membership.user, actor=web.actor, role=form.cleaned_data["role"]
        )
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("web:settings-users")
    messages.success(
        request, ROLE_CHANGED.format(username=membership.user.get_username(), role=changed.get_role_display())
    )
    return redirect("web:settings-users")


@admin_view
@post_only(back="web:settings-users", back_label="the users", owned=("membership_id", Membership))
def user_active_set(request: HttpRequest, membership_id: str) -> HttpResponse:
    web = web_of(request)
    membership = _membership(request, membership_id)
    form = ActiveForm(request.POST)
    try:
        if not form.is_valid():
            _refuse_invalid(form)
        is_active = form.cleaned_data["is_active"]
        membership_active_set(tenant=web.tenant, actor=web.actor, membership=membership, is_active=is_active)
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect("web:settings-users")
    done = REACTIVATED if is_active else DEACTIVATED
    messages.success(request, done.format(username=membership.user.get_username()))
    return redirect("web:settings-users")


def _api_keys_context(tenant: Tenant, **extra: Any) -> dict[str, Any]:
    api_keys = ApiKey.objects.for_tenant(tenant).order_by("-is_active", "-created_at")
    return {"api_keys": api_keys, "form": ApiKeyForm(), **section_context(section="web:settings-api-keys"), **extra}


@admin_view
def api_key_index(request: HttpRequest) -> HttpResponse:
    """The tenant's keys (GET); POST creates one and shows it once."""
    web = web_of(request)
    if request.method != "POST":
        return render(request, "settings/api_keys.html", _api_keys_context(web.tenant))
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render(request, "settings/api_keys.html", _api_keys_context(web.tenant, form=form), status=400)
    api_key, raw_key = api_key_create(tenant=web.tenant, actor=web.actor, name=form.cleaned_data["name"])
    created = {"api_key": api_key, "raw_key": raw_key}
    return render(request, "settings/api_keys.html", _api_keys_context(web.tenant, created=created))


@admin_view
@post_only(back="web:settings-api-keys", back_label="the API keys", owned=("api_key_id", ApiKey))
def api_key_revoke_view(request: HttpRequest, api_key_id: str) -> HttpResponse:
    web = web_of(request)
    api_key = get_object_or_404(ApiKey.objects.for_tenant(web.tenant), pk=api_key_id)
    api_key_revoke(tenant=web.tenant, api_key=api_key, actor=web.actor)
    messages.success(request, KEY_REVOKED.format(prefix=api_key.display_prefix))
    return redirect("web:settings-api-keys")


def _webhooks_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    tenant = web_of(request).tenant
    endpoint = request.build_absolute_uri(reverse("webhook-handler", kwargs={"tenant_id": tenant.pk}))
    return {"endpoint": endpoint, **section_context(section="web:settings-webhooks"), **extra}


@admin_view
def webhook_index(request: HttpRequest) -> HttpResponse:
    return render(request, "settings/webhooks.html", _webhooks_context(request))


@admin_view
@post_only(back="web:settings-webhooks", back_label="the webhooks")
def webhook_secret_rotate_view(request: HttpRequest) -> HttpResponse:
    """A new signing secret, shown once; the previous one stops verifying at once."""
    web = web_of(request)
    raw_secret = webhook_secret_rotate(tenant=web.tenant, actor=web.actor)
    return render(request, "settings/webhooks.html", _webhooks_context(request, raw_secret=raw_secret))


@admin_view
def audit_index(request: HttpRequest) -> HttpResponse:
    """The audit trail of the settings (or of everything, `?events=all`), newest first, read-only."""
    web = web_of(request)
    every_event = request.GET.get("events") == "all"
    events = settings_trail(tenant=web.tenant, every_event=every_event)
    page = list_page(query=request.GET, queryset=events, per_page=AUDIT_PAGE_SIZE).page
    context = {
        "page": page,
        "entries": trail_entries(events=list(page.object_list)),
        "every_event": every_event,
        **section_context(section="web:settings-audit"),
    }
    return render(request, "settings/audit.html", context)
