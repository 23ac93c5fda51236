"""Plain-data builders for engine tests: no database, values written out by hand."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from core.money import round_to_minor, to_minor
from matching.engine import (
    InvoiceLineRecord,
    InvoiceRecord,
    MatchContext,
    MatchSettings,
    PriorInvoiceRecord,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
    VendorRecord,
)

ACME = VendorRecord(id=uuid.UUID(int=1), name="Acme Supplies Ltd", normalized_name="acme supplies", tax_id="DE123")
NORDIC = VendorRecord(
    id=uuid.UUID(int=2), name="Nordic Fasteners AB", normalized_name="nordic fasteners", aliases=("nordfast",)
)
DAY = dt.date(2026, 10, 10)


def uid() -> uuid.UUID:
    return uuid.uuid4()


def po_line(
    number: int, sku: str, description: str, quantity: str, price: str, received: str = "0", billed: str = "0"
) -> PurchaseOrderLineRecord:
    return PurchaseOrderLineRecord(
        id=uid(), line_number=number, sku=sku, description=description, quantity=Decimal(quantity),
        unit_price=Decimal(price), received_quantity=Decimal(received), billed_quantity=Decimal(billed),
    )  # fmt: skip


def purchase_order(
    *lines: PurchaseOrderLineRecord,
    number: str = "PO-1",
    vendor: VendorRecord = ACME,
    currency: str = "EUR",
    status: str = "open",
) -> PurchaseOrderRecord:
    return PurchaseOrderRecord(
        id=uid(), po_number=number, vendor_id=vendor.id, currency=currency, status=status, lines=tuple(lines)
    )


def inv_line(
    number: int, sku: str, description: str, quantity: str, price: str, amount: str | None = None,
    currency: str = "EUR", hint: int | None = None,
) -> InvoiceLineRecord:  # fmt: skip
    minor = (
        to_minor(amount, currency)
        if amount is not None
        else round_to_minor(Decimal(quantity) * Decimal(price), currency)
    )
    return InvoiceLineRecord(
        id=uid(), line_number=number, sku=sku, description=description, quantity=Decimal(quantity),
        unit_price=Decimal(price), amount=minor, po_line_number=hint,
    )  # fmt: skip


def invoice(
    *lines: InvoiceLineRecord,
    number: str = "INV-1",
    vendor: VendorRecord | None = ACME,
    vendor_name: str = "",
    vendor_tax_id: str = "",
    po_number: str = "PO-1",
    currency: str = "EUR",
    tax: str = "0",
    shipping: str = "0",
    total: str | None = None,
    tax_rate: str | None = None,
    date: dt.date = DAY,
) -> InvoiceRecord:
    from invoices.numbers import normalize_invoice_number

    subtotal = sum(line.amount for line in lines)
    tax_minor, shipping_minor = to_minor(tax, currency), to_minor(shipping, currency)
    total_minor = to_minor(total, currency) if total is not None else subtotal + tax_minor + shipping_minor
    return InvoiceRecord(
        id=uid(), invoice_number=number, invoice_number_normalized=normalize_invoice_number(number),
        currency=currency, invoice_date=date, subtotal_amount=subtotal, tax_amount=tax_minor,
        shipping_amount=shipping_minor, total_amount=total_minor, lines=tuple(lines),
        vendor_id=vendor.id if vendor else None, vendor_name_raw=vendor_name, vendor_tax_id_raw=vendor_tax_id,
        po_number=po_number, tax_rate=Decimal(tax_rate) if tax_rate is not None else None,
    )  # fmt: skip


def context(
    *purchase_orders: PurchaseOrderRecord,
    vendors: tuple[VendorRecord, ...] = (ACME, NORDIC),
    prior: tuple[PriorInvoiceRecord, ...] = (),
    **settings: object,
) -> MatchContext:
    by_vendor: dict[uuid.UUID, list[PriorInvoiceRecord]] = {}
    for record in prior:
        by_vendor.setdefault(record.vendor_id, []).append(record)
    return MatchContext(
        settings=MatchSettings(**settings),  # type: ignore[arg-type]
        vendors={vendor.id: vendor for vendor in vendors},
        purchase_orders={po.po_number: po for po in purchase_orders},
        prior_invoices=by_vendor,
    )


def prior_invoice(
    number: str, total: str, *, vendor: VendorRecord = ACME, status: str = "approved", date: dt.date = DAY,
    currency: str = "EUR",
) -> PriorInvoiceRecord:  # fmt: skip
    from invoices.numbers import normalize_invoice_number

    return PriorInvoiceRecord(
        id=uid(), vendor_id=vendor.id, invoice_number=number,
        invoice_number_normalized=normalize_invoice_number(number), total_amount=to_minor(total, currency),
        currency=currency, invoice_date=date, status=status,
    )  # fmt: skip
