"""A document whose total is negative, the same way through the API, CSV and UBL doors.

The rule (invoices.documents.document_with_positive_total): the kind comes from the document
(UBL type code 380 invoice / 381 credit note, the API's and CSV's document_type); a negative
invoice is stored as a credit note, a negative credit note as an invoice, every sign turned and
`converted_from` recording what the document stated. UBL's base-negative-inv-correction.xml is in
test_ubl_import.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.checks import CONVERTED_AMOUNT, CONVERTED_LINE_QUANTITY, NEGATIVE_TOTAL_POSITIVE_LINES
from invoices.models import CONVERSION_REASONS, DocumentType, Invoice, InvoiceStatus
from tenants.models import Tenant
from tests.factories import InvoiceFactory


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def correction(**fields: Any) -> dict[str, Any]:
    """A negative invoice: 4 bolts returned at 12.50, 25 % VAT: −62.50."""
    return {
        "invoice_number": "NF-COR-1",
        "vendor_name": "Nordic Fasteners AB",
        "currency": "EUR",
        "invoice_date": "2026-10-20",
        "tax_amount": "-12.50",
        "total_amount": "-62.50",
        "lines": [{"description": "Hex bolt M8, returned", "quantity": "-4", "unit_price": "12.50"}],
        **fields,
    }


def stored_kind(invoice: Invoice) -> tuple[Any, ...]:
    return (
        invoice.document_type,
        invoice.converted_from,
        invoice.total_amount,
        invoice.tax_amount,
        invoice.subtotal_amount,
        [(line.quantity, line.amount) for line in invoice.lines.all()],
    )


def test_a_negative_api_invoice_is_stored_as_a_credit_note_recorded_as_converted(
    api: APIClient, tenant: Tenant
) -> None:
    invoice = api.post(
        "/api/invoices",
        {
            **correction(invoice_number="NF-9", tax_amount="12.50", total_amount="62.50"),
            "lines": [{"description": "Hex bolt M8", "quantity": "4", "unit_price": "12.50"}],
        },
        format="json",
    ).json()
    response = api.post("/api/invoices", correction(credited_invoice_number="NF-9"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["document_type"], body["converted_from"], body["total_amount"]) == ("credit_note", "invoice", "62.50")
    assert body["conversion_reason"] == CONVERSION_REASONS[DocumentType.INVOICE]
    assert body["credited_invoice_id"] == invoice["id"]
    stored = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert stored_kind(stored) == ("credit_note", "invoice", 6250, 1250, 5000, [(4, 5000)])
    # A credit note for the invoice's full total: the invoice is void, as for any credit note.
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice["id"]).status == InvoiceStatus.VOID
    # The audit event says what was received and what it was stored as.
    [created] = AuditEvent.objects.for_tenant(tenant).filter(entity_id=body["id"], action="created")
    assert (created.after["document_type"], created.after["converted_from"]) == ("credit_note", "invoice")
    # Sent again, it is the same document.
    again = api.post("/api/invoices", correction(credited_invoice_number="NF-9"), format="json")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])


def test_a_negative_csv_invoice_is_stored_as_a_credit_note_recorded_as_converted(
    api: APIClient, tenant: Tenant
) -> None:
    content = (
        b"invoice_number,vendor_name,currency,invoice_date,tax_amount,total_amount,description,quantity,unit_price\n"
        b'NF-COR-1,Nordic Fasteners AB,EUR,2026-10-20,-12.50,-62.50,"Hex bolt M8, returned",-4,12.50\n'
    )
    handle = io.BytesIO(content)
    handle.name = "corrections.csv"
    response = api.post("/api/invoices/import/csv", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    stored = Invoice.objects.for_tenant(tenant).get(pk=response.json()["created_ids"][0])
    # Exactly what the API stores for the same document.
    assert stored_kind(stored) == ("credit_note", "invoice", 6250, 1250, 5000, [(4, 5000)])
    assert stored.conversion_reason == CONVERSION_REASONS[DocumentType.INVOICE]


def test_a_negative_credit_note_is_stored_as_an_invoice(api: APIClient, tenant: Tenant) -> None:
    response = api.post(
        "/api/invoices",
        correction(invoice_number="NF-CN-3", document_type="credit_note", credited_invoice_number="NF-1"),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["document_type"], body["converted_from"], body["credited_invoice_number"]) == (
        "invoice",
        "credit_note",
        "",
    )
    assert body["conversion_reason"] == CONVERSION_REASONS[DocumentType.CREDIT_NOTE]


def test_a_negative_invoice_with_positive_lines_is_a_400_that_says_why(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    """Turned, its line would bill −4: a typed source never sends one, and the sender is told why."""
    before = document_counts()
    lines = [{"description": "Hex bolt M8", "quantity": "4", "unit_price": "12.50"}]
    response = api.post("/api/invoices", correction(lines=lines), format="json")
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert details["total_amount"] == [NEGATIVE_TOTAL_POSITIVE_LINES.format(stated="invoice", stored="credit note")]
    assert details["lines[0].quantity"] == [CONVERTED_LINE_QUANTITY.format(stored="credit note", quantity=-4)]
    assert document_counts() == before


def test_a_negative_invoice_with_positive_tax_or_prepaid_is_a_400_that_says_why(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    """Turned with the total, a positive tax or prepaid amount would be negative: the sender is told
    that, not "must not be negative" about the positive number they wrote."""
    before = document_counts()
    response = api.post("/api/invoices", correction(tax_amount="12.50", prepaid_amount="5.00"), format="json")
    assert response.status_code == 400, response.content
    details = response.json()["error"]["details"]
    assert details == {
        "tax_amount": [CONVERTED_AMOUNT.format(amount="-12.50", stored="credit note", stated="invoice")],
        "prepaid_amount": [CONVERTED_AMOUNT.format(amount="-5.00", stored="credit note", stated="invoice")],
    }
    assert document_counts() == before


def test_the_database_refuses_a_negative_total_and_a_conversion_to_the_same_kind(tenant: Tenant) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(tenant=tenant, total_amount=-100, subtotal_amount=-100)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvoiceFactory(tenant=tenant, document_type="invoice", converted_from="invoice")
