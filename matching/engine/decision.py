"""The score and the decision: confidence from its four components (po, line, receipt, price),
and the invoice status the discrepancies and the tenant's thresholds lead to (DESIGN.md §5).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from core.money import format_minor
from matching.engine.checks import LineFindings
from matching.engine.lines import LinePair
from matching.engine.types import Discrepancy, InvoiceRecord, MatchSettings
from matching.engine.vocabulary import (
    APPROVED,
    ESCALATED,
    ON_HOLD,
    PENDING_REVIEW,
    RECEIPT_MISSING,
    REJECTED,
    SERIOUS,
    STANDARD,
)

WEIGHTS = {"po_match": Decimal("0.30"), "line_match": Decimal("0.30"), "receipt_match": Decimal("0.20"),
           "price_match": Decimal("0.20")}  # fmt: skip
# The components as the invoice page and the API's breakdown name them for a person.
COMPONENT_LABELS = {"po_match": "PO match", "line_match": "Lines match", "receipt_match": "Goods received",
                    "price_match": "Prices match"}  # fmt: skip

_Q4 = Decimal("0.0001")
_ZERO = Decimal(0)


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, _ZERO) / len(values) if values else _ZERO


def confidence_of(
    invoice: InvoiceRecord, po_score: Decimal, pairs: Sequence[LinePair], findings: LineFindings
) -> tuple[Decimal, dict[str, Decimal]]:
    """confidence = 0.30·po + 0.30·line + 0.20·receipt + 0.20·price, each in 0..1, each rounded
    to 4 places before weighting (the breakdown stored is the one summed).

    - po_match: purchase_order.po_match_of (the module docstring of purchase_order.py lists
      every value): 1 for a referenced PO that is open, the vendor's and in the currency, and
      for an inferred PO that is unique and exact; 0.8 for other inferences; less for a closed
      PO, another vendor's or currency, an unknown vendor; 0 for none.
    - line_match: mean over the invoice lines of the pair's quality (lines.py): 1 for a pair
      identified by SKU or PO line number, or with descriptions ≥ 90 % similar, or exact and
      unique on price and quantity; the description similarity (0.6..0.9) otherwise; 0 for an
      unassigned line.
    - receipt_match: mean over the invoice lines of checks.check_lines' receipt score: 1 when the
      cumulative billed quantity is within the tolerance of what was received, else the share of
      the line's quantity covered by what was received and not billed before; 0 unassigned.
    - price_match: mean over the invoice lines of checks.check_lines' price score: 1 inside the
      price tolerance, falling linearly to 0 at 10 % of the PO price beyond it; 0 unassigned.
    With no PO, every component but po_match is 0. Auto-approval on confidence (decide, rule 3)
    also needs zero discrepancies, so no component's 1 approves an invoice anything is wrong with.
    """
    by_line = {pair.invoice_line.id: pair for pair in pairs}
    lines = invoice.lines
    line_match = _mean([Decimal(str(by_line[l.id].quality)) if l.id in by_line else _ZERO for l in lines])  # noqa: E741
    receipt = _mean([findings.receipt_scores.get(line.id, _ZERO) for line in lines])
    price = _mean([findings.price_scores.get(line.id, _ZERO) for line in lines])
    breakdown = {
        "po_match": po_score.quantize(_Q4, rounding=ROUND_HALF_UP),
        "line_match": line_match.quantize(_Q4, rounding=ROUND_HALF_UP),
        "receipt_match": receipt.quantize(_Q4, rounding=ROUND_HALF_UP),
        "price_match": price.quantize(_Q4, rounding=ROUND_HALF_UP),
    }
    confidence = sum((WEIGHTS[name] * value for name, value in breakdown.items()), _ZERO)
    return confidence.quantize(_Q4, rounding=ROUND_HALF_UP), breakdown


def decide(
    invoice: InvoiceRecord, confidence: Decimal, discrepancies: Sequence[Discrepancy], settings: MatchSettings
) -> tuple[str, str | None, str]:
    """(status, queue, reason), by the rules of DESIGN.md §5 in order:

    1. rejected if any discrepancy type is in REJECT_ON;
    2. on_hold if receipt_missing is present and nothing is high or critical;
    3. approved if nothing is high or critical and either the total is below the auto-approve
       limit of the invoice's currency or confidence ≥ 0.95 with no discrepancy at all;
    4. pending_review/escalated if anything is high or critical, or the total ≥ the escalation
       limit of the invoice's currency;
    5. pending_review/standard otherwise.
    The limits are the tenant's in the invoice's own currency, in its minor units
    (`MatchSettings.limits_for`): JPY 100 and BHD 100.000 are different limits.
    """
    types = {d.type for d in discrepancies}
    serious = sorted({d.type for d in discrepancies if d.severity in SERIOUS})
    currency = invoice.currency
    total = f"{format_minor(invoice.total_amount, currency)} {currency}"
    limits = settings.limits_for(currency)
    rejecting = sorted(types & settings.reject_on)
    if rejecting:
        return REJECTED, None, f"Rejected: {', '.join(rejecting)}."
    if RECEIPT_MISSING in types and not serious:
        return ON_HOLD, None, "On hold until the goods are received."
    if not serious:
        if invoice.total_amount < limits.auto_approve_below:
            limit = format_minor(limits.auto_approve_below, currency)
            return APPROVED, None, f"Auto-approved: total {total} is below the auto-approve limit {limit}."
        if confidence >= settings.auto_approve_min_confidence and not discrepancies:
            return APPROVED, None, f"Auto-approved: clean 3-way match (confidence {confidence})."
    if serious:
        return PENDING_REVIEW, ESCALATED, f"Escalated: {', '.join(serious)}."
    if invoice.total_amount >= limits.escalate_from:
        limit = format_minor(limits.escalate_from, currency)
        return PENDING_REVIEW, ESCALATED, f"Escalated: total {total} is at or above {limit}."
    listed = ", ".join(sorted(types)) or "confidence below the auto-approve level"
    return PENDING_REVIEW, STANDARD, f"Review: {listed}."
