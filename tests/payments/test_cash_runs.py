"""The cash forecast with payment runs and discounts (payments.cash): a run's invoices on its
execution date for what it pays; discounts still open in the week of their deadline."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from invoices.models import Invoice
from payments.cash import OpenItem, cash_forecast
from payments.runs.services import payment_run_approve, payment_run_propose
from payments.selectors import cash_forecast_for_tenant
from tenants.models import Tenant
from tests.payments.run_books import DEBTOR_IBAN, actor_of, approved_invoice, paying_vendor, people

D = dt.date
TODAY = D(2026, 12, 2)  # a Wednesday; its week starts on Monday 30 November
ACME = uuid.uuid4()


def test_an_invoice_in_an_approved_run_is_expected_on_the_run_s_execution_date() -> None:
    # Due in January, but the run executes on 10 December: the bank file is written.
    run_item = OpenItem(uuid.uuid4(), ACME, "EUR", 980_00, D(2026, 11, 1), D(2027, 1, 15), scheduled_on=D(2026, 12, 10))
    other = OpenItem(uuid.uuid4(), ACME, "EUR", 50_00, D(2026, 11, 1), D(2026, 12, 3))

    [forecast] = cash_forecast([run_item, other], {}, today=TODAY, weeks=4)

    assert [(week.amount, week.scheduled, week.invoices) for week in forecast.weeks] == [
        (50_00, 0, 1),
        (980_00, 980_00, 1),
        (0, 0, 0),
        (0, 0, 0),
    ]


def test_open_discounts_count_in_the_week_of_their_deadline_capped_at_what_is_open() -> None:
    items = [
        # 2 % of 1,000.00 until 9 December (week 2).
        OpenItem(uuid.uuid4(), ACME, "EUR", 1000_00, D(2026, 11, 30), D(2026, 12, 30), discount_amount=20_00,
                 discount_due_date=D(2026, 12, 9)),
        # Partly paid: the discount cannot save more than is still open.
        OpenItem(uuid.uuid4(), ACME, "EUR", 5_00, D(2026, 11, 30), D(2026, 12, 30), discount_amount=8_00,
                 discount_due_date=D(2026, 12, 10)),
        # Its deadline passed yesterday: nothing to save any more.
        OpenItem(uuid.uuid4(), ACME, "EUR", 300_00, D(2026, 11, 1), D(2026, 12, 1), discount_amount=6_00,
                 discount_due_date=D(2026, 12, 1)),
        # In a run already: the run took the discount or not, it is no longer available.
        OpenItem(uuid.uuid4(), ACME, "EUR", 98_00, D(2026, 11, 30), D(2026, 12, 30), scheduled_on=D(2026, 12, 3),
                 discount_amount=2_00, discount_due_date=D(2026, 12, 9)),
        # Past the horizon.
        OpenItem(uuid.uuid4(), ACME, "USD", 700_00, D(2026, 11, 30), D(2027, 3, 1), discount_amount=14_00,
                 discount_due_date=D(2027, 2, 1)),
    ]  # fmt: skip

    forecasts = {forecast.currency: forecast for forecast in cash_forecast(items, {}, today=TODAY, weeks=4)}

    euro = forecasts["EUR"]
    assert [(week.discounts, week.discount_invoices) for week in euro.weeks] == [(0, 0), (25_00, 2), (0, 0), (0, 0)]
    assert euro.discounts == 25_00
    assert "USD" not in forecasts  # neither its payment nor its discount falls in the horizon


def test_date_arithmetic_at_the_calendar_s_end_does_not_take_the_forecast_down() -> None:
    items = [
        OpenItem(
            uuid.uuid4(), ACME, "EUR", 1_00, D(9999, 12, 1), None, discount_amount=1, discount_due_date=dt.date.max
        )
    ]
    assert cash_forecast(items, {}, today=TODAY, weeks=2) == []


@pytest.mark.django_db
def test_the_forecast_reads_approved_runs_for_what_they_pay(tenant: Tenant) -> None:
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    approved_invoice(north, "N-1", 1000_00, due=D(2026, 12, 31))
    later = approved_invoice(north, "N-2", 400_00, due=D(2027, 6, 30))
    today = dt.date.today()
    execution = today + dt.timedelta(days=7)
    arguments: dict[str, Any] = {"currency": "EUR", "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    run = payment_run_propose(
        tenant=tenant, actor=actor_of(clerk), due_by=D(2026, 12, 31), execution_date=execution, **arguments
    )
    payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
    Invoice.objects.for_tenant(tenant).filter(pk=later.pk).update(
        discount_amount=8_00, discount_due_date=today + dt.timedelta(days=1)
    )

    [forecast] = cash_forecast_for_tenant(tenant=tenant, today=today, weeks=3)

    index = (execution - (today - dt.timedelta(days=today.weekday()))).days // 7
    assert forecast.weeks[index].scheduled == 1000_00
    assert sum(week.scheduled for week in forecast.weeks) == 1000_00
    assert forecast.discounts == 8_00
