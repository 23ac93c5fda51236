"""Reads of vendors, always starting from the tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from core.tenancy.scoping import TenantQuerySet
from tenants.models import Tenant
from vendors.models import BankAccountStatus, Vendor, VendorAlias, VendorAliasKind, VendorBankAccount, VendorContact
from vendors.names import normalize_tax_id, normalize_vendor_name

# Why a vendor cannot be paid now (vendor_bank_accounts_payable), in the clerk's words.
NOT_PAYABLE_NO_ACCOUNT = "no_account"
NOT_PAYABLE_PENDING = "pending"
NOT_PAYABLE_COOLING_OFF = "cooling_off"
NOT_PAYABLE_REASONS = {
    NOT_PAYABLE_NO_ACCOUNT: "The vendor has no approved bank account.",
    NOT_PAYABLE_PENDING: "The vendor's bank account is waiting for a second person's approval.",
    NOT_PAYABLE_COOLING_OFF: "The vendor's bank account was changed recently: it can be paid from {date}.",
}


def vendor_list(*, tenant: Tenant) -> TenantQuerySet:
    return Vendor.objects.for_tenant(tenant)


def vendor_contacts(*, tenant: Tenant, vendor: Vendor) -> TenantQuerySet:
    """The vendor's contacts, by name (vendors.contacts)."""
    return VendorContact.objects.for_tenant(tenant).filter(vendor=vendor).order_by("name", "email")


def vendor_categories(*, tenant: Tenant) -> list[str]:
    """The categories the tenant's vendors have, sorted (offered as one types a category)."""
    return list(
        Vendor.objects.for_tenant(tenant)
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def vendor_resolve_exact(
    *, tenant: Tenant, vendor_id: uuid.UUID | None = None, tax_id: str = "", name: str = ""
) -> Vendor | None:
    """The vendor an incoming document names, by id → tax id (on record, then a tax id alias) →
    normalized name or alias.

    Exact only: a fuzzy guess is the matching engine's job, where it is scored and explained.
    A name that fits several vendors resolves to none.
    """
    vendors = Vendor.objects.for_tenant(tenant)
    if vendor_id is not None:
        return vendors.filter(pk=vendor_id).first()
    if tax_id and (normalized_tax_id := normalize_tax_id(tax_id)):
        found = vendors.filter(tax_id=normalized_tax_id).first()
        if found is not None:
            return found
        tax_alias = (
            VendorAlias.objects.for_tenant(tenant)
            .select_related("vendor")
            .filter(kind=VendorAliasKind.TAX_ID, normalized_alias=normalized_tax_id)
            .first()
        )
        if tax_alias is not None:
            return tax_alias.vendor
    normalized_name = normalize_vendor_name(name)
    if not normalized_name:
        return None
    by_name = list(vendors.filter(normalized_name=normalized_name)[:2])
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        return None
    alias = (
        VendorAlias.objects.for_tenant(tenant)
        .select_related("vendor")
        .filter(kind=VendorAliasKind.NAME, normalized_alias=normalized_name)
        .first()
    )
    return alias.vendor if alias is not None else None


VendorReference = tuple[uuid.UUID | None, str, str]  # (vendor id, tax id, name) as a document gives them


def vendor_resolve_exact_many(
    *, tenant: Tenant, references: Iterable[VendorReference]
) -> dict[VendorReference, Vendor | None]:
    """`vendor_resolve_exact` for many references at once, in at most four queries (ids, tax ids,
    names, aliases of both kinds) whatever their number: what a bulk import resolves before it
    checks its documents. The same rules, in the same order (tests.vendors tie the two together)."""
    wanted = set(references)
    vendors = Vendor.objects.for_tenant(tenant)
    ids = {vendor_id for vendor_id, _, _ in wanted if vendor_id is not None}
    by_id = {vendor.pk: vendor for vendor in vendors.filter(pk__in=ids)} if ids else {}
    tax_ids = {normalize_tax_id(tax_id) for vendor_id, tax_id, _ in wanted if vendor_id is None} - {""}
    # Tax ids are unique per tenant (vendor_unique_tenant_tax_id): at most one vendor each.
    by_tax_id = {vendor.tax_id: vendor for vendor in vendors.filter(tax_id__in=tax_ids)} if tax_ids else {}
    unrecorded = tax_ids - set(by_tax_id)
    names = {normalize_vendor_name(name) for vendor_id, _, name in wanted if vendor_id is None} - {""}
    by_name: dict[str, list[Vendor]] = {}
    for vendor in vendors.filter(normalized_name__in=names) if names else []:
        by_name.setdefault(vendor.normalized_name, []).append(vendor)
    unnamed = names - set(by_name)
    # Both kinds of alias in one query: the tax ids no vendor has on record, the names no vendor has.
    by_alias: dict[tuple[str, str], Vendor] = (
        {
            (alias.kind, alias.normalized_alias): alias.vendor
            for alias in VendorAlias.objects.for_tenant(tenant)
            .select_related("vendor")
            .filter(
                Q(kind=VendorAliasKind.TAX_ID, normalized_alias__in=unrecorded)
                | Q(kind=VendorAliasKind.NAME, normalized_alias__in=unnamed)
            )
        }
        if unrecorded or unnamed
        else {}
    )

    def resolved(vendor_id: uuid.UUID | None, tax_id: str, name: str) -> Vendor | None:
        if vendor_id is not None:
            return by_id.get(vendor_id)
        if (normalized_tax_id := normalize_tax_id(tax_id)) and normalized_tax_id in by_tax_id:
            return by_tax_id[normalized_tax_id]
        if normalized_tax_id and (VendorAliasKind.TAX_ID, normalized_tax_id) in by_alias:
            return by_alias[(VendorAliasKind.TAX_ID, normalized_tax_id)]
        normalized_name = normalize_vendor_name(name)
        if not normalized_name:
            return None
        named = by_name.get(normalized_name, [])
        if named:
            return named[0] if len(named) == 1 else None  # a name that fits several vendors: none
        return by_alias.get((VendorAliasKind.NAME, normalized_name))

    return {reference: resolved(*reference) for reference in wanted}


def vendor_bank_accounts(*, tenant: Tenant, vendor: Vendor) -> TenantQuerySet:
    """The vendor's accounts, newest first: the pending change, the active one, the history."""
    return VendorBankAccount.objects.for_tenant(tenant).filter(vendor=vendor).order_by("-created_at", "-id")


@dataclass(frozen=True)
class BankAccountPayability:
    """Whether a payment to the vendor may go out at a moment, and to which account or why not.

    `reason` is "" when payable, else one of vendors.bank_accounts.NOT_PAYABLE_REASONS' codes;
    `message` says it in the clerk's words; `usable_from` is when a cooling-off account can pay.
    """

    vendor_id: uuid.UUID
    account: VendorBankAccount | None
    reason: str
    message: str
    usable_from: dt.datetime | None = None

    @property
    def payable(self) -> bool:
        return not self.reason


def vendor_bank_accounts_payable(
    *, tenant: Tenant, vendor_ids: Iterable[uuid.UUID], at: dt.datetime
) -> dict[uuid.UUID, BankAccountPayability]:
    """For each vendor, the active account a payment run may pay at `at`, or why not: no account
    yet, only a change waiting for approval, or an approved account still cooling off (until its
    `usable_from`). A pending change of a vendor that has a usable active account does not stop
    payment to the active one (it is not approved); it is only reported beside it. One query for
    any number of vendors (a run over 500 vendors asks once)."""
    wanted = list(dict.fromkeys(vendor_ids))
    by_vendor: dict[uuid.UUID, dict[str, VendorBankAccount]] = {vendor_id: {} for vendor_id in wanted}
    rows = VendorBankAccount.objects.for_tenant(tenant).filter(
        vendor_id__in=wanted, status__in=[BankAccountStatus.ACTIVE, BankAccountStatus.PENDING]
    )
    for account in rows:
        by_vendor[account.vendor_id][account.status] = account
    answers: dict[uuid.UUID, BankAccountPayability] = {}
    for vendor_id, accounts in by_vendor.items():
        active, pending = accounts.get(BankAccountStatus.ACTIVE), accounts.get(BankAccountStatus.PENDING)
        if active is None:
            reason = NOT_PAYABLE_PENDING if pending is not None else NOT_PAYABLE_NO_ACCOUNT
            answers[vendor_id] = BankAccountPayability(vendor_id, None, reason, NOT_PAYABLE_REASONS[reason])
        elif active.usable_from is not None and active.usable_from > at:
            local_day = timezone.localtime(active.usable_from).date().isoformat()
            message = NOT_PAYABLE_REASONS[NOT_PAYABLE_COOLING_OFF].format(date=local_day)
            answers[vendor_id] = BankAccountPayability(
                vendor_id, active, NOT_PAYABLE_COOLING_OFF, message, active.usable_from
            )
        else:
            answers[vendor_id] = BankAccountPayability(vendor_id, active, "", "", active.usable_from)
    return answers


def vendor_bank_account_payable(*, tenant: Tenant, vendor: Vendor, at: dt.datetime) -> BankAccountPayability:
    """`vendor_bank_accounts_payable` for one vendor."""
    return vendor_bank_accounts_payable(tenant=tenant, vendor_ids=[vendor.pk], at=at)[vendor.pk]


BANK_ACCOUNT_SHARED = (
    "Account {mask} is also on record for {vendors}. Make sure the vendors really share it (a factoring "
    "company, a group's treasury) before approving: a fraudster's account given to a second vendor looks "
    "like this."
)
BANK_ACCOUNT_SHARED_CODE = "bank_account_shared"


@dataclass(frozen=True)
class BankAccountWarning:
    """What deserves a second look about an account; a warning, never a refusal."""

    field: str
    code: str
    message: str


def bank_account_warnings(*, tenant: Tenant, account: VendorBankAccount) -> list[BankAccountWarning]:
    """An account already on record (pending, active or once used) for another of the tenant's
    vendors: said beside the form and to whoever decides, by the account's keyed hash."""
    others = list(
        VendorBankAccount.objects.for_tenant(tenant)
        .filter(account_hash=account.account_hash)
        .exclude(vendor_id=account.vendor_id)
        .exclude(status=BankAccountStatus.REJECTED)
        .order_by("vendor__name")
        .values_list("vendor__name", flat=True)
        .distinct()
    )
    if not others:
        return []
    message = BANK_ACCOUNT_SHARED.format(mask=account.account_mask, vendors=", ".join(others))
    return [
        BankAccountWarning(
            field="iban" if account.kind == "iban" else "account_number", code=BANK_ACCOUNT_SHARED_CODE, message=message
        )
    ]
