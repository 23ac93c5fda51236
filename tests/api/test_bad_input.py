"""Bad input to every create endpoint: a 4xx error envelope, and the database unchanged.

Each case starts from a valid document (`test_valid_baseline_is_accepted` proves it is valid) and
breaks one thing, so the refusal can only come from that one thing.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from core.http.errors import TOO_MANY_FIELDS
from core.http.middleware import HEADER_HAS_NUL
from core.text import NUL_REFUSED
from invoices.models import InvoiceLine
from tenants.models import IdempotencyRecord, Tenant
from tests.factories import GoodsReceiptFactory, PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory
from vendors.models import Vendor

VENDORS = "/api/vendors"
PURCHASE_ORDERS = "/api/purchase-orders"
GOODS_RECEIPTS = "/api/goods-receipts"
INVOICES = "/api/invoices"
CREATE_ENDPOINTS = [VENDORS, PURCHASE_ORDERS, GOODS_RECEIPTS, INVOICES]
SQL_ISH = "1' OR '1'='1'; DROP TABLE invoices_invoice; --"


@dataclass(frozen=True)
class World:
    """What the baseline documents refer to: the tenant's vendor and PO, and a foreign tenant's."""

    vendor_id: str
    existing_tax_id: str
    existing_external_id: str
    existing_po_number: str
    existing_receipt_number: str
    foreign_vendor_id: str
    foreign_po_number: str


@pytest.fixture
def world(tenant: Tenant, other_tenant: Tenant) -> World:
    vendor = VendorFactory(tenant=tenant, tax_id="DE111222333", external_id="ERP-1")
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number="PO-EXIST")
    for number in (1, 2, 3):
        PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=number)
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-EXIST")
    foreign_vendor = VendorFactory(tenant=other_tenant, tax_id="FR999")
    foreign_po = PurchaseOrderFactory(tenant=other_tenant, vendor=foreign_vendor, po_number="PO-FOREIGN")
    PurchaseOrderLineFactory(purchase_order=foreign_po, line_number=1)
    return World(
        vendor_id=str(vendor.pk),
        existing_tax_id="DE111222333",
        existing_external_id="ERP-1",
        existing_po_number="PO-EXIST",
        existing_receipt_number="GR-EXIST",
        foreign_vendor_id=str(foreign_vendor.pk),
        foreign_po_number="PO-FOREIGN",
    )


def baseline(endpoint: str, world: World) -> dict[str, Any]:
    """A valid document for the endpoint; every case breaks exactly one thing in it."""
    if endpoint == VENDORS:
        return {"name": "Nova Parts GmbH", "tax_id": "DE555666777", "currency": "EUR", "external_id": "ERP-NEW"}
    if endpoint == PURCHASE_ORDERS:
        return {
            "po_number": "PO-NEW-1",
            "vendor_id": world.vendor_id,
            "currency": "EUR",
            "order_date": "2026-10-01",
            "lines": [
                {"line_number": number, "description": f"Part {number}", "quantity": "10", "unit_price": "2.50"}
                for number in (1, 2, 3)
            ],
        }
    if endpoint == GOODS_RECEIPTS:
        return {
            "receipt_number": "GR-NEW-1",
            "po_number": world.existing_po_number,
            "received_date": "2026-10-05",
            "lines": [{"po_line_number": number, "quantity": "5"} for number in (1, 2, 3)],
        }
    assert endpoint == INVOICES
    return {
        "invoice_number": "INV-NEW-1",
        "vendor_id": world.vendor_id,
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "75.00",
        "lines": [
            {"line_number": number, "description": f"Part {number}", "quantity": "10", "unit_price": "2.50"}
            for number in (1, 2, 3)
        ],
    }


Mutation = Callable[[dict[str, Any], World], Any]


def without(field: str) -> Mutation:
    def mutate(body: dict[str, Any], world: World) -> Any:
        body.pop(field)
        return body

    return mutate


def setting(path: str, value: Any) -> Mutation:
    """Set `lines.1.quantity`-style paths; a callable value is given the world."""

    def mutate(body: dict[str, Any], world: World) -> Any:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value(world) if callable(value) else value
        return body

    return mutate


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    mutate: Mutation
    status: int
    code: str
    detail_keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.endpoint.rsplit('/', 1)[-1]}-{self.name}"


CASES = [
    # --- vendors ---------------------------------------------------------------------------------
    Case(VENDORS, "missing-name", without("name"), 400, "validation_error", ("name",)),
    Case(VENDORS, "blank-name", setting("name", "   "), 400, "validation_error", ("name",)),
    Case(VENDORS, "punctuation-only-name", setting("name", ",.;"), 400, "validation_error", ("name",)),
    Case(VENDORS, "name-is-a-list", setting("name", ["Nova"]), 400, "validation_error", ("name",)),
    Case(VENDORS, "tax-id-is-an-object", setting("tax_id", {"id": 1}), 400, "validation_error", ("tax_id",)),
    Case(VENDORS, "invalid-currency", setting("currency", "XYZ"), 400, "validation_error", ("currency",)),
    Case(VENDORS, "currency-too-long", setting("currency", "EURO"), 400, "validation_error", ("currency",)),
    Case(VENDORS, "duplicate-tax-id", setting("tax_id", "de 111-222-333"), 409, "duplicate"),
    Case(VENDORS, "duplicate-external-id", setting("external_id", "ERP-1"), 409, "duplicate"),
    Case(VENDORS, "body-is-a-list", lambda body, world: [body], 400, "validation_error", ("non_field_errors",)),
    # --- purchase orders -------------------------------------------------------------------------
    *(
        Case(PURCHASE_ORDERS, f"missing-{field}", without(field), 400, "validation_error", (field,))
        for field in ("po_number", "vendor_id", "currency", "order_date", "lines")
    ),
    Case(PURCHASE_ORDERS, "no-lines", setting("lines", []), 400, "validation_error", ("lines",)),
    Case(PURCHASE_ORDERS, "lines-not-a-list", setting("lines", "many"), 400, "validation_error", ("lines",)),
    Case(PURCHASE_ORDERS, "vendor-id-not-uuid", setting("vendor_id", "acme"), 400, "validation_error", ("vendor_id",)),
    Case(
        PURCHASE_ORDERS, "date-not-a-date", setting("order_date", "yesterday"), 400, "validation_error", ("order_date",)
    ),
    Case(
        PURCHASE_ORDERS,
        "quantity-not-a-number",
        setting("lines.1.quantity", "ten"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "quantity-is-bool",
        setting("lines.1.quantity", True),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "line-number-not-int",
        setting("lines.0.line_number", "one"),
        400,
        "validation_error",
        ("lines[0].line_number",),
    ),
    Case(
        PURCHASE_ORDERS,
        "negative-quantity",
        setting("lines.1.quantity", "-1"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "zero-quantity",
        setting("lines.1.quantity", "0"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "negative-unit-price",
        setting("lines.2.unit_price", "-0.01"),
        400,
        "validation_error",
        ("lines[2].unit_price",),
    ),
    Case(
        PURCHASE_ORDERS,
        "quantity-excess-precision",
        setting("lines.1.quantity", "1.00001"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "unit-price-excess-precision",
        setting("lines.1.unit_price", "0.1234567"),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        PURCHASE_ORDERS,
        "quantity-too-large",
        setting("lines.1.quantity", "1E+20"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "repeated-line-number",
        setting("lines.2.line_number", 1),
        400,
        "validation_error",
        ("lines[2].line_number",),
    ),
    Case(PURCHASE_ORDERS, "invalid-currency", setting("currency", "XYZ"), 400, "validation_error", ("currency",)),
    Case(
        PURCHASE_ORDERS,
        "foreign-vendor",
        setting("vendor_id", lambda world: world.foreign_vendor_id),
        400,
        "validation_error",
        ("vendor_id",),
    ),
    Case(
        PURCHASE_ORDERS,
        "random-vendor",
        setting("vendor_id", str(uuid.uuid4())),
        400,
        "validation_error",
        ("vendor_id",),
    ),
    Case(PURCHASE_ORDERS, "duplicate-po-number", setting("po_number", "PO-EXIST"), 409, "duplicate"),
    Case(PURCHASE_ORDERS, "duplicate-po-number-padded", setting("po_number", "  PO-EXIST "), 409, "duplicate"),
    Case(
        PURCHASE_ORDERS,
        "bad-line-among-good",
        setting("lines.1", {"line_number": 2, "quantity": "1"}),
        400,
        "validation_error",
        ("lines[1].description", "lines[1].unit_price"),
    ),
    # --- goods receipts --------------------------------------------------------------------------
    *(
        Case(GOODS_RECEIPTS, f"missing-{field}", without(field), 400, "validation_error", (field,))
        for field in ("receipt_number", "po_number", "received_date", "lines")
    ),
    Case(GOODS_RECEIPTS, "no-lines", setting("lines", []), 400, "validation_error", ("lines",)),
    Case(
        GOODS_RECEIPTS,
        "date-not-a-date",
        setting("received_date", "tomorrow"),
        400,
        "validation_error",
        ("received_date",),
    ),
    Case(
        GOODS_RECEIPTS,
        "po-line-not-int",
        setting("lines.1.po_line_number", "two"),
        400,
        "validation_error",
        ("lines[1].po_line_number",),
    ),
    Case(
        GOODS_RECEIPTS,
        "quantity-not-a-number",
        setting("lines.1.quantity", "many"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        GOODS_RECEIPTS,
        "negative-quantity",
        setting("lines.1.quantity", "-2"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        GOODS_RECEIPTS,
        "quantity-excess-precision",
        setting("lines.1.quantity", "0.00001"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(GOODS_RECEIPTS, "unknown-po", setting("po_number", "PO-NOPE"), 400, "validation_error", ("po_number",)),
    Case(
        GOODS_RECEIPTS,
        "foreign-po",
        setting("po_number", lambda world: world.foreign_po_number),
        400,
        "validation_error",
        ("po_number",),
    ),
    Case(
        GOODS_RECEIPTS,
        "unknown-po-line",
        setting("lines.1.po_line_number", 99),
        400,
        "validation_error",
        ("lines[1].po_line_number",),
    ),
    Case(
        GOODS_RECEIPTS,
        "repeated-po-line",
        setting("lines.2.po_line_number", 1),
        400,
        "validation_error",
        ("lines[2].po_line_number",),
    ),
    Case(GOODS_RECEIPTS, "duplicate-receipt-number", setting("receipt_number", "GR-EXIST"), 409, "duplicate"),
    Case(
        GOODS_RECEIPTS,
        "bad-line-among-good",
        setting("lines.1", {"po_line_number": 2}),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    # --- invoices --------------------------------------------------------------------------------
    *(
        Case(INVOICES, f"missing-{field}", without(field), 400, "validation_error", (field,))
        for field in ("invoice_number", "currency", "invoice_date", "total_amount", "lines")
    ),
    Case(INVOICES, "no-vendor-at-all", without("vendor_id"), 400, "validation_error", ("vendor",)),
    Case(INVOICES, "no-lines", setting("lines", []), 400, "validation_error", ("lines",)),
    Case(INVOICES, "vendor-id-not-uuid", setting("vendor_id", "acme"), 400, "validation_error", ("vendor_id",)),
    Case(
        INVOICES,
        "date-not-a-date",
        setting("invoice_date", "10/10/2026"),
        400,
        "validation_error",
        ("invoice_date",),
    ),
    Case(INVOICES, "total-not-a-number", setting("total_amount", "twelve"), 400, "validation_error", ("total_amount",)),
    Case(INVOICES, "total-is-an-object", setting("total_amount", {"v": 1}), 400, "validation_error", ("total_amount",)),
    Case(
        INVOICES,
        "unit-price-not-a-number",
        setting("lines.1.unit_price", "cheap"),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        INVOICES,
        "negative-quantity",
        setting("lines.1.quantity", "-3"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(INVOICES, "negative-total", setting("total_amount", "-75.00"), 400, "validation_error", ("total_amount",)),
    Case(INVOICES, "negative-tax", setting("tax_amount", "-1.00"), 400, "validation_error", ("tax_amount",)),
    Case(
        INVOICES,
        "negative-line-amount",
        setting("lines.1.amount", "-25.00"),
        400,
        "validation_error",
        ("lines[1].amount",),
    ),
    Case(
        INVOICES,
        "foreign-vendor",
        setting("vendor_id", lambda world: world.foreign_vendor_id),
        400,
        "validation_error",
        ("vendor_id",),
    ),
    Case(INVOICES, "random-vendor", setting("vendor_id", str(uuid.uuid4())), 400, "validation_error", ("vendor_id",)),
    Case(INVOICES, "invalid-currency", setting("currency", "XYZ"), 400, "validation_error", ("currency",)),
    Case(
        INVOICES,
        "total-excess-precision-eur",
        setting("total_amount", "75.005"),
        400,
        "validation_error",
        ("total_amount",),
    ),
    Case(
        INVOICES,
        "total-excess-precision-json-number",
        setting("total_amount", 75.001),
        400,
        "validation_error",
        ("total_amount",),
    ),
    Case(
        INVOICES,
        "tax-excess-precision-eur",
        setting("tax_amount", "0.001"),
        400,
        "validation_error",
        ("tax_amount",),
    ),
    Case(
        INVOICES,
        "line-amount-excess-precision",
        setting("lines.1.amount", "25.001"),
        400,
        "validation_error",
        ("lines[1].amount",),
    ),
    Case(
        INVOICES,
        "quantity-excess-precision",
        setting("lines.1.quantity", "1.00001"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        INVOICES,
        "unit-price-excess-precision",
        setting("lines.1.unit_price", "2.5000001"),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        INVOICES,
        "invoice-number-without-alnum",
        setting("invoice_number", "--/--"),
        400,
        "validation_error",
        ("invoice_number",),
    ),
    Case(
        INVOICES,
        "repeated-line-number",
        setting("lines.2.line_number", 1),
        400,
        "validation_error",
        ("lines[2].line_number",),
    ),
    Case(
        INVOICES,
        "bad-line-among-good",
        setting("lines.1", {"description": "Part 2", "quantity": "x", "unit_price": "1"}),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        INVOICES,
        "total-beyond-bigint",
        setting("total_amount", "92233720368547758.08"),
        400,
        "validation_error",
        ("total_amount",),
    ),
    Case(
        INVOICES,
        "computed-line-amount-beyond-bigint",
        setting("lines.1", {"description": "Huge", "quantity": "99999999999999", "unit_price": "999999999999"}),
        400,
        "validation_error",
        ("lines[1].amount",),
    ),
    Case(
        INVOICES,
        "computed-line-amount-36-digits",
        setting(
            "lines.1", {"description": "Huge", "quantity": "99999999999999.9999", "unit_price": "999999999999.999999"}
        ),
        400,
        "validation_error",
        ("lines[1].amount",),
    ),
    Case(
        INVOICES,
        "subtotal-beyond-bigint",
        lambda body, world: {
            **body,
            "lines": [
                {"description": f"Big {n}", "quantity": "1", "unit_price": "1", "amount": "90000000000000000.00"}
                for n in (1, 2)
            ],
        },
        400,
        "validation_error",
        ("lines",),
    ),
]

# The catalogue of issue #8, item by item, on top of the cases above (which already cover
# negative amounts, excess precision, invalid currencies and amounts past bigint).
NUL = "\x00"  # PostgreSQL cannot store it in text: refused at the door, never a 500 from the driver
CATALOGUE_CASES = [
    # --- NUL in names and numbers ------------------------------------------------------------------
    Case(VENDORS, "nul-in-name", setting("name", f"Nova{NUL}Parts"), 400, "validation_error", ("name",)),
    Case(VENDORS, "nul-in-tax-id", setting("tax_id", f"DE{NUL}1"), 400, "validation_error", ("tax_id",)),
    Case(
        PURCHASE_ORDERS, "nul-in-po-number", setting("po_number", f"PO{NUL}1"), 400, "validation_error", ("po_number",)
    ),
    Case(
        PURCHASE_ORDERS,
        "nul-in-line-description",
        setting("lines.0.description", f"Part{NUL}"),
        400,
        "validation_error",
        ("lines[0].description",),
    ),
    Case(
        GOODS_RECEIPTS,
        "nul-in-receipt-number",
        setting("receipt_number", f"GR{NUL}1"),
        400,
        "validation_error",
        ("receipt_number",),
    ),
    Case(
        INVOICES,
        "nul-in-invoice-number",
        setting("invoice_number", f"INV{NUL}1"),
        400,
        "validation_error",
        ("invoice_number",),
    ),
    Case(
        INVOICES, "nul-in-vendor-name", setting("vendor_name", f"Nova{NUL}"), 400, "validation_error", ("vendor_name",)
    ),
    Case(INVOICES, "nul-in-amount", setting("total_amount", f"75{NUL}.00"), 400, "validation_error", ("total_amount",)),
    # --- NUL anywhere in the JSON, not only in text fields: the parser refuses it by path ------------
    Case(VENDORS, "nul-in-an-ignored-field", setting("notes", f"x{NUL}"), 400, "validation_error", ("notes",)),
    Case(INVOICES, "nul-in-a-key", setting(f"note{NUL}", 1), 400, "validation_error", ("note\\u0000",)),
    Case(INVOICES, "nul-in-vendor-id", setting("vendor_id", NUL), 400, "validation_error", ("vendor_id",)),
    Case(
        INVOICES,
        "nul-in-document-type",
        setting("document_type", f"invoice{NUL}"),
        400,
        "validation_error",
        ("document_type",),
    ),
    Case(
        PURCHASE_ORDERS,
        "nul-in-a-date",
        setting("expected_date", f"2026-10-01{NUL}"),
        400,
        "validation_error",
        ("expected_date",),
    ),
    Case(
        GOODS_RECEIPTS,
        "nul-in-an-ignored-line-field",
        setting("lines.1.note", NUL),
        400,
        "validation_error",
        ("lines[1].note",),
    ),
    # --- Unicode in numbers: Python's Decimal() and int() would read "١٢٣" as 123 ---------------------
    *(
        Case(INVOICES, f"total-{name}", setting("total_amount", value), 400, "validation_error", ("total_amount",))
        for name, value in [
            ("rtl-override", "1\u202e00"),
            ("arabic-indic-digits", "\u0661\u0662\u0663"),
            ("full-width-digits", "\uff17\uff15.\uff10\uff10"),
            ("emoji", "75.00\U0001f680"),
            ("only-emoji", "\U0001f4b0"),
        ]
    ),
    Case(
        INVOICES,
        "quantity-arabic-indic-digits",
        setting("lines.1.quantity", "\u0661\u0660"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        INVOICES,
        "unit-price-rtl-override",
        setting("lines.1.unit_price", "\u202e2.50"),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        INVOICES,
        "line-number-arabic-indic-digit",
        setting("lines.1.line_number", "\u0662"),
        400,
        "validation_error",
        ("lines[1].line_number",),
    ),
    Case(
        PURCHASE_ORDERS,
        "quantity-arabic-indic-digits",
        setting("lines.1.quantity", "\u0661\u0660"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        PURCHASE_ORDERS,
        "line-number-full-width-digit",
        setting("lines.1.line_number", "\uff12"),
        400,
        "validation_error",
        ("lines[1].line_number",),
    ),
    Case(
        GOODS_RECEIPTS,
        "quantity-emoji",
        setting("lines.1.quantity", "5\U0001f4e6"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        GOODS_RECEIPTS,
        "po-line-number-arabic-indic-digit",
        setting("lines.1.po_line_number", "\u0662"),
        400,
        "validation_error",
        ("lines[1].po_line_number",),
    ),
    # --- zero and huge amounts (a zero amount is valid: amounts are >= 0, quantities > 0) --------------
    Case(INVOICES, "zero-quantity", setting("lines.1.quantity", "0"), 400, "validation_error", ("lines[1].quantity",)),
    Case(
        GOODS_RECEIPTS,
        "zero-quantity",
        setting("lines.1.quantity", "0"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        INVOICES,
        "total-huge-exponent",
        setting("total_amount", "1E+999999"),
        400,
        "validation_error",
        ("total_amount",),
    ),
    Case(
        INVOICES,
        "tax-beyond-bigint",
        setting("tax_amount", "92233720368547758.08"),
        400,
        "validation_error",
        ("tax_amount",),
    ),
    Case(
        INVOICES,
        "quantity-huge-exponent",
        setting("lines.1.quantity", "1E+999999"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    Case(
        INVOICES,
        "unit-price-60-digits",
        setting("lines.1.unit_price", "9" * 60),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        INVOICES,
        "line-number-beyond-int",
        setting("lines.1.line_number", 2**70),
        400,
        "validation_error",
        ("lines[1].line_number",),
    ),
    Case(
        PURCHASE_ORDERS,
        "unit-price-60-digits",
        setting("lines.1.unit_price", "9" * 60),
        400,
        "validation_error",
        ("lines[1].unit_price",),
    ),
    Case(
        GOODS_RECEIPTS,
        "quantity-huge-exponent",
        setting("lines.1.quantity", "1E+999999"),
        400,
        "validation_error",
        ("lines[1].quantity",),
    ),
    # --- dates out of range: year 0, year 10000, a day February does not have ------------------------
    *(
        Case(endpoint, f"{field}-{name}", setting(field, value), 400, "validation_error", (field,))
        for endpoint, field in [
            (INVOICES, "invoice_date"),
            (INVOICES, "due_date"),
            (PURCHASE_ORDERS, "order_date"),
            (PURCHASE_ORDERS, "expected_date"),
            (GOODS_RECEIPTS, "received_date"),
        ]
        for name, value in [
            ("year-0", "0000-01-01"),
            ("year-10000", "10000-01-01"),
            ("february-30", "2026-02-30"),
            # Real dates, but outside the business range (core.business_dates): 9999-12-31
            # once made the cash forecast overflow for the whole tenant.
            ("year-9999", "9999-12-31"),
            ("year-2200", "2200-01-01"),
            ("year-1899", "1899-12-31"),
        ]
    ),
    # --- invalid currencies -------------------------------------------------------------------------
    *(
        Case(endpoint, f"currency-{name}", setting("currency", value), 400, "validation_error", ("currency",))
        for endpoint in (VENDORS, PURCHASE_ORDERS, INVOICES)
        for name, value in [("symbol", "\u20ac"), ("full-width", "\uff25\uff35\uff32"), ("numeric-code", 978)]
    ),
    Case(INVOICES, "currency-blank", setting("currency", ""), 400, "validation_error", ("currency",)),
    # --- SQL-ish strings where an id or a code is expected (as text they are stored: see below) -------
    *(
        Case(endpoint, f"sql-in-{field}", setting(field, SQL_ISH), 400, "validation_error", (field,))
        for endpoint, field in [
            (INVOICES, "vendor_id"),
            (PURCHASE_ORDERS, "vendor_id"),
            (GOODS_RECEIPTS, "po_number"),
            (INVOICES, "currency"),
        ]
    ),
]

JPY_AND_BHD_CASES = [
    ("JPY", "total_amount", "1.5"),
    ("JPY", "tax_amount", "0.1"),
    ("BHD", "total_amount", "0.0001"),
    ("BHD", "shipping_amount", "1.2345"),
]


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def send(client: APIClient, endpoint: str, body: Any, **headers: str) -> Any:
    return client.post(endpoint, data=json.dumps(body, default=str), content_type="application/json", headers=headers)


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_valid_baseline_is_accepted(endpoint: str, world: World, api: APIClient, document_counts: Any) -> None:
    """The document every case breaks is itself valid, so each refusal below has exactly one cause."""
    before = document_counts()
    response = send(api, endpoint, baseline(endpoint, world))
    assert response.status_code == 201, response.content
    assert document_counts() != before


@pytest.mark.parametrize("case", CASES + CATALOGUE_CASES, ids=str)
def test_bad_input_is_refused_with_an_envelope_and_changes_nothing(
    case: Case, world: World, api: APIClient, document_counts: Any
) -> None:
    """Each broken document is a 4xx envelope naming the field, and no table grew."""
    body = case.mutate(copy.deepcopy(baseline(case.endpoint, world)), world)
    before = document_counts()

    response = send(api, case.endpoint, body)

    error = assert_envelope(response, case.status, case.code)
    if case.code == "validation_error":
        for key in case.detail_keys:
            assert key in error["details"], (key, error["details"])
        for messages in error["details"].values():
            assert messages and all(isinstance(message, str) and message for message in messages)
    assert document_counts() == before


@pytest.mark.parametrize(("currency", "field", "amount"), JPY_AND_BHD_CASES)
def test_amount_with_more_decimals_than_the_currency_is_refused(
    currency: str, field: str, amount: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """JPY has no decimals and BHD three: one more digit is a 400 on that field, not a rounded amount."""
    body = {**baseline(INVOICES, world), "currency": currency, "total_amount": "75", field: amount}
    before = document_counts()
    error = assert_envelope(send(api, INVOICES, body), 400, "validation_error")
    assert field in error["details"]
    assert document_counts() == before


@pytest.mark.parametrize(
    ("endpoint", "field"),
    [(PURCHASE_ORDERS, "vendor_id"), (INVOICES, "vendor_id"), (GOODS_RECEIPTS, "po_number")],
)
def test_another_tenants_reference_is_indistinguishable_from_a_missing_one(
    endpoint: str, field: str, world: World, api: APIClient
) -> None:
    """Naming another tenant's vendor or PO gets the very answer a random id gets: no existence oracle."""
    foreign = world.foreign_po_number if field == "po_number" else world.foreign_vendor_id
    missing = "PO-DOES-NOT-EXIST" if field == "po_number" else str(uuid.uuid4())
    foreign_error = send(api, endpoint, {**baseline(endpoint, world), field: foreign}).json()["error"]
    missing_error = send(api, endpoint, {**baseline(endpoint, world), field: missing}).json()["error"]
    assert foreign_error["code"] == missing_error["code"] == "validation_error"
    assert foreign_error["details"][field] == [m.replace(missing, foreign) for m in missing_error["details"][field]]


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b'{"name": ', b"{'single': 'quotes'}", b"not json", b'{"total_amount": NaN}', b"[" * 100 + b"]" * 100],
    ids=["truncated", "single-quotes", "plain-text", "nan-constant", "too-deep"],
)
def test_malformed_json_is_a_400_envelope(endpoint: str, raw: bytes, api: APIClient, document_counts: Any) -> None:
    """Unparseable JSON is `malformed_request`, never a 500 or an HTML page."""
    before = document_counts()
    response = api.post(endpoint, data=raw, content_type="application/json")
    assert_envelope(response, 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("charset", ["bz2_codec", "rot13", "zlib_codec"])
def test_a_charset_that_is_not_a_text_encoding_is_a_400(
    endpoint: str, charset: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """`charset=bz2_codec` would make the body a decompression bomb; it is refused as malformed, not a 500."""
    before = document_counts()
    response = api.post(
        endpoint,
        data=json.dumps(baseline(endpoint, world)).encode(),
        content_type=f"application/json; charset={charset}",
    )
    assert_envelope(response, 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_wrong_content_type_is_a_415_envelope(
    endpoint: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """Only JSON is accepted; a form post is refused, not half-parsed."""
    before = document_counts()
    response = api.post(endpoint, data="name=Nova", content_type="application/x-www-form-urlencoded")
    assert_envelope(response, 415, "unsupported_media_type")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("idempotency_key", [None, "big-body"], ids=["no-key", "with-key"])
def test_oversized_body_is_a_413_envelope(
    endpoint: str, idempotency_key: str | None, world: World, api: APIClient, tenant: Tenant, document_counts: Any
) -> None:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused whole, even if it is an otherwise valid document."""
    # An unknown field is ignored by the serializers: only the size can be the reason for refusal.
    body = {**baseline(endpoint, world), "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    before = document_counts()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    response = send(api, endpoint, body, **headers)
    assert_envelope(response, 413, "payload_too_large")
    assert document_counts() == before
    assert not IdempotencyRecord.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_a_10_mb_body_is_a_413_envelope(endpoint: str, world: World, api: APIClient, document_counts: Any) -> None:
    """The catalogue's 10 MB body: refused before it is parsed, whatever the limit is set to below it."""
    body = {**baseline(endpoint, world), "padding": "x" * (10 * 1024 * 1024)}
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 10 * 1024 * 1024
    before = document_counts()
    assert_envelope(send(api, endpoint, body), 413, "payload_too_large")
    assert document_counts() == before


def _nested(depth: int) -> Any:
    node: Any = "x"
    for _ in range(depth):
        node = {"a": node}
    return node


@pytest.mark.parametrize(
    ("endpoint", "raw"),
    [
        # Deeper than Python's recursion limit: json.loads raises RecursionError, not a 500.
        (VENDORS, b"[" * 100_000 + b"]" * 100_000),
        (INVOICES, b'{"lines": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"),
        # Parsed fine, but past MAX_JSON_DEPTH inside an otherwise valid document's field.
        (VENDORS, json.dumps({"name": "Nova", "tax_id": _nested(40)}).encode()),
        # An integer of 5,000 digits: past Python's int-from-string limit, a parse error.
        (INVOICES, b'{"total_amount": ' + b"9" * 5000 + b"}"),
    ],
    ids=["100k-arrays", "50k-objects-in-a-field", "40-levels-in-a-field", "5000-digit-integer"],
)
def test_deeply_nested_or_monstrous_json_is_a_400(
    endpoint: str, raw: bytes, api: APIClient, document_counts: Any
) -> None:
    before = document_counts()
    assert_envelope(api.post(endpoint, data=raw, content_type="application/json"), 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize(
    ("field", "number"), [("total_amount", "1e999999"), ("total_amount", "1e-999999"), ("tax_amount", "1e400")]
)
def test_a_huge_json_number_is_a_400_on_its_field(
    field: str, number: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """A JSON number (not a string) far past any amount: parsed as a Decimal, refused by range, no 500."""
    body = {**baseline(INVOICES, world), field: "__NUMBER__"}
    raw = json.dumps(body).replace('"__NUMBER__"', number).encode()
    before = document_counts()
    error = assert_envelope(api.post(INVOICES, data=raw, content_type="application/json"), 400, "validation_error")
    assert field in error["details"]
    assert document_counts() == before


# Text is stored as received and comes back byte for byte: bidi controls, emoji (with skin tones
# and zero-width joiners), SQL and spreadsheet formulas are data, not instructions. CSV exports
# escape the formulas (core/csv_safe.py); the API returns them as they are.
EXACT_TEXT = {
    "rtl-override": "Nova \u202eStrap\u202c GmbH",
    "bidi-isolates": "\u2067\u05e9\u05dc\u05d5\u05dd\u2069 Trading",
    "emoji": "Nova \U0001f680 Parts \U0001f469\U0001f3fd\u200d\U0001f527",
    "combining": "Cafe\u0301 Zu\u0308rich",
    "sql": "Robert'); DROP TABLE vendors_vendor; --",
    "formula-cmd": "=cmd|' /C calc'!A0",
    "formula-plus": "+SUM(A1:A9)",
    "formula-minus": "-2+3+cmd|' /C calc'!A0",
    "formula-at": '@HYPERLINK("http://evil.example","x")',
}


@pytest.mark.parametrize("text", EXACT_TEXT.values(), ids=EXACT_TEXT.keys())
def test_names_with_bidi_emoji_sql_or_formulas_are_stored_exactly(
    text: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """Accepted (201), read back unchanged through the API and from the database, one row each."""
    before = document_counts()
    vendor = send(api, VENDORS, {**baseline(VENDORS, world), "name": text})
    assert vendor.status_code == 201, vendor.content
    invoice_body = baseline(INVOICES, world)
    invoice_body.update(vendor_id=vendor.json()["id"], invoice_number=f"INV-{text}")
    invoice_body["lines"][0]["description"] = text
    invoice = send(api, INVOICES, invoice_body)
    assert invoice.status_code == 201, invoice.content

    read_vendor = api.get(f"{VENDORS}/{vendor.json()['id']}").json()
    read_invoice = api.get(f"{INVOICES}/{invoice.json()['id']}").json()
    assert read_vendor["name"] == text
    assert read_invoice["invoice_number"] == f"INV-{text}"
    assert read_invoice["lines"][0]["description"] == text
    assert Vendor.objects.unscoped().get(pk=vendor.json()["id"]).name == text
    assert InvoiceLine.objects.unscoped().get(pk=read_invoice["lines"][0]["id"]).description == text
    # A filter is a literal match too: the SQL-ish name finds its vendor and nothing else.
    found = api.get(VENDORS, {"name": text}).json()["results"]
    assert [row["id"] for row in found] == [vendor.json()["id"]]
    after = document_counts()
    assert after == {**before, "Vendor": before["Vendor"] + 1, "Invoice": before["Invoice"] + 1, "InvoiceLine": 3}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"vendor_id": SQL_ISH}, "vendor_id"),
        ({"status": SQL_ISH}, "status"),
        ({"review_queue": SQL_ISH}, "review_queue"),
        ({"invoice_date_from": SQL_ISH}, "invoice_date_from"),
        ({"created_to": SQL_ISH}, "created_to"),
        ({"cursor": SQL_ISH}, "cursor"),
        ({"invoice_date_from": "10000-01-01"}, "invoice_date_from"),
        ({"invoice_date_to": "2026-02-30"}, "invoice_date_to"),
        ({"invoice_number": NUL}, "invoice_number"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else value,
)
def test_a_bad_filter_is_a_400_naming_it(
    query: dict[str, str], field: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """A typed filter (id, choice, date, cursor) given SQL, a date out of range or a NUL: a 400, no query run."""
    before = document_counts()
    error = assert_envelope(api.get(INVOICES, query), 400, "validation_error")
    assert field in error["details"]
    assert document_counts() == before


@pytest.mark.parametrize("amount", ["\u0661\u0662", "\uff11\uff12", "12\U0001f4b0", SQL_ISH], ids=repr)
def test_an_amount_filter_in_other_than_ascii_digits_is_a_400(amount: str, api: APIClient) -> None:
    """`?amount=١٢` would otherwise be read as 12 by Decimal() (core.money.parse_decimal)."""
    error = assert_envelope(api.get("/api/payments", {"amount": amount, "currency": "EUR"}), 400, "validation_error")
    assert "amount" in error["details"]


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [
        (INVOICES, {"invoice_number": SQL_ISH}),
        (INVOICES, {"po_number": SQL_ISH}),
        (VENDORS, {"name": SQL_ISH}),
        (VENDORS, {"tax_id": "' OR 1=1 --"}),
        ("/api/audit-events", {"entity_id": SQL_ISH}),
    ],
    ids=lambda value: value.rsplit("/", 1)[-1] if isinstance(value, str) else "-".join(value),
)
def test_a_sql_ish_text_filter_is_a_literal_that_matches_nothing(
    endpoint: str, query: dict[str, str], world: World, api: APIClient, document_counts: Any
) -> None:
    """Free-text filters compare the string as data: an empty page, not every row, and no table dropped."""
    assert send(api, INVOICES, baseline(INVOICES, world)).status_code == 201
    assert api.get(endpoint).json()["results"], "the tenant has rows a `' OR 1=1` would reveal (non-vacuous)"
    before = document_counts()
    response = api.get(endpoint, query)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_nul_anywhere_in_a_json_body_is_a_400_naming_each_path(
    endpoint: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """PostgreSQL stores U+0000 in neither text nor jsonb: every place it occurs is named, nothing runs."""
    body = baseline(endpoint, world)
    body["comment"] = f"see{NUL}attached"  # a field no serializer reads
    body[f"x{NUL}"] = "a key"
    if "lines" in body:
        body["lines"][1]["remark"] = ["fine", NUL]
    expected = {"comment", "x\\u0000"} | ({"lines[1].remark[1]"} if "lines" in body else set())
    before = document_counts()
    error = assert_envelope(send(api, endpoint, body), 400, "validation_error")
    assert error["details"] == {key: [NUL_REFUSED] for key in expected}
    assert document_counts() == before


@pytest.mark.parametrize(
    ("method", "path", "header"),
    [
        ("post", INVOICES, "Idempotency-Key"),
        ("get", VENDORS, "User-Agent"),
        ("post", "/api/webhook-handler/{tenant_id}", "Webhook-Id"),
        ("get", "/", "Accept-Language"),
    ],
)
def test_nul_in_a_request_header_is_a_400_naming_it_and_nothing_is_written(
    method: str, path: str, header: str, world: World, api: APIClient, tenant: Tenant, document_counts: Any
) -> None:
    """A server that passes control characters on (runserver) once let a NUL key reach a query: a 500."""
    api.raise_request_exception = False
    before = document_counts()
    meta = {"HTTP_" + header.upper().replace("-", "_"): f"key{NUL}1"}
    response = getattr(api, method)(path.format(tenant_id=tenant.pk), baseline(INVOICES, world), format="json", **meta)
    error = assert_envelope(response, 400, "malformed_request")
    assert error["message"] == HEADER_HAS_NUL.format(name=header)
    assert error["details"] == {header: [NUL_REFUSED]}
    assert document_counts() == before


def test_a_cookie_holding_a_nul_is_ignored_not_a_500(tenant: Tenant) -> None:
    """`"…\\000…"` in a quoted cookie is plain ASCII on the wire (gunicorn lets it through) and a NUL
    once read: the session lookup failed in PostgreSQL on every page. Now the cookie is not there."""
    client = Client(raise_request_exception=False)
    cookie = 'sessionid="abcdefgh\\000ijklmnop"; csrftoken="abc\\000"'
    assert client.get("/", HTTP_COOKIE=cookie).status_code == 302  # to the sign-in page
    assert client.get(VENDORS, HTTP_COOKIE=cookie).status_code == 401


def test_more_query_parameters_than_django_reads_is_a_400_that_says_so(api: APIClient) -> None:
    """Django stops at DATA_UPLOAD_MAX_NUMBER_FIELDS; the answer said only "could not be understood"."""
    query = "&".join(["status=approved"] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    error = assert_envelope(api.get(f"{INVOICES}?{query}"), 400, "bad_request")
    assert error["message"] == TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
