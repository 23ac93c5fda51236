"""Which invoice line bills which PO line: the score of a pair (identity by SKU or PO line-number
hint, then description similarity, then price and quantity proximity), the keys that identify a
PO's lines, and the optimal one-to-one assignment over all pairs (not first-fit).

Each assigned pair also has a `quality`, the line_match component of confidence (decision.py):

    quality = 1    if the pair is identified (SKU or PO line-number hint, or a learned alias),
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

Learned item aliases (issue #20, learning.models.ItemAlias): a clerk approved an invoice whose
line this vendor worded its own way was assigned to a PO line on a weak description score; the
loader passes the vendor's aliases (invoice item key → PO item keys, core.item_keys.item_key), and
a pair whose keys an alias links is identified as if by its SKU. The pair carries the alias, so
the decision's reason names it, who approved it and when.

Lines assigned by hand (issue #20, learning.models.HumanChoice): a person said which PO line an
invoice line bills, or that it bills none. That wins over every score: the line is paired with
that PO line (quality 1, as identified) or left unpaired, and the other lines are assigned
optimally among the PO lines left. A choice naming a line of another PO (the invoice's PO changed
since) is not applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.item_keys import MIN_DESCRIPTION_SIMILARITY, STRONG_DESCRIPTION_SIMILARITY, description_similarity, item_key
from core.lookup_keys import sku_key
from matching.engine.assignment import optimal_assignment
from matching.engine.types import (
    ChosenByHand,
    InvoiceLineRecord,
    LearnedItemAlias,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
)

# Re-exported: PO inference and the tests read them here, beside the scores they bound.
__all__ = [
    "MIN_DESCRIPTION_SIMILARITY",
    "STRONG_DESCRIPTION_SIMILARITY",
    "LinePair",
    "assign_lines",
    "chosen_lines_text",
    "description_similarity",
    "learned_alias_text",
]

# A vendor's learned aliases, by the invoice item's key (core.item_keys.item_key).
ItemAliases = Mapping[str, Sequence[LearnedItemAlias]]


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
    alias: LearnedItemAlias | None = None  # identified through this learned alias (nothing else named it)
    chosen: ChosenByHand | None = None  # assigned by a person (module docstring)


def _alias_of(
    invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord, aliases: ItemAliases | None
) -> LearnedItemAlias | None:
    """The learned alias linking this invoice line's item to this PO line's, if any."""
    if not aliases:
        return None
    learned = aliases.get(item_key(sku=invoice_line.sku, description=invoice_line.description))
    if not learned:
        return None
    po_key = item_key(sku=po_line.sku, description=po_line.description)
    return next((alias for alias in learned if alias.po_item_key == po_key), None)


def _pair_score(
    invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord, aliases: ItemAliases | None = None
) -> tuple[float, float]:
    """(assignment score, match quality); score 0 means "not the same item".

    Identity (the sender's PO line hint, equal SKUs, or a learned alias) weighs most, then the
    description, then how close price and quantity are, which only breaks ties between otherwise
    similar lines.
    """
    hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number == po_line.line_number
    same_sku = bool(invoice_line.sku) and sku_key(invoice_line.sku) == sku_key(po_line.sku)
    identified = hinted or same_sku or _alias_of(invoice_line, po_line, aliases) is not None
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


def chosen_applicable(
    chosen: Mapping[uuid.UUID, ChosenByHand] | None, po_lines: Sequence[PurchaseOrderLineRecord]
) -> dict[uuid.UUID, ChosenByHand]:
    """The lines' choices by hand that apply to this PO: to one of its lines, or to none."""
    if not chosen:
        return {}
    ids = {po_line.id for po_line in po_lines}
    return {
        line_id: choice for line_id, choice in chosen.items() if choice.chosen_id is None or choice.chosen_id in ids
    }


def assign_lines(
    invoice_lines: Sequence[InvoiceLineRecord],
    po_lines: Sequence[PurchaseOrderLineRecord],
    aliases: ItemAliases | None = None,
    chosen: Mapping[uuid.UUID, ChosenByHand] | None = None,
) -> list[LinePair]:
    """The optimal one-to-one assignment of invoice lines to PO lines (not first-fit).

    `aliases`: the vendor's learned item aliases (module docstring); a pair they identify and
    nothing else did carries its alias. `chosen`: the lines a person assigned, by invoice line
    id, which keep that assignment."""
    if not invoice_lines or not po_lines:
        return []
    applicable = chosen_applicable(chosen, po_lines)
    if applicable:
        by_id = {po_line.id: po_line for po_line in po_lines}
        pinned = []
        for invoice_line in invoice_lines:
            choice = applicable.get(invoice_line.id)
            if choice is not None and choice.chosen_id is not None:
                po_line = by_id[choice.chosen_id]
                score, _ = _pair_score(invoice_line, po_line, aliases)
                pinned.append(LinePair(invoice_line, po_line, score, 1.0, chosen=choice))
        taken = {pair.po_line.id for pair in pinned}
        rest = assign_lines(
            [line for line in invoice_lines if line.id not in applicable],
            [po_line for po_line in po_lines if po_line.id not in taken],
            aliases,
        )
        return sorted(pinned + rest, key=lambda pair: pair.invoice_line.line_number)
    identified = _identified_pairs(invoice_lines, po_lines)
    if identified is not None:
        return identified
    scored = [[_pair_score(invoice_line, po_line, aliases) for po_line in po_lines] for invoice_line in invoice_lines]
    matrix = [[score for score, _ in row] for row in scored]
    pairs = []
    for row, column in optimal_assignment(matrix):
        score, quality = scored[row][column]
        if score > 0:
            invoice_line, po_line = invoice_lines[row], po_lines[column]
            # Named only where it made the difference: nothing else identified the pair, and its
            # wording alone would not have been enough.
            weakly_worded = (
                description_similarity(invoice_line.description, po_line.description) < STRONG_DESCRIPTION_SIMILARITY
            )
            alias = (
                _alias_of(invoice_line, po_line, aliases)
                if aliases and weakly_worded and not _named(invoice_line, po_line)
                else None
            )
            exact = quality < 1.0 and _exact_and_unique(invoice_line, po_line, invoice_lines, po_lines)
            pairs.append(LinePair(invoice_line, po_line, score, 1.0 if exact else quality, exact, alias))
    return pairs


def _named(invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord) -> bool:
    """Identified without any alias: by the PO line-number hint or the same SKU."""
    hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number == po_line.line_number
    return hinted or (bool(invoice_line.sku) and sku_key(invoice_line.sku) == sku_key(po_line.sku))


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


def learned_alias_text(pairs: Sequence[LinePair]) -> str:
    """What a decision's reason adds for each line identified through a learned alias (DESIGN.md
    §5: a match that used a learned fact says so)."""
    return "".join(
        f" Line {pair.invoice_line.line_number} matched via learned alias, {pair.alias.how} "
        f"by {pair.alias.approved_by} on {pair.alias.approved_on.isoformat()}."
        for pair in sorted(pairs, key=lambda pair: pair.invoice_line.line_number)
        if pair.alias is not None
    )


def chosen_lines_text(
    invoice_lines: Sequence[InvoiceLineRecord],
    pairs: Sequence[LinePair],
    chosen: Mapping[uuid.UUID, ChosenByHand] | None,
    po_lines: Sequence[PurchaseOrderLineRecord],
) -> str:
    """What a decision's reason adds for each line a person assigned (to a PO line or to none)."""
    applicable = chosen_applicable(chosen, po_lines)
    paired = {pair.invoice_line.id: pair.po_line for pair in pairs if pair.chosen is not None}
    texts = []
    for line in sorted(invoice_lines, key=lambda line: line.line_number):
        choice = applicable.get(line.id)
        if choice is None:
            continue
        po_line = paired.get(line.id)
        target = f"PO line {po_line.line_number}" if po_line is not None else "no PO line"
        texts.append(
            f" Line {line.line_number} assigned to {target} by {choice.chosen_by} on {choice.chosen_on.isoformat()}."
        )
    return "".join(texts)
