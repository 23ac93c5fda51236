"""One business document, four sources, one stored invoice.

The same bill from Nordic Fasteners — sent as JSON to the API, as a CSV file, as a Xero ACCPAY
webhook and as a UBL e-invoice — must be stored identically: only `source` and `external_id`
say where it came from. This is what lets matching never branch on the source.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.models import Invoice, InvoiceSource
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


def api_json(api: APIClient, tenant: Tenant) -> Any:
    body = {
        "invoice_number": NUMBER,
        "vendor_tax_id": VAT_ID,
        "vendor_name": VENDOR_NAME,
        "po_number": PO,
        "currency": CURRENCY,
        "invoice_date": ISSUED,
        "due_date": DUE,
        "tax_amount": TAX,
        "total_amount": TOTAL,
        "lines": [
            {"line_number": n, "sku": sku, "description": text, "quantity": qty, "unit_price": price, "amount": amount}
            for n, sku, text, qty, price, amount, _ in LINES
        ],
    }
    return api.post("/api/invoices", data=json.dumps(body), content_type="application/json")


def csv_file(api: APIClient, tenant: Tenant) -> Any:
    header = (
        "invoice_number,vendor_tax_id,vendor_name,po_number,currency,invoice_date,due_date,tax_amount,"
        "total_amount,line_number,sku,description,quantity,unit_price,amount\n"
    )
    rows = "".join(
        f'{NUMBER},{VAT_ID},{VENDOR_NAME},{PO},{CURRENCY},{ISSUED},{DUE},{TAX},{TOTAL},{n},{sku},"{text}",'
        f"{qty},{price},{amount}\n"
        for n, sku, text, qty, price, amount, _ in LINES
    )
    handle = io.BytesIO((header + rows).encode())
    handle.name = "bill.csv"
    return api.post("/api/invoices/import/csv", {"file": handle}, format="multipart")


def xero_webhook(api: APIClient, tenant: Tenant) -> Any:
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
                        for _, sku, text, qty, price, amount, tax in LINES
                    ],
                    "SubTotal": SUBTOTAL,
                    "TotalTax": TAX,
                    "Total": TOTAL,
                    "CurrencyCode": CURRENCY,
                }
            ]
        }
    )
    # Numbers as JSON numbers, as Xero sends them (parsed exactly, never through a float).
    for _, _, _, qty, price, amount, tax in LINES:
        for value in (qty, price, amount, tax):
            body = body.replace(f'"{value}"', value)
    for value in (SUBTOTAL, TAX, TOTAL):
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


def ubl_e_invoice(api: APIClient, tenant: Tenant) -> Any:
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
        for n, sku, text, qty, price, amount, _ in LINES
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
  <cac:TaxTotal><cbc:TaxAmount currencyID="EUR">{TAX}</cbc:TaxAmount></cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">{SUBTOTAL}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">{SUBTOTAL}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">{TOTAL}</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">{TOTAL}</cbc:PayableAmount>
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
