"""Webhooks in, in bursts: a Xero delivery carries a page of bills (up to 100). They go through the
one door's many-documents form: checked one by one, written together, all or nothing; a bill already
stored or repeated within the delivery answered with its invoice; each refusal by its payload path."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Tenant
from tests.factories import VendorFactory
from tests.invoices.webhook_deliveries import content_of, deliver, deliveries, edited, invoices_of, xero_headers

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


def _burst(count: int, *, first: int = 0, edit: Any = None) -> bytes:
    """The Xero ACCPAY test file with its one bill copied `count` times, each its own number and id."""

    def many(document: dict[str, Any]) -> None:
        [bill] = document["Invoices"]
        document["Invoices"] = []
        for number in range(first, first + count):
            copied = copy.deepcopy(bill)
            copied["InvoiceID"] = f"00000000-0000-4000-8000-{number:012}"
            copied["InvoiceNumber"] = f"AIS-{90000 + number}"
            if edit is not None:
                edit(number, copied)
            document["Invoices"].append(copied)

    return edited("xero_accpay.json", many)


@pytest.fixture
def acme(tenant: Tenant) -> Any:
    return VendorFactory(tenant=tenant, name="Acme Industrial Supplies GmbH", tax_id="DE811234567")


def test_a_burst_is_stored_whole_with_as_many_statements_for_forty_bills_as_for_twenty(
    tenant: Tenant, secret: str, acme: Any
) -> None:
    # (Past 10 documents a write is three pipelined statements, one per table; up to 10, one.)
    body = _burst(20)
    with CaptureQueriesContext(connection) as twenty:
        response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 201, content_of(response)
    body = _burst(40, first=100)
    with CaptureQueriesContext(connection) as forty:
        response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 201, content_of(response)

    stored = invoices_of(tenant)
    assert len(stored) == 60 and response.json()["invoice_ids"] == [str(invoice.pk) for invoice in stored[20:]]
    assert {invoice.vendor_id for invoice in stored} == {acme.pk}
    assert {invoice.total_amount for invoice in stored} == {27832}
    assert len(forty.captured_queries) == len(twenty.captured_queries)


def test_bills_stored_before_or_repeated_in_the_burst_are_answered_with_their_invoices(
    tenant: Tenant, secret: str, acme: Any
) -> None:
    body = _burst(2)
    earlier = deliver(tenant, body, xero_headers(body, secret)).json()["invoice_ids"]

    def repeat_the_first(number: int, bill: dict[str, Any]) -> None:
        if number == 3:  # the delivery's last bill repeats its first, id and all
            bill["InvoiceID"] = "00000000-0000-4000-8000-000000000001"
            bill["InvoiceNumber"] = "AIS-90001"

    body = _burst(4, edit=repeat_the_first)  # 0 and 1 stored before; 2 new; 3 repeats 1
    response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 201, content_of(response)
    answer = response.json()
    assert answer["existing_invoice_ids"] == [*earlier, earlier[1]]
    assert len(answer["invoice_ids"]) == 1
    assert len(invoices_of(tenant)) == 3


def test_a_burst_with_refused_bills_stores_none_and_names_each_by_its_path(
    tenant: Tenant, secret: str, acme: Any
) -> None:
    def spoil(number: int, bill: dict[str, Any]) -> None:
        if number in (2, 5):
            bill["CurrencyCode"] = "XXX"

    body = _burst(7, edit=spoil)
    response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert sorted(details) == ["Invoices[2].currency", "Invoices[5].currency"]
    assert invoices_of(tenant) == []
    assert [delivery.outcome for delivery in deliveries()] == ["rejected"]


def test_one_refused_bill_of_a_burst_keeps_its_own_message(tenant: Tenant, secret: str, acme: Any) -> None:
    def spoil(number: int, bill: dict[str, Any]) -> None:
        if number == 1:
            bill["LineItems"][0]["Quantity"] = Decimal("0")

    body = _burst(3, edit=spoil)
    response = deliver(tenant, body, xero_headers(body, secret))
    assert response.status_code == 400
    error = response.json()["error"]
    assert all(path.startswith("Invoices[1].") for path in error["details"]), error
    assert "of the 3 documents" not in error["message"]
    assert invoices_of(tenant) == []
