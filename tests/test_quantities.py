"""core.quantities: a line amount is quantity × unit price, exact, rounded once half away from zero;
the shape checks refuse what the columns cannot hold. Checked against integer arithmetic, which
no decimal context can round."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from core.money import CURRENCY_EXPONENTS
from core.quantities import (
    QUANTITY_DIGITS,
    QUANTITY_PLACES,
    TOO_MANY_DECIMALS,
    UNIT_PRICE_DIGITS,
    UNIT_PRICE_PLACES,
    line_amount_minor,
    quantity_error,
    unit_price_error,
)


def _half_away_from_zero(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(abs(numerator), denominator)
    rounded = quotient + (2 * remainder >= denominator)
    return rounded if numerator >= 0 else -rounded


def _scaled(digits: int, places: int) -> st.SearchStrategy[tuple[int, int]]:
    """A coefficient of at most `digits` digits and its exponent, at most `places` decimals."""
    return st.tuples(st.integers(min_value=-(10**digits) + 1, max_value=10**digits - 1), st.integers(-places, 0))


@given(
    quantity=_scaled(QUANTITY_DIGITS, QUANTITY_PLACES),
    unit_price=_scaled(UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES).map(lambda pair: (abs(pair[0]), pair[1])),
    currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
)
@example(quantity=(25, -1), unit_price=(1, 0), currency="JPY")  # 2.5 → 3, not banker's 2
@example(quantity=(-25, -1), unit_price=(1, 0), currency="JPY")  # −2.5 → −3
@example(quantity=(10**18 - 1, -4), unit_price=(10**18 - 1, -6), currency="BHD")  # 36 digits, exact
def test_a_line_amount_is_the_exact_product_rounded_once(
    quantity: tuple[int, int], unit_price: tuple[int, int], currency: str
) -> None:
    (q, q_exp), (p, p_exp) = quantity, unit_price
    places = CURRENCY_EXPONENTS[currency]
    # q·10^q_exp × p·10^p_exp in minor units = q·p·10^(q_exp + p_exp + places)
    shift = q_exp + p_exp + places
    expected = q * p * 10**shift if shift >= 0 else _half_away_from_zero(q * p, 10**-shift)
    assert line_amount_minor(Decimal(q).scaleb(q_exp), Decimal(p).scaleb(p_exp), currency) == expected


@given(st.integers(min_value=1, max_value=10**8), st.integers(min_value=0, max_value=8))
def test_the_decimal_places_rule_counts_significant_places_only(coefficient: int, places: int) -> None:
    value = Decimal(coefficient).scaleb(-places)
    significant = len(str(coefficient)) - len(str(coefficient).rstrip("0"))
    too_many_for = {
        name: max(0, places - significant) > limit
        for name, limit in (("quantity", QUANTITY_PLACES), ("unit_price", UNIT_PRICE_PLACES))
    }
    assert (quantity_error(value) == TOO_MANY_DECIMALS.format(places=QUANTITY_PLACES)) == too_many_for["quantity"]
    assert (unit_price_error(value) == TOO_MANY_DECIMALS.format(places=UNIT_PRICE_PLACES)) == too_many_for["unit_price"]
