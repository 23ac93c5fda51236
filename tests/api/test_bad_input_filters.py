"""Query parameters: a bad typed filter is a 400 naming it, a text filter is a literal that matches
nothing, and more parameters than Django reads is a 400 that says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from core.http.errors import TOO_MANY_FIELDS
from tests.api.bad_input import INVOICES, NUL, SQL_ISH, VENDORS, World, assert_envelope, baseline, send


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"vendor_id": SQL_ISH}, "vendor_id"),
        ({"status": SQL_ISH}, "status"),
        ({"review_queue": SQL_ISH}, "review_queue"),
        ({"invoice_date_from": SQL_ISH}, "invoice_date_from"),
        ({"created_to": SQL_ISH}, "created_to"),
        ({"cursor": SQL_ISH}, "cursor"),
        ({"invoice_date_from": "10000-01-01"}, "invoice_date_from"),
        ({"invoice_date_to": "2026-02-30"}, "invoice_date_to"),
        ({"invoice_number": NUL}, "invoice_number"),
    ],
    ids=lambda value: "-".join(value) if isinstance(value, dict) else value,
)
def test_a_bad_filter_is_a_400_naming_it(
    query: dict[str, str], field: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """A typed filter (id, choice, date, cursor) given SQL, a date out of range or a NUL: a 400, no query run."""
    before = document_counts()
    error = assert_envelope(api.get(INVOICES, query), 400, "validation_error")
    assert field in error["details"]
    assert document_counts() == before


@pytest.mark.parametrize("amount", ["\u0661\u0662", "\uff11\uff12", "12\U0001f4b0", SQL_ISH], ids=repr)
def test_an_amount_filter_in_other_than_ascii_digits_is_a_400(amount: str, api: APIClient) -> None:
    """`?amount=١٢` would otherwise be read as 12 by Decimal() (core.money.parse_decimal)."""
    error = assert_envelope(api.get("/api/payments", {"amount": amount, "currency": "EUR"}), 400, "validation_error")
    assert "amount" in error["details"]


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [
        (INVOICES, {"invoice_number": SQL_ISH}),
        (INVOICES, {"po_number": SQL_ISH}),
        (VENDORS, {"name": SQL_ISH}),
        (VENDORS, {"tax_id": "' OR 1=1 --"}),
        ("/api/audit-events", {"entity_id": SQL_ISH}),
    ],
    ids=lambda value: value.rsplit("/", 1)[-1] if isinstance(value, str) else "-".join(value),
)
def test_a_sql_ish_text_filter_is_a_literal_that_matches_nothing(
    endpoint: str, query: dict[str, str], world: World, api: APIClient, document_counts: Any
) -> None:
    """Free-text filters compare the string as data: an empty page, not every row, and no table dropped."""
    assert send(api, INVOICES, baseline(INVOICES, world)).status_code == 201
    assert api.get(endpoint).json()["results"], "the tenant has rows a `' OR 1=1` would reveal (non-vacuous)"
    before = document_counts()
    response = api.get(endpoint, query)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    assert document_counts() == before


def test_more_query_parameters_than_django_reads_is_a_400_that_says_so(api: APIClient) -> None:
    """Django stops at DATA_UPLOAD_MAX_NUMBER_FIELDS; the answer said only "could not be understood"."""
    query = "&".join(["status=approved"] * (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    error = assert_envelope(api.get(f"{INVOICES}?{query}"), 400, "bad_request")
    assert error["message"] == TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
