"""The invoice's purchase order: looked up by the number it gives, or inferred from the vendor's
open POs by line overlap, then checked (open, the vendor's, in the invoice currency) and scored as
the po_match component. Inference bounds each PO's score first, so it scores few of thousands.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.lookup_keys import po_number_key
from matching.engine.index import BatchIndex
from matching.engine.lines import (
    MAX_IDENTIFIED_SCORE,
    MAX_UNIDENTIFIED_SCORE,
    MIN_DESCRIPTION_SIMILARITY,
    LineKeys,
    assign_lines,
    description_similarity,
)
from matching.engine.types import (
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
    score: Decimal  # the po_match component


def resolve_purchase_order(
    invoice: InvoiceRecord, vendor: VendorRecord | None, index: BatchIndex
) -> PurchaseOrderResolution:
    """The invoice's PO by its number; without one, inferred from the vendor's open POs in the
    invoice currency by line overlap (those of the context's `inference_candidates` for this
    invoice, when it names some). Then the PO must be open, the vendor's, in the currency.

    po_match: 1 for a referenced PO that is open, the vendor's and in the currency; 0.8 for an
    inferred one; 0.5 when it is closed; 0.2 for another vendor's or currency; 0 when missing or
    unknown. An unresolved vendor with a found PO scores 0.7 (the PO may be right; nobody knows).
    """
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
        inferred = infer_purchase_order(invoice, open_purchase_orders, index.line_keys)
        if inferred is not None:
            return _check_purchase_order(invoice, vendor, inferred, inferred=True)
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
    PO number that sorts first, so the answer does not depend on load order.

    A vendor can have thousands of open POs, and scoring one is a full assignment (a similarity
    per pair of lines). So each PO first gets an upper bound of its total (`_score_bound`), the
    POs are tried best bound first, and a PO whose bound is below the best total found so far is
    not scored: it could not have won. Same answer as scoring every PO; typically one assignment.
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
    best: tuple[float, str, PurchaseOrderRecord] | None = None
    for identity_bound, po_number, purchase_order, keys in candidates:
        if best is not None and identity_bound < -best[0] - _BOUND_SLACK:
            break  # sorted by this bound: no later PO can reach the best total either
        if best is not None and _score_bound(invoice.lines, purchase_order, keys) < -best[0] - _BOUND_SLACK:
            continue
        pairs = assign_lines(invoice.lines, purchase_order.lines)
        if len(pairs) < MIN_INFERRED_COVERAGE * len(invoice.lines):
            continue
        total = sum(pair.score for pair in pairs)
        candidate = (-total, po_number, purchase_order)
        if best is None or candidate[:2] < best[:2]:
            best = candidate
    return best[2] if best is not None else None


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
