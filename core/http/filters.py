"""Filter fields shared by every API's FilterSets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField


def to_utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC; `ValueError` when UTC falls outside Python's years 1–9999.

    PostgreSQL refuses a literal whose UTC offset is beyond ±15:59 ("time zone displacement out
    of range"), while ISO 8601 parsing in Python accepts up to ±23:59: a datetime a client sends
    must reach the database in UTC, or `?created_from=2026-01-01T00:00-19:00` is a 500.
    """
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError(f"{value.isoformat()} is out of range in UTC") from exc


class UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value: Any) -> dt.datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return to_utc(parsed)
        except ValueError as exc:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from exc


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """`IsoDateTimeFilter` whose value reaches the database in UTC (see `to_utc`)."""

    field_class = UtcIsoDateTimeField
