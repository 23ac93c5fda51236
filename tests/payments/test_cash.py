"""payments.cash: days to pay per vendor and the weekly forecast of outgoing cash, hand-computed."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from payments.cash import (
    OpenItem,
    SettledInvoice,
    VendorPaymentTimes,
    cash_forecast,
    expected_payment_date,
    vendor_payment_times,
)

ACME, GLOBEX, INITECH, NEWCO = (uuid.UUID(int=n) for n in (1, 2, 3, 4))
D = dt.date


def settled(vendor: uuid.UUID, invoice_date: dt.date, due: dt.date | None, paid: dt.date) -> SettledInvoice:
    return SettledInvoice(uuid.uuid4(), vendor, invoice_date, due, paid)


HISTORY = [
    # Acme: 35 days (5 late), 30 days (on the due date), 40 days (no due date).
    settled(ACME, D(2026, 1, 1), D(2026, 1, 31), D(2026, 2, 5)),
    settled(ACME, D(2026, 2, 1), D(2026, 3, 3), D(2026, 3, 3)),
    settled(ACME, D(2026, 3, 1), None, D(2026, 4, 10)),
    # Globex pays early: 8 days, 2 before the due date.
    settled(GLOBEX, D(2026, 1, 10), D(2026, 1, 20), D(2026, 1, 18)),
    # Initech: history, but never with a due date.
    settled(INITECH, D(2026, 5, 1), None, D(2026, 5, 21)),
]


def test_vendor_payment_times_average_p90_and_lateness() -> None:
    times = {row.vendor_id: row for row in vendor_payment_times(HISTORY)}

    assert times[ACME] == VendorPaymentTimes(
        vendor_id=ACME,
        invoices_paid=3,
        average_days_to_pay=Decimal("35.0"),  # (35 + 30 + 40) / 3
        p90_days_to_pay=40,  # nearest rank: ceil(0.9 × 3) = 3rd of [30, 35, 40]
        average_days_late=Decimal("2.5"),  # (5 + 0) / 2: the invoice without a due date does not count
        invoices_with_due_date=2,
    )
    assert times[GLOBEX].average_days_to_pay == Decimal("8.0")
    assert times[GLOBEX].average_days_late == Decimal("-2.0")
    assert times[INITECH].average_days_late is None
    assert NEWCO not in times


def test_p90_is_a_day_count_that_occurred() -> None:
    history = [settled(NEWCO, D(2026, 1, 1), None, D(2026, 1, 1) + dt.timedelta(days=days)) for days in range(1, 21)]

    [times] = vendor_payment_times(history)

    assert times.p90_days_to_pay == 18  # ceil(0.9 × 20) = 18th of 1..20
    assert times.average_days_to_pay == Decimal("10.5")


def item(
    vendor: uuid.UUID | None, amount: int, *, due: dt.date | None, invoiced: dt.date, ccy: str = "EUR"
) -> OpenItem:
    return OpenItem(uuid.uuid4(), vendor, ccy, amount, invoiced, due)


def test_expected_date_due_date_shifted_by_lateness_else_days_to_pay_else_30_days() -> None:
    times = {row.vendor_id: row for row in vendor_payment_times(HISTORY)}

    # Due 20 Nov, Acme is 2.5 days late on average: rounded half up to 3.
    assert expected_payment_date(item(ACME, 1, due=D(2026, 11, 20), invoiced=D(2026, 10, 1)), times[ACME]) == D(
        2026, 11, 23
    )
    # No due date: invoice date + Acme's 35.0 days to pay.
    assert expected_payment_date(item(ACME, 1, due=None, invoiced=D(2026, 10, 20)), times[ACME]) == D(2026, 11, 24)
    # Globex pays 2 days early.
    assert expected_payment_date(item(GLOBEX, 1, due=D(2026, 12, 1), invoiced=D(2026, 11, 1)), times[GLOBEX]) == D(
        2026, 11, 29
    )
    # History without due dates: the due date stands as it is.
    assert expected_payment_date(item(INITECH, 1, due=D(2026, 12, 10), invoiced=D(2026, 11, 1)), times[INITECH]) == D(
        2026, 12, 10
    )
    # No history, no due date: 30 days.
    assert expected_payment_date(item(NEWCO, 1, due=None, invoiced=D(2026, 11, 1)), None) == D(2026, 12, 1)


def test_forecast_by_iso_week_and_currency_in_minor_units() -> None:
    times = {row.vendor_id: row for row in vendor_payment_times(HISTORY)}
    items = [
        item(None, 7_00, due=D(2026, 11, 1), invoiced=D(2026, 10, 1)),  # overdue: this week
        item(ACME, 100_00, due=D(2026, 11, 20), invoiced=D(2026, 10, 1)),  # → Mon 23 Nov (W48)
        item(ACME, 200_00, due=None, invoiced=D(2026, 10, 20)),  # → Tue 24 Nov (W48)
        item(GLOBEX, 50_00, due=D(2026, 12, 1), invoiced=D(2026, 11, 1)),  # → Sun 29 Nov (still W48)
        item(NEWCO, 30_00, due=None, invoiced=D(2026, 11, 1)),  # → Tue 1 Dec (W49)
        item(INITECH, 12_34, due=D(2026, 12, 10), invoiced=D(2026, 11, 1)),  # → Thu 10 Dec (W50)
        item(ACME, 9_99, due=D(2026, 11, 17), invoiced=D(2026, 10, 1), ccy="USD"),  # → Fri 20 Nov (W47)
        item(ACME, 1_000_00, due=D(2027, 3, 1), invoiced=D(2026, 11, 1)),  # after the horizon
    ]

    eur, usd = cash_forecast(items, times, today=D(2026, 11, 18), weeks=4)

    assert eur.currency == "EUR"
    assert [(week.label, week.week_start, week.amount, week.invoices) for week in eur.weeks] == [
        ("2026-W47", D(2026, 11, 16), 7_00, 1),
        ("2026-W48", D(2026, 11, 23), 350_00, 3),
        ("2026-W49", D(2026, 11, 30), 30_00, 1),
        ("2026-W50", D(2026, 12, 7), 12_34, 1),
    ]
    assert eur.total == 399_34
    assert usd.currency == "USD"
    assert [week.amount for week in usd.weeks] == [9_99, 0, 0, 0]


def test_forecast_across_the_new_year_uses_iso_weeks() -> None:
    eur, *_ = cash_forecast(
        [item(NEWCO, 1_00, due=D(2027, 1, 1), invoiced=D(2026, 12, 1))], {}, today=D(2026, 12, 30), weeks=2
    )

    # 1 Jan 2027 is a Friday in ISO week 2026-W53, the week of Monday 28 Dec.
    assert [(week.label, week.amount) for week in eur.weeks] == [("2026-W53", 1_00), ("2027-W01", 0)]


def test_date_arithmetic_near_the_ends_of_the_calendar_is_clamped_never_raised() -> None:
    """An invoice dated 9999-12-20 with no due date is expected on 9999-12-31, not an OverflowError."""
    late_item = OpenItem(uuid.uuid4(), NEWCO, "EUR", 100_00, D(9999, 12, 20), None)
    assert expected_payment_date(late_item, None) == dt.date.max
    # A history of 40,000 days to pay, or of paying 40,000 days early, stops at the ends too.
    slow = VendorPaymentTimes(ACME, 1, Decimal("40000.0"), 40000, Decimal("-40000.0"), 1)
    assert expected_payment_date(OpenItem(uuid.uuid4(), ACME, "EUR", 1, D(9990, 1, 1), None), slow) == dt.date.max
    assert expected_payment_date(OpenItem(uuid.uuid4(), ACME, "EUR", 1, D(1, 1, 1), D(2, 1, 1)), slow) == dt.date.min
    # The forecast still answers: the far-future balance is past the horizon, the rest is counted.
    today = D(2026, 11, 18)
    near = OpenItem(uuid.uuid4(), NEWCO, "EUR", 50_00, D(2026, 11, 1), D(2026, 11, 20))
    [eur] = cash_forecast([late_item, near], {}, today=today, weeks=2)
    assert [week.amount for week in eur.weeks] == [50_00, 0]
