"""factory-boy factories: the one way tests build the rows they need.

Every tenant-owned factory takes its tenant from its parent row, and makes a missing parent in
the tenant it was given: a test names either (`InvoiceFactory(tenant=acme)`,
`InvoiceLineFactory(invoice=invoice)`), once, and everything made below it belongs to that
tenant. Naming neither is a cyclic-definition error on purpose: a test says whose data it builds.

Rows made here have none of a service's side effects (no audit event, no matching queued, no
hold released). A test that needs them (the audit chain, an invoice page's timeline, a receipt
releasing a hold) or is about them calls the service, with a document from
tests/document_factories.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model

from core.actors import system_actor
from core.quantities import line_amount_minor
from invoices.models import Invoice, InvoiceLine
from invoices.numbers import normalize_invoice_number
from matching.models import MatchRun
from payments.accounts import account_hash, encrypt_account
from payments.models import Payment, PaymentAllocation, PaymentDirection, PaymentStatus, PaymentSuggestion
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from review.models import ImportBatch, ImportJob, ImportKind, ImportStatus
from tenants.models import Membership, Role, Tenant, TenantSettings
from vendors.models import Vendor, VendorAlias
from vendors.names import normalize_vendor_name

# Who test set-up code acts as, on the audit events it causes.
TEST_ACTOR = system_actor("test")


@dataclass(frozen=True)
class Line:
    """One line of a PO or an invoice as a person writes it: SKU, description, quantity and unit
    price (decimal strings). PO and invoice factories number them 1, 2, … in the order given."""

    sku: str
    description: str
    quantity: str
    price: str

    def times(self, quantity: str) -> Line:
        return Line(self.sku, self.description, quantity, self.price)

    def at(self, price: str) -> Line:
        return Line(self.sku, self.description, self.quantity, price)

    def amount_minor(self, currency: str) -> int:
        """Quantity × unit price in minor units, rounded as the invoice door rounds a line."""
        return line_amount_minor(Decimal(self.quantity), Decimal(self.price), currency)


# The PO lines most tests order: 1000 bolts at 0.125 (125.00) and 50 hoses at 18.40 (920.00).
BOLTS = Line("HB-M8", "M8 hex bolts, zinc plated", "1000", "0.125")
HOSES = Line("HH-1M", "Hydraulic hose 1 m", "50", "18.40")


def _lines_minor(lines: Sequence[Line], currency: str) -> int:
    return sum(line.amount_minor(currency) for line in lines)


# --- tenants and people --------------------------------------------------------------------------


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Tenant {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    settings = factory.RelatedFactory("tests.factories.TenantSettingsFactory", factory_related_name="tenant")


class TenantSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantSettings

    tenant = factory.SubFactory(TenantFactory, settings=None)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.CLERK


# --- vendors -------------------------------------------------------------------------------------


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Vendor {n} Ltd")
    normalized_name = factory.LazyAttribute(lambda vendor: normalize_vendor_name(vendor.name))
    tax_id = factory.Sequence(lambda n: f"DE{100000000 + n}")
    default_currency = "EUR"


class VendorAliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorAlias

    tenant = factory.SelfAttribute("vendor.tenant")
    vendor = factory.SubFactory(VendorFactory, tenant=factory.SelfAttribute("..tenant"))
    alias = factory.Sequence(lambda n: f"Trading Name {n}")
    normalized_alias = factory.LazyAttribute(lambda alias: normalize_vendor_name(alias.alias))


# --- purchase orders and goods receipts ----------------------------------------------------------


class PurchaseOrderFactory(factory.django.DjangoModelFactory):
    """A PO; `lines=[BOLTS, HOSES]` orders them as lines 1, 2, …, and `received=True` books one
    goods receipt (GR-<po number>) of every line in full."""

    class Meta:
        model = PurchaseOrder
        skip_postgeneration_save = True

    tenant = factory.SelfAttribute("vendor.tenant")
    vendor = factory.SubFactory(VendorFactory, tenant=factory.SelfAttribute("..tenant"))
    po_number = factory.Sequence(lambda n: f"PO-{1000 + n}")
    currency = "EUR"
    order_date = dt.date(2026, 10, 1)

    @factory.post_generation
    def lines(purchase_order: PurchaseOrder, create: bool, lines: Sequence[Line] | None, **kwargs: Any) -> None:
        for number, line in enumerate(lines or (), start=1):
            PurchaseOrderLineFactory(
                purchase_order=purchase_order,
                line_number=number,
                sku=line.sku,
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price=Decimal(line.price),
            )

    @factory.post_generation
    def received(purchase_order: PurchaseOrder, create: bool, received: bool | None, **kwargs: Any) -> None:
        if received:
            GoodsReceiptFactory(
                purchase_order=purchase_order,
                receipt_number=f"GR-{purchase_order.po_number}",
                quantities={line.line_number: line.quantity for line in purchase_order.lines.all()},
            )


class PurchaseOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrderLine

    tenant = factory.SelfAttribute("purchase_order.tenant")
    purchase_order = factory.SubFactory(PurchaseOrderFactory, tenant=factory.SelfAttribute("..tenant"))
    line_number = factory.Sequence(lambda n: n + 1)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    description = factory.Sequence(lambda n: f"Item {n}")
    quantity = Decimal("10")
    unit_price = Decimal("12.50")


class GoodsReceiptFactory(factory.django.DjangoModelFactory):
    """A goods receipt; `quantities={1: "1000", 2: "50"}` receives that much on the PO's lines 1, 2."""

    class Meta:
        model = GoodsReceipt
        skip_postgeneration_save = True

    tenant = factory.SelfAttribute("purchase_order.tenant")
    purchase_order = factory.SubFactory(PurchaseOrderFactory, tenant=factory.SelfAttribute("..tenant"))
    receipt_number = factory.Sequence(lambda n: f"GR-{1000 + n}")
    received_date = dt.date(2026, 10, 5)

    @factory.post_generation
    def quantities(
        receipt: GoodsReceipt, create: bool, quantities: dict[int, str | Decimal] | None, **kwargs: Any
    ) -> None:
        po_lines = {line.line_number: line for line in receipt.purchase_order.lines.all()} if quantities else {}
        for number, quantity in (quantities or {}).items():
            GoodsReceiptLineFactory(
                goods_receipt=receipt, purchase_order_line=po_lines[number], quantity=Decimal(quantity)
            )


class GoodsReceiptLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoodsReceiptLine

    tenant = factory.SelfAttribute("goods_receipt.tenant")
    goods_receipt = factory.SubFactory(GoodsReceiptFactory, tenant=factory.SelfAttribute("..tenant"))
    purchase_order_line = factory.SubFactory(
        PurchaseOrderLineFactory, purchase_order=factory.SelfAttribute("..goods_receipt.purchase_order")
    )
    quantity = Decimal("10")


# --- invoices ------------------------------------------------------------------------------------


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An invoice in `received`. With `lines=[BOLTS, HOSES]` it has those lines, numbered 1, 2, …,
    and adds up as a vendor states it: subtotal = the lines, total = subtotal + tax + shipping.
    Without lines, the subtotal is what the total leaves after tax and shipping."""

    class Meta:
        model = Invoice

    tenant = factory.SelfAttribute("vendor.tenant")
    vendor = factory.SubFactory(VendorFactory, tenant=factory.SelfAttribute("..tenant"))
    invoice_number = factory.Sequence(lambda n: f"INV-{5000 + n}")
    invoice_number_normalized = factory.LazyAttribute(lambda invoice: normalize_invoice_number(invoice.invoice_number))
    currency = "EUR"
    invoice_date = dt.date(2026, 10, 10)
    lines: Sequence[Line] = ()
    tax_amount = 0
    shipping_amount = 0
    total_amount = factory.LazyAttribute(
        lambda invoice: (
            (_lines_minor(invoice.lines, invoice.currency) if invoice.lines else 12500)
            + invoice.tax_amount
            + invoice.shipping_amount
        )
    )
    subtotal_amount = factory.LazyAttribute(
        lambda invoice: (
            _lines_minor(invoice.lines, invoice.currency)
            if invoice.lines
            else invoice.total_amount - invoice.tax_amount - invoice.shipping_amount
        )
    )

    @classmethod
    def _create(cls, model_class: type[Invoice], *args: Any, lines: Sequence[Line] = (), **kwargs: Any) -> Invoice:
        invoice = super()._create(model_class, *args, **kwargs)
        for number, line in enumerate(lines, start=1):
            InvoiceLineFactory(
                invoice=invoice,
                line_number=number,
                sku=line.sku,
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price=Decimal(line.price),
                amount=line.amount_minor(invoice.currency),
            )
        return invoice

    @classmethod
    def _build(cls, model_class: type[Invoice], *args: Any, lines: Sequence[Line] = (), **kwargs: Any) -> Invoice:
        if lines:
            raise TypeError("Invoice lines are rows of their own: create() the invoice to have them.")
        return super()._build(model_class, *args, **kwargs)


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    tenant = factory.SelfAttribute("invoice.tenant")
    invoice = factory.SubFactory(InvoiceFactory, tenant=factory.SelfAttribute("..tenant"))
    line_number = factory.Sequence(lambda n: n + 1)
    description = "Item"
    quantity = Decimal("10")
    unit_price = Decimal("12.50")
    amount = 12500


# --- matching ------------------------------------------------------------------------------------


class MatchRunFactory(factory.django.DjangoModelFactory):
    """A run as recorded, not carried out: results come from a real run (matching.services)."""

    class Meta:
        model = MatchRun

    tenant = factory.SubFactory(TenantFactory)
    trigger = MatchRun.Trigger.COMMAND
    requested_by_kind = TEST_ACTOR.kind
    requested_by_id = TEST_ACTOR.id


# --- payments ------------------------------------------------------------------------------------


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


# --- the Import page -----------------------------------------------------------------------------


class ImportBatchFactory(factory.django.DjangoModelFactory):
    """An upload as recorded; its files' checks and imports come from review.intake.services."""

    class Meta:
        model = ImportBatch

    tenant = factory.SubFactory(TenantFactory)
    actor_kind = TEST_ACTOR.kind
    actor_id = TEST_ACTOR.id
    actor_label = TEST_ACTOR.label


class ImportJobFactory(factory.django.DjangoModelFactory):
    """A file of an upload, checked and ready to import (its bytes in `content`)."""

    class Meta:
        model = ImportJob

    tenant = factory.SelfAttribute("batch.tenant")
    batch = factory.SubFactory(ImportBatchFactory, tenant=factory.SelfAttribute("..tenant"))
    position = factory.Sequence(lambda n: n)
    filename = factory.Sequence(lambda n: f"invoices-{n}.csv")
    kind = ImportKind.INVOICES
    kind_detected = True
    status = ImportStatus.READY
    content = b"invoice_number,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price\n"
    size = factory.LazyAttribute(lambda job: len(job.content))
