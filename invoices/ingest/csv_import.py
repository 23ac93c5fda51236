"""The invoice kind of the CSV import (core.csv_reading reads the file), and the kinds a file may hold.

`invoices` (key: invoice_number + the vendor columns)
    header: invoice_number*, vendor_id | vendor_tax_id | vendor_name (at least one), po_number,
            currency*, invoice_date*, due_date, tax_amount, shipping_amount, total_amount*,
            prepaid_amount (EN 16931 BT-113, part of total_amount), external_id
    line:   line_number, sku, description*, quantity*, unit_price*, amount, po_line_number

(* required.) An invoice already stored (same vendor + invoice number + content,
invoices.ingest.invoice_already_present) is reported as a duplicate and skipped, so re-importing a
file is safe. An invoice reusing a stored number with other content is imported, for matching to
flag as `duplicate_invoice`. The purchase order and goods receipt kinds: purchasing.csv_import.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

from core.actors import Actor
from core.csv_cells import cell_date, cell_decimal, cell_text, cell_text_for, cell_uuid, cell_whole_number
from core.csv_reading import Column, Created, CsvDocument, CsvKind, Duplicate
from core.exceptions import DomainError
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice, InvoiceLine, InvoiceSource
from invoices.services import invoice_create_many
from purchasing.csv_import import GoodsReceiptsCsv, PurchaseOrdersCsv
from tenants.models import Tenant
from vendors.ingest import VENDOR_COLUMNS, VendorCache, vendor_columns_check


class InvoicesCsv(CsvKind):
    name = "invoices"
    label = "invoice"
    model_label = Invoice._meta.label_lower
    number_column = "invoice_number"
    columns = (
        Column("invoice_number", cell_text_for(Invoice, "invoice_number"), header=True, required=True),
        Column("vendor_id", cell_uuid, header=True),
        Column("vendor_tax_id", cell_text_for(Invoice, "vendor_tax_id_raw"), header=True),
        Column("vendor_name", cell_text_for(Invoice, "vendor_name_raw"), header=True),
        Column("po_number", cell_text_for(Invoice, "po_number"), header=True),
        Column("currency", cell_text(3), header=True, required=True),
        Column("invoice_date", cell_date, header=True, required=True),
        Column("due_date", cell_date, header=True),
        Column("tax_amount", cell_decimal, header=True),
        Column("shipping_amount", cell_decimal, header=True),
        Column("total_amount", cell_decimal, header=True, required=True),
        Column("prepaid_amount", cell_decimal, header=True),
        Column("external_id", cell_text_for(Invoice, "external_id"), header=True),
        Column("line_number", cell_whole_number, header=False),
        Column("sku", cell_text_for(InvoiceLine, "sku"), header=False),
        Column("description", cell_text_for(InvoiceLine, "description"), header=False, required=True),
        Column("quantity", cell_decimal, header=False, required=True),
        Column("unit_price", cell_decimal, header=False, required=True),
        Column("amount", cell_decimal, header=False),
        Column("po_line_number", cell_whole_number, header=False),
    )
    detail_columns = {"vendor": "vendor_name"}
    tenant: Tenant

    def __init__(self, *, tenant: Tenant, actor: Actor) -> None:
        super().__init__(tenant=tenant, actor=actor)
        self.vendors = VendorCache(tenant)

    def key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        # Two vendors may use the same invoice number; the vendor is part of what a document is.
        return tuple([values.get(name) or "" for name in _KEY_COLUMNS])

    def check_header(self, names: set[str]) -> list[str]:
        return vendor_columns_check(names=names)

    def writing(self) -> AbstractContextManager[None]:
        # Nothing held back: each batch's audit events are appended with its rows (an INSERT of
        # unsealed events takes no lock, core/locks.py), so memory holds one batch, not the file.
        return contextlib.nullcontext()

    # Documents are written together, a batch at a time (invoices.services.invoice_create_many):
    # a statement per table per batch instead of ~15 per invoice, memory bounded by the batch.
    batch_rows = 5000

    def create(self, document: CsvDocument) -> Created | Duplicate:
        [outcome] = self.create_many([document])
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def create_many(self, documents: list[CsvDocument]) -> list[Created | Duplicate | DomainError]:
        # Not all or nothing per batch: every document's problems are reported, and the file's
        # one transaction is rolled back whole when there is any (core.csv_reading).
        invoice_documents = [_invoice_document(document) for document in documents]
        stored = invoice_create_many(
            tenant=self.tenant,
            documents=invoice_documents,
            actor=self.actor,
            source=InvoiceSource.CSV,
            vendors=self.vendors,
            all_or_nothing=False,
            resends_skipped=True,
        )
        outcomes: list[Created | Duplicate | DomainError] = []
        for invoice_document, outcome in zip(invoice_documents, stored, strict=True):
            if isinstance(outcome, DomainError):
                outcomes.append(outcome)
            elif outcome.created:
                outcomes.append(Created(str(outcome.invoice.pk)))
            else:
                outcomes.append(Duplicate(invoice_document.invoice_number, str(outcome.invoice.pk)))
        return outcomes


_KEY_COLUMNS = (InvoicesCsv.number_column, *VENDOR_COLUMNS)


def _invoice_document(document: CsvDocument) -> InvoiceDocument:
    return InvoiceDocument(
        invoice_number=document.header("invoice_number", ""),
        currency=document.header("currency", ""),
        invoice_date=document.header("invoice_date"),
        total_amount=document.header("total_amount"),
        prepaid_amount=document.header("prepaid_amount", Decimal(0)),
        vendor_id=document.header("vendor_id"),
        vendor_name=document.header("vendor_name", ""),
        vendor_tax_id=document.header("vendor_tax_id", ""),
        po_number=document.header("po_number", ""),
        due_date=document.header("due_date"),
        tax_amount=document.header("tax_amount", Decimal(0)),
        shipping_amount=document.header("shipping_amount", Decimal(0)),
        external_id=document.header("external_id", ""),
        lines=[
            InvoiceLineDocument(
                description=row.values["description"],
                quantity=row.values["quantity"],
                unit_price=row.values["unit_price"],
                line_number=row.values.get("line_number"),
                sku=row.values.get("sku") or "",
                amount=row.values.get("amount"),
                po_line_number=row.values.get("po_line_number"),
            )
            for row in document.rows
        ],
    )


# Every kind a CSV file may hold, by the name the API's URL and `import_csv` give it.
KINDS: dict[str, type[CsvKind]] = {kind.name: kind for kind in (InvoicesCsv, PurchaseOrdersCsv, GoodsReceiptsCsv)}
KIND_ALIASES = {name.replace("-", "_"): name for name in KINDS}


def kind_named(name: str) -> str:
    """`"purchase_orders"` or `"purchase-orders"` → `"purchase-orders"`; `KeyError` if unknown."""
    normalized = name.strip().lower()
    return normalized if normalized in KINDS else KIND_ALIASES[normalized]
