"""The one lock order (core/locks.py), checked on the statements a transaction sends."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from core import locks
from core.locks import LockOrderViolation
from invoices.models import Invoice
from tenants.models import Membership, Role, Tenant, TenantSettings
from tests.factories import InvoiceFactory, UserFactory


def lock_invoice(tenant: Tenant, invoice: Invoice) -> Invoice:
    return Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=invoice.pk)


def test_the_documented_order_is_accepted(tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        locks.transaction_lock_try(locks.IDEMPOTENCY, 7)
        locks.tenant_lock_wait(locks.MATCHING, tenant.pk)
        locks.tenant_lock_wait(locks.STATEMENT_IMPORT, tenant.pk)
        TenantSettings.objects.select_for_update(no_key=True).get(tenant=tenant)
        lock_invoice(tenant, invoice)
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)  # the same rank again


def test_a_row_lock_after_the_audit_lock_is_refused(tenant: Tenant) -> None:
    """The shape of a deadlock: this transaction waits for a row while holding the audit lock,
    another holds the row and waits for the audit lock."""
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        with pytest.raises(LockOrderViolation, match="a row lock is taken after the tenant's audit-chain lock"):
            lock_invoice(tenant, invoice)


@pytest.mark.parametrize("lower", [locks.IDEMPOTENCY, locks.MATCHING, locks.STATEMENT_IMPORT])
def test_a_lower_advisory_lock_after_a_higher_one_is_refused(tenant: Tenant, lower: int) -> None:
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        with pytest.raises(LockOrderViolation, match=f"{locks.LOCK_NAME[lower]} is taken after"):
            locks.tenant_lock_wait(lower, tenant.pk)


def test_a_gate_lock_after_a_row_lock_is_refused(tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        lock_invoice(tenant, invoice)
        with pytest.raises(LockOrderViolation, match="the tenant's matching lock is taken after a row lock"):
            locks.tenant_lock_wait(locks.MATCHING, tenant.pk)


def test_the_same_row_locked_again_after_the_audit_lock_waits_for_nobody_and_is_accepted(tenant: Tenant) -> None:
    """A credit note locks the invoice it credits, audits itself, then voids that invoice: the
    second lock is one the transaction already holds."""
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        lock_invoice(tenant, invoice)
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        lock_invoice(tenant, invoice)


def test_for_update_on_a_row_that_foreign_keys_point_at_is_refused(tenant: Tenant) -> None:
    """Django's foreign keys are checked at COMMIT, after the audit lock, with FOR KEY SHARE on
    the parent row; FOR UPDATE blocks that check (issue #15's deadlock), FOR NO KEY UPDATE does not."""
    with transaction.atomic():
        with pytest.raises(LockOrderViolation, match=r"select_for_update\(no_key=True\)"):
            Tenant.objects.select_for_update().get(pk=tenant.pk)
        Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)


def test_for_update_on_a_row_nothing_refers_to_is_accepted(tenant: Tenant) -> None:
    """Django's own update_or_create locks FOR UPDATE; a membership blocks no foreign-key check."""
    assert "tenants_membership" not in locks.referenced_tables()
    assert {"tenants_tenant", "invoices_invoice", "payments_payment"} <= locks.referenced_tables()
    user = UserFactory()
    with transaction.atomic():
        Membership.objects.for_tenant(tenant).update_or_create(tenant=tenant, user=user, defaults={"role": Role.CLERK})


def test_each_transaction_starts_the_order_afresh(tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
    with transaction.atomic():
        lock_invoice(tenant, invoice)
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)


def test_a_transaction_nested_in_another_keeps_its_order(tenant: Tenant) -> None:
    """A service's block inside a keyed request's transaction is one database transaction."""
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        with transaction.atomic():
            locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        with transaction.atomic(), pytest.raises(LockOrderViolation):
            lock_invoice(tenant, invoice)


@pytest.mark.django_db(transaction=True)
def test_the_order_is_kept_per_database_transaction_outside_a_test_case(tenant: Tenant) -> None:
    """Outside a test case's own transaction (production, threads): the same, by real transactions."""
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        with transaction.atomic(), pytest.raises(LockOrderViolation):
            lock_invoice(tenant, invoice)
    with transaction.atomic():
        lock_invoice(tenant, invoice)
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)


def test_the_check_is_off_unless_configured(tenant: Tenant, settings: Any) -> None:
    """Production (DEBUG off, LOCK_ORDER_CHECKS unset) sends the statement as it is."""
    settings.LOCK_ORDER_CHECKS = False
    invoice = InvoiceFactory(tenant=tenant)
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        lock_invoice(tenant, invoice)


def test_nothing_reaches_the_database_when_a_lock_is_refused(tenant: Tenant) -> None:
    """Refused before it is sent: the transaction is not aborted and goes on."""
    with transaction.atomic():
        locks.tenant_lock_wait(locks.AUDIT, tenant.pk)
        with pytest.raises(LockOrderViolation):
            locks.tenant_lock_wait(locks.MATCHING, tenant.pk)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)
