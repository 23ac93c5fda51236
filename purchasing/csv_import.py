"""The purchase order and goods receipt kinds of the CSV import (core.csv_reading reads the file).

`purchase-orders` (key: po_number)
    header: po_number*, vendor_id | vendor_tax_id | vendor_name (at least one; must name a known
            vendor), currency*, order_date*, expected_date
    line:   line_number*, sku, description*, quantity*, unit_price*, uom, cost_centre
`goods-receipts` (key: receipt_number)
    header: receipt_number*, po_number*, received_date*
    line:   po_line_number*, quantity*

(* required.) A purchase order or receipt whose number is already stored is reported as a
duplicate and skipped. Each is written through its door (`purchase_order_create`,
`goods_receipt_create`), which checks it as it checks one sent to the API.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager

from audit.services import audit_deferred
from core.actors import Actor
from core.csv_cells import cell_date, cell_decimal, cell_text, cell_text_for, cell_uuid, cell_whole_number
from core.csv_reading import Column, Created, CsvDocument, CsvKind, Duplicate
from core.exceptions import DocumentInvalid, DuplicateDocument
from core.locks import matching_lock_wait
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.models import GoodsReceipt, PurchaseOrder, PurchaseOrderLine
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import Tenant
from vendors.ingest import VENDOR_COLUMNS, VendorCache, vendor_columns_check
from vendors.models import Vendor

VENDOR_NOT_FOUND = "No vendor of this tenant matches this vendor id, tax id or name; create the vendor first."


class PurchaseOrdersCsv(CsvKind):
    name = "purchase-orders"
    label = "purchase order"
    model_label = PurchaseOrder._meta.label_lower
    number_column = "po_number"
    columns = (
        Column("po_number", cell_text_for(PurchaseOrder, "po_number"), header=True, required=True),
        Column("vendor_id", cell_uuid, header=True),
        Column("vendor_tax_id", cell_text_for(Vendor, "tax_id"), header=True),
        Column("vendor_name", cell_text_for(Vendor, "name"), header=True),
        Column("currency", cell_text(3), header=True, required=True),
        Column("order_date", cell_date, header=True, required=True),
        Column("expected_date", cell_date, header=True),
        Column("line_number", cell_whole_number, header=False, required=True),
        Column("sku", cell_text_for(PurchaseOrderLine, "sku"), header=False),
        Column("description", cell_text_for(PurchaseOrderLine, "description"), header=False, required=True),
        Column("quantity", cell_decimal, header=False, required=True),
        Column("unit_price", cell_decimal, header=False, required=True),
        Column("uom", cell_text_for(PurchaseOrderLine, "uom"), header=False),
        Column("cost_centre", cell_text_for(PurchaseOrderLine, "cost_centre"), header=False),
    )
    tenant: Tenant

    def __init__(self, *, tenant: Tenant, actor: Actor) -> None:
        super().__init__(tenant=tenant, actor=actor)
        self.vendors = VendorCache(tenant)

    def check_header(self, names: set[str]) -> list[str]:
        return vendor_columns_check(names=names)

    def writing(self) -> AbstractContextManager[None]:
        return audit_deferred()

    def create(self, document: CsvDocument) -> Created | Duplicate:
        po_number = document.header("po_number", "")
        purchase_order_document = PurchaseOrderDocument(
            po_number=po_number,
            vendor_id=self._vendor(document).pk,
            currency=document.header("currency", ""),
            order_date=document.header("order_date"),
            expected_date=document.header("expected_date"),
            lines=[
                PurchaseOrderLineDocument(
                    line_number=row.values["line_number"],
                    description=row.values["description"],
                    quantity=row.values["quantity"],
                    unit_price=row.values["unit_price"],
                    sku=row.values.get("sku") or "",
                    uom=row.values.get("uom") or "EA",
                    cost_centre=row.values.get("cost_centre") or "",
                )
                for row in document.rows
            ],
        )
        try:
            purchase_order = purchase_order_create(
                tenant=self.tenant, document=purchase_order_document, actor=self.actor
            )
        except DuplicateDocument:
            existing = PurchaseOrder.objects.for_tenant(self.tenant).filter(po_number=po_number).first()
            if existing is None:
                raise
            return Duplicate(po_number, str(existing.pk))
        return Created(str(purchase_order.pk))

    def _vendor(self, document: CsvDocument) -> Vendor:
        vendor = self.vendors.resolve(
            vendor_id=document.header("vendor_id"),
            tax_id=document.header("vendor_tax_id", ""),
            name=document.header("vendor_name", ""),
        )
        if vendor is None:
            column = next((name for name in VENDOR_COLUMNS if document.header(name)), "vendor_name")
            raise DocumentInvalid(VENDOR_NOT_FOUND, details={column: [VENDOR_NOT_FOUND]})
        return vendor


class GoodsReceiptsCsv(CsvKind):
    name = "goods-receipts"
    label = "goods receipt"
    model_label = GoodsReceipt._meta.label_lower
    number_column = "receipt_number"
    columns = (
        Column("receipt_number", cell_text_for(GoodsReceipt, "receipt_number"), header=True, required=True),
        Column("po_number", cell_text_for(PurchaseOrder, "po_number"), header=True, required=True),
        Column("received_date", cell_date, header=True, required=True),
        Column("po_line_number", cell_whole_number, header=False, required=True),
        Column("quantity", cell_decimal, header=False, required=True),
    )
    tenant: Tenant

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        # Each receipt takes the matching lock before the audit lock; the file's first receipt
        # already holds the audit lock when the second one asks, so take the matching lock now,
        # once, in that same order (see matching_lock_wait).
        matching_lock_wait(tenant=self.tenant)
        with audit_deferred():
            yield

    def create(self, document: CsvDocument) -> Created | Duplicate:
        receipt_number = document.header("receipt_number", "")
        receipt_document = GoodsReceiptDocument(
            receipt_number=receipt_number,
            po_number=document.header("po_number", ""),
            received_date=document.header("received_date"),
            lines=[
                GoodsReceiptLineDocument(po_line_number=row.values["po_line_number"], quantity=row.values["quantity"])
                for row in document.rows
            ],
        )
        try:
            receipt = goods_receipt_create(tenant=self.tenant, document=receipt_document, actor=self.actor)
        except DuplicateDocument:
            existing = GoodsReceipt.objects.for_tenant(self.tenant).filter(receipt_number=receipt_number).first()
            if existing is None:
                raise
            return Duplicate(receipt_number, str(existing.pk))
        return Created(str(receipt.pk))
