"""What the invoice list reads from its query string: each filter, and every bad value left out as
a field error (never a failure), down to NUL, huge, tiny and non-ASCII numbers; and the canonical
query string the saved views and exports carry."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.http import QueryDict

from review.invoice_list import (
    AMOUNT_NEGATIVE,
    AMOUNT_TOO_LARGE,
    AMOUNT_TOO_PRECISE,
    RANGE_REVERSED,
    InvoiceListFilters,
    InvoiceListForm,
    invoice_list_query,
)


def _form(query: str) -> InvoiceListForm:
    return InvoiceListForm(QueryDict(query))


def _amount_form(text: str) -> InvoiceListForm:
    query = QueryDict(mutable=True)
    query["amount_min"] = text
    return InvoiceListForm(query)


def test_no_query_filters_nothing() -> None:
    form = _form("")
    assert form.filters() == InvoiceListFilters()
    assert form.page_size() == 50
    assert not form.errors


def test_every_filter_is_read() -> None:
    vendor = uuid.uuid4()
    form = _form(
        f"status=disputed&status=approved&queue=escalated&vendor={vendor}&po=+PO-7+"
        "&invoice_from=2026-01-01&invoice_to=2026-01-31&received_from=2026-02-01&received_to=2026-02-02"
        "&amount_min=1%2C000.50&amount_max=2000&currency=jpy&source=csv&document=credit_note"
        "&discrepancy=price_mismatch&per_page=100"
    )
    assert not form.errors
    assert form.filters() == InvoiceListFilters(
        statuses=("approved", "disputed"),  # the lifecycle's order, whatever the query's
        queue="escalated",
        vendor_id=vendor,
        po_number="PO-7",
        invoice_from=dt.date(2026, 1, 1),
        invoice_to=dt.date(2026, 1, 31),
        received_from=dt.date(2026, 2, 1),
        received_to=dt.date(2026, 2, 2),
        amount_min=Decimal("1000.50"),
        amount_max=Decimal("2000"),
        currency="JPY",
        source="csv",
        document_type="credit_note",
        discrepancy_type="price_mismatch",
    )
    assert form.page_size() == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("invoice_from=2026-13-01", "invoice_from"),
        ("invoice_to=31/01/2026", "invoice_to"),
        ("received_from=99999-01-01", "received_from"),
        ("received_to=yesterday", "received_to"),
        ("status=paid", "status"),
        ("status=approved&status=%3Cscript%3E", "status"),
        ("queue=vip", "queue"),
        ("vendor=not-a-uuid", "vendor"),
        ("currency=EURO", "currency"),
        ("currency=XYZ", "currency"),
        ("source=fax", "source"),
        ("document=receipt", "document"),
        ("discrepancy=drop+table", "discrepancy"),
        ("per_page=100000", "per_page"),
        ("po=" + "9" * 65, "po"),
    ],
)
def test_a_bad_value_is_a_field_error_and_filters_nothing(query: str, field: str) -> None:
    # A valid filter beside it, of another field, still applies.
    valid, expected = ("&document=invoice", {"document_type": "invoice"})
    if field == "document":
        valid, expected = ("&source=api", {"source": "api"})
    form = _form(query + valid)
    assert list(form.errors) == [field]
    assert form.filters() == InvoiceListFilters(**expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "is not a decimal number"),
        ("1e999999", AMOUNT_TOO_LARGE),
        ("123456789012345678901234", AMOUNT_TOO_LARGE),
        ("9" * 10_000, AMOUNT_TOO_LARGE),
        ("1E-999999", AMOUNT_TOO_PRECISE),
        ("0.00001", AMOUNT_TOO_PRECISE),
        ("-5", AMOUNT_NEGATIVE),
        ("NaN", "is not a decimal number"),
        ("Infinity", "is not a decimal number"),
        ("١٢٣", "is not a decimal number"),  # Arabic-Indic digits: Decimal would read 123
        ("1.000,50", "is not a decimal number"),  # not read as 1.0005
        ("1,00", "is not a decimal number"),
        ("0x10", "is not a decimal number"),
    ],
)
def test_a_bad_amount_says_why(text: str, message: str) -> None:
    form = _amount_form(text)
    assert message in form.errors["amount_min"][0]
    assert form.filters().amount_min is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("10", Decimal("10")),
        ("10.5", Decimal("10.5")),
        ("1,234,567.891", Decimal("1234567.891")),
        (" 0.0001 ", Decimal("0.0001")),
        ("10.000000", Decimal("10.0000")),  # only zeros past the fourth decimal
        ("999999999999999999", Decimal("999999999999999999")),
    ],
)
def test_an_amount_is_read_exactly(text: str, amount: Decimal) -> None:
    form = _amount_form(text)
    assert not form.errors
    assert form.filters().amount_min == amount
    assert str(form.filters().amount_min) == str(amount)


@pytest.mark.parametrize("field", ["po", "amount_min", "currency", "invoice_from", "vendor", "status"])
def test_a_nul_byte_is_a_field_error(field: str) -> None:
    """The pages refuse a NUL before any form reads it (tenants.http.web); the form alone does too."""
    query = QueryDict(mutable=True)
    query[field] = "PO\x001"
    form = InvoiceListForm(query)
    assert list(form.errors) == [field]
    assert form.filters() == InvoiceListFilters()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("invoice_from=2026-02-01&invoice_to=2026-01-01", "invoice_to"),
        ("received_from=2026-02-01&received_to=2026-01-01", "received_to"),
        ("amount_min=10&amount_max=9.99", "amount_max"),
    ],
)
def test_a_range_that_ends_before_it_starts_drops_its_end(query: str, field: str) -> None:
    form = _form(query)
    assert form.errors[field] == [RANGE_REVERSED]
    assert getattr(form.filters(), field) is None  # each range's end is named as its filter


def test_the_canonical_query_holds_the_valid_filters_in_one_order_and_no_page() -> None:
    form = _form("page=3&currency=eur&status=void&status=received&amount_min=1%2C000&bogus=1&invoice_to=x&per_page=50")
    assert invoice_list_query(form=form, sort="-received") == "status=received&status=void&amount_min=1000&currency=EUR"
    assert invoice_list_query(form=_form("per_page=25"), sort="amount") == "per_page=25&sort=amount"
    assert invoice_list_query(form=_form(""), sort="-received") == ""


def test_the_canonical_query_reads_back_as_the_same_filters() -> None:
    vendor = uuid.UUID(int=7)
    form = _form(f"status=on_hold&received_from=0999-01-01&received_to=9999-12-31&amount_max=5.5&vendor={vendor}")
    again = _form(invoice_list_query(form=form, sort="-received"))
    assert not again.errors
    assert again.filters() == form.filters()
