"""factory-boy factories of the payments app; the tenant comes down from the caller."""

from __future__ import annotations

import datetime as dt

import factory

from payments.accounts import account_hash, encrypt_account
from payments.models import Payment, PaymentDirection
from tests.factories import TenantFactory


class PaymentFactory(factory.django.DjangoModelFactory):
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
