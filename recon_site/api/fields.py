"""Serializer fields shared by every API: money out as a decimal string in its currency, numbers
in as ASCII decimals, business dates in within the accepted range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from recon_site.business_dates import (
    BUSINESS_DATE_MAX,
    BUSINESS_DATE_MIN,
    BUSINESS_DATE_PATTERN,
    business_date_error,
)
from recon_site.money import format_minor


@extend_schema_field({"type": "string", "format": "decimal", "example": "199.99"})
class MoneyField(serializers.Field):
    """Reads `<amount_attr>` (minor units) and the currency beside it; writes nothing."""

    def __init__(self, amount_attr: str, currency_attr: str = "currency", **kwargs: Any) -> None:
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)
        self.amount_attr = amount_attr
        self.currency_attr = currency_attr

    def to_representation(self, instance: Any) -> str:
        currency = instance
        for part in self.currency_attr.split("."):
            currency = getattr(currency, part)
        return format_minor(getattr(instance, self.amount_attr), currency)


@extend_schema_field(OpenApiTypes.STR)
class DecimalStringField(serializers.DecimalField):
    """A decimal in, as a string or JSON number (parsed exactly, never through float).

    Range and precision are checked by the services, the same for every source, so this only
    makes sure the value is a finite decimal.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_digits=None, decimal_places=None, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        _refuse_non_ascii_digits(self, data)
        return super().to_internal_value(data)


class IntegerStringField(serializers.IntegerField):
    """An integer in, as a JSON number or a string of ASCII digits (see `_refuse_non_ascii_digits`)."""

    def to_internal_value(self, data: Any) -> Any:
        _refuse_non_ascii_digits(self, data)
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "pattern": BUSINESS_DATE_PATTERN,
        "description": f"From {BUSINESS_DATE_MIN.isoformat()} to {BUSINESS_DATE_MAX.isoformat()}.",
    }
)
class BusinessDateField(serializers.DateField):
    """A document's date (invoice, due, order, receipt): ISO 8601, inside the business range.

    The range is recon_site.business_dates', the one every source checks; the services check it
    again for the sources that do not come through a serializer.
    """

    def to_internal_value(self, value: Any) -> dt.date:
        parsed: dt.date = super().to_internal_value(value)
        if problem := business_date_error(parsed):
            raise serializers.ValidationError(problem, code="date_out_of_range")
        return parsed


def _refuse_non_ascii_digits(field: serializers.Field, data: Any) -> None:
    # Python's Decimal() and int() read any Unicode digit: "١٢٣" (Arabic-Indic) or "７５" (full
    # width) would be stored as 123 and 75, a number nobody typed in those characters. An amount
    # travels as ASCII; anything else is "not a number" rather than a silent conversion.
    if isinstance(data, str) and not data.isascii():
        field.fail("invalid")
