"""Reads of payments, always starting from the tenant."""

from __future__ import annotations

from payments.accounts import account_hash
from payments.models import Payment
from tenants.models import Tenant
from tenants.scoping import TenantQuerySet


def payment_list(*, tenant: Tenant) -> TenantQuerySet:
    return Payment.objects.for_tenant(tenant)


def payment_list_by_counterparty_account(*, tenant: Tenant, account: str) -> TenantQuerySet:
    """Payments from or to one account number, found by its keyed hash (never by decrypting)."""
    return payment_list(tenant=tenant).filter(counterparty_account_hash=account_hash(account))


def payment_list_by_bank_account(*, tenant: Tenant, account: str) -> TenantQuerySet:
    return payment_list(tenant=tenant).filter(bank_account_hash=account_hash(account))
