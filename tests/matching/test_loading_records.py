"""The loader hands every value to the engine's records by name: a record's field order is free.

Each record the loader builds is compared, field by field, with the row it was read from; and the
same again with every record class's fields in another order (required ones reversed, defaulted
ones reversed), which a positional construction would fill with the wrong values.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

import matching.loading
import matching.loading.prior_invoices
import matching.loading.purchase_orders
from invoices.models import Invoice, InvoiceLine, InvoiceSource
from matching.engine import (
    InvoiceLineRecord,
    PriorInvoiceRecord,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
    VendorRecord,
)
from matching.loading import load_batch
from purchasing.models import PurchaseOrder
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, GoodsReceiptFactory, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import run_matching

LOADER_MODULES = (matching.loading, matching.loading.purchase_orders, matching.loading.prior_invoices)
RECORDS = (InvoiceLineRecord, PriorInvoiceRecord, PurchaseOrderLineRecord, PurchaseOrderRecord, VendorRecord)


def _reordered(record: type) -> type:
    """`record` with its fields in another order: the required ones reversed, then the defaulted ones reversed."""
    fields = dataclasses.fields(record)
    required = [f for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    defaulted = [f for f in fields if f not in required]
    return dataclasses.make_dataclass(
        record.__name__,
        [(f.name, f.type) for f in reversed(required)]
        + [(f.name, f.type, dataclasses.field(default=f.default)) for f in reversed(defaulted)],
        frozen=True,
    )


def _values(record: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record) if f.name not in leave_out}


@pytest.mark.parametrize("field_order", ["as_declared", "reordered"])
def test_every_loaded_record_holds_each_value_under_its_own_name_whatever_the_field_order(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, field_order: str
) -> None:
    vendor = VendorFactory(tenant=tenant, name="Bolt & Hose GmbH", tax_id="DE811569869")
    purchase_order = PurchaseOrderFactory(vendor=vendor, po_number="PO-7001", lines=[BOLTS, HOSES])
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-1", quantities={1: "600", 2: "50"})
    earlier = InvoiceFactory(vendor=vendor, invoice_number="INV-42", po_number="PO-7001", lines=[BOLTS.times("200")])
    run_matching(tenant)
    earlier.refresh_from_db()
    again = InvoiceFactory(
        vendor=vendor, invoice_number="INV-42", po_number="PO-7001", lines=[BOLTS, HOSES], tax_amount=700
    )
    # A sender's PO line hint, so that no field of the invoice line is left at its default.
    InvoiceLine.objects.for_tenant(tenant).filter(invoice=again, line_number=2).update(po_line_number=2)
    if field_order == "reordered":
        for record in RECORDS:
            shuffled = _reordered(record)
            assert [f.name for f in dataclasses.fields(shuffled)] != [f.name for f in dataclasses.fields(record)]
            for module in LOADER_MODULES:
                if hasattr(module, record.__name__):
                    monkeypatch.setattr(module, record.__name__, shuffled)

    batch = load_batch(tenant=tenant, limit=10)

    [invoice] = batch.invoices
    assert invoice.id == again.pk
    assert [_values(line) for line in invoice.lines] == [
        {
            "id": line.pk,
            "line_number": line.line_number,
            "sku": line.sku,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "po_line_number": line.po_line_number,
        }
        for line in InvoiceLine.objects.for_tenant(tenant).filter(invoice=again).order_by("line_number")
    ]
    assert invoice.lines[1].po_line_number == 2

    po_record = batch.context.purchase_orders["PO-7001"]
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get(pk=purchase_order.pk)
    assert _values(po_record, leave_out=("lines",)) == {
        "id": purchase_order.pk,
        "po_number": "PO-7001",
        "vendor_id": vendor.pk,
        "currency": "EUR",
        "status": purchase_order.status,
    }
    received = {1: Decimal("600"), 2: Decimal("50")}
    billed = {1: Decimal("200"), 2: Decimal(0)}  # by the earlier invoice, matched to line 1
    assert [_values(line) for line in po_record.lines] == [
        {
            "id": line.pk,
            "line_number": line.line_number,
            "sku": line.sku,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "received_quantity": received[line.line_number],
            "billed_quantity": billed[line.line_number],
        }
        for line in purchase_order.lines.order_by("line_number")
    ]

    earlier = Invoice.objects.for_tenant(tenant).get(pk=earlier.pk)
    assert [_values(prior) for prior in batch.context.prior_invoices[vendor.pk]] == [
        {
            "id": earlier.pk,
            "vendor_id": vendor.pk,
            "invoice_number": "INV-42",
            "invoice_number_normalized": earlier.invoice_number_normalized,
            "total_amount": earlier.total_amount,
            "currency": "EUR",
            "invoice_date": earlier.invoice_date,
            "status": earlier.status,
            "received_at": earlier.created_at,
            "source": InvoiceSource(earlier.source).label,
        }
    ]

    # Bank accounts: tests/matching/test_loading_risk.py compares them with their rows.
    assert _values(batch.context.vendors[vendor.pk], leave_out=("aliases", "bank_accounts")) == {
        "id": vendor.pk,
        "name": vendor.name,
        "normalized_name": vendor.normalized_name,
        "tax_id": vendor.tax_id,
        "is_active": True,
        "price_tolerance_pct": vendor.price_tolerance_pct,
        "quantity_tolerance_pct": vendor.quantity_tolerance_pct,
        "tolerance_rule": "",  # no accepted suggestion (tests/learning name one)
        "quantity_tolerance_rule": "",
        "learned_aliases": {},  # no vendor chosen by hand (tests/learning/test_vendor_po_choices.py)
        "tax_id_aliases": (),  # nor a tax id learned from one (tests/learning/test_vendor_tax_ids.py)
        "learned_tax_ids": {},
    }
