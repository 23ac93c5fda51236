"""Webhooks in: a signed delivery whose document is invalid (or holds what PostgreSQL cannot store)
is a 400 the sender can act on, recorded as rejected, and nothing is stored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from core.exceptions import DocumentInvalid
from core.text import NUL_REFUSED
from invoices.ingest import webhook_payloads as payloads
from tenants.models import Tenant
from tests.invoices.webhook_deliveries import (
    SIGNERS,
    content_of,
    deliver,
    deliveries,
    edited,
    intuit_headers,
    invoices_of,
    payload,
    standard_headers,
    xero_headers,
)

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


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
