"""Vendors (suppliers) and the other names they go by."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from core.tenancy.scoping import TenantOwnedModel


class Vendor(TenantOwnedModel):
    name = models.CharField(max_length=255)
    # Lower-case, punctuation and legal-form suffixes stripped: see vendors.names.normalize_vendor_name.
    normalized_name = models.CharField(max_length=255, db_index=True, editable=False)
    tax_id = models.CharField(max_length=64, blank=True, default="")
    default_currency = models.CharField(max_length=3, blank=True, default="")
    external_id = models.CharField(max_length=128, blank=True, default="")
    is_active = models.BooleanField(default=True)
    # The tenant's own grouping ("Logistics", "Facilities"), free text: approval rules may name it
    # (review.approvals compares it case-insensitively). "" : none.
    category = models.CharField(max_length=100, blank=True, default="", db_default="")
    # Per-vendor overrides of the tenant's tolerances (DESIGN.md §5); null = use the tenant's.
    price_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    quantity_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    # Payment terms (issue #19 item 3), e.g. 2/10 net 30: due `payment_net_days` after the invoice
    # date; `discount_pct` off when paid within `discount_days`. Null: none agreed (an invoice's
    # own terms still apply).
    payment_net_days = models.PositiveSmallIntegerField(null=True, blank=True)
    discount_pct = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    discount_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount_pct__isnull=True) | models.Q(discount_pct__gt=0, discount_pct__lt=100),
                name="vendor_discount_pct_0_100",
            ),
            # A discount comes with the days it may be taken in, and those days with a discount.
            models.CheckConstraint(
                condition=models.Q(discount_pct__isnull=True, discount_days__isnull=True)
                | models.Q(discount_pct__isnull=False, discount_days__isnull=False),
                name="vendor_discount_with_days",
            ),
            models.UniqueConstraint(
                fields=["tenant", "tax_id"], condition=~models.Q(tax_id=""), name="vendor_unique_tenant_tax_id"
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=~models.Q(external_id=""),
                name="vendor_unique_tenant_external_id",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "normalized_name"], name="vendor_tenant_norm_name"),
            # Search by the start of a name (review.search): `^@` is a range of a text_pattern_ops
            # index whatever the collation, and LEAKPROOF, so an index condition under row-level
            # security (LIKE is neither).
            models.Index(
                fields=["tenant", "normalized_name"],
                opclasses=["uuid_ops", "text_pattern_ops"],
                name="vendor_tenant_name_prefix",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class VendorAliasKind(models.TextChoices):
    NAME = "name", "Name"
    # A tax id the vendor's invoices carry that is not the one on its record, learned when a
    # person chose the vendor for such an invoice (learning.choices).
    TAX_ID = "tax_id", "Tax id"


class VendorAlias(TenantOwnedModel):
    """Another name a vendor appears under (a trading name, a bank counterparty name), or another
    tax id its invoices carry. `normalized_alias`: vendors.names.normalize_vendor_name of a name,
    normalize_tax_id of a tax id; each names one vendor per tenant and kind."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(
        max_length=8, choices=VendorAliasKind.choices, default=VendorAliasKind.NAME, db_default=VendorAliasKind.NAME
    )
    alias = models.CharField(max_length=255)
    normalized_alias = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name_plural = "vendor aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kind", "normalized_alias"], name="vendoralias_unique_tenant_kind_alias"
            )
        ]

    def __str__(self) -> str:
        return self.alias


class BankAccountStatus(models.TextChoices):
    # Proposed by one person, waiting for another's decision (vendors.bank_accounts).
    PENDING = "pending", "Waiting for approval"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"
    # Replaced by a newer approved account; kept, so the history says where money went.
    RETIRED = "retired", "Replaced"


class BankAccountKind(models.TextChoices):
    IBAN = "iban", "IBAN"
    LOCAL = "local", "Local account"


class VendorBankAccount(TenantOwnedModel):
    """An account a vendor is paid to, under dual control (vendors.bank_accounts).

    The number is never stored in clear: `account_encrypted` (core.bank_accounts, Fernet) to read
    it back for a payment file, `account_hash` (keyed HMAC) to find it, `account_mask` (`****4300`)
    to show it. An account is proposed `pending`, becomes `active` when a second person approves
    it, and can pay only from `usable_from` (the approval plus the tenant's cooling-off days).
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="bank_accounts")
    status = models.CharField(max_length=16, choices=BankAccountStatus.choices, default=BankAccountStatus.PENDING)
    kind = models.CharField(max_length=8, choices=BankAccountKind.choices)
    account_encrypted = models.TextField()
    account_hash = models.CharField(max_length=64)
    account_mask = models.CharField(max_length=16)
    country = models.CharField(max_length=2)
    # A local account's bank code (sort code, routing number); an IBAN's is inside it.
    bank_code = models.CharField(max_length=15, blank=True, default="")
    bic = models.CharField(max_length=11, blank=True, default="")
    bank_name = models.CharField(max_length=255, blank=True, default="")
    # Who asked and who decided: the four eyes. Labels are kept beside the ids so that an API key
    # (no user row) and a user removed later still read on the page.
    proposed_by_kind = models.CharField(max_length=16)
    proposed_by_id = models.CharField(max_length=64)
    proposed_by_label = models.CharField(max_length=150)
    comment = models.TextField(blank=True, default="")
    decided_by_id = models.CharField(max_length=64, blank=True, default="")
    decided_by_label = models.CharField(max_length=150, blank=True, default="")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, default="")
    usable_from = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    replaces = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One account pays a vendor at a time, and one change waits at a time.
            models.UniqueConstraint(
                fields=["tenant", "vendor"],
                condition=models.Q(status="active"),
                name="vendorbankaccount_one_active",
            ),
            models.UniqueConstraint(
                fields=["tenant", "vendor"],
                condition=models.Q(status="pending"),
                name="vendorbankaccount_one_pending",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="active") | models.Q(usable_from__isnull=False),
                name="vendorbankaccount_active_has_usable_from",
            ),
            models.CheckConstraint(condition=~models.Q(account_hash=""), name="vendorbankaccount_hash_not_empty"),
        ]
        indexes = [
            models.Index(fields=["tenant", "vendor", "status"], name="vendorbankaccount_vendor"),
            models.Index(fields=["tenant", "account_hash"], name="vendorbankaccount_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.account_mask} ({self.get_status_display()})"


class VendorContact(TenantOwnedModel):
    """A person at the vendor the tenant deals with (vendors.contacts): who they are, how to reach
    them, and whether they are told when the vendor's bank details change (#19 item 2,
    vendors.contact_notices). E-mail addresses are kept lower-case (vendors.contacts.email_cleaned),
    so one address is one contact of a vendor."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    email = models.CharField(max_length=254)
    phone = models.CharField(max_length=40, blank=True, default="")
    # What the person does for the vendor, in the tenant's words ("Accounts receivable").
    role = models.CharField(max_length=100, blank=True, default="")
    notify_bank_changes = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "email"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "vendor", "email"], name="vendorcontact_unique_vendor_email"),
            models.CheckConstraint(condition=~models.Q(email=""), name="vendorcontact_email_not_empty"),
            models.CheckConstraint(condition=~models.Q(name=""), name="vendorcontact_name_not_empty"),
        ]
        indexes = [models.Index(fields=["tenant", "vendor"], name="vendorcontact_vendor")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"
