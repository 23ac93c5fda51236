"""The 3-way match of one invoice against its purchase order and goods receipts.

Steps (DESIGN.md §5), each a function below with the rule it applies in its docstring:
resolve the vendor → check duplicates → resolve the PO → assign invoice lines to PO lines →
check quantities (ordered, received, billed before) → check prices → check header arithmetic →
score → decide.

Pure: plain data in (types.py), plain data out; no ORM, no clock, no randomness. Similarity
scores are floats (they are not money); amounts are integer minor units and quantities and
prices `Decimal`s throughout.
"""

from __future__ import annotations

import functools
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from rapidfuzz import fuzz, process

from core.money import CURRENCY_EXPONENTS, format_minor, round_to_minor
from invoices.numbers import normalize_invoice_number
from matching.engine.assignment import optimal_assignment
from matching.engine.types import (
    ENGINE_VERSION,
    Discrepancy,
    InvoiceLineRecord,
    InvoiceRecord,
    LineAssignment,
    MatchContext,
    MatchFailure,
    MatchOutcome,
    MatchSettings,
    PriorInvoiceRecord,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
    VendorRecord,
)
from vendors.names import normalize_tax_id, normalize_vendor_name

# --- vocabulary (part of the API) -----------------------------------------------------------
DUPLICATE_INVOICE = "duplicate_invoice"
POSSIBLE_DUPLICATE = "possible_duplicate"
UNKNOWN_VENDOR = "unknown_vendor"
MISSING_PO = "missing_po"
PO_NOT_FOUND = "po_not_found"
PO_CLOSED = "po_closed"
VENDOR_MISMATCH = "vendor_mismatch"
CURRENCY_MISMATCH = "currency_mismatch"
UNMATCHED_LINE = "unmatched_line"
PRICE_MISMATCH = "price_mismatch"
QUANTITY_EXCEEDS_PO = "quantity_exceeds_po"
QUANTITY_NOT_RECEIVED = "quantity_not_received"
RECEIPT_MISSING = "receipt_missing"
TOTAL_MISMATCH = "total_mismatch"
TAX_MISMATCH = "tax_mismatch"

DISCREPANCY_TYPES = (
    DUPLICATE_INVOICE, POSSIBLE_DUPLICATE, UNKNOWN_VENDOR, MISSING_PO, PO_NOT_FOUND, PO_CLOSED,
    VENDOR_MISMATCH, CURRENCY_MISMATCH, UNMATCHED_LINE, PRICE_MISMATCH, QUANTITY_EXCEEDS_PO,
    QUANTITY_NOT_RECEIVED, RECEIPT_MISSING, TOTAL_MISMATCH, TAX_MISMATCH,
)  # fmt: skip

LOW, MEDIUM, HIGH, CRITICAL = "low", "medium", "high", "critical"
SERIOUS = frozenset({HIGH, CRITICAL})

# Decisions: the invoice status the match leads to.
APPROVED, PENDING_REVIEW, ON_HOLD, REJECTED = "approved", "pending_review", "on_hold", "rejected"
STANDARD, ESCALATED = "standard", "escalated"

# Statuses whose invoices no longer count: not as duplicates, not as billed quantities.
NOT_COUNTED = frozenset({"void", "rejected"})

WEIGHTS = {"po_match": Decimal("0.30"), "line_match": Decimal("0.30"), "receipt_match": Decimal("0.20"),
           "price_match": Decimal("0.20")}  # fmt: skip

POSSIBLE_DUPLICATE_DAYS = 7
# A fuzzy vendor match must beat the runner-up (another vendor) by this many points.
FUZZY_MARGIN = 3.0
# Invoice line ↔ PO line pairs below these are not the same item.
MIN_DESCRIPTION_SIMILARITY = 0.6
STRONG_DESCRIPTION_SIMILARITY = 0.9
# PO inference: the best open PO must cover at least this share of the invoice lines.
MIN_INFERRED_COVERAGE = 0.5
# price_match falls from 1 to 0 as the price goes from the tolerance to 10 % beyond it.
PRICE_SCORE_SLOPE = Decimal(10)
INFERRED_PO_SCORE = Decimal("0.8")

_Q4 = Decimal("0.0001")
_ONE = Decimal(1)
_ZERO = Decimal(0)


def quantity_text(value: Decimal) -> str:
    """`Decimal("400.0000")` → `"400"`, `Decimal("2.5000")` → `"2.5"`: how a clerk writes it."""
    return format(value.normalize(), "f")


def price_text(value: Decimal, currency: str) -> str:
    """A unit price as an invoice prints it: at least the currency's decimals (`"18.40"` EUR,
    `"1250"` JPY), more when the price has them (`"0.0845"`)."""
    digits = -value.normalize().as_tuple().exponent if value else 0
    places = max(CURRENCY_EXPONENTS.get(currency, 2), int(digits))
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def percent_text(value: Decimal) -> str:
    return quantity_text(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


# --- vendor ---------------------------------------------------------------------------------


@dataclass
class BatchIndex:
    """Lookups over the tenant's vendors and the batch's purchase orders, built once per batch."""

    by_id: dict[uuid.UUID, VendorRecord]
    by_tax_id: dict[str, VendorRecord] = field(default_factory=dict)
    by_name: dict[str, list[VendorRecord]] = field(default_factory=dict)  # normalized name or alias
    fuzzy_choices: list[str] = field(default_factory=list)
    po_by_key: dict[str, PurchaseOrderRecord] = field(default_factory=dict)  # spaces and case ignored
    open_pos_by_vendor: dict[uuid.UUID, list[PurchaseOrderRecord]] = field(default_factory=dict)
    line_keys: dict[uuid.UUID, _LineKeys] = field(default_factory=dict)  # by PO id, for inference
    inference_candidates: dict[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)  # by invoice id

    @classmethod
    def build(cls, context: MatchContext) -> BatchIndex:
        vendors = context.vendors
        index = cls(by_id=vendors, inference_candidates=context.inference_candidates or {})
        for purchase_order in sorted(context.purchase_orders.values(), key=lambda po: po.po_number):
            index.po_by_key.setdefault(po_key(purchase_order.po_number), purchase_order)
            if purchase_order.status == "open":
                index.open_pos_by_vendor.setdefault(purchase_order.vendor_id, []).append(purchase_order)
                index.line_keys[purchase_order.id] = _LineKeys.of(purchase_order)
        for vendor in sorted(vendors.values(), key=lambda v: str(v.id)):
            if vendor.tax_id:
                index.by_tax_id.setdefault(normalize_tax_id(vendor.tax_id), vendor)
            for name in (vendor.normalized_name, *vendor.aliases):
                if name:
                    bucket = index.by_name.setdefault(name, [])
                    if vendor not in bucket:
                        bucket.append(vendor)
        index.fuzzy_choices = sorted(index.by_name)
        return index


@dataclass(frozen=True)
class VendorResolution:
    vendor: VendorRecord | None
    method: str  # id | tax_id | name | alias | fuzzy | none
    score: float = 0.0


def resolve_vendor(invoice: InvoiceRecord, index: BatchIndex, settings: MatchSettings) -> VendorResolution:
    """id → tax id → exact normalized name or alias → fuzzy above the tenant's threshold.

    A fuzzy match counts only when its best vendor beats every other vendor by FUZZY_MARGIN
    points: "Acme Supplies" must not be guessed between "Acme Supply" and "Acme Supplies UK".
    """
    if invoice.vendor_id is not None and invoice.vendor_id in index.by_id:
        return VendorResolution(index.by_id[invoice.vendor_id], "id", 100.0)
    tax_id = normalize_tax_id(invoice.vendor_tax_id_raw)
    if tax_id and tax_id in index.by_tax_id:
        return VendorResolution(index.by_tax_id[tax_id], "tax_id", 100.0)
    name = normalize_vendor_name(invoice.vendor_name_raw)
    if not name:
        return VendorResolution(None, "none")
    exact = index.by_name.get(name, [])
    if len(exact) == 1:
        method = "name" if exact[0].normalized_name == name else "alias"
        return VendorResolution(exact[0], method, 100.0)
    if len(exact) > 1 or not index.fuzzy_choices:
        return VendorResolution(None, "none")
    candidates = process.extract(name, index.fuzzy_choices, scorer=fuzz.WRatio, limit=6)
    best_vendor: VendorRecord | None = None
    best_score = 0.0
    runner_up = 0.0
    for choice, score, _ in candidates:
        for vendor in index.by_name[choice]:
            if best_vendor is None:
                best_vendor, best_score = vendor, score
            elif vendor.id != best_vendor.id:
                runner_up = max(runner_up, score)
    if best_vendor is None or best_score < settings.fuzzy_vendor_threshold:
        return VendorResolution(None, "none", best_score)
    if best_score - runner_up < FUZZY_MARGIN:
        return VendorResolution(None, "none", best_score)
    return VendorResolution(best_vendor, "fuzzy", best_score)


# --- duplicates -----------------------------------------------------------------------------


@dataclass
class EarlierInvoices:
    """The invoices a new one could duplicate (the database's and the batch's so far, none void
    or rejected), indexed by vendor and number and by vendor and total: a lookup per invoice,
    not a scan of the vendor's history."""

    by_number: dict[tuple[uuid.UUID, str], list[PriorInvoiceRecord]] = field(default_factory=dict)
    by_total: dict[tuple[uuid.UUID, int, str], list[PriorInvoiceRecord]] = field(default_factory=dict)

    @classmethod
    def build(cls, prior_invoices: dict[uuid.UUID, list[PriorInvoiceRecord]]) -> EarlierInvoices:
        earlier = cls()
        records = [record for records in prior_invoices.values() for record in records]
        for record in sorted(records, key=lambda r: (r.invoice_date, str(r.id))):
            earlier.add(record)
        return earlier

    def add(self, record: PriorInvoiceRecord) -> None:
        if record.status in NOT_COUNTED:
            return
        self.by_number.setdefault((record.vendor_id, record.invoice_number_normalized), []).append(record)
        self.by_total.setdefault((record.vendor_id, record.total_amount, record.currency), []).append(record)


def check_duplicates(invoice: InvoiceRecord, vendor: VendorRecord, earlier: EarlierInvoices) -> list[Discrepancy]:
    """`duplicate_invoice` [critical]: the vendor's same normalized number, not void or rejected.
    `possible_duplicate` [high]: same vendor, same total and currency, dated within 7 days,
    another number (a re-keyed or renumbered re-send). The earliest such invoice is named."""
    number = invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number)
    for prior in earlier.by_number.get((vendor.id, number), ()):
        if prior.id == invoice.id or _received_later(prior, invoice):
            continue
        return [
            Discrepancy(
                DUPLICATE_INVOICE,
                CRITICAL,
                f"{vendor.name} already sent invoice {prior.invoice_number} dated "
                f"{prior.invoice_date.isoformat()} (now {prior.status}); this looks like the same invoice again.",
                expected=None,
                actual=invoice.invoice_number,
            )
        ]  # one exact duplicate says it all
    for prior in earlier.by_total.get((vendor.id, invoice.total_amount, invoice.currency), ()):
        if prior.id == invoice.id or prior.invoice_number_normalized == number or _received_later(prior, invoice):
            continue
        if abs((prior.invoice_date - invoice.invoice_date).days) <= POSSIBLE_DUPLICATE_DAYS:
            return [
                Discrepancy(
                    POSSIBLE_DUPLICATE,
                    HIGH,
                    f"Same vendor, same total {format_minor(invoice.total_amount, invoice.currency)} "
                    f"{invoice.currency} and within {POSSIBLE_DUPLICATE_DAYS} days of invoice {prior.invoice_number} "
                    f"({prior.invoice_date.isoformat()}): check it is not the same invoice renumbered.",
                    expected=None,
                    actual=invoice.invoice_number,
                )
            ]
    return []


def _received_later(prior: PriorInvoiceRecord, invoice: InvoiceRecord) -> bool:
    """Whether `prior` arrived after `invoice` (by receipt time, then id, the batch's order).

    An original re-matched after a receipt must not be flagged as the copy of its own later
    re-send: the copy is flagged when its own turn comes.
    """
    if prior.received_at is None or invoice.received_at is None:
        return False
    return (prior.received_at, prior.id) > (invoice.received_at, invoice.id)


# --- purchase order -------------------------------------------------------------------------


def po_key(po_number: str) -> str:
    """How a PO number is looked up: spaces and case ignored ("po 1001" finds "PO1001")."""
    return "".join(po_number.split()).upper()


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
        purchase_order = index.po_by_key.get(po_key(invoice.po_number))
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
    line_keys: dict[uuid.UUID, _LineKeys] | None = None,
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
        keys = keys or _LineKeys.of(purchase_order)
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


# The largest score one pair can get (see _pair_score): identified (0.5), the same description
# (0.3), the same price and quantity (0.1 each), hinted and the same SKU (0.05); and without
# identity, description, price and quantity alone.
_MAX_IDENTIFIED_SCORE = 0.5 + 0.3 + 0.1 + 0.1 + 0.05
_MAX_UNIDENTIFIED_SCORE = 0.3 + 0.1 + 0.1
# Far above the rounding error of summing a few hundred pair scores, far below any real
# difference between two POs' totals: a PO within it of the best is scored, never skipped.
_BOUND_SLACK = 1e-9


@dataclass(frozen=True)
class _LineKeys:
    """What identifies a PO's lines (see _pair_score): their numbers and their SKUs as compared."""

    line_numbers: frozenset[int]
    skus: frozenset[str]

    @classmethod
    def of(cls, purchase_order: PurchaseOrderRecord) -> _LineKeys:
        return cls(
            frozenset(line.line_number for line in purchase_order.lines),
            frozenset(line.sku.strip().upper() for line in purchase_order.lines),
        )

    def identify(self, invoice_line: InvoiceLineRecord) -> bool:
        """Whether some line of the PO is hinted by, or has the SKU of, this invoice line."""
        hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number in self.line_numbers
        return hinted or (bool(invoice_line.sku) and invoice_line.sku.strip().upper() in self.skus)


def _identity_bound(invoice_lines: Sequence[InvoiceLineRecord], keys: _LineKeys) -> float:
    """An upper bound of a PO's total assignment score from identities alone (no similarity):
    each invoice line adds at most its best pair, and only an identified pair can score above
    _MAX_UNIDENTIFIED_SCORE."""
    if not keys.line_numbers:
        return 0.0
    return sum(_MAX_IDENTIFIED_SCORE if keys.identify(line) else _MAX_UNIDENTIFIED_SCORE for line in invoice_lines)


def _score_bound(
    invoice_lines: Sequence[InvoiceLineRecord], purchase_order: PurchaseOrderRecord, keys: _LineKeys
) -> float:
    """A tighter upper bound: an unidentified invoice line adds at most its best description
    similarity's share plus full price and quantity agreement, or nothing below the threshold."""
    bound = 0.0
    for line in invoice_lines:
        if keys.identify(line):
            bound += _MAX_IDENTIFIED_SCORE
            continue
        similarity = max(
            (description_similarity(line.description, po_line.description) for po_line in purchase_order.lines),
            default=0.0,
        )
        if similarity >= MIN_DESCRIPTION_SIMILARITY:
            bound += 0.3 * similarity + 0.1 + 0.1
    return bound


# --- lines ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    invoice_line: InvoiceLineRecord
    po_line: PurchaseOrderLineRecord
    score: float
    quality: float  # for line_match: 1 for an identified pair, else the description similarity


def _pair_score(invoice_line: InvoiceLineRecord, po_line: PurchaseOrderLineRecord) -> tuple[float, float]:
    """(assignment score, match quality); score 0 means "not the same item".

    Identity (the sender's PO line hint, or equal SKUs) weighs most, then the description, then
    how close price and quantity are, which only breaks ties between otherwise similar lines.
    """
    hinted = invoice_line.po_line_number is not None and invoice_line.po_line_number == po_line.line_number
    same_sku = bool(invoice_line.sku) and invoice_line.sku.strip().upper() == po_line.sku.strip().upper()
    identified = hinted or same_sku
    description = description_similarity(invoice_line.description, po_line.description)
    if not identified and description < MIN_DESCRIPTION_SIMILARITY:
        return 0.0, 0.0
    price_gap = _relative_gap(invoice_line.unit_price, po_line.unit_price)
    quantity_gap = _relative_gap(invoice_line.quantity, po_line.quantity)
    # Inference bounds these weights (_MAX_IDENTIFIED_SCORE, _MAX_UNIDENTIFIED_SCORE): change both.
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
) -> list[_Pair] | None:
    """The common case, fast: every invoice line names a different PO line by SKU or line-number
    hint. An identified pair scores at least 0.5 and an unidentified one at most 0.5, so no
    other assignment does better, and the full score matrix is not needed."""
    by_sku: dict[str, PurchaseOrderLineRecord] = {}
    for po_line in po_lines:
        key = po_line.sku.strip().upper()
        if key:
            if key in by_sku:
                return None  # two PO lines share a SKU: let the full assignment decide
            by_sku[key] = po_line
    by_number = {po_line.line_number: po_line for po_line in po_lines}
    pairs: list[_Pair] = []
    taken: set[uuid.UUID] = set()
    for invoice_line in invoice_lines:
        sku = invoice_line.sku.strip().upper()
        by_hint = by_number.get(invoice_line.po_line_number) if invoice_line.po_line_number is not None else None
        by_code = by_sku.get(sku) if sku else None
        if by_hint is not None and by_code is not None and by_hint.id != by_code.id:
            return None  # the hint and the SKU disagree
        po_line = by_hint or by_code
        if po_line is None or po_line.id in taken:
            return None
        taken.add(po_line.id)
        score, quality = _pair_score(invoice_line, po_line)
        pairs.append(_Pair(invoice_line, po_line, score, quality))
    return pairs


def assign_lines(
    invoice_lines: Sequence[InvoiceLineRecord], po_lines: Sequence[PurchaseOrderLineRecord]
) -> list[_Pair]:
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
            pairs.append(_Pair(invoice_lines[row], po_lines[column], score, quality))
    return pairs


# --- quantities, prices, header -------------------------------------------------------------


@dataclass
class _LineFindings:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    receipt_scores: dict[uuid.UUID, Decimal] = field(default_factory=dict)  # by invoice line id
    price_scores: dict[uuid.UUID, Decimal] = field(default_factory=dict)
    nothing_received: bool = False


def check_lines(
    invoice: InvoiceRecord,
    pairs: Sequence[_Pair],
    billed_in_batch: dict[uuid.UUID, Decimal],
    price_tolerance_pct: Decimal,
    price_tolerance_abs: Decimal,
    quantity_tolerance_pct: Decimal,
    compare_prices: bool,
) -> _LineFindings:
    """Quantities and prices of each assigned pair.

    Cumulative billed = what earlier invoices billed on the PO line (not void or rejected) + this
    line. `quantity_exceeds_po` [high] when it passes ordered + tolerance;
    `quantity_not_received` [medium] when it passes received + tolerance and something was
    received on the matched lines; `receipt_missing` [medium, once] when nothing was.
    `price_mismatch` when the unit price differs from the PO's by more than the tolerance
    (the larger of pct × PO price and the absolute floor per unit): medium, high beyond 5×.
    Inside a tolerance counts as agreement: the line scores 1 on that component.
    """
    findings = _LineFindings()
    quantity_factor = _ONE + quantity_tolerance_pct / 100
    received_any = any(pair.po_line.received_quantity > 0 for pair in pairs)
    findings.nothing_received = bool(pairs) and not received_any
    for pair in pairs:
        line, po_line = pair.invoice_line, pair.po_line
        billed_before = po_line.billed_quantity + billed_in_batch.get(po_line.id, _ZERO)
        billed_total = billed_before + line.quantity
        where = {"invoice_line_number": line.line_number, "po_line_number": po_line.line_number}
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


# --- score and decision ---------------------------------------------------------------------


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, _ZERO) / len(values) if values else _ZERO


def confidence_of(
    invoice: InvoiceRecord, po_score: Decimal, pairs: Sequence[_Pair], findings: _LineFindings
) -> tuple[Decimal, dict[str, Decimal]]:
    """confidence = 0.30·po + 0.30·line + 0.20·receipt + 0.20·price, each in 0..1.

    - po_match: see resolve_purchase_order.
    - line_match: mean over the invoice lines of the match quality (1 for a pair identified by
      SKU or PO line number or a description ≥ 90 % similar, the similarity otherwise, 0 for an
      unassigned line).
    - receipt_match: mean over the invoice lines of the share of the billed quantity covered by
      what was received and not billed before (1 inside the tolerance; 0 when unassigned).
    - price_match: mean over the invoice lines of 1 inside the price tolerance, falling to 0 at
      10 % of the PO price beyond it (0 when unassigned).
    With no PO, every component but po_match is 0.
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


def _threshold_minor(amount: Decimal, currency: str) -> int:
    """A threshold in major units of the invoice currency, in its minor units (100.00 → 10000
    for EUR, 100 for JPY)."""
    return round_to_minor(amount, currency)


def decide(
    invoice: InvoiceRecord, confidence: Decimal, discrepancies: Sequence[Discrepancy], settings: MatchSettings
) -> tuple[str, str | None, str]:
    """(status, queue, reason), by the rules of DESIGN.md §5 in order:

    1. rejected if any discrepancy type is in REJECT_ON;
    2. on_hold if receipt_missing is present and nothing is high or critical;
    3. approved if nothing is high or critical and either the total is below AUTO_APPROVE_MAX
       or confidence ≥ 0.95 with no discrepancy at all;
    4. pending_review/escalated if anything is high or critical, or the total ≥ ESCALATE_FROM;
    5. pending_review/standard otherwise.
    """
    types = {d.type for d in discrepancies}
    serious = sorted({d.type for d in discrepancies if d.severity in SERIOUS})
    currency = invoice.currency
    total = f"{format_minor(invoice.total_amount, currency)} {currency}"
    rejecting = sorted(types & settings.reject_on)
    if rejecting:
        return REJECTED, None, f"Rejected: {', '.join(rejecting)}."
    if RECEIPT_MISSING in types and not serious:
        return ON_HOLD, None, "On hold until the goods are received."
    below_limit = invoice.total_amount < _threshold_minor(settings.auto_approve_max, currency)
    if not serious:
        if below_limit:
            limit = format_minor(_threshold_minor(settings.auto_approve_max, currency), currency)
            return APPROVED, None, f"Auto-approved: total {total} is below the auto-approve limit {limit}."
        if confidence >= settings.auto_approve_min_confidence and not discrepancies:
            return APPROVED, None, f"Auto-approved: clean 3-way match (confidence {confidence})."
    if serious:
        return PENDING_REVIEW, ESCALATED, f"Escalated: {', '.join(serious)}."
    if invoice.total_amount >= _threshold_minor(settings.escalate_from, currency):
        limit = format_minor(_threshold_minor(settings.escalate_from, currency), currency)
        return PENDING_REVIEW, ESCALATED, f"Escalated: total {total} is at or above {limit}."
    listed = ", ".join(sorted(types)) or "confidence below the auto-approve level"
    return PENDING_REVIEW, STANDARD, f"Review: {listed}."


# --- one invoice, a batch -------------------------------------------------------------------


_SEVERITY_ORDER = {CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3}


def match_invoice(
    invoice: InvoiceRecord,
    context: MatchContext,
    index: BatchIndex,
    billed_in_batch: dict[uuid.UUID, Decimal],
    earlier: EarlierInvoices,
) -> MatchOutcome:
    """Match one invoice; see the module docstring for the steps."""
    settings = context.settings
    discrepancies: list[Discrepancy] = []

    vendor = resolve_vendor(invoice, index, settings).vendor
    if vendor is None:
        shown = invoice.vendor_name_raw or invoice.vendor_tax_id_raw or "(none given)"
        discrepancies.append(
            Discrepancy(UNKNOWN_VENDOR, HIGH, f"No vendor matches {shown!r}.", expected=None, actual=shown)
        )
    else:
        discrepancies.extend(check_duplicates(invoice, vendor, earlier))

    resolution = resolve_purchase_order(invoice, vendor, index)
    discrepancies.extend(resolution.discrepancies)
    purchase_order = resolution.purchase_order

    pairs = assign_lines(invoice.lines, purchase_order.lines) if purchase_order is not None else []
    assigned = {pair.invoice_line.id for pair in pairs}
    if purchase_order is not None:
        for line in invoice.lines:
            if line.id not in assigned:
                discrepancies.append(
                    Discrepancy(
                        UNMATCHED_LINE,
                        MEDIUM,
                        f"Line {line.line_number} ({line.description}) matches no line of purchase order "
                        f"{purchase_order.po_number}.",
                        invoice_line_number=line.line_number,
                        expected=None,
                        actual=line.description,
                    )
                )

    price_pct = vendor.price_tolerance_pct if vendor and vendor.price_tolerance_pct is not None else None
    quantity_pct = vendor.quantity_tolerance_pct if vendor and vendor.quantity_tolerance_pct is not None else None
    findings = check_lines(
        invoice,
        pairs,
        billed_in_batch,
        price_tolerance_pct=price_pct if price_pct is not None else settings.price_tolerance_pct,
        price_tolerance_abs=settings.price_tolerance_abs,
        quantity_tolerance_pct=quantity_pct if quantity_pct is not None else settings.quantity_tolerance_pct,
        compare_prices=purchase_order is not None and purchase_order.currency == invoice.currency,
    )
    discrepancies.extend(findings.discrepancies)
    if findings.nothing_received and purchase_order is not None:
        discrepancies.append(
            Discrepancy(RECEIPT_MISSING, MEDIUM,
                        f"Nothing has been received yet on the lines of purchase order {purchase_order.po_number}.",
                        expected=None, actual=None)
        )  # fmt: skip
    discrepancies.extend(check_header(invoice))

    confidence, breakdown = confidence_of(invoice, resolution.score, pairs, findings)
    ordered = tuple(
        sorted(
            discrepancies,
            key=lambda d: (_SEVERITY_ORDER[d.severity], DISCREPANCY_TYPES.index(d.type), d.invoice_line_number or 0),
        )
    )
    status, queue, reason = decide(invoice, confidence, ordered, settings)
    return MatchOutcome(
        invoice_id=invoice.id,
        vendor_id=vendor.id if vendor is not None else None,
        purchase_order_id=purchase_order.id if purchase_order is not None else None,
        confidence=confidence,
        breakdown=breakdown,
        status=status,
        review_queue=queue,
        decision_reason=reason,
        discrepancies=ordered,
        assignments=tuple(
            LineAssignment(
                invoice_line_id=pair.invoice_line.id,
                po_line_id=pair.po_line.id,
                invoice_line_number=pair.invoice_line.line_number,
                po_line_number=pair.po_line.line_number,
                score=Decimal(str(round(pair.score, 4))),
            )
            for pair in sorted(pairs, key=lambda pair: pair.invoice_line.line_number)
        ),
        engine_version=ENGINE_VERSION,
    )


def match_batch(invoices: Sequence[InvoiceRecord], context: MatchContext) -> list[MatchOutcome | MatchFailure]:
    """Match invoices in order; each sees what the ones before it billed and sent.

    An invoice that is rejected (a duplicate, say) bills nothing and is no precedent for the
    next. An exception matching one invoice becomes its MatchFailure; the rest go on.
    """
    index = BatchIndex.build(context)
    billed_in_batch: dict[uuid.UUID, Decimal] = defaultdict(lambda: _ZERO)
    earlier = EarlierInvoices.build(context.prior_invoices)
    lines_by_id = {line.id: line for invoice in invoices for line in invoice.lines}
    results: list[MatchOutcome | MatchFailure] = []
    for invoice in invoices:
        try:
            outcome = match_invoice(invoice, context, index, billed_in_batch, earlier)
        except Exception as exc:  # one bad invoice must not stop the batch; the run records it
            results.append(MatchFailure(invoice.id, f"{type(exc).__name__}: {exc}"))
            continue
        results.append(outcome)
        if outcome.status == REJECTED:
            continue
        for assignment in outcome.assignments:
            billed_in_batch[assignment.po_line_id] += lines_by_id[assignment.invoice_line_id].quantity
        if outcome.vendor_id is not None:
            earlier.add(
                PriorInvoiceRecord(
                    id=invoice.id,
                    vendor_id=outcome.vendor_id,
                    invoice_number=invoice.invoice_number,
                    invoice_number_normalized=invoice.invoice_number_normalized,
                    total_amount=invoice.total_amount,
                    currency=invoice.currency,
                    invoice_date=invoice.invoice_date,
                    status=outcome.status,
                    received_at=invoice.received_at,
                )
            )
    return results
