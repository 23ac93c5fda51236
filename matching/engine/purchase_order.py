"""The invoice's purchase order: looked up by the number it gives, or inferred from the vendor's
open POs by line overlap, then checked (open, the vendor's, in the invoice currency) and scored as
the po_match component. Inference bounds each PO's score first, so it scores few of thousands.

po_match (the PO component of confidence, decision.confidence_of):

    1    a referenced PO (the invoice names it) that is open, the vendor's and in the currency;
    1    an inferred PO that is unique and exact (`po_match_of`): no other open PO of the vendor
         within INFERENCE_MARGIN of its assignment score, every invoice line assigned to one of
         its lines at its price (within the price tolerance) billing what was left to bill on it
         (within the quantity tolerance);
    0.8  any other inferred PO;
    0.7  at most, a PO found for an invoice whose vendor is unknown (the PO may be right);
    0.5  at most, a closed or cancelled PO;
    0.2  at most, another vendor's PO or one in another currency;
    0    no PO: none named and none inferred, or the named one does not exist.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.lookup_keys import po_number_key
from matching.engine.checks import LineFindings
from matching.engine.index import BatchIndex
from matching.engine.lines import (
    MAX_IDENTIFIED_SCORE,
    MAX_UNIDENTIFIED_SCORE,
    MIN_DESCRIPTION_SIMILARITY,
    LineKeys,
    LinePair,
    assign_lines,
    description_similarity,
)
from matching.engine.types import (
    ChosenByHand,
    Discrepancy,
    InvoiceLineRecord,
    InvoiceRecord,
    PurchaseOrderRecord,
    VendorRecord,
)
from matching.engine.vocabulary import (
    CRITICAL,
    CURRENCY_MISMATCH,
    HIGH,
    MISSING_PO,
    PO_CLOSED,
    PO_NOT_FOUND,
    VENDOR_MISMATCH,
)

# PO inference: the best open PO must cover at least this share of the invoice lines.
MIN_INFERRED_COVERAGE = 0.5
INFERRED_PO_SCORE = Decimal("0.8")
# Two candidate POs whose total assignment scores (the sum of their pairs' scores, lines.py) are
# within this of each other fit the invoice too alike to say which one it bills. 0.1 is the
# weight of one pair's quantity term (or price term) in full: a PO of the same items at the same
# prices that differs from the best in a single line's quantity, however much, stays within it,
# and the invoice could be a partial bill of that PO. So could a PO that only words a line or two
# differently (0.3 × the similarity lost). Beyond it, the best PO fits clearly better on at
# least two lines' numbers. Conservative on purpose: a competitor only costs the uplift (the
# inference keeps 0.8 and a person looks); a missed one could approve against the wrong order.
INFERENCE_MARGIN = 0.1
# Far above the rounding error of summing a few hundred pair scores, far below any real
# difference between two POs' totals: a PO within it of the best is scored, never skipped.
_BOUND_SLACK = 1e-9

_ONE = Decimal(1)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class PurchaseOrderResolution:
    purchase_order: PurchaseOrderRecord | None
    inferred: bool
    discrepancies: tuple[Discrepancy, ...]
    score: Decimal  # the po_match component, before the lines are checked (see po_match_of)
    # Inferred only: the best other open PO within INFERENCE_MARGIN of the inferred one.
    competitor: PurchaseOrderRecord | None = None


@dataclass(frozen=True)
class Inference:
    """What inference found: the best PO, and the best other within INFERENCE_MARGIN of it."""

    purchase_order: PurchaseOrderRecord | None
    competitor: PurchaseOrderRecord | None = None


def resolve_purchase_order(
    invoice: InvoiceRecord, vendor: VendorRecord | None, index: BatchIndex, chosen: ChosenByHand | None = None
) -> PurchaseOrderResolution:
    """The invoice's PO by its number; without one, inferred from the vendor's open POs in the
    invoice currency by line overlap (those of the context's `inference_candidates` for this
    invoice, when it names some). Then the PO must be open, the vendor's, in the currency.

    The score is po_match as the module docstring gives it, with an inferred PO at 0.8: only
    po_match_of, once the lines are checked, knows whether the inference is exact.

    A PO a person chose for this invoice (`chosen`, learning.models.HumanChoice) is the invoice's
    as if it named it, and is checked the same way (open, the vendor's, in the currency).
    """
    if chosen is not None:
        by_id = index.po_by_id.get(chosen.chosen_id) if chosen.chosen_id is not None else None
        if by_id is not None:
            return _check_purchase_order(invoice, vendor, by_id, inferred=False)
    if invoice.po_number:
        purchase_order = index.po_by_key.get(po_number_key(invoice.po_number))
        if purchase_order is None:
            return PurchaseOrderResolution(
                None, False,
                (Discrepancy(PO_NOT_FOUND, HIGH, f"No purchase order {invoice.po_number} exists.",
                             expected=None, actual=invoice.po_number),),
                _ZERO,
            )  # fmt: skip
        return _check_purchase_order(invoice, vendor, purchase_order, inferred=False)
    if vendor is not None:
        open_purchase_orders = index.open_pos_by_vendor.get(vendor.id, [])
        candidates = index.inference_candidates.get(invoice.id)
        if candidates is not None:
            open_purchase_orders = [po for po in open_purchase_orders if po.id in candidates]
        inference = inference_of(invoice, open_purchase_orders, index.line_keys)
        if inference.purchase_order is not None:
            resolution = _check_purchase_order(invoice, vendor, inference.purchase_order, inferred=True)
            return dataclasses.replace(resolution, competitor=inference.competitor)
    return PurchaseOrderResolution(
        None, False,
        (Discrepancy(MISSING_PO, HIGH,
                     "The invoice names no purchase order and none of the vendor's open orders fits its lines."),),
        _ZERO,
    )  # fmt: skip


def _check_purchase_order(
    invoice: InvoiceRecord, vendor: VendorRecord | None, purchase_order: PurchaseOrderRecord, *, inferred: bool
) -> PurchaseOrderResolution:
    found: list[Discrepancy] = []
    score = INFERRED_PO_SCORE if inferred else _ONE
    if purchase_order.status != "open":
        found.append(
            Discrepancy(PO_CLOSED, HIGH, f"Purchase order {purchase_order.po_number} is {purchase_order.status}.",
                        expected="open", actual=purchase_order.status)
        )  # fmt: skip
        score = min(score, Decimal("0.5"))
    if vendor is not None and purchase_order.vendor_id != vendor.id:
        found.append(
            Discrepancy(VENDOR_MISMATCH, CRITICAL,
                        f"Purchase order {purchase_order.po_number} was placed with another vendor, not {vendor.name}.",
                        expected=str(purchase_order.vendor_id), actual=str(vendor.id))
        )  # fmt: skip
        score = min(score, Decimal("0.2"))
    if purchase_order.currency != invoice.currency:
        found.append(
            Discrepancy(CURRENCY_MISMATCH, CRITICAL,
                        f"The invoice is in {invoice.currency}; purchase order {purchase_order.po_number} is in "
                        f"{purchase_order.currency}.", expected=purchase_order.currency, actual=invoice.currency)
        )  # fmt: skip
        score = min(score, Decimal("0.2"))
    if vendor is None:
        score = min(score, Decimal("0.7"))
    return PurchaseOrderResolution(purchase_order, inferred, tuple(found), score)


def infer_purchase_order(
    invoice: InvoiceRecord,
    open_purchase_orders: Sequence[PurchaseOrderRecord],
    line_keys: dict[uuid.UUID, LineKeys] | None = None,
) -> PurchaseOrderRecord | None:
    """Of the vendor's open POs, the one in the invoice currency whose lines the invoice lines fit best
    (total assignment score), if it covers at least half of the invoice lines. Ties go to the
    PO number that sorts first, so the answer does not depend on load order. See inference_of."""
    return inference_of(invoice, open_purchase_orders, line_keys).purchase_order


def inference_of(
    invoice: InvoiceRecord,
    open_purchase_orders: Sequence[PurchaseOrderRecord],
    line_keys: dict[uuid.UUID, LineKeys] | None = None,
) -> Inference:
    """The inferred PO (infer_purchase_order's rule) and its competitor: of the other POs
    covering at least half of the invoice lines, the best whose total is within INFERENCE_MARGIN
    of the inferred one's (ties to the number that sorts first), if any.

    A vendor can have thousands of open POs, and scoring one is a full assignment (a similarity
    per pair of lines). So each PO first gets an upper bound of its total (`_score_bound`), the
    POs are tried best bound first, and a PO whose bound is below the best total found so far,
    less the margin, is not scored: it could neither win nor compete. Same answer as scoring
    every PO; typically one or two assignments. Only ordered quantities and prices count, never
    what was received or billed, so the loader's pick (matching.loading) is the engine's.
    `line_keys` (BatchIndex.line_keys) saves recomputing each PO's keys for every invoice.
    """
    candidates = []
    for purchase_order in open_purchase_orders:
        if purchase_order.currency != invoice.currency:
            continue
        keys = line_keys.get(purchase_order.id) if line_keys is not None else None
        keys = keys or LineKeys.of(purchase_order)
        candidates.append((_identity_bound(invoice.lines, keys), purchase_order.po_number, purchase_order, keys))
    candidates.sort(key=lambda candidate: (-candidate[0], candidate[1]))
    scored: list[tuple[float, str, PurchaseOrderRecord]] = []  # (-total, number, PO)
    best_total: float | None = None
    for identity_bound, po_number, purchase_order, keys in candidates:
        floor = best_total - INFERENCE_MARGIN - _BOUND_SLACK if best_total is not None else None
        if floor is not None and identity_bound < floor:
            break  # sorted by this bound: no later PO can reach the margin of the best either
        if floor is not None and _score_bound(invoice.lines, purchase_order, keys) < floor:
            continue
        pairs = assign_lines(invoice.lines, purchase_order.lines)
        if len(pairs) < MIN_INFERRED_COVERAGE * len(invoice.lines):
            continue
        total = sum(pair.score for pair in pairs)
        scored.append((-total, po_number, purchase_order))
        best_total = total if best_total is None else max(best_total, total)
    if not scored:
        return Inference(None)
    scored.sort(key=lambda entry: entry[:2])
    best, *others = scored
    # Sorted best first: the runner-up is the competitor if it is within the margin.
    within = bool(others) and others[0][0] - best[0] <= INFERENCE_MARGIN + _BOUND_SLACK
    return Inference(best[2], others[0][2] if within else None)


def po_match_of(
    invoice: InvoiceRecord, resolution: PurchaseOrderResolution, pairs: Sequence[LinePair], findings: LineFindings
) -> tuple[Decimal, str]:
    """(po_match, what the reason adds): an inferred PO that is unique and exact scores 1, as a
    referenced one would; other inferences keep INFERRED_PO_SCORE; a referenced PO's score is
    resolve_purchase_order's. Exact: every invoice line assigned, at the PO line's price within
    the price tolerance, billing what was left to bill on it within the quantity tolerance
    (checks.check_lines' `agreeing`). The reason says which, so a person reading the decision
    knows the PO was not on the invoice."""
    purchase_order = resolution.purchase_order
    if purchase_order is None or not resolution.inferred:
        return resolution.score, ""
    number = purchase_order.po_number
    if resolution.competitor is not None:
        return resolution.score, (
            f" PO {number} inferred, not for sure: {resolution.competitor.po_number} fits the lines about as well."
        )
    exact = bool(invoice.lines) and all(line.id in findings.agreeing for line in invoice.lines)
    if exact and not resolution.discrepancies:
        return _ONE, f" PO {number} inferred: the only open PO whose lines all agree."
    return resolution.score, f" PO {number} inferred by line overlap: not every line agrees with it."


def _identity_bound(invoice_lines: Sequence[InvoiceLineRecord], keys: LineKeys) -> float:
    """An upper bound of a PO's total assignment score from identities alone (no similarity):
    each invoice line adds at most its best pair, and only an identified pair can score above
    MAX_UNIDENTIFIED_SCORE."""
    if not keys.line_numbers:
        return 0.0
    return sum(MAX_IDENTIFIED_SCORE if keys.identify(line) else MAX_UNIDENTIFIED_SCORE for line in invoice_lines)


def _score_bound(
    invoice_lines: Sequence[InvoiceLineRecord], purchase_order: PurchaseOrderRecord, keys: LineKeys
) -> float:
    """A tighter upper bound: an unidentified invoice line adds at most its best description
    similarity's share plus full price and quantity agreement, or nothing below the threshold."""
    bound = 0.0
    for line in invoice_lines:
        if keys.identify(line):
            bound += MAX_IDENTIFIED_SCORE
            continue
        similarity = max(
            (description_similarity(line.description, po_line.description) for po_line in purchase_order.lines),
            default=0.0,
        )
        if similarity >= MIN_DESCRIPTION_SIMILARITY:
            bound += 0.3 * similarity + 0.1 + 0.1
    return bound
