"""An invoice as it arrives, normalized, before it is stored: what every source builds.

Amounts are still decimals in major units here; `invoices.services.invoice_create` turns them
into minor units of the invoice currency, refusing excess precision, the same way for every
source.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class InvoiceLineDocument:
    description: str
    quantity: Decimal
    unit_price: Decimal
    line_number: int | None = None
    sku: str = ""
    amount: Decimal | None = None  # None: quantity × unit price, rounded to the currency
    po_line_number: int | None = None
    # As the document states it (UN/ECE Rec. 20, "C62", "DAY"); no column yet, so it is kept in
    # the creation audit event with the rest of the document.
    unit_code: str = ""


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_number: str
    currency: str
    invoice_date: dt.date
    total_amount: Decimal
    lines: list[InvoiceLineDocument] = field(default_factory=list)
    vendor_id: uuid.UUID | None = None
    vendor_name: str = ""
    vendor_tax_id: str = ""
    po_number: str = ""
    due_date: dt.date | None = None
    tax_amount: Decimal = Decimal(0)
    shipping_amount: Decimal = Decimal(0)
    external_id: str = ""
    tax_rate: Decimal | None = None  # percent (19 for 19 %), when the document states one
    document_type: str = "invoice"  # invoices.models.DocumentType: "invoice" | "credit_note"
    credited_invoice_number: str = ""  # a credit note's reference to the invoice it credits
