"""The prepaid amount (EN 16931 BT-113) and the amount due (BT-115) through the API and CSV doors.

UBL's PrepaidAmount / PayableAmount are in test_ubl_import; what payments and the forecast do with
the amount due is in tests/payments/test_amount_due.py.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from core.money import EXCESS_PRECISION
from invoices.checks import AMOUNT_DUE_DISAGREES, AMOUNT_NEGATIVE, PREPAID_EXCEEDS_TOTAL
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import InvoiceFactory


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def deposit_invoice(**fields: Any) -> dict[str, Any]:
    """A bill of 1,200.00 of which 200.00 was paid as a deposit before it was issued."""
    return {
        "invoice_number": "DEP-1",
        "vendor_name": "Nordic Fasteners AB",
        "currency": "EUR",
        "invoice_date": "2026-10-01",
        "total_amount": "1200.00",
        "prepaid_amount": "200.00",
        "lines": [{"description": "Press tooling", "quantity": "1", "unit_price": "1200.00"}],
        **fields,
    }


def errors_of(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["details"]


def test_the_api_stores_the_prepaid_amount_and_shows_the_amount_due(api: APIClient, tenant: Tenant) -> None:
    response = api.post("/api/invoices", deposit_invoice(amount_due="1000.00"), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["total_amount"], body["prepaid_amount"], body["amount_due"]) == ("1200.00", "200.00", "1000.00")
    assert api.get(f"/api/invoices/{body['id']}").json()["amount_due"] == "1000.00"
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert (invoice.total_amount, invoice.prepaid_amount, invoice.amount_due) == (120000, 20000, 100000)
    # Without a prepaid amount everything is due, as before.
    without = {key: value for key, value in deposit_invoice(invoice_number="DEP-2").items() if key != "prepaid_amount"}
    plain = api.post("/api/invoices", without, format="json")
    assert (plain.json()["prepaid_amount"], plain.json()["amount_due"]) == ("0.00", "1200.00")


@pytest.mark.parametrize(
    ("fields", "field_name", "message"),
    [
        ({"prepaid_amount": "1200.01"}, "prepaid_amount", PREPAID_EXCEEDS_TOTAL.format(total="1200.00")),
        ({"prepaid_amount": "-1.00"}, "prepaid_amount", AMOUNT_NEGATIVE),
        (
            {"prepaid_amount": "0.001"},
            "prepaid_amount",
            EXCESS_PRECISION.format(value="0.001", code="EUR", exponent=2),
        ),
        (
            {"amount_due": "1200.00"},
            "amount_due",
            AMOUNT_DUE_DISAGREES.format(amount_due="1200.00", total="1200.00", prepaid="200.00", expected="1000.00"),
        ),
        (
            {"amount_due": "999.98"},
            "amount_due",
            AMOUNT_DUE_DISAGREES.format(amount_due="999.98", total="1200.00", prepaid="200.00", expected="1000.00"),
        ),
    ],
    ids=["beyond the total", "negative", "excess decimals", "the total as due", "two cents off"],
)
def test_a_prepaid_amount_outside_the_total_or_a_contradicting_amount_due_is_a_400_and_nothing_is_written(
    fields: dict[str, str],
    field_name: str,
    message: str,
    api: APIClient,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    before = document_counts()
    details = errors_of(api.post("/api/invoices", deposit_invoice(**fields), format="json"))
    assert details[field_name] == [message]
    assert document_counts() == before


def test_an_amount_due_one_minor_unit_off_is_rounding_and_the_stored_one_is_total_less_prepaid(
    api: APIClient,
) -> None:
    response = api.post("/api/invoices", deposit_invoice(amount_due="1000.01"), format="json")
    assert response.status_code == 201, response.content
    assert response.json()["amount_due"] == "1000.00"


def test_the_csv_prepaid_amount_column(api: APIClient, tenant: Tenant) -> None:
    content = (
        b"invoice_number,vendor_name,currency,invoice_date,total_amount,prepaid_amount,description,quantity,unit_price\n"
        b"DEP-7,Nordic Fasteners AB,NOK,2026-10-01,1801.78,1000.00,Tooling,1,1801.78\n"
    )
    handle = io.BytesIO(content)
    handle.name = "deposits.csv"
    response = api.post("/api/invoices/import/csv", {"file": handle}, format="multipart")
    assert response.status_code == 201, response.content
    invoice = Invoice.objects.for_tenant(tenant).get(pk=response.json()["created_ids"][0])
    assert (invoice.total_amount, invoice.prepaid_amount, invoice.amount_due) == (180178, 100000, 80178)

    beyond = content.replace(b"1000.00", b"1801.79").replace(b"DEP-7", b"DEP-8")
    handle = io.BytesIO(beyond)
    handle.name = "deposits.csv"
    refused = api.post("/api/invoices/import/csv", {"file": handle}, format="multipart")
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"]["details"]["row 2, column prepaid_amount"] == [
        PREPAID_EXCEEDS_TOTAL.format(total="1801.78")
    ]


def test_the_database_keeps_the_prepaid_amount_within_the_total(tenant: Tenant) -> None:
    """The constraint is the second line, for writes that skip the door."""
    for prepaid in (-1, 12501):
        with pytest.raises(IntegrityError), transaction.atomic():
            InvoiceFactory(tenant=tenant, total_amount=12500, prepaid_amount=prepaid)
    invoice = InvoiceFactory(tenant=tenant, total_amount=12500, prepaid_amount=2500)
    # Generated by PostgreSQL: whoever writes the row, the amount due follows the total.
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).amount_due == 10000
    Invoice.objects.for_tenant(tenant).filter(pk=invoice.pk).update(total_amount=13000)
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).amount_due == 10500
