"""How a CSV cell is read as its column's type: text within its column's length, a decimal, a date, a
whole number, a UUID; and what is said when it cannot be.

Amounts, quantities and prices are plain decimals with a dot ("1234.56"), never read through
float; a thousands separator ("1,234.56") is refused unless CSV_ALLOW_THOUSANDS_SEPARATOR. Dates
are ISO 8601 (YYYY-MM-DD) only: "03/04/2026" means two different days on two continents, and a
date outside the business range (core.business_dates) is refused too. Numbers and dates are read
in ASCII digits only. Each reader raises `CellError` with the message the file's report shows
under the cell (core.csv_reading); an empty cell never reaches a reader.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import models

from core.business_dates import business_date_error
from core.text import TOO_LONG, column_max_length

# --- messages (tests assert on these) -----------------------------------------------------------
NOT_A_DECIMAL = "{value!r} is not a decimal number; write it like 1234.56."
DECIMAL_COMMA = "{value!r}: use a dot as the decimal separator, e.g. 12.50."
THOUSANDS_REFUSED = "{value!r} has a thousands separator; write {plain} (or enable CSV_ALLOW_THOUSANDS_SEPARATOR)."
NOT_A_DATE = "{value!r} is not a date in the expected format YYYY-MM-DD (ISO 8601), e.g. 2026-10-31."
NOT_A_REAL_DATE = "{value!r} is not a real date (YYYY-MM-DD)."
NOT_A_WHOLE_NUMBER = "{value!r} is not a whole number from 1 to 2147483647."
NOT_A_UUID = "{value!r} is not a vendor id (a UUID)."

_MAX_INT = 2_147_483_647
# `re.ASCII`: `\d` would also take "١٠" or "１０", which Decimal() and int() read as 10; an
# amount, quantity, number or date in a file is written in ASCII digits (as the API requires).
_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$", re.ASCII)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_WHOLE = re.compile(r"^\d+$", re.ASCII)


class CellError(ValueError):
    """A cell that cannot be read as its column's type; its message is the cell's problem."""


def cell_text(limit: int) -> Callable[[str], str]:
    """A reader of text of at most `limit` characters."""

    def read(value: str) -> str:
        if len(value) > limit:
            raise CellError(TOO_LONG.format(limit=limit))
        return value

    return read


def cell_text_for(model: type[models.Model], field_name: str) -> Callable[[str], str]:
    """A reader of text that fits the model's column, its limit read from the model."""
    return cell_text(column_max_length(model, field_name))


def cell_decimal(value: str) -> Decimal:
    """A decimal as written, never through float; separators per CSV_ALLOW_THOUSANDS_SEPARATOR."""
    if _THOUSANDS.match(value):
        plain = value.replace(",", "")
        if not settings.CSV_ALLOW_THOUSANDS_SEPARATOR:
            raise CellError(THOUSANDS_REFUSED.format(value=value, plain=plain))
        value = plain
    elif "," in value:
        raise CellError(DECIMAL_COMMA.format(value=value))
    if not _PLAIN_DECIMAL.match(value):
        raise CellError(NOT_A_DECIMAL.format(value=value))
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid literals
        raise CellError(NOT_A_DECIMAL.format(value=value)) from exc


def cell_date(value: str) -> dt.date:
    """An ISO 8601 date (YYYY-MM-DD) within the business range."""
    if not _ISO_DATE.match(value):
        raise CellError(NOT_A_DATE.format(value=value))
    try:
        date = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CellError(NOT_A_REAL_DATE.format(value=value)) from exc
    if problem := business_date_error(date):
        raise CellError(problem)
    return date


def cell_whole_number(value: str) -> int:
    """A whole number from 1 to the largest PostgreSQL `integer`."""
    if not _WHOLE.match(value) or not 1 <= int(value) <= _MAX_INT:
        raise CellError(NOT_A_WHOLE_NUMBER.format(value=value))
    return int(value)


def cell_uuid(value: str) -> uuid.UUID:
    """A vendor id (the only UUID a CSV file names)."""
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise CellError(NOT_A_UUID.format(value=value)) from exc
