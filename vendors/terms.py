"""A vendor's payment terms (issue #19 item 3): how they read, and what makes them valid.

2/10 net 30 — pay within 30 days of the invoice date, 2 % off when paid within 10 — is stored as
`payment_net_days` 30, `discount_pct` 2, `discount_days` 10 (vendors.models.Vendor) and read as
"2% 10 days, net 30". An invoice's own terms, and how the vendor's fill what a document leaves
out, are invoices.terms'.
"""

from __future__ import annotations

from decimal import Decimal

NET_DAYS_MAX = 999
DISCOUNT_NEEDS_DAYS = "A discount needs the number of days within which it may be taken."
DAYS_NEED_DISCOUNT = "Discount days need a discount percent."
DISCOUNT_PCT_RANGE = "A discount is a percent more than 0 and less than 100."
DISCOUNT_PCT_PLACES = "A discount percent has at most 2 decimal places."
DAYS_RANGE = "Days are a whole number from 0 to {max}."
DISCOUNT_DAYS_OVER_NET = "The discount days cannot be more than the net days ({net})."
NO_TERMS = "No terms agreed"


def percent_text(pct: Decimal) -> str:
    """`Decimal("2.00")` → "2", `Decimal("1.50")` → "1.5": as people write a discount."""
    text = format(pct.normalize(), "f")
    return text


def payment_terms_label(*, net_days: int | None, discount_pct: Decimal | None, discount_days: int | None) -> str:
    """ "2% 10 days, net 30"; "net 30"; "2% 10 days"; "" when none are agreed."""
    parts = []
    if discount_pct is not None and discount_days is not None:
        parts.append(f"{percent_text(discount_pct)}% {discount_days} days")
    if net_days is not None:
        parts.append(f"net {net_days}")
    return ", ".join(parts)


def payment_terms_errors(
    *, net_days: int | None, discount_pct: Decimal | None, discount_days: int | None
) -> dict[str, list[str]]:
    """Every problem with these terms, by field (empty: valid)."""
    errors: dict[str, list[str]] = {}
    for name, days in (("payment_net_days", net_days), ("discount_days", discount_days)):
        if days is not None and not 0 <= days <= NET_DAYS_MAX:
            errors[name] = [DAYS_RANGE.format(max=NET_DAYS_MAX)]
    if discount_pct is not None:
        if not discount_pct.is_finite() or not 0 < discount_pct < 100:
            errors["discount_pct"] = [DISCOUNT_PCT_RANGE]
        elif discount_pct.quantize(Decimal("0.01")) != discount_pct:
            errors["discount_pct"] = [DISCOUNT_PCT_PLACES]
        elif discount_days is None:
            errors["discount_days"] = [DISCOUNT_NEEDS_DAYS]
    elif discount_days is not None:
        errors["discount_pct"] = [DAYS_NEED_DISCOUNT]
    if (
        not errors
        and net_days is not None
        and discount_days is not None
        and discount_pct is not None
        and discount_days > net_days
    ):
        errors["discount_days"] = [DISCOUNT_DAYS_OVER_NET.format(net=net_days)]
    return errors
