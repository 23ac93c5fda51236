"""Writes of tenants, their keys, settings and memberships."""

from __future__ import annotations

import secrets

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.actors import Actor
from recon_site.exceptions import DocumentInvalid, DuplicateDocument
from tenants.models import ApiKey, Membership, Role, Tenant, TenantSettings, generate_api_key, hash_api_key

TENANT_NAME_REQUIRED = "A tenant needs a name."
TENANT_SLUG_TAKEN = "A tenant with the slug {slug!r} already exists."


def tenant_create(*, name: str, slug: str = "", actor: Actor | None = None) -> tuple[Tenant, str]:
    """Create a tenant with default settings and a first API key; returns the key, shown once."""
    name = (name or "").strip()
    if not name:
        raise DocumentInvalid(TENANT_NAME_REQUIRED, details={"name": [TENANT_NAME_REQUIRED]})
    if slug:
        slug = slugify(slug)[:80]
        if Tenant.objects.filter(slug=slug).exists():
            raise DuplicateDocument(TENANT_SLUG_TAKEN.format(slug=slug), details={"slug": slug})
    else:
        # A derived slug only needs to be unique, not chosen: two "Acme" tenants are fine.
        slug = slugify(name)[:70] or "tenant"
        while Tenant.objects.filter(slug=slug).exists():
            slug = f"{slugify(name)[:70] or 'tenant'}-{secrets.token_hex(3)}"
    with transaction.atomic():
        tenant = Tenant.objects.create(name=name, slug=slug)
        TenantSettings.objects.create(tenant=tenant)
        _, raw_key = api_key_create(tenant=tenant, name="default", actor=actor)
    return tenant, raw_key


def api_key_create(*, tenant: Tenant, name: str = "default", actor: Actor | None = None) -> tuple[ApiKey, str]:
    """A new API key for the tenant. Only its hash is stored: the raw key is returned once."""
    raw_key = generate_api_key()
    api_key = ApiKey.objects.create(
        tenant=tenant, name=name or "default", key_hash=hash_api_key(raw_key), display_prefix=raw_key[:10]
    )
    return api_key, raw_key


def api_key_revoke(*, tenant: Tenant, api_key: ApiKey, actor: Actor | None = None) -> ApiKey:
    ApiKey.objects.for_tenant(tenant).filter(pk=api_key.pk).update(is_active=False, revoked_at=timezone.now())
    api_key.refresh_from_db()
    return api_key


def membership_grant(*, tenant: Tenant, user: object, role: str = Role.CLERK, actor: Actor | None = None) -> Membership:
    """Give a user a role in a tenant (or change the role they have)."""
    membership, _ = Membership.objects.for_tenant(tenant).update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    return membership
