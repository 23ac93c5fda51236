"""One business document, four sources, one stored invoice.

The same bill from Nordic Fasteners — sent as JSON to the API, as a CSV file, as a Xero ACCPAY
webhook and as a UBL e-invoice — must be stored identically: only `source` and `external_id`
say where it came from. This is what lets matching never branch on the source.

Sent again with the same content, by any source, it is the same document: the stored invoice
answers and nothing is written. Another document reusing its number (other amounts or lines) is
stored, and matching flags it `duplicate_invoice` (invoices.documents.InvoiceContent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import system_actor
from invoices.models import Invoice, InvoiceSource, InvoiceStatus
from matching.models import Discrepancy, MatchRun
from matching.services import matching_run_for_tenant
from tenants.models import Tenant
from tenants.services import webhook_secret_rotate
from tests.factories import TEST_ACTOR, VendorFactory
from vendors.models import Vendor

# The business document: 2000 bolts at 0.0845 = 169.00, 1500 nuts at 0.021 = 31.50; 25 % VAT
# 50.13 (200.50 × 0.25 = 50.125, rounded half up); total 250.63.
NUMBER, PO, CURRENCY, ISSUED, DUE = "NF-10288", "PO-2026-0412", "EUR", "2026-10-16", "2026-11-15"
VENDOR_NAME, VAT_ID = "Nordic Fasteners AB", "SE556677889901"
LINES = [
    (1, "M8-BOLT-50", "Hex bolt M8 x 50, zinc plated", "2000", "0.0845", "169.00", "42.25"),
    (2, "M8-NUT", "Hex nut M8", "1500", "0.021", "31.50", "7.88"),
]
SUBTOTAL, TAX, TOTAL = "200.50", "50.13", "250.63"


@dataclass(frozen=True)
class Bill:
    """What a sender varies: the lines and totals, and a detail that is not content."""

    lines: list[tuple[int, str, str, str, str, str, str]]
    subtotal: str
    tax: str
    total: str
    # Changes the bytes but not the document (a webhook's UpdatedDateUTC): a new delivery of it.
    revision: int = 0


ORIGINAL = Bill(LINES, SUBTOTAL, TAX, TOTAL)
# The same number, other content: 1000 nuts instead of 1500 (21.00, tax 5.25); 190.00 + 47.50.
CHANGED = Bill([LINES[0], (2, "M8-NUT", "Hex nut M8", "1000", "0.021", "21.00", "5.25")], "190.00", "47.50", "237.50")


def api_json(api: APIClient, tenant: Tenant, bill: Bill = ORIGINAL) -> Any:
    body = {
        "invoice_number": NUMBER,
        "vendor_tax_id": VAT_ID,
        "vendor_name": VENDOR_NAME,
        "po_number": PO,
        "currency": CURRENCY,
        "invoice_date": ISSUED,
        "due_date": DUE,
        "tax_amount": bill.tax,
        "total_amount": bill.total,
        "lines": [
            {"line_number": n, "sku": sku, "description": text, "quantity": qty, "unit_price": price, "amount": amount}
            for n, sku, text, qty, price, amount, _ in bill.lines
        ],
    }
    return api.post("/api/invoices", data=json.dumps(body), content_type="application/json")


def csv_file(api: APIClient, tenant: Tenant, bill: Bill = ORIGINAL) -> Any:
    header = (
        "invoice_number,vendor_tax_id,vendor_name,po_number,currency,invoice_date,due_date,tax_amount,"
        "total_amount,line_number,sku,description,quantity,unit_price,amount\n"
    )
    rows = "".join(
        f'{NUMBER},{VAT_ID},{VENDOR_NAME},{PO},{CURRENCY},{ISSUED},{DUE},{bill.tax},{bill.total},{n},{sku},"{text}",'
        f"{qty},{price},{amount}\n"
        for n, sku, text, qty, price, amount, _ in bill.lines
    )
    handle = io.BytesIO((header + rows).encode())
    handle.name = "bill.csv"
    return api.post("/api/invoices/import/csv", {"file": handle}, format="multipart")


def xero_webhook(api: APIClient, tenant: Tenant, bill: Bill = ORIGINAL) -> Any:
    secret = webhook_secret_rotate(tenant=tenant, actor=TEST_ACTOR)
    body = json.dumps(
        {
            "Invoices": [
                {
                    "Type": "ACCPAY",
                    "InvoiceID": "8d3c2f0f-6a1c-4e01-9b7b-5d1e3b1e4f8c",
                    "InvoiceNumber": NUMBER,
                    "Reference": PO,
                    "Contact": {"Name": VENDOR_NAME, "TaxNumber": VAT_ID},
                    "DateString": f"{ISSUED}T00:00:00",
                    "DueDateString": f"{DUE}T00:00:00",
                    "Status": "AUTHORISED",
                    "LineAmountTypes": "Exclusive",
                    "LineItems": [
                        {
                            "ItemCode": sku,
                            "Description": text,
                            "Quantity": qty,
                            "UnitAmount": price,
                            "LineAmount": amount,
                            "TaxAmount": tax,
                        }
                        for _, sku, text, qty, price, amount, tax in bill.lines
                    ],
                    "SubTotal": bill.subtotal,
                    "TotalTax": bill.tax,
                    "Total": bill.total,
                    "CurrencyCode": CURRENCY,
                    "UpdatedDateUTC": f"/Date({1792000000000 + bill.revision})/",
                }
            ]
        }
    )
    # Numbers as JSON numbers, as Xero sends them (parsed exactly, never through a float).
    for _, _, _, qty, price, amount, tax in bill.lines:
        for value in (qty, price, amount, tax):
            body = body.replace(f'"{value}"', value)
    for value in (bill.subtotal, bill.tax, bill.total):
        body = body.replace(f'"{value}"', value)
    raw = body.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return APIClient().generic(
        "POST",
        f"/api/webhook-handler/{tenant.pk}",
        raw,
        content_type="application/json",
        HTTP_X_XERO_SIGNATURE=signature,
    )


def ubl_e_invoice(api: APIClient, tenant: Tenant, bill: Bill = ORIGINAL) -> Any:
    lines = "".join(
        f"""
  <cac:InvoiceLine>
    <cbc:ID>{n}</cbc:ID>
    <cbc:InvoicedQuantity unitCode="C62">{qty}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">{amount}</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>{text}</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>{sku}</cbc:ID></cac:SellersItemIdentification>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">{price}</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>"""
        for n, sku, text, qty, price, amount, _ in bill.lines
    )
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ID>{NUMBER}</cbc:ID>
  <cbc:IssueDate>{ISSUED}</cbc:IssueDate>
  <cbc:DueDate>{DUE}</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>{CURRENCY}</cbc:DocumentCurrencyCode>
  <cac:OrderReference><cbc:ID>{PO}</cbc:ID></cac:OrderReference>
  <cac:AccountingSupplierParty><cac:Party>
    <cac:PartyName><cbc:Name>{VENDOR_NAME}</cbc:Name></cac:PartyName>
    <cac:PartyTaxScheme><cbc:CompanyID>{VAT_ID}</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
  </cac:Party></cac:AccountingSupplierParty>
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{bill.tax}</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">{bill.subtotal}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">{bill.subtotal}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">{bill.total}</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">{bill.total}</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>{lines}
</Invoice>
"""
    return api.generic("POST", "/api/invoices/import/xml", document.encode(), content_type="application/xml")


SOURCES = {
    InvoiceSource.API: api_json,
    InvoiceSource.CSV: csv_file,
    InvoiceSource.WEBHOOK: xero_webhook,
    InvoiceSource.XML: ubl_e_invoice,
}


def stored(invoice: Invoice) -> dict[str, Any]:
    """Everything stored about the document, less where it came from."""
    return {
        "vendor": invoice.vendor_id,
        "vendor_name_raw": invoice.vendor_name_raw,
        "vendor_tax_id_raw": invoice.vendor_tax_id_raw,
        "numbers": (invoice.invoice_number, invoice.invoice_number_normalized),
        "po_number": invoice.po_number,
        "currency": invoice.currency,
        "dates": (invoice.invoice_date.isoformat(), invoice.due_date.isoformat() if invoice.due_date else None),
        "amounts": (invoice.subtotal_amount, invoice.tax_amount, invoice.shipping_amount, invoice.total_amount),
        "status": (invoice.status, invoice.review_queue, invoice.document_type),
        "lines": [
            (line.line_number, line.sku, line.description, line.quantity, line.unit_price, line.amount)
            for line in invoice.lines.order_by("line_number")
        ],
    }


@pytest.fixture
def nordic(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name=VENDOR_NAME, tax_id=VAT_ID)


@pytest.mark.parametrize("source", list(SOURCES), ids=str)
def test_every_source_stores_the_same_invoice(
    source: str, api: APIClient, tenant: Tenant, nordic: Vendor, settings: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    response = SOURCES[source](api, tenant)
    assert response.status_code in (200, 201), response.content
    invoice = Invoice.objects.for_tenant(tenant).get()
    assert invoice.source == source
    assert stored(invoice) == {
        "vendor": nordic.pk,
        "vendor_name_raw": VENDOR_NAME,
        "vendor_tax_id_raw": VAT_ID,
        "numbers": (NUMBER, "NF10288"),
        "po_number": PO,
        "currency": "EUR",
        "dates": (ISSUED, DUE),
        "amounts": (20050, 5013, 0, 25063),
        "status": ("received", None, "invoice"),
        "lines": [
            (1, "M8-BOLT-50", "Hex bolt M8 x 50, zinc plated", Decimal("2000"), Decimal("0.0845"), 16900),
            (2, "M8-NUT", "Hex nut M8", Decimal("1500"), Decimal("0.021"), 3150),
        ],
    }


# --- the same number again: a re-send, or another document ------------------------------------


def answered_id(source: str, response: Any) -> str:
    """The id of the invoice a source's answer names, created or already stored."""
    body = response.json()
    if source == InvoiceSource.API or source == InvoiceSource.XML:
        return body["id"]
    if source == InvoiceSource.CSV:
        return (body["created_ids"] + [duplicate["id"] for duplicate in body["duplicate_documents"]])[0]
    return (body["invoice_ids"] + body["existing_invoice_ids"])[0]


def created_events(tenant: Tenant) -> int:
    return AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="created").count()


@pytest.mark.parametrize("source", list(SOURCES), ids=str)
def test_an_identical_resend_answers_the_stored_invoice_and_writes_nothing(
    source: str, api: APIClient, tenant: Tenant, nordic: Vendor, settings: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    first = SOURCES[source](api, tenant)
    assert first.status_code == 201, first.content
    # A new delivery, not a replay of the same bytes (the webhook's is a new UpdatedDateUTC).
    again = SOURCES[source](api, tenant, replace(ORIGINAL, revision=1))
    # 200 "already stored"; a CSV import answers 201 with its report, the document as a duplicate.
    assert again.status_code == (201 if source == InvoiceSource.CSV else 200), again.content
    if source == InvoiceSource.CSV:
        assert (again.json()["created"], again.json()["duplicates"]) == (0, 1)
    assert answered_id(source, again) == answered_id(source, first)
    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert created_events(tenant) == 1


@pytest.mark.parametrize("first_source", [InvoiceSource.API, InvoiceSource.XML], ids=str)
def test_the_same_bill_by_another_source_is_the_same_document(
    first_source: str, api: APIClient, tenant: Tenant, nordic: Vendor, settings: Any
) -> None:
    """Content, not the channel: the e-invoice and the e-mailed copy keyed in are one bill."""
    settings.MATCH_ON_INGEST = False
    first = SOURCES[first_source](api, tenant)
    for source, sender in SOURCES.items():
        if source != first_source:
            assert answered_id(source, sender(api, tenant)) == answered_id(first_source, first)
    assert Invoice.objects.for_tenant(tenant).count() == 1


@pytest.mark.parametrize("source", list(SOURCES), ids=str)
def test_a_different_document_reusing_the_number_is_stored_and_flagged_duplicate(
    source: str, api: APIClient, tenant: Tenant, nordic: Vendor, settings: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    first = SOURCES[source](api, tenant)
    second = SOURCES[source](api, tenant, CHANGED)
    assert second.status_code == 201, second.content
    second_id = answered_id(source, second)
    assert second_id != answered_id(source, first)
    assert sorted(Invoice.objects.for_tenant(tenant).values_list("total_amount", flat=True)) == [23750, 25063]

    matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("test"))
    flagged = Discrepancy.objects.for_tenant(tenant).filter(type="duplicate_invoice", severity="critical")
    assert [str(discrepancy.invoice_id) for discrepancy in flagged] == [second_id]
    # REJECT_ON's default: the engine rejects it, and a clerk finds it in the list, not lost.
    assert Invoice.objects.for_tenant(tenant).get(pk=second_id).status == InvoiceStatus.REJECTED
    listed = api.get("/api/invoices?status=rejected").json()["results"]
    assert [item["id"] for item in listed] == [second_id]
