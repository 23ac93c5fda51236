"""Reads of matching runs, results and discrepancies, always starting from the tenant."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from core.tenancy.scoping import TenantQuerySet
from invoices.models import Invoice
from matching.engine.vocabulary import BANK_ACCOUNT_MISMATCH
from matching.models import Discrepancy, MatchRun
from tenants.models import Tenant
from vendors.models import BankAccountStatus, VendorBankAccount


def match_run_list(*, tenant: Tenant) -> TenantQuerySet:
    return MatchRun.objects.for_tenant(tenant)


def discrepancy_list(*, tenant: Tenant) -> TenantQuerySet:
    return Discrepancy.objects.for_tenant(tenant)


# Why a payment run leaves an invoice out (payments.runs), in the clerk's words.
PAYEE_NOT_ON_RECORD = "The invoice asks to be paid to an account not on the vendor's record."


def invoices_naming_unknown_accounts(*, tenant: Tenant, invoices: Iterable[Invoice]) -> set[uuid.UUID]:
    """Of `invoices`, those whose latest match found `bank_account_mismatch` and whose named payee
    account is still none of the vendor's approved accounts (active or retired): once the account
    is added to the vendor's record under dual control, the invoice may be paid. Two queries."""
    flagged = {invoice.pk: invoice for invoice in invoices if invoice.latest_match_id and invoice.payee_account_hash}
    if not flagged:
        return set()
    mismatched = set(
        Discrepancy.objects.for_tenant(tenant)
        .filter(match_result_id__in=[invoice.latest_match_id for invoice in flagged.values()])
        .filter(type=BANK_ACCOUNT_MISMATCH)
        .values_list("invoice_id", flat=True)
    )
    if not mismatched:
        return set()
    on_record = set(
        VendorBankAccount.objects.for_tenant(tenant)
        .filter(vendor_id__in={flagged[pk].vendor_id for pk in mismatched})
        .filter(status__in=[BankAccountStatus.ACTIVE, BankAccountStatus.RETIRED])
        .values_list("vendor_id", "account_hash")
    )
    return {pk for pk in mismatched if (flagged[pk].vendor_id, flagged[pk].payee_account_hash) not in on_record}
