"""Shape checks of quantities and unit prices, the same for every source.

They mirror the columns: quantities NUMERIC(18,4) and > 0; unit prices NUMERIC(18,6) and ≥ 0
(real unit prices have sub-cent digits). A value that does not fit is refused, never rounded.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

from core.money import round_to_minor

QUANTITY_PLACES, QUANTITY_DIGITS = 4, 18
UNIT_PRICE_PLACES, UNIT_PRICE_DIGITS = 6, 18

MUST_BE_POSITIVE = "Must be greater than 0."
MUST_NOT_BE_NEGATIVE = "Must not be negative."
TOO_MANY_DECIMALS = "At most {places} decimal places."
TOO_LARGE = "Too large: at most {digits} digits before the decimal point."


# The smallest step of each, built once: a bulk import checks two values per line.
_QUANTUM = {places: Decimal(1).scaleb(-places) for places in (QUANTITY_PLACES, UNIT_PRICE_PLACES)}


def _shape_error(value: Decimal, places: int, digits: int) -> str | None:
    if not value.is_finite():
        return "Not a number."
    if value.adjusted() >= digits - places:  # checked first: quantizing a huge value overflows
        return TOO_LARGE.format(digits=digits - places)
    if value.quantize(_QUANTUM[places]) != value:  # trailing zeros are fine
        return TOO_MANY_DECIMALS.format(places=places)
    return None


def quantity_error(value: Decimal) -> str | None:
    """Why a quantity is unacceptable, or None."""
    if value.is_finite() and value <= 0:
        return MUST_BE_POSITIVE
    return _shape_error(value, QUANTITY_PLACES, QUANTITY_DIGITS)


def unit_price_error(value: Decimal) -> str | None:
    """Why a unit price is unacceptable, or None."""
    if value.is_finite() and value < 0:
        return MUST_NOT_BE_NEGATIVE
    return _shape_error(value, UNIT_PRICE_PLACES, UNIT_PRICE_DIGITS)


def line_amount_minor(quantity: Decimal, unit_price: Decimal, currency: str) -> int:
    """A line amount the document does not state: quantity × unit price, once rounded half up.

    Exact product (up to 18 + 18 digits) and one rounding: the default 28-digit context would
    round the product first (double rounding) or overflow on quantize. The wide context is passed
    to each operation rather than entered (`localcontext`), which cost more than the arithmetic
    on every line of a bulk import.
    """
    return round_to_minor(_PRODUCT.multiply(quantity, unit_price), currency, context=_PRODUCT)


_PRODUCT = Context(prec=QUANTITY_DIGITS + UNIT_PRICE_DIGITS + 4, rounding=ROUND_HALF_UP)
