"""Purchase orders and goods receipts as they arrive, normalized, before they are stored.

Every source (API, CSV, ERP connectors) builds these and hands them to `purchasing.services`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class PurchaseOrderLineDocument:
    line_number: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    sku: str = ""
    uom: str = "EA"
    cost_centre: str = ""


@dataclass(frozen=True)
class PurchaseOrderDocument:
    po_number: str
    vendor_id: uuid.UUID
    currency: str
    order_date: dt.date
    lines: list[PurchaseOrderLineDocument] = field(default_factory=list)
    expected_date: dt.date | None = None


@dataclass(frozen=True)
class GoodsReceiptLineDocument:
    po_line_number: int
    quantity: Decimal


@dataclass(frozen=True)
class GoodsReceiptDocument:
    receipt_number: str
    po_number: str
    received_date: dt.date
    lines: list[GoodsReceiptLineDocument] = field(default_factory=list)
