"""GET /api/payments (filters, cursor pages) and GET /api/payments/{id} (masked accounts, 404 abroad)."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from payments.apis import AMOUNT_FILTER_INVALID
from tenants.models import Tenant
from tests.factories import PaymentFactory

LIST = "/api/payments"


def ids(response: object) -> set[str]:
    return {item["id"] for item in response.json()["results"]}  # type: ignore[attr-defined]


def test_detail_masks_account_numbers(api: APIClient, tenant: Tenant) -> None:
    payment = PaymentFactory(
        tenant=tenant, bank_account="NL91 ABNA 0417 1643 00", counterparty_account="DE89370400440532013000"
    )
    response = api.get(f"{LIST}/{payment.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["bank_account"] == "****4300"
    assert body["counterparty_account"] == "****3000"
    assert "0417164300" not in response.content.decode()
    assert "370400440532013000" not in response.content.decode()
    assert (body["amount"], body["currency"], body["direction"]) == ("4398.00", "EUR", "debit")


def test_another_tenants_payment_is_a_404(foreign_api: APIClient, tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=tenant)
    response = foreign_api.get(f"{LIST}/{payment.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert str(payment.pk) not in ids(foreign_api.get(LIST))


def test_filters(api: APIClient, tenant: Tenant) -> None:
    early = PaymentFactory(tenant=tenant, booking_date=dt.date(2026, 10, 1), amount=1000, direction="credit")
    late = PaymentFactory(tenant=tenant, booking_date=dt.date(2026, 10, 20), amount=250050, status="matched")
    yen = PaymentFactory(tenant=tenant, booking_date=dt.date(2026, 10, 20), amount=1500, currency="JPY")

    assert ids(api.get(LIST, {"direction": "credit"})) == {str(early.pk)}
    assert ids(api.get(LIST, {"status": "matched"})) == {str(late.pk)}
    assert ids(api.get(LIST, {"booking_date_from": "2026-10-10"})) == {str(late.pk), str(yen.pk)}
    assert ids(api.get(LIST, {"booking_date_to": "2026-10-10"})) == {str(early.pk)}
    assert ids(api.get(LIST, {"currency": "eur", "amount_min": "100.00"})) == {str(late.pk)}
    assert ids(api.get(LIST, {"currency": "EUR", "amount": "2500.50"})) == {str(late.pk)}
    assert ids(api.get(LIST, {"currency": "JPY", "amount_max": "1500"})) == {str(yen.pk)}

    assert ids(api.get(LIST, {"counterparty_account": "de89 3704 0044 0532 0130 00"})) == {
        str(early.pk),
        str(late.pk),
        str(yen.pk),
    }
    assert ids(api.get(LIST, {"counterparty_account": "DE89370400440532013001"})) == set()


def test_an_amount_filter_needs_no_currency_each_payment_is_compared_in_its_own(api: APIClient, tenant: Tenant) -> None:
    """The schema cannot say "amount needs currency", and nothing needs it: a value in major
    units is compared with each payment in its own currency's minor units, exactly."""
    ten_euros = PaymentFactory(tenant=tenant, amount=1000, currency="EUR")
    big_euros = PaymentFactory(tenant=tenant, amount=250050, currency="EUR")
    yen = PaymentFactory(tenant=tenant, amount=1500, currency="JPY")
    dinars = PaymentFactory(tenant=tenant, amount=10005, currency="BHD")  # 10.005

    assert ids(api.get(LIST, {"amount_min": "100"})) == {str(big_euros.pk), str(yen.pk)}
    assert ids(api.get(LIST, {"amount": "10"})) == {str(ten_euros.pk)}
    assert ids(api.get(LIST, {"amount": "1500"})) == {str(yen.pk)}
    # More decimals than a currency has: equal to nothing in it, and a bound rounds inward.
    assert ids(api.get(LIST, {"amount": "10.005"})) == {str(dinars.pk)}
    assert ids(api.get(LIST, {"currency": "EUR", "amount": "10.005"})) == set()
    assert ids(api.get(LIST, {"amount_min": "10.001", "amount_max": "10.009"})) == {str(dinars.pk)}
    assert ids(api.get(LIST, {"currency": "EUR", "amount_min": "9.999", "amount_max": "10.001"})) == {str(ten_euros.pk)}
    # Beyond any amount a BIGINT holds: nothing above it, everything below it.
    assert ids(api.get(LIST, {"amount_min": "999999999999999999"})) == set()
    assert len(ids(api.get(LIST, {"amount_max": "999999999999999999"}))) == 4


@pytest.mark.parametrize("amount", ["abc", "-5", "1e3", "1.23456", "12,50", "\u0661\u0662"])
def test_an_amount_filter_not_of_the_documented_shape_is_a_400(amount: str, api: APIClient) -> None:
    refused = api.get(LIST, {"amount_min": amount})
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"amount_min": [AMOUNT_FILTER_INVALID]}


def test_list_is_cursor_paginated(api: APIClient, tenant: Tenant) -> None:
    created = {str(PaymentFactory(tenant=tenant).pk) for _ in range(5)}
    seen: set[str] = set()
    url: str | None = f"{LIST}?page_size=2"
    pages = 0
    while url:
        page = api.get(url).json()
        assert "cursor=" in (page["next"] or "cursor=")
        seen |= {item["id"] for item in page["results"]}
        url = page["next"]
        pages += 1
    assert seen == created
    assert pages == 3
