"""The database itself refuses impossible payments and allocations (constraints, not only Python)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from core.tenancy.scoping import tenant_rows_insert
from invoices.models import Invoice
from payments.models import Payment, PaymentAllocation
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PaymentAllocationFactory, PaymentFactory


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


def _allocation(payment: Payment, invoice: Invoice, amount: int, **fields: Any) -> PaymentAllocation:
    return PaymentAllocation(
        tenant_id=payment.tenant_id,
        payment=payment,
        invoice=invoice,
        amount=amount,
        currency="EUR",
        made_by_kind="system",
        made_by_id="test",
        **fields,
    )


def test_the_allocation_check_counts_the_rows_of_one_statement_together(tenant: Tenant) -> None:
    """The trigger checks a whole INSERT at once (payments 0012): two rows that each fit but
    together exceed the payment, or the invoice, are refused together, and nothing is written."""
    payment = PaymentFactory(tenant=tenant, amount=150_00)
    first, second = (InvoiceFactory(tenant=tenant, total_amount=100_00, subtotal_amount=100_00) for _ in range(2))
    too_much_for_payment = f"payment {payment.pk}: allocations \\(16000\\) exceed the payment"
    with pytest.raises(IntegrityError, match=too_much_for_payment), transaction.atomic():
        tenant_rows_insert(
            tenant=tenant, rows=[_allocation(payment, first, 80_00), _allocation(payment, second, 80_00)]
        )
    roomy = PaymentFactory(tenant=tenant, amount=500_00)
    too_much_for_invoice = f"invoice {first.pk}: allocations \\(12000\\) exceed its open amount"
    with pytest.raises(IntegrityError, match=too_much_for_invoice), transaction.atomic():
        tenant_rows_insert(tenant=tenant, rows=[_allocation(roomy, first, 60_00), _allocation(roomy, first, 60_00)])
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()

    written = tenant_rows_insert(
        tenant=tenant, rows=[_allocation(payment, first, 100_00), _allocation(payment, second, 50_00)]
    )
    assert PaymentAllocation.objects.for_tenant(tenant).count() == len(written) == 2


def test_the_allocation_check_refuses_a_statement_mixing_tenants_or_currencies(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    payment = PaymentFactory(tenant=tenant, amount=500_00)
    invoice = InvoiceFactory(tenant=tenant, total_amount=100_00, subtotal_amount=100_00)
    foreign = InvoiceFactory(tenant=other_tenant, total_amount=100_00, subtotal_amount=100_00)
    dollars = InvoiceFactory(tenant=tenant, currency="USD", total_amount=100_00, subtotal_amount=100_00)
    with pytest.raises(IntegrityError, match="belong to one tenant"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")  # row-level security would hide the other tenant's invoice
        tenant_rows_insert(
            tenant=tenant, rows=[_allocation(payment, invoice, 10_00), _allocation(payment, foreign, 10_00)]
        )
    with pytest.raises(IntegrityError, match="share one currency"), transaction.atomic():
        tenant_rows_insert(
            tenant=tenant, rows=[_allocation(payment, invoice, 10_00), _allocation(payment, dollars, 10_00)]
        )
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()
