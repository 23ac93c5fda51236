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
from rest_framework.test import APIClient

from tenants.models import IdempotencyRecord, Tenant
from tests.factories import GoodsReceiptFactory, PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory

VENDORS = "/api/vendors"
PURCHASE_ORDERS = "/api/purchase-orders"
GOODS_RECEIPTS = "/api/goods-receipts"
INVOICES = "/api/invoices"
CREATE_ENDPOINTS = [VENDORS, PURCHASE_ORDERS, GOODS_RECEIPTS, INVOICES]


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


@pytest.mark.parametrize("case", CASES, ids=str)
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
