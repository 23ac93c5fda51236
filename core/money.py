"""Money at the boundary: ISO 4217 currencies and exact conversion to and from minor units.

Inside Recon an amount is an `int` count of its currency's minor units beside a currency code.
At the API it is a decimal string in major units (`"199.99"`). This module is the only place
the two meet. A value with more decimals than its currency has is an error, never rounded:
silently turning 10.005 EUR into 10.01 would invent money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation

# ISO 4217 active codes and their minor-unit exponents (the standard's "E" column).
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP "
    "LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR "
    "NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR "
    "ZMW ZWG"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}

# The largest amount a BIGINT column holds, so an oversize value is a 400, not a database error.
MAX_MINOR_UNITS = 2**63 - 1

INVALID_CURRENCY = "Unknown currency {code!r}: use an ISO 4217 code such as EUR, USD or JPY."
EXCESS_PRECISION = "{value} has more decimals than {code} allows ({exponent})."
NOT_A_NUMBER = "{value!r} is not a decimal number."
TOO_LARGE = "{value} is too large."


class MoneyError(ValueError):
    """An amount or currency that cannot be represented exactly."""


def normalize_currency(code: str) -> str:
    """The upper-case ISO code, or `MoneyError` if it is not a known currency."""
    normalized = (code or "").strip().upper()
    if normalized not in CURRENCY_EXPONENTS:
        raise MoneyError(INVALID_CURRENCY.format(code=code))
    return normalized


def exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS[normalize_currency(currency)]


def parse_decimal(value: str | int | Decimal) -> Decimal:
    """A finite `Decimal` from an API value; floats are refused because they are already inexact."""
    if isinstance(value, (bool, float)):
        raise MoneyError(NOT_A_NUMBER.format(value=value))
    # Decimal() reads any Unicode digit ("١٢٣" is 123, "７５" is 75): an amount is written in ASCII,
    # anything else is not a number rather than a silent conversion.
    if isinstance(value, str) and not value.isascii():
        raise MoneyError(NOT_A_NUMBER.format(value=value))
    try:
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation as exc:
        raise MoneyError(NOT_A_NUMBER.format(value=value)) from exc
    if not number.is_finite():
        raise MoneyError(NOT_A_NUMBER.format(value=value))
    return number


def _decimal_places(number: Decimal) -> int:
    """How many decimals a value really has (trailing zeros do not count), computed without rounding."""
    _, digits, exp = number.as_tuple()
    assert isinstance(exp, int)  # finite: parse_decimal refuses NaN and infinities
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    if trailing_zeros == len(digits):  # zero
        return 0
    return max(0, -(exp + trailing_zeros))


def to_minor(value: str | int | Decimal, currency: str) -> int:
    """`"199.99", "EUR"` → `19999`. Refuses excess precision instead of rounding."""
    code = normalize_currency(currency)
    places = CURRENCY_EXPONENTS[code]
    number = parse_decimal(value)
    if number.adjusted() > 18:  # checked before scaling so "1E+999999" costs nothing
        raise MoneyError(TOO_LARGE.format(value=value))
    # Decided on the digits, not by arithmetic: Decimal arithmetic rounds to its context's 28
    # digits, so scaling "10.00000000000000000000000000001" would silently drop the last digit.
    # A value written with at most `places` decimals (nearly all) needs no count of them.
    written = number.as_tuple().exponent
    assert isinstance(written, int)  # finite: parse_decimal refuses NaN and infinities
    if written < -places and _decimal_places(number) > places:
        raise MoneyError(EXCESS_PRECISION.format(value=value, code=code, exponent=places))
    minor = int(number.scaleb(places))  # exact: at most 19 integer digits + 4 places here
    if abs(minor) > MAX_MINOR_UNITS:
        raise MoneyError(TOO_LARGE.format(value=value))
    return minor


def from_minor(minor: int, currency: str) -> Decimal:
    """`19999, "EUR"` → `Decimal("199.99")`, always with the currency's number of places.

    Nothing in no currency yet is 0: a draft typed in by hand may not know its currency, and then
    holds no amount (invoices.checks refuses one); any other amount needs its currency.
    """
    if minor == 0 and currency == "":
        return Decimal(0)
    places = exponent(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def format_minor(minor: int, currency: str) -> str:
    """The API's decimal string for an amount: `"199.99"`, `"1500"` for JPY, `"1.250"` for BHD."""
    return str(from_minor(minor, currency))


def round_to_minor(value: Decimal, currency: str, *, context: Context | None = None) -> int:
    """A computed amount (quantity × unit price) in minor units, half away from zero.

    Used only for values Recon computes itself, never for amounts a caller sent. `context`: the
    decimal context to compute in (a wider one than the thread's), else the thread's.
    """
    places = exponent(currency)
    return int(value.scaleb(places, context).quantize(_ONE, rounding=ROUND_HALF_UP, context=context))


_ONE = Decimal(1)
