"""Bad input to every create endpoint: a 4xx error envelope, and the database unchanged.

Each case starts from a valid document (`test_valid_baseline_is_accepted` proves it is valid) and
breaks one thing, so the refusal can only come from that one thing.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.bad_input import (
    CREATE_ENDPOINTS,
    GOODS_RECEIPTS,
    INVOICES,
    NUL,
    PURCHASE_ORDERS,
    SQL_ISH,
    VENDORS,
    Case,
    World,
    assert_envelope,
    baseline,
    send,
    setting,
    without,
)

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
