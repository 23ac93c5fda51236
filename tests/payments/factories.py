"""factory-boy factories of the payments app: bank statement lines, and the allocations and
suggestions a reconciliation writes. Each takes its tenant from its parent, as in tests/factories.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from payments.accounts import account_hash, encrypt_account
from payments.models import Payment, PaymentAllocation, PaymentDirection, PaymentStatus, PaymentSuggestion
from tests.factories import TEST_ACTOR, InvoiceFactory, TenantFactory


class PaymentFactory(factory.django.DjangoModelFactory):
    """A bank statement line: a debit to a vendor; `bank_account` and `counterparty_account` are the
    plain numbers, stored encrypted and hashed as the statement import stores them."""

    class Meta:
        model = Payment
        exclude = ("bank_account", "counterparty_account")

    tenant = factory.SubFactory(TenantFactory)
    bank_account = "NL91ABNA0417164300"
    counterparty_account = "DE89370400440532013000"
    bank_account_encrypted = factory.LazyAttribute(lambda payment: encrypt_account(payment.bank_account))
    bank_account_hash = factory.LazyAttribute(lambda payment: account_hash(payment.bank_account))
    counterparty_account_encrypted = factory.LazyAttribute(
        lambda payment: encrypt_account(payment.counterparty_account)
    )
    counterparty_account_hash = factory.LazyAttribute(lambda payment: account_hash(payment.counterparty_account))
    booking_date = dt.date(2026, 10, 12)
    value_date = dt.date(2026, 10, 12)
    amount = 439800
    currency = "EUR"
    direction = PaymentDirection.DEBIT
    counterparty_name = factory.Sequence(lambda n: f"Vendor {n} Ltd")
    remittance_text = factory.Sequence(lambda n: f"INV-{5000 + n}")
    bank_transaction_id = factory.Sequence(lambda n: f"TXN-{n:06d}")


class PaymentAllocationFactory(factory.django.DjangoModelFactory):
    """An allocation written directly, as the reconciliation services would not: for the database's
    own refusals. Allocations a test relies on come from the services (payments.reconciliation)."""

    class Meta:
        model = PaymentAllocation

    tenant = factory.SelfAttribute("payment.tenant")
    payment = factory.SubFactory(PaymentFactory, tenant=factory.SelfAttribute("..tenant"))
    invoice = factory.SubFactory(InvoiceFactory, tenant=factory.SelfAttribute("..tenant"))
    amount = 1000
    currency = "EUR"
    made_by_kind = TEST_ACTOR.kind
    made_by_id = TEST_ACTOR.id


class PaymentSuggestionFactory(factory.django.DjangoModelFactory):
    """What a reconciliation run proposes for a payment it was not sure enough to apply."""

    class Meta:
        model = PaymentSuggestion

    tenant = factory.SelfAttribute("payment.tenant")
    payment = factory.SubFactory(
        PaymentFactory, tenant=factory.SelfAttribute("..tenant"), status=PaymentStatus.SUGGESTED
    )
    tier = 4
    confidence = Decimal("0.600")
    reason = "Same amount."
