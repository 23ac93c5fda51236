"""Writes of vendors: the only code that creates or changes them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import audit_record, model_snapshot
from core.actors import Actor
from core.exceptions import DocumentInvalid, DuplicateDocument
from core.money import MoneyError, normalize_currency
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.terms import payment_terms_errors

VENDOR_NAME_REQUIRED = "A vendor needs a name."
VENDOR_DUPLICATE_TAX_ID = "A vendor with tax id {tax_id!r} already exists."
VENDOR_DUPLICATE_EXTERNAL_ID = "A vendor with external id {external_id!r} already exists."
ALIAS_TAKEN = "The alias {alias!r} already belongs to a vendor."
TAX_ID_REQUIRED = "A tax id alias needs a tax id."
TOLERANCE_NEGATIVE = "A tolerance cannot be negative."
CATEGORY_TOO_LONG = "A category has at most {limit} characters."
CATEGORY_MAX_LENGTH = Vendor._meta.get_field("category").max_length or 100


def vendor_category_cleaned(category: str) -> str:
    """A category as stored: inner spaces collapsed, trimmed; too long is refused (field `category`)."""
    cleaned = " ".join((category or "").split())
    if len(cleaned) > CATEGORY_MAX_LENGTH:
        message = CATEGORY_TOO_LONG.format(limit=CATEGORY_MAX_LENGTH)
        raise DocumentInvalid(message, details={"category": [message]})
    return cleaned


def vendor_create(
    *,
    tenant: Tenant,
    name: str,
    tax_id: str = "",
    currency: str = "",
    external_id: str = "",
    category: str = "",
    actor: Actor,
) -> Vendor:
    """Create a vendor. Tax id and external id are unique per tenant (409 on a repeat)."""
    name = (name or "").strip()
    category = vendor_category_cleaned(category)
    normalized_name = normalize_vendor_name(name)
    if not normalized_name:
        raise DocumentInvalid(VENDOR_NAME_REQUIRED, details={"name": [VENDOR_NAME_REQUIRED]})
    tax_id = normalize_tax_id(tax_id)
    if currency:
        try:
            currency = normalize_currency(currency)
        except MoneyError as exc:
            raise DocumentInvalid(str(exc), details={"currency": [str(exc)]}) from exc
    scoped = Vendor.objects.for_tenant(tenant)
    if tax_id and scoped.filter(tax_id=tax_id).exists():
        raise DuplicateDocument(VENDOR_DUPLICATE_TAX_ID.format(tax_id=tax_id), details={"tax_id": tax_id})
    if external_id and scoped.filter(external_id=external_id).exists():
        message = VENDOR_DUPLICATE_EXTERNAL_ID.format(external_id=external_id)
        raise DuplicateDocument(message, details={"external_id": external_id})
    try:
        with transaction.atomic():
            vendor = Vendor.objects.create(
                tenant=tenant,
                name=name,
                normalized_name=normalized_name,
                tax_id=tax_id,
                default_currency=currency,
                external_id=external_id.strip(),
                category=category,
            )
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="vendor",
                entity_id=vendor.pk,
                action="created",
                after=model_snapshot(vendor),
            )
            return vendor
    except IntegrityError as exc:  # a concurrent create won the race for the same tax/external id
        raise DuplicateDocument(VENDOR_DUPLICATE_TAX_ID.format(tax_id=tax_id or external_id)) from exc


def vendor_alias_add(
    *, tenant: Tenant, vendor: Vendor, alias: str, actor: Actor, kind: str = VendorAliasKind.NAME
) -> VendorAlias:
    """Teach another name for a vendor (a trading name, a bank counterparty name), or another tax
    id its invoices carry (`kind` tax_id, normalized as vendors.names.normalize_tax_id)."""
    tax_id = kind == VendorAliasKind.TAX_ID
    normalized = normalize_tax_id(alias) if tax_id else normalize_vendor_name(alias)
    if not normalized:
        message = TAX_ID_REQUIRED if tax_id else VENDOR_NAME_REQUIRED
        raise DocumentInvalid(message, details={"alias": [message]})
    existing = VendorAlias.objects.for_tenant(tenant).filter(kind=kind, normalized_alias=normalized).first()
    if existing is not None:
        if existing.vendor_id == vendor.pk:
            return existing
        raise DuplicateDocument(ALIAS_TAKEN.format(alias=alias), details={"alias": alias})
    with transaction.atomic():
        vendor_alias = VendorAlias.objects.create(
            tenant=tenant, vendor=vendor, kind=kind, alias=alias.strip(), normalized_alias=normalized
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="vendor",
            entity_id=vendor.pk,
            action="alias_added",
            after={"alias": vendor_alias.alias, "normalized_alias": normalized, "kind": kind},
        )
    return vendor_alias


def vendor_tolerances_update(
    *,
    tenant: Tenant,
    vendor: Vendor,
    actor: Actor,
    price_tolerance_pct: Decimal | None,
    quantity_tolerance_pct: Decimal | None,
) -> Vendor:
    """Set or clear (None) the vendor's own price and quantity tolerances, which the matching
    engine uses instead of the tenant's for this vendor's invoices (DESIGN.md §5)."""
    changes = {"price_tolerance_pct": price_tolerance_pct, "quantity_tolerance_pct": quantity_tolerance_pct}
    negative = {name: [TOLERANCE_NEGATIVE] for name, value in changes.items() if value is not None and value < 0}
    if negative:
        raise DocumentInvalid(TOLERANCE_NEGATIVE, details=negative)
    return _vendor_fields_set(
        tenant=tenant, vendor=vendor, actor=actor, changes=changes, action="tolerance_changed", model_checked=True
    )


def vendor_payment_terms_update(
    *,
    tenant: Tenant,
    vendor: Vendor,
    actor: Actor,
    payment_net_days: int | None,
    discount_pct: Decimal | None,
    discount_days: int | None,
) -> Vendor:
    """Set or clear (None) the vendor's payment terms, e.g. 2/10 net 30 (vendors.terms). Invoices
    of the vendor received from now on take them where the document states none (invoices.terms);
    those already stored keep theirs. Audited (`payment_terms_changed`) when they change."""
    changes = {"payment_net_days": payment_net_days, "discount_pct": discount_pct, "discount_days": discount_days}
    errors = payment_terms_errors(net_days=payment_net_days, discount_pct=discount_pct, discount_days=discount_days)
    if errors:
        raise DocumentInvalid(next(iter(errors.values()))[0], details=errors)
    return _vendor_fields_set(
        tenant=tenant, vendor=vendor, actor=actor, changes=changes, action="payment_terms_changed"
    )


def vendor_category_update(*, tenant: Tenant, vendor: Vendor, actor: Actor, category: str) -> Vendor:
    """Set or clear ("") the vendor's category, the tenant's own grouping that approval rules may
    name (review.approvals). Audited (`category_changed`) when it changes."""
    changes = {"category": vendor_category_cleaned(category)}
    return _vendor_fields_set(tenant=tenant, vendor=vendor, actor=actor, changes=changes, action="category_changed")


def _vendor_fields_set(
    *, tenant: Tenant, vendor: Vendor, actor: Actor, changes: dict[str, Any], action: str, model_checked: bool = False
) -> Vendor:
    """Write `changes` to the vendor under its row lock and audit them as `action` when they change
    what the columns hold. `model_checked`: the model's own field validators run first (a refusal
    names the field)."""
    with transaction.atomic():
        locked = Vendor.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=vendor.pk)
        before = {name: getattr(locked, name) for name in changes}
        for name, value in changes.items():
            setattr(locked, name, value)
        if model_checked:
            try:
                locked.full_clean(exclude=[field.name for field in Vendor._meta.fields if field.name not in changes])
            except ValidationError as exc:
                raise DocumentInvalid("The tolerances are invalid; see details.", details=exc.message_dict) from exc
        locked.save(update_fields=list(changes))
        # Audit what the columns hold (5 is stored as 5.000, 2 as 2.00), so an equal value is no change.
        locked.refresh_from_db(fields=list(changes))
        after = {name: getattr(locked, name) for name in changes}
        if after != before:
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="vendor",
                entity_id=locked.pk,
                action=action,
                before=before,
                after=after,
            )
    return locked
