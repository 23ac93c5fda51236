"""The line editor's sums (tenants.http.line_entry): exact decimals in the currency's minor units,
the same rounding as the one door, blank rows skipped, decimal commas refused rather than misread,
and the totals endpoint that the editor posts to as the person types."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse

from tenants.http.line_entry import DECIMAL_COMMA, LINE_NEEDS_QUANTITY_AND_PRICE, line_formset, line_totals_of


def posted(currency: str, rows: list[dict[str, str]], **extra: str) -> QueryDict:
    data = QueryDict(mutable=True)
    data.update({"currency": currency, "lines-TOTAL_FORMS": str(len(rows)), "lines-INITIAL_FORMS": "0", **extra})
    for index, row in enumerate(rows):
        for name, value in row.items():
            data[f"lines-{index}-{name}"] = value
    return data


def test_sums_are_exact_and_rounded_once_per_line_like_the_door() -> None:
    totals = line_totals_of(
        posted(
            "EUR",
            [
                {"description": "Gloves", "quantity": "3", "unit_price": "0.335"},  # 1.005 → 1.01
                {},  # the empty row the editor always offers
                {"description": "Tape", "quantity": "0.1", "unit_price": "0.1"},  # 0.01
            ],
            tax_amount="0.19",
            total_amount="1.30",
        )
    )
    assert totals.row_amounts == [101, None, 1]
    assert (totals.subtotal, totals.total, totals.stated_total) == (102, 121, 130)
    assert totals.extras == [("Tax", 19)]
    assert totals.disagrees


def test_places_follow_the_currency() -> None:
    rows = [{"description": "Bolts", "quantity": "7", "unit_price": "1.2345"}]
    assert line_totals_of(posted("JPY", rows)).subtotal == 9  # 8.6415 yen → 9
    assert line_totals_of(posted("BHD", rows)).subtotal == 8642  # 8.6415 → 8.642


def test_without_a_currency_nothing_is_added_up() -> None:
    totals = line_totals_of(posted("", [{"description": "x", "quantity": "1", "unit_price": "1"}]))
    assert totals.currency is None and totals.total is None and totals.problems


def test_row_errors_stay_beside_their_cells() -> None:
    formset = line_formset(
        posted(
            "EUR",
            [
                {"description": "Gloves", "quantity": "12,5", "unit_price": "1"},
                {"description": "Tape", "quantity": "1,250.5", "unit_price": "2"},
                {"description": "Box", "quantity": "2"},
                {"description": "Nothing", "quantity": "0", "unit_price": "1"},
            ],
        )
    )
    assert not formset.is_valid()
    assert formset.forms[0].errors["quantity"] == [DECIMAL_COMMA]
    assert formset.forms[1].cleaned_data["quantity"] == Decimal("1250.5")
    assert formset.forms[2].errors["unit_price"] == [LINE_NEEDS_QUANTITY_AND_PRICE]
    assert formset.forms[3].errors["quantity"] == ["Must be greater than 0."]


@pytest.mark.django_db
def test_the_totals_endpoint_renders_the_sums_and_each_rows_amount(clerk: Client) -> None:
    rows = [{"description": "Gloves", "quantity": "1200", "unit_price": "4.2"}, {}]
    response = clerk.post(reverse("web:line-totals"), posted("EUR", rows))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="subtotal">5,040.00' in body
    assert 'id="lines-0-amount"' in body and 'hx-swap-oob="true"' in body


@pytest.mark.django_db
def test_the_totals_endpoint_wants_a_post_and_a_member(client: Client, clerk: Client) -> None:
    assert clerk.get(reverse("web:line-totals")).status_code == 405
    assert client.post(reverse("web:line-totals"), {}).status_code == 302
