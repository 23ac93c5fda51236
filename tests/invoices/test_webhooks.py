"""Webhooks in: signatures (Standard Webhooks, QuickBooks, Xero), replays, tenancy, normalization, rotation.

Payloads under testdata/webhooks/ are shaped as the QuickBooks Online and Xero APIs return them;
every expected amount below is computed by hand from those files, in minor units.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.exceptions import DocumentInvalid
from core.text import NUL_REFUSED
from invoices.ingest import webhook_payloads as payloads
from invoices.ingest import webhooks
from invoices.ingest.webhook_api import REFUSED_CODE
from invoices.models import Invoice, InvoiceSource
from tenants.apis import WEBHOOK_ROTATE_ADMINS_ONLY
from tenants.models import IdempotencyRecord, Role, Tenant, WebhookDelivery
from tenants.services import webhook_secret_rotate
from tests.factories import TEST_ACTOR, MembershipFactory, PurchaseOrderFactory, VendorFactory

TESTDATA = Path(__file__).resolve().parent / "testdata" / "webhooks"
ROTATE = "/api/webhook-secret/rotate"
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
LOGGER = "invoices.ingest"


@pytest.fixture(autouse=True)
def _quiet(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False  # no matching tasks queued by the invoices created here
    settings.WEBHOOK_SECRET = ""


@pytest.fixture
def secret(tenant: Tenant) -> str:
    return webhook_secret_rotate(tenant=tenant, actor=TEST_ACTOR)


@pytest.fixture
def other_secret(other_tenant: Tenant) -> str:
    return webhook_secret_rotate(tenant=other_tenant, actor=TEST_ACTOR)


def payload(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def edited(name: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """A test file changed in place, its numbers kept exact (Decimal in, Decimal out)."""
    document = json.loads(payload(name), parse_float=Decimal)
    edit(document)
    return json.dumps(document, default=str).encode()


def _hmac64(key: bytes, content: bytes) -> str:
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def standard_headers(
    body: bytes, secret: str, *, msg_id: str = MSG_ID, timestamp: int | None = None, others: tuple[str, ...] = ()
) -> dict[str, str]:
    """As a Standard Webhooks sender signs: key = base64 after whsec_, content = id.timestamp.body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = "v1," + _hmac64(key, f"{msg_id}.{stamp}.".encode() + body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": " ".join([*others, signature]),
    }


def intuit_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"intuit-signature": _hmac64(secret.encode(), body)}


def xero_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"x-xero-signature": _hmac64(secret.encode(), body)}


SIGNERS = {"standard_webhooks": standard_headers, "quickbooks": intuit_headers, "xero": xero_headers}


def deliver(tenant: Tenant | uuid.UUID, body: bytes, headers: dict[str, str]) -> Any:
    tenant_id = getattr(tenant, "pk", tenant)
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return APIClient().generic(
        "POST", f"/api/webhook-handler/{tenant_id}", body, content_type="application/json", **meta
    )


def content_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def invoices_of(tenant: Tenant) -> list[Invoice]:
    return list(Invoice.objects.for_tenant(tenant).order_by("created_at"))


def deliveries() -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.unscoped().order_by("received_at"))


def lines_of(invoice: Invoice) -> list[tuple[int, str, str, Decimal, Decimal, int]]:
    return [
        (line.line_number, line.sku, line.description, line.quantity, line.unit_price, line.amount)
        for line in invoice.lines.order_by("line_number")
    ]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.msg == webhooks.LOG_SIGNATURE_REFUSED
    ]


def assert_refused(response: Any) -> None:
    assert response.status_code == 401, content_of(response)
    assert response.json() == {"error": {"code": REFUSED_CODE, "message": webhooks.SIGNATURE_REFUSED, "details": {}}}


# --- each scheme, valid -------------------------------------------------------------------------


def test_a_standard_webhooks_delivery_creates_the_quickbooks_bill_exactly(tenant: Tenant, secret: str) -> None:
    """The QBO Bill: 5000 × 0.2469 = 1234.50 + freight 85.00 = 1319.50; tax 101.85; total 1421.35 USD."""
    body = payload("qbo_bill.json")
    response = deliver(tenant, body, standard_headers(body, secret))
    assert response.status_code == 201, response.content
    [invoice] = invoices_of(tenant)
    assert response.json() == {
        "delivery_id": MSG_ID,
        "outcome": "created",
        "detail": webhooks.CREATED.format(count=1),
        "invoice_ids": [str(invoice.pk)],
        "existing_invoice_ids": [],
    }
    assert invoice.source == InvoiceSource.WEBHOOK
    assert (invoice.invoice_number, invoice.vendor_name_raw, invoice.currency) == (
        "NF-2026-0413",
        "Nordic Fasteners AB",
        "USD",
    )
    assert (invoice.invoice_date, invoice.due_date) == (dt.date(2026, 10, 12), dt.date(2026, 11, 11))
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (131950, 10185, 142135)
    assert invoice.external_id == "qbo-bill:146"
    # QBO links the PO by its internal id "130"; this tenant has no PO numbered so: matching infers it.
    assert invoice.po_number == ""
    assert lines_of(invoice) == [
        (1, "HB-M8-40", "Hex bolt M8x40, zinc plated", Decimal("5000"), Decimal("0.2469"), 123450),
        (2, "", "Shipping and delivery expense", Decimal("1"), Decimal("85"), 8500),
    ]
    [delivery] = deliveries()
    assert (delivery.tenant_id, delivery.source, delivery.delivery_id, delivery.outcome) == (
        tenant.pk,
        "standard_webhooks",
        MSG_ID,
        "created",
    )


def test_the_quickbooks_po_link_is_kept_where_the_tenant_has_that_po(tenant: Tenant, secret: str) -> None:
    """POs loaded from QBO by id: the bill's LinkedTxn TxnId names one of them."""
    PurchaseOrderFactory(tenant=tenant, po_number="130")
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, intuit_headers(body, secret)).status_code == 201
    assert invoices_of(tenant)[0].po_number == "130"


def test_an_intuit_signature_creates_the_bill_with_the_body_digest_as_delivery_id(tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    response = deliver(tenant, body, intuit_headers(body, secret))
    assert response.status_code == 201, response.content
    assert response.json()["delivery_id"] == hashlib.sha256(body).hexdigest()
    [invoice] = invoices_of(tenant)
    assert (invoice.source, invoice.total_amount) == (InvoiceSource.WEBHOOK, 142135)
    assert [(d.source, d.outcome) for d in deliveries()] == [("quickbooks", "created")]


def test_a_xero_signature_creates_the_accpay_invoice_exactly(tenant: Tenant, secret: str) -> None:
    """40 × 3.45 = 138.00 + 12 × 7.99 = 95.88 → 233.88 EUR; 19 % tax 26.22 + 18.22 = 44.44; total 278.32."""
    vendor = VendorFactory(tenant=tenant, name="Acme Industrial Supplies GmbH", tax_id="DE811234567")
    body = payload("xero_accpay.json")
    response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 201, content_of(response)
    [invoice] = invoices_of(tenant)
    assert response.json()["invoice_ids"] == [str(invoice.pk)]
    assert invoice.source == InvoiceSource.WEBHOOK
    assert invoice.vendor_id == vendor.pk  # resolved by the Contact's TaxNumber
    assert (invoice.invoice_number, invoice.po_number, invoice.vendor_tax_id_raw) == (
        "AIS-88121",
        "PO-4471",
        "DE811234567",
    )
    # /Date(1791763200000+0000)/ and /Date(1794355200000+0000)/
    assert (invoice.invoice_date, invoice.due_date) == (dt.date(2026, 10, 12), dt.date(2026, 11, 11))
    assert (invoice.currency, invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (
        "EUR",
        23388,
        4444,
        27832,
    )
    assert invoice.external_id == "xero-invoice:243216c5-369e-4056-ac67-05388f86dc81"
    assert lines_of(invoice) == [
        (1, "BRG-6204", "Deep groove ball bearing 6204-2RS", Decimal("40"), Decimal("3.45"), 13800),
        (2, "GRS-400", "Lithium grease cartridge 400 g", Decimal("12"), Decimal("7.99"), 9588),
    ]


def test_xero_inclusive_amounts_are_stored_net_of_tax(tenant: Tenant, secret: str) -> None:
    """119.00 − 19.00 = 100.00 for 2 (50 each); 10.00 − 1.60 = 8.40 for 9 (0.933333); text line skipped."""
    body = payload("xero_accpay_inclusive.json")
    assert deliver(tenant, body, standard_headers(body, secret)).status_code == 201
    [invoice] = invoices_of(tenant)
    assert (invoice.invoice_date, invoice.due_date) == (dt.date(2026, 10, 14), dt.date(2026, 11, 13))
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (10840, 2060, 12900)
    assert lines_of(invoice) == [
        (1, "", "Shaft seal 20x35x7", Decimal("2"), Decimal("50"), 10000),
        (2, "", "O-ring assortment", Decimal("9"), Decimal("0.933333"), 840),
    ]


def test_xero_inclusive_lines_that_miss_the_subtotal_are_refused(tenant: Tenant, secret: str) -> None:
    """Amounts that do not add up are refused, not stored as a guess."""

    def break_subtotal(invoice: dict[str, Any]) -> None:
        invoice["SubTotal"] = Decimal("108.41")

    body = edited("xero_accpay_inclusive.json", break_subtotal)
    response = deliver(tenant, body, standard_headers(body, secret))
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "SubTotal": [payloads.XERO_INCLUSIVE_INCONSISTENT.format(lines=Decimal("108.40"), subtotal=Decimal("108.41"))]
    }
    assert invoices_of(tenant) == []


def test_a_quickbooks_tax_inclusive_bill_is_taken_when_its_amounts_are_net(tenant: Tenant, secret: str) -> None:
    """TaxInclusive: line Amount is net (4 × 25.00 = 100.00), + TotalTax 19.00 = TotalAmt 119.00."""

    def inclusive(document: dict[str, Any]) -> None:
        bill = document["Bill"]
        bill["GlobalTaxCalculation"] = "TaxInclusive"
        bill["Line"] = [
            {
                "Id": "1",
                "LineNum": 1,
                "Description": "Pump seal kit",
                "Amount": Decimal("100.00"),
                "DetailType": "ItemBasedExpenseLineDetail",
                "ItemBasedExpenseLineDetail": {
                    "ItemRef": {"value": "12", "name": "PSK-1"},
                    "UnitPrice": Decimal("29.75"),
                    "Qty": 4,
                    "TaxInclusiveAmt": Decimal("119.00"),
                },
            }
        ]
        bill["TxnTaxDetail"] = {"TotalTax": Decimal("19.00")}
        bill["TotalAmt"] = Decimal("119.00")

    body = edited("qbo_bill.json", inclusive)
    assert deliver(tenant, body, intuit_headers(body, secret)).status_code == 201
    [invoice] = invoices_of(tenant)
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (10000, 1900, 11900)
    assert lines_of(invoice) == [(1, "PSK-1", "Pump seal kit", Decimal("4"), Decimal("25"), 10000)]

    def gross(document: dict[str, Any]) -> None:
        inclusive(document)
        document["Bill"]["DocNumber"] = "NF-2026-0414"
        document["Bill"]["Line"][0]["Amount"] = Decimal("119.00")
        document["Bill"]["Line"].append({"Amount": Decimal("119.00"), "DetailType": "SubTotalLineDetail"})

    body = edited("qbo_bill.json", gross)
    response = deliver(tenant, body, intuit_headers(body, secret))
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {
        "Bill.TotalAmt": [
            payloads.QBO_INCLUSIVE_INCONSISTENT.format(
                lines=Decimal("119.00"), tax=Decimal("19.00"), total=Decimal("119.00")
            )
        ]
    }
    assert len(invoices_of(tenant)) == 1


# --- each scheme, invalid -----------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["standard_webhooks", "quickbooks"])
def test_a_wrong_signature_is_a_401_envelope_stores_nothing_and_is_logged(
    scheme: str,
    tenant: Tenant,
    secret: str,
    caplog: pytest.LogCaptureFixture,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    body = payload("qbo_bill.json")
    before = document_counts()
    headers = SIGNERS[scheme](body, secret)
    response = deliver(tenant, body.replace(b"1421.35", b"1.35"), headers)  # tampered after signing
    assert_refused(response)
    assert document_counts() == before
    assert deliveries() == []
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, scheme, webhooks.REASON_MISMATCH)]


def test_a_wrong_xero_signature_is_an_empty_401_stores_nothing_and_is_logged(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Xero accepts only a body-less 401 for a mis-signed payload (its intent-to-receive checks it)."""
    body = payload("xero_accpay.json")
    response = deliver(tenant, body, xero_headers(body, "whsec_not-the-secret"))
    assert response.status_code == 401
    assert content_of(response) == b""
    assert "Set-Cookie" not in response
    assert invoices_of(tenant) == [] and deliveries() == []
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "xero", webhooks.REASON_MISMATCH)]


def test_a_delivery_without_any_signature_is_refused(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert_refused(deliver(tenant, payload("qbo_bill.json"), {}))
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "none", webhooks.REASON_NO_SIGNATURE)]


@pytest.mark.parametrize("seconds", [-1, +1], ids=["stale", "future"])
def test_a_timestamp_outside_the_tolerance_is_refused(
    seconds: int, settings: Any, tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A correctly signed delivery from 6 minutes ago (or ahead) is a possible replay: refused."""
    skew = seconds * (settings.WEBHOOK_TOLERANCE_SECONDS + 60)
    body = payload("qbo_bill.json")
    response = deliver(tenant, body, standard_headers(body, secret, timestamp=int(time.time()) + skew))
    assert_refused(response)
    assert invoices_of(tenant) == []
    [line] = refusals(caplog)
    assert str(tenant.pk) in line and "standard_webhooks" in line
    logged = re.search(r"webhook-timestamp is ([+-]\d+) s from now", line)
    assert logged is not None and abs(int(logged.group(1)) - skew) <= 1  # a second may tick in between
    assert line.endswith(f"at most {settings.WEBHOOK_TOLERANCE_SECONDS} s either way")


def test_a_timestamp_inside_the_tolerance_is_accepted(settings: Any, tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    stamp = int(time.time()) - settings.WEBHOOK_TOLERANCE_SECONDS + 30
    assert deliver(tenant, body, standard_headers(body, secret, timestamp=stamp)).status_code == 201


def test_one_valid_signature_among_several_suffices(tenant: Tenant, secret: str) -> None:
    """During the sender's own key rotation it signs with old and new keys; any one valid will do."""
    body = payload("qbo_bill.json")
    others = ("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", "v1a,aGVsbG8=", "v1,not-base64!")
    assert deliver(tenant, body, standard_headers(body, secret, others=others)).status_code == 201
    assert len(invoices_of(tenant)) == 1


def test_several_signatures_none_valid_are_refused(tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    headers = standard_headers(body, "whsec_" + base64.b64encode(b"x" * 32).decode())
    headers["webhook-signature"] += " v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
    assert_refused(deliver(tenant, body, headers))


# --- replays and re-sent documents --------------------------------------------------------------


def test_a_replayed_webhook_id_is_acknowledged_and_creates_nothing(tenant: Tenant, secret: str) -> None:
    """The sender retries (new timestamp, same id): 200, still one invoice."""
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, standard_headers(body, secret)).status_code == 201
    again = deliver(tenant, body, standard_headers(body, secret, timestamp=int(time.time()) + 1))
    assert again.status_code == 200
    assert again.json()["outcome"] == webhooks.DUPLICATE_DELIVERY
    assert again.json()["detail"] == webhooks.REPLAYED.format(outcome="created")
    assert len(invoices_of(tenant)) == 1
    assert len(deliveries()) == 1


def test_a_replayed_quickbooks_body_is_acknowledged_and_creates_nothing(tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    for expected in (201, 200, 200):
        assert deliver(tenant, body, intuit_headers(body, secret)).status_code == expected
    assert len(invoices_of(tenant)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_copies_of_a_delivery_create_one_invoice(
    tenant: Tenant, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender retrying while the first attempt still runs (real threads, real database)."""
    real_create = webhooks.invoice_create

    def slow_create(**kwargs: Any) -> Invoice:
        # Widen the window: the copy's INSERT of the delivery row arrives while this one is open.
        threading.Event().wait(0.3)
        return real_create(**kwargs)

    monkeypatch.setattr(webhooks, "invoice_create", slow_create)
    body = payload("qbo_bill.json")
    headers = intuit_headers(body, secret)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(deliver(tenant, body, headers).status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(statuses) == [200, 201]
    assert len(invoices_of(tenant)) == 1
    assert [d.outcome for d in deliveries()] == ["created"]


def test_the_same_bill_in_a_new_delivery_is_already_present(tenant: Tenant, secret: str) -> None:
    """Another delivery (new id) of a stored bill: 200 already present, nothing created."""
    body = payload("qbo_bill.json")
    first = deliver(tenant, body, standard_headers(body, secret)).json()
    response = deliver(tenant, body, standard_headers(body, secret, msg_id="msg_second"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "already_present"
    assert response.json()["existing_invoice_ids"] == first["invoice_ids"]
    assert len(invoices_of(tenant)) == 1
    assert [d.outcome for d in deliveries()] == ["created", "already_present"]


# --- secrets and tenants ------------------------------------------------------------------------


def test_a_tenant_without_its_own_secret_is_verified_with_the_global_one(settings: Any, tenant: Tenant) -> None:
    settings.WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"g" * 32).decode()
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, standard_headers(body, settings.WEBHOOK_SECRET)).status_code == 201
    assert deliver(tenant, body, intuit_headers(body, settings.WEBHOOK_SECRET)).status_code == 200  # already there


def test_the_global_secret_is_not_accepted_for_a_tenant_with_its_own(
    settings: Any, tenant: Tenant, secret: str
) -> None:
    settings.WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"g" * 32).decode()
    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, standard_headers(body, settings.WEBHOOK_SECRET)))


def test_with_neither_secret_every_delivery_is_refused(tenant: Tenant, caplog: pytest.LogCaptureFixture) -> None:
    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, intuit_headers(body, "")))
    assert refusals(caplog) == [webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "quickbooks", webhooks.REASON_NO_SECRET)]
    assert invoices_of(tenant) == []


def test_tenant_a_secret_is_refused_on_tenant_b_url(
    tenant: Tenant,
    other_tenant: Tenant,
    secret: str,
    other_secret: str,
    caplog: pytest.LogCaptureFixture,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    """A's sender cannot put invoices into B: the URL's tenant is taken only with B's own secret."""
    body = payload("qbo_bill.json")
    before = document_counts()
    for headers in (standard_headers(body, secret), intuit_headers(body, secret)):
        assert_refused(deliver(other_tenant, body, headers))
    assert document_counts() == before
    assert deliveries() == []
    assert all(str(other_tenant.pk) in line for line in refusals(caplog))
    assert deliver(other_tenant, body, intuit_headers(body, other_secret)).status_code == 201
    assert invoices_of(tenant) == [] and len(invoices_of(other_tenant)) == 1


def test_an_unknown_or_inactive_tenant_gets_the_same_401_as_a_bad_signature(
    tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = payload("qbo_bill.json")
    unknown = uuid.uuid4()
    assert_refused(deliver(unknown, body, intuit_headers(body, secret)))
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert_refused(deliver(tenant, body, intuit_headers(body, secret)))
    assert refusals(caplog) == [
        webhooks.LOG_SIGNATURE_REFUSED % (unknown, "quickbooks", webhooks.REASON_UNKNOWN_TENANT),
        webhooks.LOG_SIGNATURE_REFUSED % (tenant.pk, "quickbooks", webhooks.REASON_UNKNOWN_TENANT),
    ]
    assert deliver("not-a-uuid", body, intuit_headers(body, secret)).status_code == 404


# --- Xero intent to receive, and what is ignored ------------------------------------------------


def test_the_xero_intent_to_receive_gets_an_empty_200_or_an_empty_401(tenant: Tenant, secret: str) -> None:
    body = payload("xero_intent_to_receive.json")
    accepted = deliver(tenant, body, xero_headers(body, secret))
    assert accepted.status_code == 200
    assert content_of(accepted) == b""
    refused = deliver(tenant, body, xero_headers(body, "not-the-key"))
    assert refused.status_code == 401
    assert content_of(refused) == b""
    assert [(d.source, d.outcome, d.detail) for d in deliveries()] == [
        ("xero", "ignored", payloads.IGNORED_XERO_HANDSHAKE)
    ]
    assert invoices_of(tenant) == []


@pytest.mark.parametrize(
    ("name", "scheme", "status", "reason"),
    [
        ("xero_accrec.json", "xero", 202, payloads.IGNORED_XERO_ACCREC),
        ("qbo_invoice.json", "quickbooks", 202, payloads.IGNORED_OTHER_ENTITY.format(entity="'Invoice'")),
        ("qbo_event_notification.json", "quickbooks", 200, payloads.IGNORED_INTUIT_EVENTS),
    ],
    ids=["xero-accrec", "qbo-sales-invoice", "intuit-notification"],
)
def test_what_is_not_a_bill_is_recorded_as_ignored(
    name: str, scheme: str, status: int, reason: str, tenant: Tenant, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    body = payload(name)
    response = deliver(tenant, body, SIGNERS[scheme](body, secret))
    assert response.status_code == status
    assert response.json()["outcome"] == "ignored"
    assert response.json()["detail"] == reason
    assert invoices_of(tenant) == []
    assert [(d.outcome, d.detail) for d in deliveries()] == [("ignored", reason)]
    delivery_id = hashlib.sha256(body).hexdigest()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        webhooks.LOG_IGNORED % (tenant.pk, scheme, delivery_id, reason)
    ]


# --- invalid documents --------------------------------------------------------------------------


def test_an_invalid_bill_is_a_400_envelope_recorded_as_rejected(tenant: Tenant, secret: str) -> None:
    """Every problem, by payload path; the same body fails the same way again (deterministic)."""

    def spoil(document: dict[str, Any]) -> None:
        bill = document["Bill"]
        del bill["DocNumber"]
        bill["TxnDate"] = "12/10/2026"
        bill["Line"][0]["ItemBasedExpenseLineDetail"]["Qty"] = -3
        bill["Line"][1]["DetailType"] = "GroupLineDetail"

    body = edited("qbo_bill.json", spoil)
    first = deliver(tenant, body, standard_headers(body, secret))
    assert first.status_code == 400
    error = first.json()["error"]
    assert (error["code"], error["message"]) == ("validation_error", payloads.PAYLOAD_INVALID)
    assert error["details"] == {
        "Bill.DocNumber": [payloads.REQUIRED],
        "Bill.TxnDate": [payloads.NOT_A_DATE.format(value="12/10/2026")],
        "Bill.Line[0].ItemBasedExpenseLineDetail.Qty": ["Must be greater than 0."],
        "Bill.Line[1].DetailType": [payloads.QBO_LINE_TYPE.format(detail_type="GroupLineDetail")],
    }
    again = deliver(tenant, body, standard_headers(body, secret, msg_id="msg_retry"))
    assert again.json() == first.json()
    assert invoices_of(tenant) == []
    assert [d.outcome for d in deliveries()] == ["rejected", "rejected"]


def test_the_doors_own_refusal_is_a_400_too(tenant: Tenant, secret: str) -> None:
    """invoice_create's rules (here an unknown currency) apply to webhooks as to every source."""

    def bad_currency(document: dict[str, Any]) -> None:
        document["Bill"]["CurrencyRef"]["value"] = "XXX"

    body = edited("qbo_bill.json", bad_currency)
    response = deliver(tenant, body, intuit_headers(body, secret))
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["currency"]
    assert [d.outcome for d in deliveries()] == ["rejected"]


@pytest.mark.parametrize("body", [b"{not json", b'{"Bill": {"TotalAmt": NaN}}'], ids=["broken", "nan"])
def test_a_body_that_is_not_json_is_rejected(body: bytes, tenant: Tenant, secret: str) -> None:
    response = deliver(tenant, body, intuit_headers(body, secret))
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["body"]
    assert [d.outcome for d in deliveries()] == ["rejected"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1518685950940+0000)/", dt.date(2018, 2, 15)),  # 2018-02-15T09:12:30.94Z
        ("/Date(1518685950940-1000)/", dt.date(2018, 2, 14)),  # 23:12 the day before, at UTC−10
        ("/Date(1518685950940)/", dt.date(2018, 2, 15)),
        ("2018-02-15", dt.date(2018, 2, 15)),
        ("2018-02-15T00:00:00", dt.date(2018, 2, 15)),
        ("2018-02-15T23:30:00-07:00", dt.date(2018, 2, 15)),
    ],
)
def test_xero_and_iso_dates_are_read_without_floats(value: str, expected: dt.date) -> None:
    errors = payloads._Errors()
    assert payloads._date(value, "Date", errors) == expected
    assert not errors


def test_a_bare_object_of_unknown_shape_is_ignored_and_a_bare_bill_is_read() -> None:
    bill = json.loads(payload("qbo_bill.json"), parse_float=Decimal)["Bill"]
    assert len(payloads.webhook_documents(bill).documents) == 1
    del bill["DueDate"]  # could be a VendorCredit: only a wrapped {"Bill": ...} is taken then
    assert payloads.webhook_documents(bill).ignored == [
        payloads.IGNORED_OTHER_ENTITY.format(entity=payloads.UNKNOWN_SHAPE)
    ]
    with pytest.raises(DocumentInvalid):
        payloads.webhook_documents({"Bill": "not an object"})


# --- the secret: rotation through the API, stored encrypted -------------------------------------


def test_rotation_returns_a_new_secret_once_and_the_old_one_stops_verifying(
    api: APIClient, tenant: Tenant, secret: str
) -> None:
    response = api.post(ROTATE)
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != secret
    tenant.refresh_from_db()
    assert dt.datetime.fromisoformat(response.json()["rotated_at"]) == tenant.webhook_secret_rotated_at

    body = payload("qbo_bill.json")
    assert_refused(deliver(tenant, body, standard_headers(body, secret)))
    assert deliver(tenant, body, standard_headers(body, new_secret)).status_code == 201

    events = AuditEvent.objects.for_tenant(tenant).filter(action="webhook_secret_rotated").order_by("sequence")
    assert events.count() == 2  # the fixture's rotation and this one
    latest = events.last()
    assert (latest.actor_kind, latest.after["has_webhook_secret"]) == ("api_key", True)
    for event in events:
        stored = json.dumps([event.before, event.after, event.actor_label])
        assert new_secret not in stored and new_secret.removeprefix("whsec_") not in stored
        assert secret.removeprefix("whsec_") not in stored


def test_the_secret_is_stored_only_encrypted(api: APIClient, tenant: Tenant) -> None:
    raw_secret = api.post(ROTATE).json()["secret"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret_encrypted FROM tenants_tenant WHERE id = %s", [tenant.pk])
        (column,) = cursor.fetchone()
    assert column and raw_secret.removeprefix("whsec_") not in column
    assert base64.b64decode(raw_secret.removeprefix("whsec_")).hex() not in column


def test_a_retried_rotation_rotates_again_and_stores_no_secret_for_replay(api: APIClient, tenant: Tenant) -> None:
    """Idempotency-Key is not honoured here: a stored replay would keep the secret in clear."""
    first = api.post(ROTATE, headers={"Idempotency-Key": "rotate-1"}).json()["secret"]
    second = api.post(ROTATE, headers={"Idempotency-Key": "rotate-1"}).json()["secret"]
    assert first != second
    assert not IdempotencyRecord.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(("role", "status"), [(Role.CLERK, 403), (Role.APPROVER, 403), (Role.ADMIN, 200)])
def test_only_an_administrator_session_may_rotate(role: str, status: int, client: Client, tenant: Tenant) -> None:
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    response = client.post(ROTATE)
    assert response.status_code == status, response.content
    if status == 403:
        assert response.json()["error"] == {
            "code": "permission_denied",
            "message": WEBHOOK_ROTATE_ADMINS_ONLY,
            "details": {},
        }
        tenant.refresh_from_db()
        assert tenant.webhook_secret_encrypted == ""


@pytest.mark.django_db
def test_an_anonymous_rotation_is_a_401() -> None:
    assert APIClient().post(ROTATE).status_code == 401


def test_a_rotation_changes_only_the_callers_tenant(
    foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant, secret: str
) -> None:
    """Tenant B rotating its secret leaves tenant A's secret (and deliveries) untouched."""
    tenant.refresh_from_db()
    before = tenant.webhook_secret_encrypted
    b_secret = foreign_api.post(ROTATE).json()["secret"]
    tenant.refresh_from_db()
    assert tenant.webhook_secret_encrypted == before
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, intuit_headers(body, secret)).status_code == 201
    assert_refused(deliver(tenant, body, standard_headers(body, b_secret, msg_id="msg_b")))
    assert invoices_of(other_tenant) == []


# --- a key the sender issued (QuickBooks verifier token, Xero webhook key) ---------------------

SET = "/api/webhook-secret"
INTUIT_VERIFIER_TOKEN = "a6b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"


def test_a_sender_issued_key_verifies_only_its_tenant(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    """QuickBooks issues its verifier token; the tenant sets it, and QuickBooks deliveries verify."""
    response = api.put(SET, data=json.dumps({"secret": INTUIT_VERIFIER_TOKEN}), content_type="application/json")
    assert response.status_code == 200, response.content
    assert INTUIT_VERIFIER_TOKEN not in response.content.decode()
    tenant.refresh_from_db()
    assert INTUIT_VERIFIER_TOKEN not in tenant.webhook_secret_encrypted  # stored encrypted
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, intuit_headers(body, INTUIT_VERIFIER_TOKEN)).status_code == 201
    # The same token means nothing on tenant B's URL (B has no secret of its own, nor a global one).
    assert_refused(deliver(other_tenant, body, intuit_headers(body, INTUIT_VERIFIER_TOKEN)))
    assert invoices_of(other_tenant) == []
    [event] = AuditEvent.objects.for_tenant(tenant).filter(action="webhook_secret_set")
    assert INTUIT_VERIFIER_TOKEN not in json.dumps([event.before, event.after])
    # Neither the token nor any response to it is kept for idempotent replay.
    assert not IdempotencyRecord.objects.unscoped().filter(tenant=tenant).exists()


@pytest.mark.parametrize("secret", ["", "too-short", "x" * 513])
def test_a_sender_issued_key_of_the_wrong_length_is_refused(api: APIClient, tenant: Tenant, secret: str) -> None:
    response = api.put(SET, data=json.dumps({"secret": secret}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["secret"]
    tenant.refresh_from_db()
    assert tenant.webhook_secret_encrypted == ""


def test_only_administrators_set_a_sender_issued_key(tenant: Tenant) -> None:
    membership = MembershipFactory(tenant=tenant, role=Role.CLERK)
    client = APIClient()
    client.force_login(membership.user)
    response = client.put(SET, data=json.dumps({"secret": INTUIT_VERIFIER_TOKEN}), content_type="application/json")
    assert response.status_code == 403
    assert APIClient().put(SET, data={"secret": INTUIT_VERIFIER_TOKEN}, format="json").status_code == 401


# --- what PostgreSQL cannot store ----------------------------------------------------------------


def _nul_in_doc_number(document: dict[str, Any]) -> None:
    document["Bill"]["DocNumber"] = "NF-2026\u00000413"


def _nul_in_contact_name(document: dict[str, Any]) -> None:
    document["Invoices"][0]["Contact"]["Name"] = "Acme\u0000 Industrial"


@pytest.mark.parametrize(
    ("scheme", "name", "edit", "path"),
    [
        ("quickbooks", "qbo_bill.json", _nul_in_doc_number, "Bill.DocNumber"),
        ("standard_webhooks", "qbo_bill.json", _nul_in_doc_number, "Bill.DocNumber"),
        ("xero", "xero_accpay.json", _nul_in_contact_name, "Invoices[0].Contact.Name"),
    ],
    ids=["quickbooks", "standard-webhooks", "xero"],
)
def test_nul_in_a_signed_webhook_payload_is_a_400_by_path_and_nothing_is_stored(
    tenant: Tenant, secret: str, scheme: str, name: str, edit: Callable[[dict[str, Any]], None], path: str
) -> None:
    """Once a 500 from the database, which a sender retries forever; now a 400 it can act on."""
    body = edited(name, edit)
    assert b"\\u0000" in body
    response = deliver(tenant, body, SIGNERS[scheme](body, secret))
    assert response.status_code == 400, content_of(response)
    assert response.json()["error"]["details"] == {path: [NUL_REFUSED]}
    assert invoices_of(tenant) == []
    assert [(delivery.source, delivery.outcome) for delivery in deliveries()] == [(scheme, "rejected")]


def test_a_xero_date_in_other_than_ascii_digits_is_a_400_by_path_and_nothing_is_stored(
    tenant: Tenant, secret: str
) -> None:
    """int() reads "١٧٩٤٣٥٥٢٠٠٠٠٠" as 1794355200000: a date nobody wrote in ASCII was taken."""
    arabic = "/Date(١٧٩٤٣٥٥٢٠٠٠٠٠+0000)/"

    def due_in_arabic_digits(document: dict[str, Any]) -> None:
        invoice = document["Invoices"][0]
        invoice["DueDate"] = arabic
        invoice.pop("DueDateString", None)

    body = edited("xero_accpay.json", due_in_arabic_digits)
    response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 400, content_of(response)
    assert response.json()["error"]["details"] == {"Invoices[0].DueDate": [payloads.NOT_A_DATE.format(value=arabic)]}
    assert invoices_of(tenant) == []
