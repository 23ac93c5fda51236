"""Business dates stay inside 1900-01-01 … 2199-12-31 at every door (core.business_dates).

One approved invoice dated 9999-12-31 without a due date once took `GET /api/cash/forecast` and
the dashboard down for every user of its tenant (`date + 30 days` overflowed). Such a date is
now a 400 naming its field wherever a document comes in: the JSON API, the three CSV imports,
statement files, signed webhooks, UBL e-invoices and the services themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from core.actors import system_actor
from core.business_dates import (
    BUSINESS_DATE_MAX,
    BUSINESS_DATE_MIN,
    BUSINESS_DATE_PATTERN,
    DATE_OUT_OF_RANGE,
    business_date_error,
)
from core.exceptions import DocumentInvalid
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice, InvoiceStatus
from invoices.services import invoice_create
from matching.models import MatchRun
from matching.services import matching_run_for_tenant
from payments.models import Payment
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.models import PurchaseOrder
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import Tenant
from tenants.services import webhook_secret_rotate
from tests.factories import (
    TEST_ACTOR,
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)
from vendors.models import Vendor

TESTS = Path(__file__).resolve().parent
FAR = "9999-12-31"
FAR_MESSAGE = DATE_OUT_OF_RANGE.format(value=FAR)


@pytest.fixture(autouse=True)
def _quiet(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False
    settings.WEBHOOK_SECRET = ""


# --- the rule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (BUSINESS_DATE_MIN, True),
        (BUSINESS_DATE_MAX, True),
        (dt.date(2026, 10, 12), True),
        (None, True),
        (dt.date(1899, 12, 31), False),
        (dt.date(2200, 1, 1), False),
        (dt.date(9999, 12, 31), False),
        (dt.date(1, 1, 1), False),
        (dt.datetime(9999, 12, 31, 23, 59), False),
    ],
    ids=str,
)
def test_the_business_range_is_1900_to_2199_inclusive(value: dt.date | None, accepted: bool) -> None:
    problem = business_date_error(value)
    assert (problem is None) is accepted
    if not accepted:
        assert value is not None and value.isoformat()[:10] in problem  # type: ignore[operator]


def test_the_schema_pattern_accepts_exactly_the_real_dates_of_the_range() -> None:
    """The OpenAPI twin of the rule (BUSINESS_DATE_PATTERN), checked day by day from 1890 to 2210."""
    pattern = re.compile(BUSINESS_DATE_PATTERN)
    day, disagreements = dt.date(1890, 1, 1), []
    while day < dt.date(2210, 1, 1):
        if (pattern.fullmatch(day.isoformat()) is not None) != (business_date_error(day) is None):
            disagreements.append(day)
        day += dt.timedelta(days=1)
    assert disagreements == []
    for not_a_day in ("2026-02-30", "2100-02-29", "1900-02-29", "2026-13-01", "2026-00-10", "20260-01-01"):
        assert pattern.fullmatch(not_a_day) is None, not_a_day
    assert pattern.fullmatch("2000-02-29") and pattern.fullmatch("2196-02-29")


# --- every door --------------------------------------------------------------------------------


@dataclass
class World:
    tenant: Tenant
    api: APIClient
    vendor: Vendor
    purchase_order: PurchaseOrder


@pytest.fixture
def world(tenant: Tenant, api: APIClient) -> World:
    vendor = VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number="PO-1")
    line = PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=1, quantity=10, unit_price="2.50")
    receipt = GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-1")
    GoodsReceiptLineFactory(goods_receipt=receipt, purchase_order_line=line, quantity=10)
    return World(tenant=tenant, api=api, vendor=vendor, purchase_order=purchase_order)


def invoice_body(world: World, **dates: str) -> dict[str, Any]:
    """An invoice that matching approves on its own: PO referenced, fully received, under 100.00."""
    return {
        "invoice_number": "NF-1",
        "vendor_id": str(world.vendor.pk),
        "po_number": "PO-1",
        "currency": "EUR",
        "invoice_date": "2026-10-12",
        "total_amount": "25.00",
        "lines": [
            {"line_number": 1, "po_line_number": 1, "description": "Bolts", "quantity": "10", "unit_price": "2.50"}
        ],
        **dates,
    }


def post_json(world: World, path: str, body: dict[str, Any]) -> Any:
    return world.api.post(path, data=json.dumps(body), content_type="application/json")


def post_file(world: World, path: str, content: str | bytes, name: str) -> Any:
    handle = io.BytesIO(content.encode() if isinstance(content, str) else content)
    handle.name = name
    return world.api.post(path, {"file": handle}, format="multipart")


def api_invoice(field: str, value: str) -> Callable[[World], Any]:
    return lambda world: post_json(world, "/api/invoices", invoice_body(world, **{field: value}))


def api_purchase_order(field: str) -> Callable[[World], Any]:
    def send(world: World) -> Any:
        body = {
            "po_number": "PO-2",
            "vendor_id": str(world.vendor.pk),
            "currency": "EUR",
            "order_date": "2026-10-01",
            "lines": [{"line_number": 1, "description": "Bolts", "quantity": "10", "unit_price": "2.50"}],
        }
        return post_json(world, "/api/purchase-orders", {**body, field: FAR})

    return send


def api_goods_receipt(world: World) -> Any:
    body = {"receipt_number": "GR-2", "po_number": "PO-1", "received_date": FAR, "lines": []}
    body["lines"] = [{"po_line_number": 1, "quantity": "1"}]
    return post_json(world, "/api/goods-receipts", body)


def csv_invoice(column: str) -> Callable[[World], Any]:
    def send(world: World) -> Any:
        dates = {"invoice_date": "2026-10-12", "due_date": "2026-11-11", column: FAR}
        content = (
            "invoice_number,vendor_name,currency,invoice_date,due_date,total_amount,description,quantity,unit_price\n"
            f"NF-1,Nordic Fasteners AB,EUR,{dates['invoice_date']},{dates['due_date']},25.00,Bolts,10,2.50\n"
        )
        return post_file(world, "/api/invoices/import/csv", content, "invoices.csv")

    return send


def csv_purchase_order(world: World) -> Any:
    content = (
        "po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n"
        f"PO-2,Nordic Fasteners AB,EUR,{FAR},1,Bolts,10,2.50\n"
    )
    return post_file(world, "/api/purchase-orders/import/csv", content, "purchase-orders.csv")


def csv_goods_receipt(world: World) -> Any:
    content = f"receipt_number,po_number,received_date,po_line_number,quantity\nGR-2,PO-1,{FAR},1,1\n"
    return post_file(world, "/api/goods-receipts/import/csv", content, "goods-receipts.csv")


def statement_csv(column: str) -> Callable[[World], Any]:
    def send(world: World) -> Any:
        dates = {"booking_date": "2026-10-20", "value_date": "2026-10-20", column: FAR}
        content = (
            "booking_date,value_date,amount,currency,bank_transaction_id,bank_account\n"
            f"{dates['booking_date']},{dates['value_date']},-25.00,EUR,T-1,DE89370400440532013000\n"
        )
        return post_file(world, "/api/payments/import", content, "statement.csv")

    return send


def statement_camt053(world: World) -> Any:
    content = (TESTS / "payments" / "testdata" / "test-camt053.xml").read_text()
    booked = re.compile(r"(<BookgDt>\s*<Dt>)2014-01-05(</Dt>)")
    assert booked.search(content)
    return post_file(world, "/api/payments/import", booked.sub(rf"\g<1>{FAR}\g<2>", content, count=1), "camt.xml")


def signed_webhook(world: World, body: bytes, header: str) -> Any:
    secret = webhook_secret_rotate(tenant=world.tenant, actor=TEST_ACTOR)
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    meta = {"HTTP_" + header.upper().replace("-", "_"): signature}
    return APIClient().generic(
        "POST", f"/api/webhook-handler/{world.tenant.pk}", body, content_type="application/json", **meta
    )


def webhook_payload(name: str) -> dict[str, Any]:
    return json.loads((TESTS / "invoices" / "testdata" / "webhooks" / name).read_bytes(), parse_float=Decimal)


def quickbooks_bill(world: World) -> Any:
    payload = webhook_payload("qbo_bill.json")
    payload["Bill"]["TxnDate"] = FAR
    return signed_webhook(world, json.dumps(payload, default=str).encode(), "intuit-signature")


def xero_invoice(world: World) -> Any:
    payload = webhook_payload("xero_accpay.json")
    invoice = payload["Invoices"][0]
    invoice["DueDate"] = "/Date(253402214400000+0000)/"  # 9999-12-31, as Xero writes dates
    invoice.pop("DueDateString", None)
    return signed_webhook(world, json.dumps(payload, default=str).encode(), "x-xero-signature")


def ubl_e_invoice(world: World) -> Any:
    content = (TESTS / "invoices" / "testdata" / "ubl" / "base-example.xml").read_text()
    content = content.replace("<cbc:IssueDate>2017-11-13</cbc:IssueDate>", f"<cbc:IssueDate>{FAR}</cbc:IssueDate>")
    assert FAR in content
    return world.api.generic("POST", "/api/invoices/import/xml", content.encode(), content_type="application/xml")


# door → (how a far date is sent, where the 400 must name it: a details key, or its last part)
DOORS: dict[str, tuple[Callable[[World], Any], str]] = {
    "api-invoice-date": (api_invoice("invoice_date", FAR), "invoice_date"),
    "api-due-date": (api_invoice("due_date", FAR), "due_date"),
    "api-invoice-date-before-1900": (api_invoice("invoice_date", "1899-12-31"), "invoice_date"),
    "api-invoice-date-2200": (api_invoice("invoice_date", "2200-01-01"), "invoice_date"),
    "api-po-order-date": (api_purchase_order("order_date"), "order_date"),
    "api-po-expected-date": (api_purchase_order("expected_date"), "expected_date"),
    "api-receipt-date": (api_goods_receipt, "received_date"),
    "csv-invoice-date": (csv_invoice("invoice_date"), "row 2, column invoice_date"),
    "csv-due-date": (csv_invoice("due_date"), "row 2, column due_date"),
    "csv-po-order-date": (csv_purchase_order, "row 2, column order_date"),
    "csv-receipt-date": (csv_goods_receipt, "row 2, column received_date"),
    "statement-csv-booking-date": (statement_csv("booking_date"), "row 2, column booking_date"),
    "statement-csv-value-date": (statement_csv("value_date"), "row 2, column value_date"),
    "statement-camt053-booking-date": (statement_camt053, "statement 1, entry 1, booking_date"),
    "webhook-quickbooks-txn-date": (quickbooks_bill, "TxnDate"),
    "webhook-xero-due-date": (xero_invoice, "DueDate"),
    "ubl-issue-date": (ubl_e_invoice, "invoice_date"),
}


def stored_counts(tenant: Tenant) -> dict[str, int]:
    return {
        "invoices": Invoice.objects.for_tenant(tenant).count(),
        "purchase_orders": PurchaseOrder.objects.for_tenant(tenant).count(),
        "payments": Payment.objects.for_tenant(tenant).count(),
    }


@pytest.mark.parametrize("door", DOORS)
def test_a_far_date_is_a_400_naming_its_field_at_every_door(door: str, world: World) -> None:
    send, location = DOORS[door]
    before = stored_counts(world.tenant)

    response = send(world)

    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    named = [key for key in details if key == location or key.endswith(f".{location}")]
    assert named, (location, details)
    assert any("is outside the dates Recon accepts" in message for key in named for message in details[key])
    assert stored_counts(world.tenant) == before


@pytest.mark.parametrize("written", ["20261012", "2026-W42-1", "2026-10-12\n", "2026-1-12", "12/10/2026"])
def test_an_api_date_is_read_only_as_yyyy_mm_dd_as_the_schema_and_the_message_say(written: str, world: World) -> None:
    """The schema's pattern and DRF's message say YYYY-MM-DD; the reader took other ISO shapes too."""
    before = stored_counts(world.tenant)
    response = post_json(world, "/api/invoices", invoice_body(world, invoice_date=written))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {
        "invoice_date": ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]
    }
    assert re.fullmatch(BUSINESS_DATE_PATTERN, written) is None
    assert stored_counts(world.tenant) == before


def test_the_services_refuse_a_far_date_whatever_calls_them(world: World) -> None:
    """The doors the parsers hand to: a source added later cannot store a far date either."""
    invoice = InvoiceDocument(
        invoice_number="NF-9",
        currency="EUR",
        invoice_date=dt.date(9999, 12, 31),
        total_amount=Decimal("25.00"),
        vendor_id=world.vendor.pk,
        lines=[InvoiceLineDocument(description="Bolts", quantity=Decimal(10), unit_price=Decimal("2.50"))],
    )
    with pytest.raises(DocumentInvalid) as refused:
        invoice_create(tenant=world.tenant, document=invoice, actor=TEST_ACTOR)
    assert refused.value.details["invoice_date"] == [FAR_MESSAGE]

    order = PurchaseOrderDocument(
        po_number="PO-9",
        vendor_id=world.vendor.pk,
        currency="EUR",
        order_date=dt.date(2026, 10, 1),
        expected_date=dt.date(2200, 1, 1),
        lines=[
            PurchaseOrderLineDocument(line_number=1, description="Bolts", quantity=Decimal(1), unit_price=Decimal(1))
        ],
    )
    with pytest.raises(DocumentInvalid) as refused:
        purchase_order_create(tenant=world.tenant, document=order, actor=TEST_ACTOR)
    assert refused.value.details["expected_date"] == [DATE_OUT_OF_RANGE.format(value="2200-01-01")]

    receipt = GoodsReceiptDocument(
        receipt_number="GR-9",
        po_number="PO-1",
        received_date=dt.date(1899, 12, 31),
        lines=[GoodsReceiptLineDocument(po_line_number=1, quantity=Decimal(1))],
    )
    with pytest.raises(DocumentInvalid) as refused:
        goods_receipt_create(tenant=world.tenant, document=receipt, actor=TEST_ACTOR)
    assert refused.value.details["received_date"] == [DATE_OUT_OF_RANGE.format(value="1899-12-31")]
    assert stored_counts(world.tenant) == {"invoices": 0, "purchase_orders": 1, "payments": 0}


def test_the_cash_forecast_and_dashboard_still_answer_after_a_far_dated_invoice_is_refused(
    world: World, client: Client
) -> None:
    """The defect's own path: an invoice that matching would approve, dated 9999-12-31, no due date.

    The same invoice with a real date goes all the way to `approved` (so the far one would have
    too): the forecast counts it, and answers 200 for the tenant, as does the dashboard.
    """
    refused = post_json(world, "/api/invoices", invoice_body(world, invoice_number="NF-FAR", invoice_date=FAR))
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["details"]["invoice_date"] == [FAR_MESSAGE]
    today = timezone.localdate().isoformat()
    accepted = post_json(world, "/api/invoices", invoice_body(world, invoice_number="NF-REAL", invoice_date=today))
    assert accepted.status_code == 201, accepted.content
    matching_run_for_tenant(tenant=world.tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("test"))
    assert list(Invoice.objects.for_tenant(world.tenant).values_list("invoice_number", "status")) == [
        ("NF-REAL", InvoiceStatus.APPROVED)
    ]

    forecast = world.api.get("/api/cash/forecast")
    assert forecast.status_code == 200, forecast.content
    assert [(row["currency"], row["total"]) for row in forecast.json()["currencies"]] == [("EUR", "25.00")]
    client.force_login(MembershipFactory(tenant=world.tenant).user)
    assert client.get("/").status_code == 200
