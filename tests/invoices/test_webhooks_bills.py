"""Webhooks in: what each sender's signed delivery creates (a QuickBooks bill, a Xero ACCPAY
invoice), normalized exactly; Xero's intent to receive, and what is not a bill.

Payloads under testdata/webhooks/ are shaped as the QuickBooks Online and Xero APIs return them;
every expected amount below is computed by hand from those files, in minor units.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from decimal import Decimal
from typing import Any

import pytest

from invoices.ingest import webhook_payloads as payloads
from invoices.ingest import webhooks
from invoices.models import InvoiceSource
from tenants.models import Tenant
from tests.factories import PurchaseOrderFactory, VendorFactory
from tests.invoices.webhook_deliveries import (
    LOGGER,
    MSG_ID,
    SIGNERS,
    content_of,
    deliver,
    deliveries,
    edited,
    intuit_headers,
    invoices_of,
    lines_of,
    payload,
    standard_headers,
    xero_headers,
)

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


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
