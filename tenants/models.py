"""Tenants, their API keys, their matching settings, and who may work in them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from core.ids import uuid7
from core.tenancy.scoping import TenantOwnedModel, TenantRow


class Tenant(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The tenant's own webhook signing secret as a Fernet token (core.crypto), never in
    # clear: HMAC verification needs the secret itself, so it cannot be hashed like an API key.
    # Blank: deliveries are verified with the global WEBHOOK_SECRET. Set only by
    # tenants.services.webhook_secret_rotate.
    webhook_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


API_KEY_PREFIX = "rk_"


def hash_api_key(raw_key: str) -> str:
    # Keys are 256-bit random strings, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(TenantOwnedModel):
    """A bearer key for API clients. Only its SHA-256 is stored; the key is shown once."""

    name = models.CharField(max_length=100, default="default")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so a human can tell keys apart in the admin without the secret.
    display_prefix = models.CharField(max_length=12, editable=False)
    is_active = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.display_prefix}… ({self.name})"


def default_reject_on() -> list[str]:
    return ["duplicate_invoice"]


class TenantSettings(TenantRow):
    """Thresholds and tolerances of matching (DESIGN.md §5), one row per tenant.

    Amounts are not here: they are per currency, in its minor units (`CurrencyLimit`).
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, primary_key=True, related_name="settings")
    auto_approve_min_confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.950"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    price_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("2.000"), validators=[MinValueValidator(Decimal("0"))]
    )
    quantity_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    reject_on = models.JSONField(
        default=default_reject_on, blank=True, help_text="Discrepancy types that reject an invoice."
    )
    hold_max_days = models.PositiveIntegerField(default=14)
    # The review service level (review.assignments): an invoice waiting for a person (in review,
    # on hold, in dispute, a draft) longer than this many days since it arrived is overdue.
    review_sla_days = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    # A vendor's new or changed bank account is paid to only this many days after a second person
    # approved it (vendors.bank_accounts): time for the vendor to notice a change it did not ask for.
    bank_account_cooling_off_days = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(0), MaxValueValidator(90)]
    )
    # Unusual amounts (matching.engine.risk): an invoice is compared with its vendor's latest
    # `unusual_amount_window` accepted invoices in its currency, once there are at least
    # `unusual_amount_min_history`, and is unusual from a robust z-score of `unusual_amount_threshold`.
    unusual_amount_window = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(3), MaxValueValidator(200)]
    )
    unusual_amount_min_history = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(3), MaxValueValidator(200)]
    )
    unusual_amount_threshold = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("3.5"),
        validators=[MinValueValidator(Decimal("1")), MaxValueValidator(Decimal("50"))],
    )
    max_invoices_per_run = models.PositiveIntegerField(default=100, validators=[MinValueValidator(1)])
    fuzzy_vendor_threshold = models.PositiveSmallIntegerField(
        default=90,
        validators=[MinValueValidator(50), MaxValueValidator(100)],
        help_text="rapidfuzz score (0-100) a vendor name must reach to be accepted as a match.",
    )
    # Payment reconciliation (DESIGN.md §6, payments.reconciliation.engine).
    reconcile_auto_apply = models.BooleanField(
        default=True, help_text="Write allocations the engine is sure of; false: every proposal waits for a clerk."
    )
    reconcile_auto_apply_min_confidence = models.DecimalField(
        max_digits=4,
        decimal_places=3,
        default=Decimal("0.900"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    # A short payment (bank fee, small discount) is settled by writing off the difference when
    # it is within both limits: the currency's `CurrencyLimit.write_off_max`, and this percent of
    # the balance.
    write_off_max_pct = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        default=Decimal("0.5"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tenant settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(price_tolerance_pct__gte=0, quantity_tolerance_pct__gte=0),
                name="settings_tolerance_pcts_gte_0",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    reconcile_auto_apply_min_confidence__gte=0,
                    reconcile_auto_apply_min_confidence__lte=1,
                    write_off_max_pct__gte=0,
                    write_off_max_pct__lte=100,
                ),
                name="settings_reconcile_pct_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"Settings of {self.tenant}"


class CurrencyLimit(TenantOwnedModel):
    """The tenant's amount limits in one currency, in its minor units (core.amount_limits).

    JPY 15000 and BHD 40000 (40.000 dinar) are two rows, each in its own currency's units; a
    currency without a row uses core.amount_limits' defaults. Written only by
    tenants.services.currency_limit_save / currency_limit_delete.
    """

    currency = models.CharField(max_length=3)
    auto_approve_below = models.BigIntegerField(validators=[MinValueValidator(0)])
    escalate_from = models.BigIntegerField(validators=[MinValueValidator(0)])
    write_off_max = models.BigIntegerField(validators=[MinValueValidator(0)])
    price_tolerance_floor = models.DecimalField(
        max_digits=18, decimal_places=6, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    # A new vendor's first invoice above this is flagged (matching.engine.risk); null: no limit.
    new_vendor_first_invoice_max = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "currency"], name="currencylimit_unique_tenant_currency"),
            models.CheckConstraint(
                condition=models.Q(
                    auto_approve_below__gte=0, escalate_from__gte=0, write_off_max__gte=0, price_tolerance_floor__gte=0
                ),
                name="currencylimit_amounts_gte_0",
            ),
        ]

    def __str__(self) -> str:
        return f"Limits in {self.currency}"


class Role(models.TextChoices):
    CLERK = "clerk", "Clerk"
    APPROVER = "approver", "Approver"
    ADMIN = "admin", "Administrator"


class Membership(TenantOwnedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CLERK)
    # False: deactivated by an administrator; the user can no longer work in this tenant (the
    # row stays, so the audit trail's references and a later reactivation keep their subject).
    is_active = models.BooleanField(default=True)
    # The daily digest e-mail of this member's work in this tenant (review.digest): asked for by
    # the member on "My work"; the day it was last sent, so a schedule that runs every hour sends
    # it once a day.
    digest_email = models.BooleanField(default=False)
    digest_sent_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user} · {self.role}"


class IdempotencyRecord(TenantOwnedModel):
    """One `Idempotency-Key` of one tenant: the request's fingerprint and, once done, its response."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight"
        DONE = "done"

    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    completed_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_unique_tenant_key")]


WEBHOOK_SECRET_PREFIX = "whsec_"


def generate_webhook_secret() -> str:
    """A Standard Webhooks style secret: `whsec_` + base64 of 32 random bytes.

    Standard Webhooks senders use the base64-decoded bytes as the HMAC key; QuickBooks and Xero
    use their verifier token as text. One secret serves every scheme (see invoices.ingest.webhooks).
    """
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class WebhookDelivery(TenantOwnedModel):
    """One authenticated webhook delivery, remembered so a replay is acknowledged and ignored.

    `delivery_id` is the sender's id (Standard Webhooks `webhook-id`) or, for senders without one
    (QuickBooks, Xero), the SHA-256 of the raw body. Deliveries with a bad signature are never
    stored: only the log line records them.
    """

    class Source(models.TextChoices):
        STANDARD = "standard_webhooks", "Standard Webhooks"
        QUICKBOOKS = "quickbooks", "QuickBooks Online"
        XERO = "xero", "Xero"

    class Outcome(models.TextChoices):
        CREATED = "created"  # invoices were created
        ALREADY_PRESENT = "already_present"  # the same source record was ingested before
        IGNORED = "ignored"  # another entity or invoice type, or a sender handshake
        REJECTED = "rejected"  # the document was invalid (the 400 is deterministic: a retry fails too)

    source = models.CharField(max_length=32, choices=Source.choices)
    delivery_id = models.CharField(max_length=255)
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "source", "delivery_id"], name="webhookdelivery_unique_tenant_source_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.delivery_id}"
