"""The factories the other tests stand on: rows land in the tenant the test named (directly or
through a parent), and lines, receipts and totals add up as the services would make them."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from invoices.documents import InvoiceLineDocument
from purchasing.models import GoodsReceiptLine
from tenants.models import Tenant
from tests.document_factories import GoodsReceiptDocumentFactory, InvoiceDocumentFactory, PurchaseOrderDocumentFactory
from tests.factories import (
    BOLTS,
    HOSES,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentAllocationFactory,
    PaymentSuggestionFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorAliasFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db


def test_a_row_named_by_its_tenant_makes_its_parents_in_that_tenant(tenant: Tenant) -> None:
    receipt_line = GoodsReceiptLineFactory(tenant=tenant)
    allocation = PaymentAllocationFactory(tenant=tenant)
    rows = [
        receipt_line,
        receipt_line.goods_receipt,
        receipt_line.purchase_order_line,
        receipt_line.goods_receipt.purchase_order,
        receipt_line.goods_receipt.purchase_order.vendor,
        InvoiceLineFactory(tenant=tenant).invoice.vendor,
        VendorAliasFactory(tenant=tenant).vendor,
        allocation.payment,
        allocation.invoice,
    ]
    assert {row.tenant_id for row in rows} == {tenant.pk}
    # The receipt line's PO line is on the receipt's own PO.
    assert receipt_line.purchase_order_line.purchase_order_id == receipt_line.goods_receipt.purchase_order_id


def test_a_row_named_by_its_parent_takes_the_parents_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=other_tenant)
    purchase_order = PurchaseOrderFactory(vendor=vendor)
    invoice = InvoiceFactory(vendor=vendor)
    rows = [
        purchase_order,
        PurchaseOrderLineFactory(purchase_order=purchase_order),
        invoice,
        InvoiceLineFactory(invoice=invoice),
        VendorAliasFactory(vendor=vendor),
        PaymentSuggestionFactory(payment__tenant=other_tenant).payment,
    ]
    assert {row.tenant_id for row in rows} == {other_tenant.pk}


def test_a_purchase_order_orders_its_lines_and_receives_them_in_full(tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-1", lines=[BOLTS, HOSES], received=True)
    # By line number: the lines' ids are made within one millisecond, where their order is random.
    lines = purchase_order.lines.order_by("line_number")
    assert [(line.line_number, line.sku, line.quantity, line.unit_price) for line in lines] == [
        (1, "HB-M8", Decimal("1000"), Decimal("0.125")),
        (2, "HH-1M", Decimal("50"), Decimal("18.40")),
    ]
    [receipt] = purchase_order.receipts.all()
    assert receipt.receipt_number == "GR-PO-1"
    received = GoodsReceiptLine.objects.for_tenant(tenant).filter(goods_receipt=receipt)
    assert sorted((row.purchase_order_line.line_number, row.quantity) for row in received) == [
        (1, Decimal("1000")),
        (2, Decimal("50")),
    ]


def test_an_invoice_with_lines_adds_up_as_a_vendor_states_it(tenant: Tenant) -> None:
    # 1000 × 0.125 = 125.00 and 50 × 19.00 = 950.00: 1075.00, + 20.00 tax + 5.00 shipping.
    invoice = InvoiceFactory(tenant=tenant, lines=[BOLTS, HOSES.at("19.00")], tax_amount=2000, shipping_amount=500)
    assert (invoice.subtotal_amount, invoice.total_amount) == (107500, 110000)
    assert [(line.line_number, line.sku, line.amount) for line in invoice.lines.order_by("line_number")] == [
        (1, "HB-M8", 12500),
        (2, "HH-1M", 95000),
    ]
    # In yen, whose amounts have no minor unit: 1000 × 12 = 12000, whatever the total says.
    yen = InvoiceFactory(tenant=tenant, currency="JPY", lines=[BOLTS.at("12")], total_amount=12500)
    assert (yen.subtotal_amount, yen.total_amount) == (12000, 12500)


def test_an_invoice_without_lines_has_the_subtotal_its_total_leaves(tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant, total_amount=11900, tax_amount=1900)
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (10000, 1900, 11900)
    assert not invoice.lines.exists()


def test_the_documents_number_their_lines_and_add_up() -> None:
    purchase_order = PurchaseOrderDocumentFactory(vendor_id=uuid.uuid4(), lines=[BOLTS, HOSES])
    assert [(line.line_number, line.sku) for line in purchase_order.lines] == [(1, "HB-M8"), (2, "HH-1M")]
    receipt = GoodsReceiptDocumentFactory(po_number="PO-1", quantities={2: "50"})
    assert [(line.po_line_number, line.quantity) for line in receipt.lines] == [(2, Decimal("50"))]
    invoice = InvoiceDocumentFactory(lines=[BOLTS, HOSES.at("19.00")], tax_amount=Decimal("20.00"))
    assert invoice.total_amount == Decimal("1095.00")
    assert invoice.lines[1] == InvoiceLineDocument(
        sku="HH-1M", description="Hydraulic hose 1 m", quantity=Decimal("50"), unit_price=Decimal("19.00")
    )
