"""Serializer fields shared by every API: money out as a decimal string in its currency, numbers
in as ASCII decimals, business dates in within the accepted range."""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.business_dates import (
    BUSINESS_DATE_MAX,
    BUSINESS_DATE_MIN,
    BUSINESS_DATE_PATTERN,
    business_date_error,
)
from core.labels import code_label
from core.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, format_minor
from core.quantities import QUANTITY_DIGITS, QUANTITY_PLACES, UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES


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


@extend_schema_field({"type": "string"})
class CodeLabelField(serializers.Field):
    """The label of the code in `source`, from its family's `labels` (core.labels): the `*_label`
    field beside the code (`status_label` beside `status`), for a person; clients match on the code."""

    def __init__(self, labels: Mapping[str, str], **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)
        self.labels = labels

    def to_representation(self, code: str) -> str | None:
        return code_label(code=code, labels=self.labels)


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


_ISO_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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

    The range is core.business_dates', the one every source checks; the services check it
    again for the sources that do not come through a serializer.
    """

    def to_internal_value(self, value: Any) -> dt.date:
        # DRF's ISO reading is Python's `date.fromisoformat` then Django's lenient pattern: it
        # takes "20261010", week dates ("2026-W41-1"), "2026-1-1" and a trailing newline, none of
        # which the schema's pattern or the error message ("YYYY-MM-DD") admit, nor a CSV import.
        if isinstance(value, str) and not _ISO_CALENDAR_DATE.fullmatch(value):
            self.fail("invalid", format="YYYY-MM-DD")
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


# --- Number and code shapes, stated in the OpenAPI schema ------------------------------------
# The services check quantities, unit prices and amounts for every source (core.quantities,
# core.money); these fields say the same rules in the schema, as patterns over the decimal
# string, so a client (and schemathesis) knows what is accepted before sending it. The patterns
# are written once, here, from the same constants the services check against; JSON Schema
# patterns are ECMA-262 and these read the same in Python's `re`.


def decimal_pattern(*, integer_digits: int, places: int, sign: str = "non_negative") -> str:
    """A plain decimal string: at most `integer_digits` before the point, `places` after it.

    `sign`: "non_negative" (0 allowed), "positive" (> 0), "non_zero" (> 0 or < 0, with a "-").
    Trailing zeros are not decimals, as the services read them ("1.5000" EUR, "1500.00" JPY).
    No exponent, no "+", no leading zeros: stricter than Decimal() reads, never looser.
    """
    fraction = rf"(?:\.[0-9]{{1,{places}}}0*)?" if places else r"(?:\.0+)?"
    whole = rf"[1-9][0-9]{{0,{integer_digits - 1}}}" if integer_digits > 1 else "[1-9]"
    if sign == "non_negative":
        return rf"^(?:0|{whole}){fraction}$"
    below_one = "|".join(
        "0" * (zeros) + "[1-9]" + (rf"[0-9]{{0,{places - zeros - 1}}}" if places - zeros - 1 else "")
        for zeros in range(places)
    )
    positive = rf"{whole}{fraction}" + (rf"|0\.(?:{below_one})0*" if places else "")
    return rf"^(?:{positive})$" if sign == "positive" else rf"^-?(?:{positive})$"


QUANTITY_PATTERN = decimal_pattern(
    integer_digits=QUANTITY_DIGITS - QUANTITY_PLACES, places=QUANTITY_PLACES, sign="positive"
)
UNIT_PRICE_PATTERN = decimal_pattern(integer_digits=UNIT_PRICE_DIGITS - UNIT_PRICE_PLACES, places=UNIT_PRICE_PLACES)
# Percent, 0 to 100, at most 3 decimals (invoices.services: TAX_RATE_RANGE, TAX_RATE_PLACES).
TAX_RATE_PATTERN = r"^(?:100(?:\.0+)?|[1-9]?[0-9](?:\.[0-9]{1,3}0*)?)$"


def money_integer_digits(places: int) -> int:
    """The most digits before the point that fit a BIGINT in minor units, for every value."""
    return len(str(MAX_MINOR_UNITS // 10**places)) - 1


# Any currency's amount: the fewest integer digits and the most places of all currencies. An
# amount beside its currency in the same body is narrowed to that currency's exponent by
# `core.http.schema` (the "x-money" marker below).
MONEY_PLACES_MAX = max(CURRENCY_EXPONENTS.values())
MONEY_PATTERN = decimal_pattern(integer_digits=money_integer_digits(MONEY_PLACES_MAX), places=MONEY_PLACES_MAX)
MONEY_DESCRIPTION = (
    "A decimal string in major units, not negative, with no more decimals than the currency has (EUR 2, JPY 0, BHD 3)."
)


@extend_schema_field(
    {
        "type": "string",
        "pattern": QUANTITY_PATTERN,
        "maxLength": DecimalStringField.MAX_STRING_LENGTH,
        "example": "10",
        "description": "Greater than 0, at most 4 decimals (trailing zeros aside).",
    }
)
class QuantityField(DecimalStringField):
    """A quantity ordered, received or billed (core.quantities.quantity_error)."""


@extend_schema_field(
    {
        "type": "string",
        "pattern": UNIT_PRICE_PATTERN,
        "maxLength": DecimalStringField.MAX_STRING_LENGTH,
        "example": "12.50",
        "description": "Not negative, at most 6 decimals (trailing zeros aside).",
    }
)
class UnitPriceField(DecimalStringField):
    """A unit price (core.quantities.unit_price_error): sub-cent digits are real."""


@extend_schema_field(
    {
        "type": "string",
        "pattern": MONEY_PATTERN,
        "maxLength": DecimalStringField.MAX_STRING_LENGTH,
        "example": "199.99",
        "description": MONEY_DESCRIPTION,
        "x-money": True,
    }
)
class MoneyAmountField(DecimalStringField):
    """An amount in major units (core.money.to_minor refuses more decimals than its currency)."""


@extend_schema_field(
    {
        "type": "string",
        "pattern": TAX_RATE_PATTERN,
        "maxLength": DecimalStringField.MAX_STRING_LENGTH,
        "example": "19",
        "description": "Percent, 0 to 100, at most 3 decimals.",
    }
)
class TaxRateField(DecimalStringField):
    """A tax rate in percent, as the document states it."""


@extend_schema_field(
    {
        "type": "string",
        "enum": sorted(CURRENCY_EXPONENTS),
        "example": "EUR",
        "description": "ISO 4217 code (upper case).",
    }
)
class CurrencyCodeField(serializers.CharField):
    """An ISO 4217 code. The services normalize and check it (core.money.normalize_currency)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)


class FieldsBuiltOnce:
    """Mixed into a ModelSerializer: its fields are worked out from the model once per class, and
    each instance gets a copy (what DRF does with declared fields), instead of introspecting the
    model again for every serializer made — most of an invoice answer's serializing.

    Only for a serializer whose `get_fields()` depends on its class alone (no context, no instance).
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        built: dict[str, serializers.Field] | None = type(self).__dict__.get("_fields_built")
        if built is None:
            built = super().get_fields()  # type: ignore[misc]
            type(self)._fields_built = built  # type: ignore[attr-defined]
        return copy.deepcopy(built)
