"""Cash view: how late each vendor is paid, and the outgoing cash expected week by week. Pure.

Plain data in, plain data out (no ORM, no clock: `today` is an argument); payments.selectors
reads the history and the open invoices.

Days to pay of a settled invoice = booking date of the allocation that settled it (the latest
live one) − invoice date; lateness = that booking date − due date (negative: paid early). Per
vendor: the average (half up, one decimal) and the p90 (nearest rank: a value that occurred).

Forecast: each approved / partially paid invoice's open balance is expected on
- the execution date of the approved payment run it is in (`scheduled_on`), for what the run pays
  (its open balance net of the early-payment discount the run took): the bank file is written;
- its due date, shifted by the vendor's average lateness (rounded half up to whole days) when
  the vendor has paid invoices with a due date in its history;
- without a due date: invoice date + the vendor's average days to pay (rounded), else + 30 days.
An expected date before the current ISO week (overdue, unpaid) counts in the current week: it is
cash that can leave any day now. Amounts are summed per currency and ISO week in minor units;
currencies are never added together.

Discounts available: an invoice not yet in a run whose early-payment discount is still open
(deadline today or later) adds its discount, capped at its open balance, to the week of its
deadline (`discounts`): what paying by then would save. A deadline past the horizon is left out.

Date arithmetic never raises: a shift past the calendar's ends (an invoice dated 9999-12-20 + 30
days, a vendor history of 40,000 days to pay) stops at `date.max` / `date.min` instead
(`shifted`). Such a balance is then simply expected after the horizon (or overdue) and the forecast
still answers: one bad row must not take the dashboard down for every user of the tenant. The
door bounds the dates it accepts; this is for rows written before that bound, or by any other way.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

DEFAULT_DAYS_TO_PAY = 30
MAX_FORECAST_WEEKS = 52


@dataclass(frozen=True)
class SettledInvoice:
    """One invoice of the history, with the booking date of the payment that settled it."""

    invoice_id: uuid.UUID
    vendor_id: uuid.UUID
    invoice_date: dt.date
    due_date: dt.date | None
    settled_on: dt.date


@dataclass(frozen=True)
class VendorPaymentTimes:
    vendor_id: uuid.UUID
    invoices_paid: int
    average_days_to_pay: Decimal  # one decimal place
    p90_days_to_pay: int
    # Over the paid invoices that had a due date; None when none had one.
    average_days_late: Decimal | None
    invoices_with_due_date: int


@dataclass(frozen=True)
class OpenItem:
    """An approved or partially paid invoice and what is still to pay on it."""

    invoice_id: uuid.UUID
    vendor_id: uuid.UUID | None
    currency: str
    open_balance: int  # minor units, > 0
    invoice_date: dt.date
    due_date: dt.date | None
    # In an approved payment run: its execution date (`open_balance` is then what the run pays).
    scheduled_on: dt.date | None = None
    # The early-payment discount (minor units) and its deadline, from the invoice's terms.
    discount_amount: int = 0
    discount_due_date: dt.date | None = None


@dataclass(frozen=True)
class ForecastWeek:
    week_start: dt.date  # the Monday
    iso_year: int
    iso_week: int
    amount: int  # minor units of the currency
    invoices: int
    scheduled: int = 0  # of `amount`, what approved payment runs pay that week
    discounts: int = 0  # savings possible by taking the discounts whose deadline falls that week
    discount_invoices: int = 0

    @property
    def label(self) -> str:
        return f"{self.iso_year}-W{self.iso_week:02d}"


@dataclass(frozen=True)
class CurrencyForecast:
    currency: str
    weeks: tuple[ForecastWeek, ...]  # every week of the horizon, empty ones included

    @property
    def total(self) -> int:
        return sum(week.amount for week in self.weeks)

    @property
    def discounts(self) -> int:
        return sum(week.discounts for week in self.weeks)


def _average(values: list[int]) -> Decimal:
    return (Decimal(sum(values)) / Decimal(len(values))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _p90(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(Decimal("0.9") * len(ordered)) - 1)]


def _whole_days(days: Decimal) -> int:
    return int(days.to_integral_value(rounding=ROUND_HALF_UP))


def shifted(day: dt.date, days: int) -> dt.date:
    """`day` + `days`, clamped to the calendar (`date.min` … `date.max`) instead of overflowing."""
    if days >= 0:
        return day + dt.timedelta(days=days) if days <= (dt.date.max - day).days else dt.date.max
    return day + dt.timedelta(days=days) if -days <= (day - dt.date.min).days else dt.date.min


def vendor_payment_times(settled: Iterable[SettledInvoice]) -> list[VendorPaymentTimes]:
    """Average and p90 days to pay, and average lateness vs the due date, per vendor (sorted by id)."""
    to_pay: dict[uuid.UUID, list[int]] = defaultdict(list)
    late: dict[uuid.UUID, list[int]] = defaultdict(list)
    for invoice in settled:
        to_pay[invoice.vendor_id].append((invoice.settled_on - invoice.invoice_date).days)
        if invoice.due_date is not None:
            late[invoice.vendor_id].append((invoice.settled_on - invoice.due_date).days)
    return [
        VendorPaymentTimes(
            vendor_id=vendor_id,
            invoices_paid=len(days),
            average_days_to_pay=_average(days),
            p90_days_to_pay=_p90(days),
            average_days_late=_average(late[vendor_id]) if late.get(vendor_id) else None,
            invoices_with_due_date=len(late.get(vendor_id, ())),
        )
        for vendor_id, days in sorted(to_pay.items(), key=lambda entry: str(entry[0]))
    ]


def expected_payment_date(item: OpenItem, times: VendorPaymentTimes | None) -> dt.date:
    """When the open balance is expected to leave the account (see the module docstring)."""
    if item.scheduled_on is not None:
        return item.scheduled_on
    if item.due_date is not None:
        shift = _whole_days(times.average_days_late) if times and times.average_days_late is not None else 0
        return shifted(item.due_date, shift)
    days = _whole_days(times.average_days_to_pay) if times else DEFAULT_DAYS_TO_PAY
    return shifted(item.invoice_date, days)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def cash_forecast(
    items: Iterable[OpenItem],
    times_by_vendor: Mapping[uuid.UUID, VendorPaymentTimes],
    *,
    today: dt.date,
    weeks: int,
) -> list[CurrencyForecast]:
    """Open balances per currency and ISO week, for `weeks` weeks from the current one (sorted by currency).

    Balances expected after the horizon are left out; overdue ones count in the current week.
    A currency with only discounts available in the horizon is listed too.
    """
    first = week_start(today)
    figures: dict[str, dict[str, list[int]]] = {}

    def add(currency: str, figure: str, index: int, value: int) -> None:
        columns = figures.setdefault(currency, {})
        columns.setdefault(figure, [0] * weeks)[index] += value

    for item in items:
        if item.open_balance <= 0:
            continue
        times = times_by_vendor.get(item.vendor_id) if item.vendor_id else None
        index = max(0, (week_start(expected_payment_date(item, times)) - first).days // 7)
        if index < weeks:
            add(item.currency, "amount", index, item.open_balance)
            add(item.currency, "invoices", index, 1)
            if item.scheduled_on is not None:
                add(item.currency, "scheduled", index, item.open_balance)
        deadline = item.discount_due_date
        if item.scheduled_on is None and item.discount_amount > 0 and deadline is not None and deadline >= today:
            deadline_index = (week_start(deadline) - first).days // 7
            if deadline_index < weeks:
                add(item.currency, "discounts", deadline_index, min(item.discount_amount, item.open_balance))
                add(item.currency, "discount_invoices", deadline_index, 1)
    forecasts = []
    for currency in sorted(figures):
        columns = figures[currency]
        rows = []
        for index in range(weeks):
            start = week_start(shifted(first, 7 * index))
            iso = start.isocalendar()
            week = {name: columns[name][index] if name in columns else 0 for name in _WEEK_FIGURES}
            rows.append(ForecastWeek(start, iso.year, iso.week, **week))
        forecasts.append(CurrencyForecast(currency, tuple(rows)))
    return forecasts


_WEEK_FIGURES = ("amount", "invoices", "scheduled", "discounts", "discount_invoices")
