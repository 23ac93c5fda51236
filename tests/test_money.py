"""Money at the boundary (DESIGN.md §1): exact conversion between decimal strings and minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from core.money import (
    CURRENCY_EXPONENTS,
    MAX_MINOR_UNITS,
    MoneyError,
    exponent,
    format_minor,
    from_minor,
    normalize_currency,
    round_to_minor,
    to_minor,
)

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minor_units = st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS)


# --- known values ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("199.99", "EUR", 19999),
        ("0.01", "EUR", 1),
        ("10", "EUR", 1000),
        ("10.50", "EUR", 1050),
        ("-3.20", "EUR", -320),
        ("1500", "JPY", 1500),
        ("0", "JPY", 0),
        ("1.250", "BHD", 1250),
        ("0.001", "BHD", 1),
        ("12.5", "BHD", 12500),
    ],
)
def test_to_minor_known_values(text: str, currency: str, minor: int) -> None:
    """A decimal string becomes the exact count of the currency's minor units."""
    assert to_minor(text, currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (19999, "EUR", "199.99"),
        (5, "EUR", "0.05"),
        (-5, "EUR", "-0.05"),
        (0, "EUR", "0.00"),
        (1500, "JPY", "1500"),
        (0, "JPY", "0"),
        (1250, "BHD", "1.250"),
        (1, "BHD", "0.001"),
        (MAX_MINOR_UNITS, "EUR", "92233720368547758.07"),
    ],
)
def test_format_minor_known_values(minor: int, currency: str, text: str) -> None:
    """Minor units print with exactly the currency's number of places, never in exponent form."""
    assert format_minor(minor, currency) == text


@pytest.mark.parametrize(("text", "currency"), [("199.99", "EUR"), ("1500", "JPY"), ("1.250", "BHD")])
def test_round_trip_eur_jpy_bhd(text: str, currency: str) -> None:
    """What the API receives is what it gives back, character for character."""
    assert format_minor(to_minor(text, currency), currency) == text


def test_exponents_of_the_three_reference_currencies() -> None:
    """EUR has cents, JPY none, BHD fils (three places)."""
    assert (exponent("EUR"), exponent("JPY"), exponent("BHD")) == (2, 0, 3)


def test_currency_code_is_case_and_space_insensitive() -> None:
    """' eur ' is EUR: callers' casing does not make a valid code invalid."""
    assert normalize_currency(" eur ") == "EUR"
    assert to_minor("1.50", "eur") == 150


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10.005", "EUR"),
        ("0.001", "EUR"),
        ("1.5", "JPY"),
        ("0.1", "JPY"),
        ("0.0001", "BHD"),
        ("1.2345", "BHD"),
        # More significant digits than Decimal's default 28-digit context: must not be rounded away.
        ("10.00000000000000000000000000001", "EUR"),
        ("1.0000000000000000000000000001", "JPY"),
    ],
)
def test_excess_precision_is_refused_not_rounded(text: str, currency: str) -> None:
    """A value with more decimals than the currency has is an error: rounding would invent or lose money."""
    with pytest.raises(MoneyError, match="more decimals"):
        to_minor(text, currency)


@pytest.mark.parametrize("code", ["XYZ", "EURO", "", "E", "12", "eu r", "BTC"])
def test_unknown_currency_is_refused(code: str) -> None:
    """Only ISO 4217 codes are currencies."""
    with pytest.raises(MoneyError, match="Unknown currency"):
        to_minor("1", code)
    with pytest.raises(MoneyError):
        format_minor(100, code)


@pytest.mark.parametrize("value", [1.5, 0.1, 10.0, True, False])
def test_floats_and_booleans_are_refused(value: object) -> None:
    """A float is already inexact (0.1 is not 1/10), so it never becomes money; nor does a bool."""
    with pytest.raises(MoneyError):
        to_minor(value, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["abc", "", " ", "NaN", "Infinity", "-Infinity", "sNaN", "1,50", "1.2.3"])
def test_non_numbers_are_refused(text: str) -> None:
    """Text that is not a finite decimal is an error, never zero."""
    with pytest.raises(MoneyError):
        to_minor(text, "EUR")


@pytest.mark.parametrize(
    ("text", "currency"),
    [("92233720368547758.08", "EUR"), ("9223372036854775808", "JPY"), ("1E+999999", "EUR"), ("-1E+30", "BHD")],
)
def test_amounts_beyond_bigint_are_refused(text: str, currency: str) -> None:
    """An amount the BIGINT column cannot hold is a MoneyError (a 400), not a database error."""
    with pytest.raises(MoneyError, match="too large"):
        to_minor(text, currency)


def test_largest_bigint_amount_is_accepted() -> None:
    """The boundary itself fits."""
    assert to_minor("92233720368547758.07", "EUR") == MAX_MINOR_UNITS
    assert to_minor("-9223372036854775807", "JPY") == -MAX_MINOR_UNITS


def test_integers_and_decimals_are_accepted_exactly() -> None:
    """Python ints and Decimals (what the JSON parser produces) convert without loss."""
    assert to_minor(5, "EUR") == 500
    assert to_minor(Decimal("0.10"), "EUR") == 10
    assert to_minor(Decimal("2.000"), "JPY") == 2  # trailing zeros are not precision
    assert to_minor("1.000", "JPY") == 1


# --- computed amounts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "minor"),
    [
        ("1.005", "EUR", 101),
        ("1.004999", "EUR", 100),
        ("0.5", "JPY", 1),
        ("2.5", "JPY", 3),  # half-up, not banker's rounding (which gives 2)
        ("-2.5", "JPY", -3),  # half away from zero
        ("1.0005", "BHD", 1001),
        ("0.3125", "EUR", 31),
    ],
)
def test_round_to_minor_is_half_up(value: str, currency: str, minor: int) -> None:
    """Amounts Recon computes (quantity × unit price) round half away from zero to the minor unit."""
    assert round_to_minor(Decimal(value), currency) == minor


# --- properties --------------------------------------------------------------------------------


@given(minor=minor_units, currency=currencies)
@example(minor=MAX_MINOR_UNITS, currency="CLF")
@example(minor=-MAX_MINOR_UNITS, currency="JPY")
@example(minor=0, currency="BHD")
def test_property_minor_units_survive_a_round_trip(minor: int, currency: str) -> None:
    """For any amount and currency, formatting then parsing gives back exactly the same minor units."""
    text = format_minor(minor, currency)
    assert "E" not in text.upper()
    assert to_minor(text, currency) == minor


def _exact(coefficient: int, places: int) -> Decimal:
    """coefficient × 10^-places, built from its digits (arithmetic would round past 28 digits)."""
    digits = tuple(int(digit) for digit in str(abs(coefficient)))
    return Decimal((int(coefficient < 0), digits, -places))


@st.composite
def representable(draw: st.DrawFn) -> tuple[str, str]:
    """A decimal string with at most as many places as its currency has, within BIGINT."""
    currency = draw(currencies)
    places = draw(st.integers(min_value=0, max_value=CURRENCY_EXPONENTS[currency]))
    limit = MAX_MINOR_UNITS // 10 ** (CURRENCY_EXPONENTS[currency] - places)
    coefficient = draw(st.integers(min_value=-limit, max_value=limit))
    return str(_exact(coefficient, places)), currency


@given(representable())
def test_property_representable_values_are_kept_exactly(case: tuple[str, str]) -> None:
    """from_minor(to_minor(x)) == x: nothing is lost or invented for a value the currency can hold."""
    text, currency = case
    minor = to_minor(text, currency)
    assert from_minor(minor, currency) == Decimal(text)
    assert Decimal(format_minor(minor, currency)) == Decimal(text)


@st.composite
def unrepresentable(draw: st.DrawFn) -> tuple[str, str]:
    """A decimal string whose last non-zero digit lies beyond the currency's places."""
    currency = draw(currencies)
    places = CURRENCY_EXPONENTS[currency]
    extra = draw(st.integers(min_value=1, max_value=40))
    coefficient = draw(st.integers(min_value=1, max_value=10**45))
    if coefficient % 10 == 0:
        coefficient += draw(st.integers(min_value=1, max_value=9))
    sign = draw(st.sampled_from([1, -1]))
    return str(_exact(sign * coefficient, places + extra)), currency


@given(unrepresentable())
@example(("10.00000000000000000000000000001", "EUR"))
@example(("0.0001", "BHD"))
@example(("1.5", "JPY"))
def test_property_excess_precision_always_raises(case: tuple[str, str]) -> None:
    """A value the currency cannot hold exactly is always refused, whatever its length."""
    text, currency = case
    with pytest.raises(MoneyError):
        to_minor(text, currency)
