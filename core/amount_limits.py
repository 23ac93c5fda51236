"""A tenant's amount limits in one currency, in that currency's own minor units.

A limit is stated per currency (tenants.CurrencyLimit) rather than once in "major units of
whatever currency the invoice has", where 100 meant EUR 100.00, JPY 100 (under a euro) and
BHD 100.000 (some EUR 240) alike, or once in a base currency with an FX table, where a rate
nobody updated would move decisions silently. A currency the tenant has set no limits for uses
DESIGN.md §5's defaults in that currency's units: the matching engine, the payment
reconciliation and the settings pages read them from here, so the default is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.money import to_minor

DEFAULT_AUTO_APPROVE_BELOW = Decimal("100.00")
DEFAULT_ESCALATE_FROM = Decimal("10000.00")
DEFAULT_WRITE_OFF_MAX = Decimal("5.00")
DEFAULT_PRICE_TOLERANCE_FLOOR = Decimal("0")


@dataclass(frozen=True)
class AmountLimits:
    """One currency's limits: amounts in minor units, the price floor a unit price (a `Decimal`
    in major units, like every unit price: real prices have sub-cent digits)."""

    currency: str
    auto_approve_below: int  # an invoice total below this may be approved without a person
    escalate_from: int  # an invoice total from this up goes to the escalated queue
    write_off_max: int  # the largest short payment written off (also bound by a percentage)
    price_tolerance_floor: Decimal = DEFAULT_PRICE_TOLERANCE_FLOOR  # per unit; the larger of it and the % wins
    # The largest first invoice of a new vendor (none of its invoices accepted yet) that passes
    # without the `new_vendor_large_invoice` signal (matching.engine.risk). None: no such limit,
    # the default: what is "large" depends on the tenant's business and currency, and a default
    # would flag the first invoice of every vendor set up before Recon kept its history.
    new_vendor_first_invoice_max: int | None = None
    is_default: bool = False  # True: the tenant set nothing for this currency


def amount_limits_default(*, currency: str) -> AmountLimits:
    """DESIGN.md §5's defaults in `currency`: 100, 10,000 and 5 of its major units (and no limit
    on a new vendor's first invoice)."""
    return AmountLimits(
        currency=currency,
        auto_approve_below=to_minor(DEFAULT_AUTO_APPROVE_BELOW, currency),
        escalate_from=to_minor(DEFAULT_ESCALATE_FROM, currency),
        write_off_max=to_minor(DEFAULT_WRITE_OFF_MAX, currency),
        is_default=True,
    )
