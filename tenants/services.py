"""Writes of tenants, their keys, settings and memberships."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_record, model_snapshot
from core.actors import Actor
from core.crypto import encrypt_text
from core.exceptions import DocumentInvalid, DuplicateDocument
from core.money import MoneyError, normalize_currency
from tenants.models import (
    ApiKey,
    CurrencyLimit,
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
LAST_ADMIN = "{username} is the organisation's last active administrator: make someone else one first."
UNKNOWN_ROLE = "Choose one of the roles: clerk, approver or administrator."
USERNAME_REQUIRED = "A user needs a user name."
USERNAME_TAKEN = "The user name {username!r} is taken: choose another."
AMOUNT_NEGATIVE = "An amount limit cannot be negative."
DIGEST_NEEDS_EMAIL = "Your account has no e-mail address: ask an administrator to add one first."


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


def _role_checked(role: str) -> str:
    if role not in Role.values:
        raise DocumentInvalid(UNKNOWN_ROLE, details={"role": [UNKNOWN_ROLE]})
    return role


def _last_admin_guard(*, tenant: Tenant, membership: Membership) -> None:
    """Refuse to take the admin role from the tenant's last active administrator.

    The tenant's active admin memberships are locked first, in a fixed order, so two admins
    demoting each other at the same moment are serialized: the second sees the first's change
    (PostgreSQL re-checks a locked row's condition) and is refused.
    """
    admins = list(
        Membership.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(role=Role.ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        message = LAST_ADMIN.format(username=membership.user.get_username())
        raise DocumentInvalid(message, details={"role": [message]})


def membership_grant(*, tenant: Tenant, user: Any, actor: Actor, role: str = Role.CLERK) -> Membership:
    """Give a user a role in a tenant (or change the role they have); never the last admin's."""
    role = _role_checked(role)
    with transaction.atomic():
        existing = Membership.objects.for_tenant(tenant).select_for_update(no_key=True).filter(user=user).first()
        if existing is not None and existing.role == role:
            return existing
        if existing is not None and existing.role == Role.ADMIN:
            _last_admin_guard(tenant=tenant, membership=existing)
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


def user_invite(*, tenant: Tenant, actor: Actor, username: str, email: str, role: str) -> tuple[Membership, str]:
    """A new user with a generated password and a role in the tenant; returns the password, shown
    once (only its salted hash is stored, as for every Django user).

    A taken user name is refused rather than given a membership: an administrator must not be
    able to bring someone else's account into their organisation by typing its name.
    """
    username, email, role = (username or "").strip(), (email or "").strip(), _role_checked(role)
    problems: dict[str, list[str]] = {}
    if not username:
        problems["username"] = [USERNAME_REQUIRED]
    else:
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError as exc:
            problems["username"] = list(exc.messages)
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            problems["email"] = list(exc.messages)
    if problems:
        raise DocumentInvalid(next(iter(problems.values()))[0], details=problems)
    user_model = get_user_model()
    raw_password = secrets.token_urlsafe(12)
    with transaction.atomic():
        if user_model.objects.filter(username__iexact=username).exists():
            message = USERNAME_TAKEN.format(username=username)
            raise DuplicateDocument(message, details={"username": [message]})
        user = user_model.objects.create_user(username=username, email=email, password=raw_password)
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="membership",
            entity_id=membership.pk,
            action="invited",
            after={"user_id": user.pk, "username": username, "email": email, "role": role, "is_active": True},
        )
    return membership, raw_password


def membership_active_set(*, tenant: Tenant, actor: Actor, membership: Membership, is_active: bool) -> Membership:
    """Deactivate a member (they can no longer work in this tenant, at their next request) or
    reactivate one; never the last active administrator."""
    with transaction.atomic():
        locked = Membership.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=membership.pk)
        if locked.is_active == is_active:
            return locked
        if not is_active and locked.role == Role.ADMIN:
            _last_admin_guard(tenant=tenant, membership=locked)
        locked.is_active = is_active
        locked.save(update_fields=["is_active"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="membership",
            entity_id=locked.pk,
            action="reactivated" if is_active else "deactivated",
            before={"username": locked.user.get_username(), "is_active": not is_active},
            after={"username": locked.user.get_username(), "is_active": is_active},
        )
    return locked


def membership_digest_set(*, tenant: Tenant, actor: Actor, membership: Membership, on: bool) -> Membership:
    """Switch a member's daily digest e-mail (review.digest) on or off; on needs an e-mail address."""
    if on and not membership.user.email:
        raise DocumentInvalid(DIGEST_NEEDS_EMAIL, details={"digest": [DIGEST_NEEDS_EMAIL]})
    with transaction.atomic():
        locked = Membership.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=membership.pk)
        if locked.digest_email == on:
            return locked
        locked.digest_email = on
        locked.save(update_fields=["digest_email"])
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="membership",
            entity_id=locked.pk,
            action="updated",
            before={"username": locked.user.get_username(), "digest_email": not on},
            after={"username": locked.user.get_username(), "digest_email": on},
        )
    return locked


def currency_limit_save(
    *,
    tenant: Tenant,
    actor: Actor,
    currency: str,
    auto_approve_below: int,
    escalate_from: int,
    write_off_max: int,
    price_tolerance_floor: Decimal,
    new_vendor_first_invoice_max: int | None = None,
) -> CurrencyLimit:
    """Set the tenant's amount limits in one currency (minor units of that currency), audited
    with the values before and after. `new_vendor_first_invoice_max` None: no limit."""
    try:
        currency = normalize_currency(currency)
    except MoneyError as exc:
        raise DocumentInvalid(str(exc), details={"currency": [str(exc)]}) from exc
    values: dict[str, int | Decimal] = {
        "auto_approve_below": auto_approve_below,
        "escalate_from": escalate_from,
        "write_off_max": write_off_max,
        "price_tolerance_floor": price_tolerance_floor,
    }
    negative = {name: [AMOUNT_NEGATIVE] for name, value in values.items() if value < 0}
    if new_vendor_first_invoice_max is not None and new_vendor_first_invoice_max < 0:
        negative["new_vendor_first_invoice_max"] = [AMOUNT_NEGATIVE]
    values_or_default: dict[str, int | Decimal | None] = {
        **values,
        "new_vendor_first_invoice_max": new_vendor_first_invoice_max,
    }
    if negative:
        raise DocumentInvalid(AMOUNT_NEGATIVE, details=negative)
    with transaction.atomic():
        existing = CurrencyLimit.objects.for_tenant(tenant).select_for_update(no_key=True).filter(currency=currency)
        limit = existing.first() or CurrencyLimit(tenant=tenant, currency=currency)
        before = None if limit._state.adding else {name: getattr(limit, name) for name in values_or_default}
        if before == values_or_default:
            return limit
        for name, value in values_or_default.items():
            setattr(limit, name, value)
        limit.save()
        limit.refresh_from_db()  # audit what the columns hold (0.5 is stored as 0.500000)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="currency_limit",
            entity_id=limit.pk,
            action="created" if before is None else "updated",
            before={"currency": currency, **before} if before is not None else None,
            after={"currency": currency, **{name: getattr(limit, name) for name in values_or_default}},
        )
    return limit


def currency_limit_delete(*, tenant: Tenant, actor: Actor, currency: str) -> None:
    """Drop the tenant's own limits in `currency`: it uses the defaults (core.amount_limits) again."""
    with transaction.atomic():
        limit = CurrencyLimit.objects.for_tenant(tenant).select_for_update().filter(currency=currency).first()
        if limit is None:
            return
        before = model_snapshot(limit)
        limit.delete()
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="currency_limit",
            entity_id=before["id"],
            action="deleted",
            before=before,
        )


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
