"""factory-boy factories. Every tenant-owned factory takes the tenant down from its parent."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from core.actors import system_actor
from invoices.models import Invoice, InvoiceLine
from invoices.numbers import normalize_invoice_number
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.models import Membership, Role, Tenant, TenantSettings
from vendors.models import Vendor
from vendors.names import normalize_vendor_name

# Who test set-up code acts as, on the audit events it causes.
TEST_ACTOR = system_actor("test")


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


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vendor

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"Vendor {n} Ltd")
    normalized_name = factory.LazyAttribute(lambda vendor: normalize_vendor_name(vendor.name))
    tax_id = factory.Sequence(lambda n: f"DE{100000000 + n}")
    default_currency = "EUR"


class PurchaseOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrder

    tenant = factory.SubFactory(TenantFactory)
    vendor = factory.SubFactory(VendorFactory, tenant=factory.SelfAttribute("..tenant"))
    po_number = factory.Sequence(lambda n: f"PO-{1000 + n}")
    currency = "EUR"
    order_date = dt.date(2026, 10, 1)


class PurchaseOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurchaseOrderLine

    purchase_order = factory.SubFactory(PurchaseOrderFactory)
    tenant = factory.SelfAttribute("purchase_order.tenant")
    line_number = factory.Sequence(lambda n: n + 1)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    description = factory.Sequence(lambda n: f"Item {n}")
    quantity = Decimal("10")
    unit_price = Decimal("12.50")


class GoodsReceiptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoodsReceipt

    purchase_order = factory.SubFactory(PurchaseOrderFactory)
    tenant = factory.SelfAttribute("purchase_order.tenant")
    receipt_number = factory.Sequence(lambda n: f"GR-{1000 + n}")
    received_date = dt.date(2026, 10, 5)


class GoodsReceiptLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GoodsReceiptLine

    goods_receipt = factory.SubFactory(GoodsReceiptFactory)
    tenant = factory.SelfAttribute("goods_receipt.tenant")
    purchase_order_line = factory.SubFactory(
        PurchaseOrderLineFactory, purchase_order=factory.SelfAttribute("..goods_receipt.purchase_order")
    )
    quantity = Decimal("10")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    tenant = factory.SubFactory(TenantFactory)
    vendor = factory.SubFactory(VendorFactory, tenant=factory.SelfAttribute("..tenant"))
    invoice_number = factory.Sequence(lambda n: f"INV-{5000 + n}")
    invoice_number_normalized = factory.LazyAttribute(lambda invoice: normalize_invoice_number(invoice.invoice_number))
    currency = "EUR"
    invoice_date = dt.date(2026, 10, 10)
    subtotal_amount = 12500
    total_amount = 12500


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    tenant = factory.SelfAttribute("invoice.tenant")
    line_number = factory.Sequence(lambda n: n + 1)
    description = "Item"
    quantity = Decimal("10")
    unit_price = Decimal("12.50")
    amount = 12500
