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
    # Per-vendor overrides of the tenant's tolerances (DESIGN.md §5); null = use the tenant's.
    price_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    quantity_tolerance_pct = models.DecimalField(
        max_digits=6, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["name"]
        constraints = [
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


class VendorAlias(TenantOwnedModel):
    """Another name a vendor appears under (a trading name, a bank counterparty name)."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    normalized_alias = models.CharField(max_length=255, editable=False)

    class Meta:
        verbose_name_plural = "vendor aliases"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "normalized_alias"], name="vendoralias_unique_tenant_alias")
        ]

    def __str__(self) -> str:
        return self.alias
