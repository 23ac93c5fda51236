"""The range of dates Recon accepts on a business document, the same for every source.

Invoice, due, order, expected and receipt dates and a bank statement's booking and value dates
are refused outside 1900-01-01 … 2199-12-31. Python's `date` reaches 9999-12-31, but a date
near that end breaks every calculation that adds to it (a due date 30 days after 9999-12-15
raises `OverflowError`): one approved invoice dated there took the cash forecast and the
dashboard down for the whole tenant. No real invoice, order or bank entry is dated before 1900
or after 2199; such a date is a typing slip (2062 for 2026 is still accepted; 20260 is not) or
an attack, and either way the sender is told, with the field named, before anything is stored.
"""

from __future__ import annotations

import datetime as dt

BUSINESS_DATE_MIN = dt.date(1900, 1, 1)
BUSINESS_DATE_MAX = dt.date(2199, 12, 31)

DATE_OUT_OF_RANGE = "{value} is outside the dates Recon accepts (1900-01-01 to 2199-12-31)."

# The same range as a regular expression of real ISO dates, for the OpenAPI schema (a JSON Schema
# cannot bound a `format: date` string otherwise), so a client or a fuzzer reads the rule the
# server enforces. Leap days: every fourth year, but not 1900 or 2100. A test ties it to
# `business_date_error` day by day.
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"  # 31 days
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"  # 30 days
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = "(?:(?:19|21)(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))"
BUSINESS_DATE_PATTERN = f"^(?:(?:19|20|21)[0-9]{{2}}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)$"


def business_date_error(value: dt.date | None) -> str | None:
    """Why `value` cannot be a business document's date, or None (also for no date at all)."""
    if isinstance(value, dt.datetime):  # a date-time is compared by its calendar date
        value = value.date()
    if value is None or BUSINESS_DATE_MIN <= value <= BUSINESS_DATE_MAX:
        return None
    return DATE_OUT_OF_RANGE.format(value=value.isoformat())
