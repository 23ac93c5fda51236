"""Writes of tenants, their keys, settings and memberships."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_record, model_snapshot
from core.actors import Actor
from core.crypto import encrypt_text
from core.exceptions import DocumentInvalid, DuplicateDocument
from tenants.models import (
    ApiKey,
    Membership,
    Role,
    Tenant,
    TenantSettings,
    generate_api_key,
    generate_webhook_secret,
    hash_api_key,
)

TENANT_NAME_REQUIRED = "A tenant needs a name."
WEBHOOK_SECRET_MIN_LENGTH, WEBHOOK_SECRET_MAX_LENGTH = 16, 512
WEBHOOK_SECRET_LENGTH = "A webhook secret is 16 to 512 characters, as the sender issued it."
TENANT_SLUG_TAKEN = "A tenant with the slug {slug!r} already exists."


def tenant_create(*, name: str, actor: Actor, slug: str = "") -> tuple[Tenant, str]:
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
        tenant_settings = TenantSettings.objects.create(tenant=tenant)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="tenant",
            entity_id=tenant.pk,
            action="created",
            after={"name": name, "slug": slug, "settings": model_snapshot(tenant_settings)},
        )
        _, raw_key = api_key_create(tenant=tenant, name="default", actor=actor)
    return tenant, raw_key


def api_key_create(*, tenant: Tenant, actor: Actor, name: str = "default") -> tuple[ApiKey, str]:
    """A new API key for the tenant. Only its hash is stored: the raw key is returned once."""
    raw_key = generate_api_key()
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            tenant=tenant, name=name or "default", key_hash=hash_api_key(raw_key), display_prefix=raw_key[:10]
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="api_key",
            entity_id=api_key.pk,
            action="created",
            after={"name": api_key.name, "display_prefix": api_key.display_prefix},
        )
    return api_key, raw_key


def api_key_revoke(*, tenant: Tenant, api_key: ApiKey, actor: Actor) -> ApiKey:
    """Deactivate a key at once; it stays listed (revoked) for the record."""
    with transaction.atomic():
        revoked = (
            ApiKey.objects.for_tenant(tenant)
            .filter(pk=api_key.pk, is_active=True)
            .update(is_active=False, revoked_at=timezone.now())
        )
        if revoked:
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="api_key",
                entity_id=api_key.pk,
                action="revoked",
                before={"is_active": True},
                after={"is_active": False},
            )
    api_key.refresh_from_db()
    return api_key


def membership_grant(*, tenant: Tenant, user: Any, actor: Actor, role: str = Role.CLERK) -> Membership:
    """Give a user a role in a tenant (or change the role they have)."""
    with transaction.atomic():
        existing = Membership.objects.for_tenant(tenant).select_for_update(no_key=True).filter(user=user).first()
        if existing is not None and existing.role == role:
            return existing
        membership, _ = Membership.objects.for_tenant(tenant).update_or_create(
            tenant=tenant, user=user, defaults={"role": role}
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="membership",
            entity_id=membership.pk,
            action="granted" if existing is None else "role_changed",
            before={"role": existing.role} if existing is not None else None,
            after={"user_id": user.pk, "username": user.get_username(), "role": role},
        )
    return membership


def tenant_settings_update(*, tenant: Tenant, actor: Actor, **changes: Any) -> TenantSettings:
    """Change matching thresholds or tolerances, validated like the admin form, and audited."""
    with transaction.atomic():
        tenant_settings = TenantSettings.objects.select_for_update(no_key=True).get(tenant=tenant)
        before = model_snapshot(tenant_settings)
        for name, value in changes.items():
            setattr(tenant_settings, name, value)
        try:
            tenant_settings.full_clean()
        except ValidationError as exc:
            raise DocumentInvalid("The settings are invalid; see details.", details=exc.message_dict) from exc
        tenant_settings.save()
        tenant_settings.refresh_from_db()  # audit what the columns hold (3.5 is stored as 3.500)
        after = model_snapshot(tenant_settings)
        changed = sorted(key for key in after if after[key] != before.get(key) and key != "updated_at")
        if changed:
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="tenant_settings",
                entity_id=tenant.pk,
                action="updated",
                before={key: before[key] for key in changed},
                after={key: after[key] for key in changed},
            )
    return tenant_settings


def webhook_secret_rotate(*, tenant: Tenant, actor: Actor) -> str:
    """Give the tenant a new webhook signing secret; returns it, shown once.

    The secret is stored only encrypted (core.crypto) and replaces the previous one at
    once: the sender must be given the new secret before its next delivery (Standard Webhooks
    senders may sign with both during their own rotation; only the stored one is checked here).
    The audit event records that a rotation happened and by whom, never the secret.
    """
    raw_secret = generate_webhook_secret()
    _webhook_secret_store(tenant=tenant, raw_secret=raw_secret, actor=actor, action="webhook_secret_rotated")
    return raw_secret


def webhook_secret_set(*, tenant: Tenant, raw_secret: str, actor: Actor) -> None:
    """Store a secret the sender issued (QuickBooks' verifier token, Xero's webhook key).

    Intuit and Xero generate the signing key on their side and cannot be given one, so a tenant
    subscribing directly sets theirs here; stored encrypted like a rotated one, never echoed.
    """
    raw_secret = (raw_secret or "").strip()
    if not WEBHOOK_SECRET_MIN_LENGTH <= len(raw_secret) <= WEBHOOK_SECRET_MAX_LENGTH:
        raise DocumentInvalid(WEBHOOK_SECRET_LENGTH, details={"secret": [WEBHOOK_SECRET_LENGTH]})
    _webhook_secret_store(tenant=tenant, raw_secret=raw_secret, actor=actor, action="webhook_secret_set")


def _webhook_secret_store(*, tenant: Tenant, raw_secret: str, actor: Actor, action: str) -> None:
    with transaction.atomic():
        # Serializes rotations (the audit event's "before" is the secret this one replaced), and
        # FOR NO KEY UPDATE, not FOR UPDATE: every audited write of the tenant holds the audit
        # lock at COMMIT, where its deferred foreign-key checks take FOR KEY SHARE on this row.
        # FOR UPDATE blocks those checks while this transaction waits for the audit lock: a
        # deadlock (issue #15). NO KEY UPDATE does not, and nothing here changes the row's key.
        locked = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        had_secret = bool(locked.webhook_secret_encrypted)
        locked.webhook_secret_encrypted = encrypt_text(raw_secret)
        locked.webhook_secret_rotated_at = timezone.now()
        locked.save(update_fields=["webhook_secret_encrypted", "webhook_secret_rotated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="tenant",
            entity_id=tenant.pk,
            action=action,
            before={"has_webhook_secret": had_secret},
            after={"has_webhook_secret": True, "rotated_at": locked.webhook_secret_rotated_at},
        )
    tenant.webhook_secret_encrypted = locked.webhook_secret_encrypted
    tenant.webhook_secret_rotated_at = locked.webhook_secret_rotated_at
