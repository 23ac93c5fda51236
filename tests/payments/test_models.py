"""The database itself refuses impossible payments and allocations (constraints, not only Python)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction

from tenants.models import Tenant
from tests.factories import PaymentAllocationFactory, PaymentFactory


@pytest.mark.parametrize(
    "fields",
    [{"amount": 0}, {"amount": -100}, {"currency": "eur"}, {"currency": "E1R"}, {"direction": "sideways"}],
    ids=["zero", "negative", "lower-case-currency", "digit-in-currency", "direction"],
)
def test_payment_constraints(tenant: Tenant, fields: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(tenant=tenant, **fields)


def test_one_transaction_id_per_account_and_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    PaymentFactory(tenant=tenant, bank_transaction_id="E2E-1")
    PaymentFactory(tenant=tenant, bank_transaction_id="E2E-1", bank_account="DE44500105175407324931")
    PaymentFactory(tenant=other_tenant, bank_transaction_id="E2E-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentFactory(tenant=tenant, bank_transaction_id="E2E-1")


@pytest.mark.parametrize(
    "fields",
    [{"amount": 0}, {"currency": "E1R"}, {"tier": 6}, {"confidence": "1.5"}, {"kind": "gift"}],
    ids=["zero", "currency", "tier", "confidence", "kind"],
)
def test_allocation_constraints(tenant: Tenant, fields: dict[str, Any]) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAllocationFactory(tenant=tenant, **fields)


def test_an_allocation_is_reversed_once_by_a_new_row(tenant: Tenant) -> None:
    original = PaymentAllocationFactory(
        tenant=tenant, tier=1, confidence="0.950", explanation="INV-1 in remittance text"
    )
    reversal = PaymentAllocationFactory(payment=original.payment, invoice=original.invoice, reversal_of=original)
    assert original.reversed_by == reversal
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAllocationFactory(payment=original.payment, invoice=original.invoice, reversal_of=original)
