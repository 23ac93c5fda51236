"""factory-boy factories of the documents services take (`invoice_create`, `purchase_order_create`,
`goods_receipt_create`), for tests whose set-up goes through a service on purpose: the test is
about what the service does, or needs its side effects (audit events, a hold released, matching
queued). Rows a test merely needs come from tests/factories.py; lines are written as its `Line`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from core.money import from_minor
from core.quantities import line_amount_minor
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)


class PurchaseOrderDocumentFactory(factory.Factory):
    """What `purchase_order_create` takes; `lines=[BOLTS, HOSES]` numbers them 1, 2, …"""

    class Meta:
        model = PurchaseOrderDocument

    po_number = factory.Sequence(lambda n: f"PO-{1000 + n}")
    currency = "EUR"
    order_date = dt.date(2026, 10, 1)
    lines = factory.Transformer(
        (),
        transform=lambda lines: [
            PurchaseOrderLineDocument(
                line_number=number,
                sku=line.sku,
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price=Decimal(line.price),
            )
            for number, line in enumerate(lines, start=1)
        ],
    )


class GoodsReceiptDocumentFactory(factory.Factory):
    """What `goods_receipt_create` takes; `quantities={1: "1000"}`: received on PO line 1."""

    class Meta:
        model = GoodsReceiptDocument

    receipt_number = factory.Sequence(lambda n: f"GR-{1000 + n}")
    received_date = dt.date(2026, 10, 5)
    lines = factory.LazyAttribute(
        lambda receipt: [
            GoodsReceiptLineDocument(po_line_number=number, quantity=Decimal(quantity))
            for number, quantity in receipt.quantities.items()
        ]
    )

    class Params:
        quantities: dict[int, str] = {}


class InvoiceDocumentFactory(factory.Factory):
    """What `invoice_create` takes; `lines=[BOLTS, HOSES]`, and a total that is lines + tax +
    shipping unless given, as a vendor states it."""

    class Meta:
        model = InvoiceDocument

    invoice_number = factory.Sequence(lambda n: f"INV-{5000 + n}")
    currency = "EUR"
    invoice_date = dt.date(2026, 10, 10)
    tax_amount = Decimal(0)
    shipping_amount = Decimal(0)
    lines = factory.Transformer(
        (),
        transform=lambda lines: [
            InvoiceLineDocument(
                sku=line.sku,
                description=line.description,
                quantity=Decimal(line.quantity),
                unit_price=Decimal(line.price),
            )
            for line in lines
        ],
    )
    total_amount = factory.LazyAttribute(
        lambda invoice: (
            from_minor(
                sum(line_amount_minor(line.quantity, line.unit_price, invoice.currency) for line in invoice.lines),
                invoice.currency,
            )
            + invoice.tax_amount
            + invoice.shipping_amount
        )
    )
