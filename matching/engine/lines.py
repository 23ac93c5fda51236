"""Which invoice line bills which PO line: the score of a pair (identity by SKU or PO line-number
hint, then description similarity, then price and quantity proximity), the keys that identify a
PO's lines, and the optimal one-to-one assignment over all pairs (not first-fit).

Each assigned pair also has a `quality`, the line_match component of confidence (decision.py):

    quality = 1    if the pair is identified (SKU or PO line-number hint),
                   or its descriptions are ≥ 90 % similar,
                   or it is exact and unique on price and quantity (`_exact_and_unique`);
            = the description similarity (0.6 … 0.9) otherwise.

Exact and unique: the invoice unit price equals the PO line's (exactly: equal as numbers, not
within the price tolerance), the quantity is at most what the PO line ordered, no other line of
the PO has that price and room for that quantity, and no other invoice line has that price and
fits the PO line. A vendor rewording "Nitrile gloves size M, box of 100" as "Box of 100 nitrile
gloves (M)" but billing the PO's own price is billing that line as surely as by its SKU. Exact,
not within tolerance: a price inside the tolerance is agreement on price (price_match scores it
1) but no evidence of which item it is, since two items of a PO can be 2 % apart. Two PO lines of
the same price (or two invoice lines) make price and quantity ambiguous: the pair keeps its
similarity, and a person looks.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz

from core.lookup_keys import sku_key
from matching.engine.assignment import optimal_assignment
from matching.engine.types import InvoiceLineRecord, PurchaseOrderLineRecord, PurchaseOrderRecord

# Invoice line ↔ PO line pairs below these are not the same item.
MIN_DESCRIPTION_SIMILARITY = 0.6
STRONG_DESCRIPTION_SIMILARITY = 0.9


# The largest score one pair can get (see _pair_score): identified (0.5), the same description
# (0.3), the same price and quantity (0.1 each), hinted and the same SKU (0.05); and without
# identity, description, price and quantity alone. PO inference bounds a PO's total by them.
MAX_IDENTIFIED_SCORE = 0.5 + 0.3 + 0.1 + 0.1 + 0.05
MAX_UNIDENTIFIED_SCORE = 0.3 + 0.1 + 0.1

_ONE = Decimal(1)


@dataclass(frozen=True)
class LineKeys:
    """What identifies a PO's lines (see _pair_score): their numbers and their SKUs as compared."""

    line_numbers: frozenset[int]
    skus: frozenset[str]

    @classmethod
    def of(cls, purchase_order: PurchaseOrderRecord) -> LineKeys:
        return cls(
            frozenset(line.line_number for line in purchase_order.lines),
            frozenset(sku_key(line.sku) for line in purchase_order.lines),
        )

    def identify(self, invoice_line: InvoiceLineRecord) -> bool:
        """Whether some line of the PO is hinted by, or has the SKU of, this invoice line."""
        hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number in self.line_numbers
        return hinted or (bool(invoice_line.sku) and sku_key(invoice_line.sku) in self.skus)


@dataclass(frozen=True)
class LinePair:
    invoice_line: InvoiceLineRecord
    po_line: PurchaseOrderLineRecord
    score: float
    quality: float  # for line_match: see the module docstring
    exact: bool = False  # quality 1 because exact and unique on price and quantity, not by SKU or wording


def _pair_score(invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord) -> tuple[float, float]:
    """(assignment score, match quality); score 0 means "not the same item".

    Identity (the sender's PO line hint, or equal SKUs) weighs most, then the description, then
    how close price and quantity are, which only breaks ties between otherwise similar lines.
    """
    hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number == po_line.line_number
    same_sku = bool(invoice_line.sku) and sku_key(invoice_line.sku) == sku_key(po_line.sku)
    identified = hinted or same_sku
    description = description_similarity(invoice_line.description, po_line.description)
    if not identified and description < MIN_DESCRIPTION_SIMILARITY:
        return 0.0, 0.0
    price_gap = _relative_gap(invoice_line.unit_price, po_line.unit_price)
    quantity_gap = _relative_gap(invoice_line.quantity, po_line.quantity)
    # Inference bounds these weights (MAX_IDENTIFIED_SCORE, MAX_UNIDENTIFIED_SCORE): change both.
    score = (
        0.5 * (1.0 if identified else 0.0)
        + 0.3 * description
        + 0.1 * (1.0 - price_gap)
        + 0.1 * (1.0 - quantity_gap)
        + (0.05 if hinted and same_sku else 0.0)
    )
    quality = 1.0 if identified or description >= STRONG_DESCRIPTION_SIMILARITY else description
    return score, quality


# Pure, and a vendor's POs and invoices repeat its catalogue's descriptions: inferring a PO
# compares one invoice's lines with those of every open PO of the vendor, mostly the same pairs.
# Bounded: 16,384 pairs of descriptions of up to 500 characters, some 20 MB per worker at worst.
@functools.lru_cache(maxsize=16_384)
def description_similarity(left: str, right: str) -> float:
    """0..1. The mean of token-set similarity (word order and extra words forgiven) and
    token-sort similarity (extra words cost): a vague "Bolt M8" fits "Bolt M8 x 20" and
    "Bolt M8 x 25" alike and well, but less than the exact "Bolt M8 x 20" fits its own line."""
    a, b = left.casefold(), right.casefold()
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 200.0


def _relative_gap(value: Decimal, reference: Decimal) -> float:
    if reference == 0:
        return 0.0 if value == 0 else 1.0
    return float(min(_ONE, abs(value - reference) / reference))


def _identified_pairs(
    invoice_lines: Sequence[InvoiceLineRecord], po_lines: Sequence[PurchaseOrderLineRecord]
) -> list[LinePair] | None:
    """The common case, fast: every invoice line names a different PO line by SKU or line-number
    hint. An identified pair scores at least 0.5 and an unidentified one at most 0.5, so no
    other assignment does better, and the full score matrix is not needed."""
    by_sku: dict[str, PurchaseOrderLineRecord] = {}
    for po_line in po_lines:
        key = sku_key(po_line.sku)
        if key:
            if key in by_sku:
                return None  # two PO lines share a SKU: let the full assignment decide
            by_sku[key] = po_line
    by_number = {po_line.line_number: po_line for po_line in po_lines}
    pairs: list[LinePair] = []
    taken: set[uuid.UUID] = set()
    for invoice_line in invoice_lines:
        sku = sku_key(invoice_line.sku)
        by_hint = by_number.get(invoice_line.po_line_number) if invoice_line.po_line_number is not None else None
        by_code = by_sku.get(sku) if sku else None
        if by_hint is not None and by_code is not None and by_hint.id != by_code.id:
            return None  # the hint and the SKU disagree
        named = by_hint or by_code
        if named is None or named.id in taken:
            return None
        taken.add(named.id)
        score, quality = _pair_score(invoice_line, named)
        pairs.append(LinePair(invoice_line, named, score, quality))
    return pairs


def assign_lines(
    invoice_lines: Sequence[InvoiceLineRecord], po_lines: Sequence[PurchaseOrderLineRecord]
) -> list[LinePair]:
    """The optimal one-to-one assignment of invoice lines to PO lines (not first-fit)."""
    if not invoice_lines or not po_lines:
        return []
    identified = _identified_pairs(invoice_lines, po_lines)
    if identified is not None:
        return identified
    scored = [[_pair_score(invoice_line, po_line) for po_line in po_lines] for invoice_line in invoice_lines]
    matrix = [[score for score, _ in row] for row in scored]
    pairs = []
    for row, column in optimal_assignment(matrix):
        score, quality = scored[row][column]
        if score > 0:
            invoice_line, po_line = invoice_lines[row], po_lines[column]
            exact = quality < 1.0 and _exact_and_unique(invoice_line, po_line, invoice_lines, po_lines)
            pairs.append(LinePair(invoice_line, po_line, score, 1.0 if exact else quality, exact))
    return pairs


def _fits(invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord) -> bool:
    """The invoice line could bill the PO line by its numbers: the very same unit price, and no
    more than the PO line ordered (a partial bill fits; what earlier invoices billed is the
    quantity check's business, not identity's)."""
    return invoice_line.unit_price == po_line.unit_price and invoice_line.quantity <= po_line.quantity


def _exact_and_unique(
    invoice_line: InvoiceLineRecord,
    po_line: PurchaseOrderLineRecord,
    invoice_lines: Sequence[InvoiceLineRecord],
    po_lines: Sequence[PurchaseOrderLineRecord],
) -> bool:
    """Whether price and quantity alone say this pair is one item (see the module docstring):
    it fits, no other PO line fits the invoice line, and no other invoice line fits the PO line."""
    if not _fits(invoice_line, po_line):
        return False
    if any(other.id != po_line.id and _fits(invoice_line, other) for other in po_lines):
        return False
    return not any(other.id != invoice_line.id and _fits(other, po_line) for other in invoice_lines)
