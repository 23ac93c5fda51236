"""The rules by which Recon learns from clerks' decisions: pure functions over plain data, so each
rule is tested without a database (tests/learning/test_rules.py).

Tolerance suggestion (issue #20): when approvers repeatedly accept the same price difference of
a vendor, propose that vendor's price tolerance; likewise for quantities billed over what was
ordered or received (`quantity_exceeds_po`, `quantity_not_received`: the difference in percent of
the quantity ordered or received), the vendor's quantity tolerance. The same rule for both:

- evidence: the vendor's human decisions on invoices whose match found `price_mismatch` (or a
  quantity finding), within
  `WINDOW_DAYS` of today, newer than the last suggestion an administrator decided on (accepted or
  declined: its evidence was weighed) and newer than the vendor's last such rejection (a rejection
  says the difference is not acceptable: it resets the count);
- pattern: the band of `BAND_PCT` percentage points holding the most approvals (every price
  difference of an approval inside it), at least `MIN_APPROVALS` of them;
- proposal: the band's highest difference rounded up to a tenth of a percent, only when above the
  vendor's tolerance in force and at most `MAX_PCT` (beyond that a clerk's approval is an
  exception, not a rule).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

WINDOW_DAYS = 60
MIN_APPROVALS = 5
BAND_PCT = Decimal("1")
MAX_PCT = Decimal("10")
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class PriceDecision:
    """A person's decision on an invoice of the vendor whose match found price differences."""

    example_id: uuid.UUID
    invoice_id: uuid.UUID | None
    invoice_number: str
    decided_at: dt.datetime
    approved: bool  # False: rejected
    pcts: tuple[Decimal, ...]  # each line's |invoice price − PO price| in percent of the PO price
    decided_by: str


@dataclass(frozen=True)
class TolerancePattern:
    low_pct: Decimal
    high_pct: Decimal
    proposed_pct: Decimal
    evidence: tuple[PriceDecision, ...]


def price_difference_pct(*, expected: str, actual: str) -> Decimal | None:
    """|actual − expected| in percent of `expected` (a price_mismatch's PO and invoice prices, or a
    quantity finding's ordered or received and billed quantities, as the engine states them);
    None when they are not numbers or `expected` is zero."""
    try:
        po_price, invoice_price = Decimal(expected), Decimal(actual)
    except (ArithmeticError, TypeError, ValueError):
        return None
    if not po_price.is_finite() or not invoice_price.is_finite() or po_price == 0:
        return None
    return (abs(invoice_price - po_price) / po_price * 100).quantize(Decimal("0.001"))


def tolerance_suggestion_of(
    decisions: Sequence[PriceDecision],
    *,
    now: dt.datetime,
    current_pct: Decimal,
    not_before: dt.datetime | None = None,
    window_days: int = WINDOW_DAYS,
    min_approvals: int = MIN_APPROVALS,
) -> TolerancePattern | None:
    """The pattern to propose for one vendor, or None (the rules in the module docstring)."""
    start = now - dt.timedelta(days=window_days)
    if not_before is not None and not_before > start:
        start = not_before
    recent = sorted((d for d in decisions if start <= d.decided_at <= now and d.pcts), key=lambda d: d.decided_at)
    rejections = [d.decided_at for d in recent if not d.approved]
    if rejections:
        recent = [d for d in recent if d.decided_at > rejections[-1]]
    approvals = [d for d in recent if d.approved]
    best: tuple[PriceDecision, ...] = ()
    for anchor in sorted({min(d.pcts) for d in approvals}):
        inside = tuple(d for d in approvals if min(d.pcts) >= anchor and max(d.pcts) <= anchor + BAND_PCT)
        if len(inside) > len(best):
            best = inside
    if len(best) < min_approvals:
        return None
    low = min(min(d.pcts) for d in best)
    high = max(max(d.pcts) for d in best)
    proposed = high.quantize(_TENTH, rounding=ROUND_CEILING)
    if proposed <= current_pct or proposed > MAX_PCT:
        return None
    return TolerancePattern(low_pct=low, high_pct=high, proposed_pct=proposed, evidence=best)
