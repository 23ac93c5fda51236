"""A serializer's input read the way DRF reads it, without DRF's per-field machinery per request.

DRF validating one invoice builds a serializer (deep copies of ~30 fields) and walks, per field,
`get_value`, HTML checks, `validate_empty_values`, `to_internal_value`, `run_validators` and the
error bookkeeping: most of a batch of 1,000 documents' time, and a good part of a single
create's. `InputReader` reads the same data from one serializer built once: the usual values
(an ASCII string, a plain decimal string, a whole number) by a few lines that do what the field
would, anything else by the field's own `run_validation`. It never words an error: on the first
problem the caller hands the data to the serializer, which reports every problem by field, so the
answers to bad input stay DRF's, byte for byte (tests.api.test_input_reading ties the two).

Only plain serializers are read this way (no `validate()`, no `validate_<field>`, no serializer
validators, fields read from their own names); a serializer that has any of them is read by DRF.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    ProhibitNullCharactersValidator,
)
from rest_framework import serializers
from rest_framework.fields import SkipField, empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.http.fields import CurrencyCodeField, DecimalStringField, IntegerStringField

# A plain decimal string: what a DecimalStringField turns into a Decimal unchanged (no sign but
# "-", ASCII digits, no exponent, no spaces). Anything else goes to the field itself.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CHAR_VALIDATORS = (
    MaxLengthValidator,
    MinLengthValidator,
    ProhibitNullCharactersValidator,
    ProhibitSurrogateCharactersValidator,
)

# CharField and the subclasses that only change its arguments, not how it reads.
_PLAIN_CHAR_FIELDS = (serializers.CharField, CurrencyCodeField)

_DECIMAL_READING = DecimalStringField.to_internal_value

Reader = Callable[[Any], Any]


class InputUnreadable(Exception):
    """The data is not what the serializer accepts: ask the serializer why."""


def _char_reader(field: serializers.CharField) -> Reader | None:
    expected = 2 + (field.max_length is not None) + (field.min_length is not None)  # + NUL, surrogates
    if (
        not field.trim_whitespace
        or len(field.validators) != expected
        or any(not isinstance(v, _CHAR_VALIDATORS) for v in field.validators)
    ):
        return None
    longest, shortest, allow_blank = field.max_length, field.min_length or 0, field.allow_blank
    generic = field.run_validation

    def read(value: Any) -> Any:
        # ASCII: no surrogate, and str.strip() strips what DRF's strip does.
        if type(value) is not str or not value.isascii():
            return generic(value)
        stripped = value.strip()
        if not stripped:
            if allow_blank:
                return ""
            raise InputUnreadable
        if "\x00" in stripped or len(stripped) < shortest or (longest is not None and len(stripped) > longest):
            raise InputUnreadable
        return stripped

    return read


def _decimal_reader(field: DecimalStringField) -> Reader | None:
    # max_digits and decimal_places are None for these fields: DRF's precision check and
    # quantizing do nothing, so a plain decimal string is Decimal(string).
    if field.validators or field.localize or field.max_digits is not None or field.decimal_places is not None:
        return None
    limit = field.MAX_STRING_LENGTH
    generic = field.run_validation

    def read(value: Any) -> Any:
        if type(value) is str and len(value) <= limit and _PLAIN_DECIMAL.fullmatch(value):
            return Decimal(value)
        return generic(value)

    return read


def _integer_reader(field: serializers.IntegerField) -> Reader | None:
    expected = (field.min_value is not None) + (field.max_value is not None)
    if len(field.validators) != expected or any(
        not isinstance(v, MinValueValidator | MaxValueValidator) for v in field.validators
    ):
        return None
    lowest, highest = field.min_value, field.max_value
    generic = field.run_validation

    def read(value: Any) -> Any:
        # type() is int: not a bool, which DRF reads as 0 or 1 (left to the field).
        if type(value) is int and (lowest is None or value >= lowest) and (highest is None or value <= highest):
            return value
        return generic(value)

    return read


def _field_reader(field: serializers.Field) -> Reader:
    if isinstance(field, serializers.ListSerializer) and isinstance(field.child, serializers.Serializer):
        return _list_reader(field)
    if isinstance(field, serializers.Serializer):
        return _serializer_reader(field) or field.run_validation
    reader: Reader | None = None
    if type(field) in _PLAIN_CHAR_FIELDS:
        reader = _char_reader(field)  # type: ignore[arg-type]
    elif isinstance(field, DecimalStringField) and type(field).to_internal_value is _DECIMAL_READING:
        reader = _decimal_reader(field)
    elif type(field) in (serializers.IntegerField, IntegerStringField):
        reader = _integer_reader(field)  # type: ignore[arg-type]
    return reader or field.run_validation


def _list_reader(field: serializers.ListSerializer) -> Reader:
    child = _serializer_reader(field.child)  # type: ignore[arg-type]
    plain = (
        child is not None
        and not field.validators
        and type(field).validate is serializers.ListSerializer.validate
        and type(field).to_internal_value is serializers.ListSerializer.to_internal_value
    )
    if not plain:
        return field.run_validation
    assert child is not None
    # ListSerializer sets these in __init__; the stubs do not declare them.
    longest: int | None = getattr(field, "max_length", None)
    shortest: int | None = getattr(field, "min_length", None)
    allow_empty = field.allow_empty

    def read(value: Any) -> Any:
        if type(value) is not list:
            return field.run_validation(value)
        if (
            (not allow_empty and not value)
            or (longest is not None and len(value) > longest)
            or (shortest is not None and len(value) < shortest)
        ):
            raise InputUnreadable
        return [child(item) for item in value]

    return read


def _serializer_reader(serializer: serializers.Serializer) -> Reader | None:
    kind = type(serializer)
    if (
        serializer.validators
        or kind.validate is not serializers.Serializer.validate
        or kind.to_internal_value is not serializers.Serializer.to_internal_value
        or kind.run_validation is not serializers.Serializer.run_validation
    ):
        return None
    # Per field: its name, its reader, and what its absence means (DRF's validate_empty_values
    # with `empty`): required → refused; no default → left out; else its default.
    plan: list[tuple[str, Reader, serializers.Field, bool]] = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if hasattr(serializer, f"validate_{name}") or field.source_attrs != [name]:
            return None
        plan.append((name, _field_reader(field), field, field.default is not empty))

    def read(data: Any) -> dict[str, Any]:
        if type(data) is not dict:
            raise InputUnreadable
        validated: dict[str, Any] = {}
        for name, reader, field, defaulted in plan:
            value = data.get(name, empty)
            if value is not empty:
                validated[name] = reader(value)
            elif field.required:
                raise InputUnreadable
            elif defaulted:
                validated[name] = field.get_default()
        return validated

    return read


class InputReader:
    """Reads input as `serializer_class(data=...).run_validation` would, or raises InputUnreadable.

    Built once per serializer class (its fields are not copied per request); the data a reader
    accepts is exactly what the serializer would return for it.
    """

    def __init__(self, serializer_class: type[serializers.Serializer]) -> None:
        self.serializer_class = serializer_class
        self._read: Reader | None = None

    def read(self, data: Any) -> dict[str, Any]:
        if self._read is None:
            serializer = self.serializer_class()
            self._read = _serializer_reader(serializer) or serializer.run_validation
        try:
            return self._read(data)
        except (serializers.ValidationError, DjangoValidationError, SkipField) as exc:
            raise InputUnreadable from exc
