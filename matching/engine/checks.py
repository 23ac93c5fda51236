"""The checks of an assigned invoice: quantities against what was ordered, received and billed
before, unit prices against the PO within tolerance, and the header arithmetic (line amounts,
total, tax); with the per-line receipt and price scores they give.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TypedDict

from core.money import format_minor, round_to_minor
from matching.engine.lines import LinePair
from matching.engine.types import Discrepancy, InvoiceRecord
from matching.engine.vocabulary import (
    HIGH,
    MEDIUM,
    PRICE_MISMATCH,
    QUANTITY_EXCEEDS_PO,
    QUANTITY_NOT_RECEIVED,
    TAX_MISMATCH,
    TOTAL_MISMATCH,
    percent_text,
    price_text,
    quantity_text,
)

# price_match falls from 1 to 0 as the price goes from the tolerance to 10 % beyond it.
PRICE_SCORE_SLOPE = Decimal(10)

_ONE = Decimal(1)
_ZERO = Decimal(0)


class LineWhere(TypedDict):
    """Where a line finding is (typed, so a Discrepancy built with it is checked field by field)."""

    invoice_line_number: int
    po_line_number: int


@dataclass
class LineFindings:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    receipt_scores: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # by invoice line id
    price_scores: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    nothing_received: bool = False
    # Invoice lines that agree with their PO line: the price within the tolerance and the quantity
    # what was left to bill on it (ordered - billed before) within the quantity tolerance. An
    # inferred PO all of whose lines agree is exact (purchase_order.po_match_of).
    agreeing: set[uuid.UUID] = field(default_factory=set)


def check_lines(
    invoice: InvoiceRecord,
    pairs: Sequence[LinePair],
    billed_in_batch: dict[uuid.UUID, Decimal],
    price_tolerance_pct: Decimal,
    price_tolerance_abs: Decimal,
    quantity_tolerance_pct: Decimal,
    compare_prices: bool,
) -> LineFindings:
    """Quantities and prices of each assigned pair.

    Cumulative billed = what earlier invoices billed on the PO line (not void or rejected) + this
    line. `quantity_exceeds_po` [high] when it passes ordered + tolerance;
    `quantity_not_received` [medium] when it passes received + tolerance and something was
    received on the matched lines; `receipt_missing` [medium, once] when nothing was.
    `price_mismatch` when the unit price differs from the PO's by more than the tolerance
    (the larger of pct × PO price and the absolute floor per unit): medium, high beyond 5×.
    Inside a tolerance counts as agreement: the line scores 1 on that component.

    receipt_match per line: 1 if the cumulative billed quantity is within the quantity tolerance
    of what was received; else the share of this line's quantity that the received quantity not
    billed before covers (0 when nothing is left).
    price_match per line: 1 inside the price tolerance; beyond it 1 − (excess over the tolerance
    / PO price) × PRICE_SCORE_SLOPE, floored at 0 (0 at 10 % of the PO price past the
    tolerance); 0 when prices are not compared (another currency).
    """
    findings = LineFindings()
    quantity_factor = _ONE + quantity_tolerance_pct / 100
    received_any = any(pair.po_line.received_quantity > 0 for pair in pairs)
    findings.nothing_received = bool(pairs) and not received_any
    for pair in pairs:
        line, po_line = pair.invoice_line, pair.po_line
        billed_before = po_line.billed_quantity + billed_in_batch.get(po_line.id, _ZERO)
        billed_total = billed_before + line.quantity
        where = LineWhere(invoice_line_number=line.line_number, po_line_number=po_line.line_number)
        if billed_total > po_line.quantity * quantity_factor:
            findings.discrepancies.append(
                Discrepancy(
                    QUANTITY_EXCEEDS_PO,
                    HIGH,
                    f"Line {line.line_number} bills {quantity_text(line.quantity)}; with "
                    f"{quantity_text(billed_before)} billed before, that is {quantity_text(billed_total)} of the "
                    f"{quantity_text(po_line.quantity)} ordered on PO line {po_line.line_number}.",
                    expected=quantity_text(po_line.quantity),
                    actual=quantity_text(billed_total),
                    **where,
                )
            )
        received = po_line.received_quantity
        if billed_total <= received * quantity_factor:
            findings.receipt_scores[line.id] = _ONE
        else:
            available = max(_ZERO, received - billed_before)
            findings.receipt_scores[line.id] = min(_ONE, available / line.quantity) if line.quantity else _ZERO
            if received_any:
                findings.discrepancies.append(
                    Discrepancy(
                        QUANTITY_NOT_RECEIVED,
                        MEDIUM,
                        f"Line {line.line_number}: {quantity_text(billed_total)} billed in total but only "
                        f"{quantity_text(received)} received on PO line {po_line.line_number}.",
                        expected=quantity_text(received),
                        actual=quantity_text(billed_total),
                        **where,
                    )
                )
        if not compare_prices:
            findings.price_scores[line.id] = _ZERO
            continue
        tolerance = max(po_line.unit_price * price_tolerance_pct / 100, price_tolerance_abs)
        difference = line.unit_price - po_line.unit_price
        if abs(difference) <= tolerance:
            findings.price_scores[line.id] = _ONE
            left = po_line.quantity - billed_before
            if abs(line.quantity - left) <= po_line.quantity * quantity_tolerance_pct / 100:
                findings.agreeing.add(line.id)
            continue
        severity = HIGH if abs(difference) > 5 * tolerance else MEDIUM
        if po_line.unit_price:
            share = abs(difference) / po_line.unit_price * 100
            relative = f"{percent_text(share)} % {'above' if difference > 0 else 'below'}"
            excess = (abs(difference) - tolerance) / po_line.unit_price
            findings.price_scores[line.id] = max(_ZERO, _ONE - excess * PRICE_SCORE_SLOPE)
        else:
            relative = "above"
            findings.price_scores[line.id] = _ZERO
        findings.discrepancies.append(
            Discrepancy(
                PRICE_MISMATCH,
                severity,
                f"Line {line.line_number}: unit price {price_text(line.unit_price, invoice.currency)} is {relative} "
                f"the PO price {price_text(po_line.unit_price, invoice.currency)} "
                f"(tolerance {percent_text(price_tolerance_pct)} %"
                + (f" or {price_text(price_tolerance_abs, invoice.currency)} per unit" if price_tolerance_abs else "")
                + ").",
                expected=price_text(po_line.unit_price, invoice.currency),
                actual=price_text(line.unit_price, invoice.currency),
                **where,
            )
        )
    return findings


def check_header(invoice: InvoiceRecord) -> list[Discrepancy]:
    """`total_mismatch` [high]: a line amount ≠ quantity × unit price, or the header total ≠
    lines + tax + shipping, beyond 1 minor unit per line (rounding done line by line).
    `tax_mismatch` [medium]: the stated tax rate applied to the lines (with or without shipping,
    as tax regimes differ) does not give the stated tax, beyond the same allowance."""
    found: list[Discrepancy] = []
    currency = invoice.currency
    allowance = max(1, len(invoice.lines))
    for line in invoice.lines:
        computed = round_to_minor(line.quantity * line.unit_price, currency)
        if abs(computed - line.amount) > 1:
            found.append(
                Discrepancy(
                    TOTAL_MISMATCH,
                    HIGH,
                    f"Line {line.line_number}: {quantity_text(line.quantity)} × "
                    f"{price_text(line.unit_price, currency)} is {format_minor(computed, currency)}, "
                    f"but the line says {format_minor(line.amount, currency)}.",
                    invoice_line_number=line.line_number,
                    expected=format_minor(computed, currency),
                    actual=format_minor(line.amount, currency),
                )
            )
    lines_total = sum(line.amount for line in invoice.lines)
    expected_total = lines_total + invoice.tax_amount + invoice.shipping_amount
    if abs(expected_total - invoice.total_amount) > allowance:
        found.append(
            Discrepancy(
                TOTAL_MISMATCH,
                HIGH,
                f"The total {format_minor(invoice.total_amount, currency)} {currency} is not lines "
                f"{format_minor(lines_total, currency)} + tax {format_minor(invoice.tax_amount, currency)} + shipping "
                f"{format_minor(invoice.shipping_amount, currency)} = {format_minor(expected_total, currency)}.",
                expected=format_minor(expected_total, currency),
                actual=format_minor(invoice.total_amount, currency),
            )
        )
    if invoice.tax_rate is not None:
        rate = invoice.tax_rate / 100
        bases = [lines_total, lines_total + invoice.shipping_amount] if invoice.shipping_amount else [lines_total]
        # Amounts are minor units already: round the product to a whole minor unit, half up.
        candidates = [int((Decimal(base) * rate).quantize(_ONE, rounding=ROUND_HALF_UP)) for base in bases]
        if all(abs(candidate - invoice.tax_amount) > allowance for candidate in candidates):
            found.append(
                Discrepancy(
                    TAX_MISMATCH,
                    MEDIUM,
                    f"Tax at {quantity_text(invoice.tax_rate)} % of {format_minor(lines_total, currency)} is "
                    f"{format_minor(candidates[0], currency)}, but the invoice charges "
                    f"{format_minor(invoice.tax_amount, currency)}.",
                    expected=format_minor(candidates[0], currency),
                    actual=format_minor(invoice.tax_amount, currency),
                )
            )
    return found
