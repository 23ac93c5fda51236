"""PO inference through the database: the loader narrows a vendor's open POs to a few candidates
per invoice naming no PO (matching.loading.purchase_orders._PURCHASE_ORDERS_SQL), and the engine picks among them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from matching.engine.vocabulary import MISSING_PO
from matching.loading import load_batch
from matching.loading.purchase_orders import INFERENCE_CANDIDATES, _purchase_order_rows
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.factories import InvoiceFactory, Line, PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory
from tests.matching.runs import found, reload, results_of, run_matching
from vendors.models import Vendor

# A small catalogue, as a vendor really sells: every decoy PO shares some of the invoice's items.
CATALOGUE = [Line(f"SKU-{n:02d}", f"Item {n:02d} stainless", "10", "4.20") for n in range(12)]
DECOYS = 2000
DAY = dt.date(2026, 10, 10)


def _decoy_purchase_orders(vendor: Vendor, count: int, start: int = 0) -> None:
    """`count` open POs of the vendor, built by the factories and inserted in bulk (one at a time
    would take minutes), each ordering two items of the catalogue: the first item and one other,
    with other quantities."""
    orders = [PurchaseOrderFactory.build(vendor=vendor, po_number=f"PO-D{n:05d}") for n in range(start, start + count)]
    PurchaseOrder.objects.bulk_create(orders, batch_size=1000)
    PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLineFactory.build(
                purchase_order=order,
                line_number=number,
                sku=item.sku,
                description=item.description,
                quantity=Decimal(7 + n % 5),
                unit_price=Decimal(item.price),
            )
            for n, order in enumerate(orders, start=start)
            for number, item in enumerate((CATALOGUE[0], CATALOGUE[1 + n % 11]), start=1)
        ],
        batch_size=2000,
    )


@pytest.mark.django_db
def test_the_po_is_inferred_among_thousands_of_open_pos_sharing_its_items(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Fasteners", tax_id="DE111")
    _decoy_purchase_orders(vendor, DECOYS // 2)
    lines = [CATALOGUE[0], CATALOGUE[3], CATALOGUE[7]]
    wanted = PurchaseOrderFactory(vendor=vendor, po_number="PO-M05000", lines=lines)
    _decoy_purchase_orders(vendor, DECOYS // 2, start=DECOYS // 2)  # created before and after it
    without_skus = [Line("", line.description, line.quantity, line.price) for line in lines]
    by_sku = InvoiceFactory(vendor=vendor, invoice_number="INV-1", invoice_date=DAY, lines=lines)
    by_description = InvoiceFactory(
        vendor=vendor, invoice_number="INV-2", invoice_date=DAY.replace(day=20), lines=without_skus
    )
    # Billing part of what was ordered: no PO bills it exactly, so the POs sharing its SKUs compete.
    partial = InvoiceFactory(
        vendor=vendor,
        invoice_number="INV-3",
        invoice_date=DAY.replace(day=30),
        lines=[line.times("4") for line in lines],
    )

    assert run_matching(tenant).invoices_matched == 3

    for invoice in (by_sku, by_description, partial):
        assert reload(invoice).purchase_order_id == wanted.pk
        assert MISSING_PO not in {kind for kind, _ in found(results_of(invoice)[0])}


@pytest.mark.django_db
def test_the_candidates_loaded_per_invoice_do_not_grow_with_the_vendors_open_pos(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Fasteners", tax_id="DE111")
    _decoy_purchase_orders(vendor, DECOYS)
    other = VendorFactory(tenant=tenant, name="Globex Tooling", tax_id="DE222")
    PurchaseOrderFactory(vendor=other, po_number="PO-OTHER", lines=[CATALOGUE[0]])  # the same SKU
    InvoiceFactory(vendor=vendor, invoice_number="INV-1", invoice_date=DAY, lines=[CATALOGUE[0], CATALOGUE[5]])
    InvoiceFactory(vendor=vendor, invoice_number="INV-2", invoice_date=DAY.replace(day=20), lines=[CATALOGUE[2]])
    batch = load_batch(tenant=tenant, limit=10)
    inferring = [(invoice, batch.context.vendors[invoice.vendor_id]) for invoice in batch.invoices]

    po_rows, candidates = _purchase_order_rows(tenant, set(), inferring)

    assert [len(candidates[invoice.id]) for invoice in batch.invoices] == [INFERENCE_CANDIDATES] * 2
    assert len(po_rows) <= 2 * INFERENCE_CANDIDATES
    assert {vendor_id for _, _, vendor_id, _, _ in po_rows.values()} == {vendor.pk}
    # Ranked by shared lines: every decoy has the first item, only one in eleven also the sixth.
    first = {po_rows[po_id][1] for po_id in candidates[batch.invoices[0].id]}
    assert len(first) == INFERENCE_CANDIDATES
    assert all(int(number[4:]) % 11 == 4 for number in first)
