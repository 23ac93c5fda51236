"""The reconciliation engine: which open invoices a bank payment pays (DESIGN.md §6). Pure.

Input: one debit payment, the tenant's open invoices (same currency only are considered) and
its vendors with their names, aliases and known counterparty accounts. Output: a `Proposal`
(allocations, tier, confidence, a one-line reason, suggestion or auto-applicable) or `None`.

The tiers, strongest first; the first that answers wins:

1. Reference: invoice number(s) found in the remittance text and the payment equals the open
   balance of one referenced invoice, or of several whose balances sum to it. A number is found
   when a run of whole words of the text, of any length, reads as it ("FV/X/09/2026" is four
   words); a number found only inside a longer number that is also found is not ("118" in
   "EP/X/2026/118" when EP/X/2026/118 is open). See `OpenInvoiceIndex.references_in`.
2. Vendor + amount: the vendor is known from the counterparty account, its name or an alias,
   and the payment equals exactly one of that vendor's open balances. Several equal balances
   (monthly rent, a subscription) are a suggestion listing them all, never an automatic match:
   paying the wrong month is worse than asking.
3. Vendor + sum: the payment equals the sum of a small set (2..`subset_max_size`) of the
   vendor's open balances: a bounded subset-sum that prefers the oldest invoices and gives up
   after `subset_budget` steps.
4. Short payment: the payment is smaller than one open balance (of a referenced invoice, else
   of the vendor) by at most the tenant's write-off tolerance: the payment plus a `write_off`
   allocation for the difference (a bank fee, a small discount). Never for an overpayment.
5. Partial payment: a referenced invoice whose open balance is larger than the payment.

Same input, same output: no clock, no randomness, ties broken by date and then id.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from rapidfuzz import fuzz

from core.money import exponent, format_minor
from invoices.numbers import normalize_invoice_number
from payments.reconciliation.types import (
    OpenInvoice,
    PaymentRecord,
    Proposal,
    ProposedAllocation,
    ReconcileSettings,
    VendorRecord,
)
from vendors.names import normalize_vendor_name

PAYMENT, WRITE_OFF = "payment", "write_off"

REASON_REFERENCE = "Remittance names {numbers}; the amount equals {what}."
REASON_REFERENCE_AMBIGUOUS = "Remittance names {numbers}; several sets of them add up to {amount}: pick one."
REASON_REFERENCE_OTHER_VENDOR = (
    "Remittance names {numbers} and the amount agrees, but the counterparty looks like {vendor}."
)
REASON_VENDOR_AMOUNT = "{vendor} ({evidence}); the amount equals the open balance of {number}."
REASON_VENDOR_AMOUNT_AMBIGUOUS = "{vendor} ({evidence}); {count} open invoices have exactly {amount}: pick one."
REASON_VENDOR_SUM = "{vendor} ({evidence}); the amount equals the sum of {numbers}."
REASON_VENDOR_SUM_AMBIGUOUS = "{vendor} ({evidence}); several sets of open invoices add up to {amount}: pick one."
REASON_WRITE_OFF = "{source}; {amount} paid on {number} ({balance} open), {difference} written off within tolerance."
REASON_WRITE_OFF_AMBIGUOUS = "{source}; {count} open invoices are within write-off tolerance of {amount}: pick one."
REASON_PARTIAL = "Remittance names {number}; {amount} paid of {balance} open: partial payment."
REASON_PARTIAL_SEVERAL = "Remittance names {numbers}; {amount} is less than their {balance} open: paid oldest first."

EVIDENCE_LABEL = {
    "account": "known counterparty account",
    "name": "counterparty name or alias",
    "fuzzy": "similar counterparty name",
}

# Confidence of identifying the vendor from a bank line, by evidence. A counterparty account
# that a clerk confirmed earlier is the strongest; a fuzzy name alone stays below the default
# auto-apply threshold (0.90), so it only ever suggests.
_EVIDENCE_CONFIDENCE = {
    "account": Decimal("0.95"),
    "name": Decimal("0.93"),
    "fuzzy": Decimal("0.88"),
}
_TIER1_CONFIDENCE = Decimal("0.97")
_TIER1_VENDOR_AGREES_BONUS = Decimal("0.02")
_TIER1_OTHER_VENDOR = Decimal("0.75")
_TIER3_PENALTY = Decimal("0.03")  # a sum is likelier to be a coincidence than one exact amount
_TIER4_PENALTY = Decimal("0.05")  # and an amount that is only close, more so
_TIER4_REFERENCED = Decimal("0.92")
_TIER5_VENDOR_AGREES = Decimal("0.90")
_TIER5_REFERENCE_ONLY = Decimal("0.80")
_TIER5_SEVERAL = Decimal("0.60")
_AMBIGUOUS = Decimal("0.50")

# Words that stand before an invoice number in remittance texts and on invoices themselves
# (English, German, French, Dutch): "INV 123", "RE-123", "Rechnung Nr. 123", "No. 123", "#123".
# Longest first, so "INVOICE" is stripped whole and not as "INV" + "OICE".
_REFERENCE_PREFIXES = (
    "RECHNUNG",
    "INVOICE",
    "FACTURE",
    "FACTUUR",
    "RECH",
    "INVNO",
    "INV",
    "NUM",
    "NR",
    "NO",
    "RG",
    "RE",
)
# A number shorter than this ("7", "42") is found in too many texts (dates, amounts) to count.
_MIN_REFERENCE_LENGTH = 3
# A run of words is followed for at most this many characters more than the longest key it could
# be looked up as: room for what a remittance writes around the number and the key drops (prefix
# words "RECHNUNG NR.", dashes, zero padding). The bound is on characters, not on the key, so a
# text of dashes or zeros ("X 0 0 0 ...", whose key never grows) costs a bounded number of runs
# per word whatever its length.
_WINDOW_SLACK = 32
_WORD_SEPARATORS = re.compile(r"[\s,;:/()\[\]+]+")
_HAS_DIGIT = re.compile(r"[0-9]")
_LEADING_ZEROS = re.compile(r"^0+(?=[0-9])")
# Without an index to bound them: the longest run of words `remittance_keys` follows.
_UNBOUNDED_KEY_LENGTH = 64


class Evidence(StrEnum):
    ACCOUNT = "account"
    NAME = "name"
    FUZZY = "fuzzy"


@dataclass(frozen=True)
class SubsetSearch:
    """The sets found (indices into the amounts, at most `max_solutions`) and whether the budget ran out."""

    solutions: tuple[tuple[int, ...], ...]
    gave_up: bool
    steps: int


@functools.lru_cache(maxsize=65_536)
def reference_key(number: str) -> str:
    """`"INV-000123"` → `"123"`; `"RE 2026/0042"` → `"20260042"`: the part of a number people write.

    Normalized as duplicate detection does (case, spaces, punctuation, zero padding), then the
    common prefix words are dropped, so the vendor's "INV-0123" and a remittance "Rechnung 123"
    or "#123" meet. A key without a digit is no reference at all ("" is returned).
    """
    key = normalize_invoice_number(number)
    stripped = True
    while stripped:
        stripped = False
        for prefix in _REFERENCE_PREFIXES:
            rest = key[len(prefix) :]
            if key.startswith(prefix) and _HAS_DIGIT.search(rest):
                key, stripped = _LEADING_ZEROS.sub("", rest), True
                break
    return key if _HAS_DIGIT.search(key) else ""


def remittance_spans(text: str, *, longest: int) -> Iterator[tuple[str, int, int]]:
    """`(key, first word, past the last word)` of every run of whole words that reads as a number.

    The text is cut into words at spaces, slashes and punctuation; a run of adjacent words, of
    any length, is joined and keyed like an invoice number (`reference_key`): "FV/X/09/2026"
    is the run FV X 09 2026 → "FVX092026", "INV 2026 0042" (a number printed in groups) →
    "20260042". Whole words only, so "INV-1234" never reads as "INV-123" nor "FV/1/09/20261"
    as "FV/1/09/2026". A run stops growing once it is longer than `longest` (the longest key
    it could be looked up as) by `_WINDOW_SLACK` characters, or once its key is.
    """
    words = [word for word in _WORD_SEPARATORS.split((text or "").upper()) if word]
    for start in range(len(words)):
        joined = ""
        for end in range(start, len(words)):
            joined += words[end]
            if len(joined) > longest + _WINDOW_SLACK:
                break
            key = reference_key(joined)
            if not key:  # no digit yet: prefix words, or plain words that are no number
                continue
            # Once a key has a digit, words only append to it, except that zeros ending it may
            # turn out to be padding ("X0" + "5" → "X5"): what is left without them only grows.
            if len(key.rstrip("0")) > longest:
                break
            if len(key) >= _MIN_REFERENCE_LENGTH:
                yield key, start, end + 1


def remittance_keys(text: str) -> frozenset[str]:
    """Every reference key the text could contain (runs of words up to a generous length)."""
    return frozenset(key for key, _, _ in remittance_spans(text, longest=_UNBOUNDED_KEY_LENGTH))


def subset_sum(
    amounts: Sequence[int], target: int, *, min_size: int, max_size: int, budget: int, max_solutions: int = 2
) -> SubsetSearch:
    """Sets of 2..`max_size` amounts (all positive) that add up to `target`, searched depth-first.

    Depth-first over the amounts in the order given (callers pass oldest first), so the first
    set found is the one of the oldest invoices. The search stops at `max_solutions` sets (two
    are enough to know an answer is ambiguous) or after `budget` steps, in which case it
    reports `gave_up`: a large set of near-equal amounts has combinatorially many subsets, and
    the engine must answer in bounded time; such a payment is left to a clerk.
    """
    count = len(amounts)
    suffix = [0] * (count + 1)
    for index in range(count - 1, -1, -1):
        suffix[index] = suffix[index + 1] + amounts[index]
    solutions: list[tuple[int, ...]] = []
    chosen: list[int] = []
    steps = 0
    gave_up = False

    def search(start: int, remaining: int) -> bool:
        """True to stop the whole search."""
        nonlocal steps, gave_up
        for index in range(start, count):
            steps += 1
            if steps > budget:
                gave_up = True
                return True
            if suffix[index] < remaining:  # even all the rest cannot reach it
                return False
            amount = amounts[index]
            if amount > remaining:
                continue
            chosen.append(index)
            if amount == remaining:
                if len(chosen) >= min_size:
                    solutions.append(tuple(chosen))
                    if len(solutions) >= max_solutions:
                        chosen.pop()
                        return True
            elif len(chosen) < max_size and search(index + 1, remaining - amount):
                chosen.pop()
                return True
            chosen.pop()
        return False

    if target > 0 and max_size >= min_size:
        search(0, target)
    return SubsetSearch(tuple(solutions), gave_up, steps)


def write_off_limit(balance: int, currency: str, settings: ReconcileSettings) -> int:
    """The largest difference (minor units) that may be written off against `balance`.

    Both limits bind: at most `write_off_max_abs` (major units of the currency) and at most
    `write_off_max_pct` percent of the open balance, each rounded down, so a write-off is small
    in absolute and in relative terms (5.00 on a 100.00 invoice is 5 %: too much at 0.5 %).
    """
    absolute = settings.write_off_max_abs.scaleb(exponent(currency)).to_integral_value(rounding=ROUND_FLOOR)
    relative = (Decimal(balance) * settings.write_off_max_pct / 100).to_integral_value(rounding=ROUND_FLOOR)
    return max(0, int(min(absolute, relative)))


# Every payment compares its counterparty with every vendor name and alias: normalize each once.
_vendor_key = functools.lru_cache(maxsize=65_536)(normalize_vendor_name)


def identify_vendor(
    payment: PaymentRecord, vendors: Iterable[VendorRecord], *, fuzzy_threshold: int
) -> tuple[VendorRecord, Evidence] | None:
    """The vendor the bank line comes from: known account, then exact name or alias, then fuzzy name.

    Each step must point at exactly one vendor; an account or a name shared by two vendors says
    nothing, and the next step is tried.
    """
    vendors = list(vendors)
    if payment.counterparty_account_hash:
        by_account = [vendor for vendor in vendors if payment.counterparty_account_hash in vendor.account_hashes]
        if len(by_account) == 1:
            return by_account[0], Evidence.ACCOUNT
    name = _vendor_key(payment.counterparty_name)
    if not name:
        return None
    by_name = [
        vendor
        for vendor in vendors
        if name == _vendor_key(vendor.name) or name in {_vendor_key(a) for a in vendor.aliases}
    ]
    if len(by_name) == 1:
        return by_name[0], Evidence.NAME
    if by_name:
        return None
    scored = sorted(
        (
            (
                max(fuzz.token_sort_ratio(name, _vendor_key(label)) for label in (vendor.name, *vendor.aliases)),
                str(vendor.id),
                vendor,
            )
            for vendor in vendors
        ),
        key=lambda entry: (-entry[0], entry[1]),
    )
    if not scored or scored[0][0] < fuzzy_threshold:
        return None
    if len(scored) > 1 and scored[1][0] >= fuzzy_threshold and scored[1][0] == scored[0][0]:
        return None  # two vendors equally like the name
    return scored[0][2], Evidence.FUZZY


def _oldest_first(invoices: Iterable[OpenInvoice]) -> list[OpenInvoice]:
    return sorted(
        invoices, key=lambda invoice: (invoice.due_date or invoice.invoice_date, invoice.invoice_date, str(invoice.id))
    )


def _numbers(invoices: Iterable[OpenInvoice]) -> str:
    return ", ".join(invoice.number_normalized for invoice in invoices)


def _money(amount: int, currency: str) -> str:
    return f"{format_minor(amount, currency)} {currency}"


def _paid(invoices: Iterable[OpenInvoice]) -> tuple[ProposedAllocation, ...]:
    return tuple(ProposedAllocation(invoice.id, invoice.open_balance, PAYMENT) for invoice in invoices)


def _oldest_first_allocations(invoices: Sequence[OpenInvoice], amount: int) -> tuple[ProposedAllocation, ...]:
    allocations = []
    for invoice in invoices:
        if amount <= 0:
            break
        part = min(amount, invoice.open_balance)
        allocations.append(ProposedAllocation(invoice.id, part, PAYMENT))
        amount -= part
    return tuple(allocations)


def _proposal(
    payment: PaymentRecord,
    settings: ReconcileSettings,
    *,
    tier: int,
    confidence: Decimal,
    reason: str,
    allocations: tuple[ProposedAllocation, ...],
    is_suggestion: bool,
    vendor_id: uuid.UUID | None,
    candidates: Iterable[OpenInvoice] = (),
) -> Proposal:
    confidence = min(Decimal(1), max(Decimal(0), confidence)).quantize(Decimal("0.001"))
    return Proposal(
        payment_id=payment.id,
        tier=tier,
        confidence=confidence,
        reason=reason,
        allocations=allocations,
        is_suggestion=is_suggestion,
        auto_apply=(not is_suggestion and settings.auto_apply and confidence >= settings.auto_apply_min_confidence),
        vendor_id=vendor_id,
        candidates=tuple(invoice.id for invoice in candidates),
    )


class OpenInvoiceIndex:
    """The open invoices of a batch, oldest first, by (currency, vendor) and (currency, reference key).

    Built once per batch: a payment then looks at its vendor's invoices and the ones its
    remittance names instead of sorting and scanning every open invoice of the tenant (10,000
    payments × 10,000 invoices made that a hundred million steps). Balances change as the batch
    applies proposals (`settle`); an invoice whose balance reached 0 is skipped, as before.
    """

    def __init__(self, invoices: Iterable[OpenInvoice]) -> None:
        self._current: dict[uuid.UUID, OpenInvoice] = {}
        self._position: dict[uuid.UUID, int] = {}
        self._by_vendor: dict[tuple[str, uuid.UUID | None], list[uuid.UUID]] = {}
        self._by_reference: dict[tuple[str, str], list[uuid.UUID]] = {}
        self._longest_reference = 0
        for position, invoice in enumerate(_oldest_first(invoices)):
            self._current[invoice.id] = invoice
            self._position[invoice.id] = position
            self._by_vendor.setdefault((invoice.currency, invoice.vendor_id), []).append(invoice.id)
            key = reference_key(invoice.number_normalized)
            # remittance_spans never yields "" (no digit) nor a key shorter than the minimum.
            if len(key) >= _MIN_REFERENCE_LENGTH:
                self._by_reference.setdefault((invoice.currency, key), []).append(invoice.id)
                self._longest_reference = max(self._longest_reference, len(key))

    def _open(self, ids: Iterable[uuid.UUID]) -> list[OpenInvoice]:
        invoices = (self._current[invoice_id] for invoice_id in ids)
        return [invoice for invoice in invoices if invoice.open_balance > 0]

    def of_vendor(self, currency: str, vendor_id: uuid.UUID) -> list[OpenInvoice]:
        """The vendor's open invoices in `currency`, oldest first."""
        return self._open(self._by_vendor.get((currency, vendor_id), ()))

    def references_in(self, currency: str, text: str) -> list[str]:
        """The reference keys of this batch's invoices in `currency` that `text` names, in text order.

        Each run of words is looked up as a whole (`remittance_spans`), so the cost per payment
        is the text's runs up to the longest open number, not the number of open invoices. A
        key found only inside the words of another key found ("118" or "2026" inside
        "EP/X/2026/118", "2026" inside "INV 2026 0042") is left out: the text names the longer
        number, and its tail or its year is not a second reference. The same key found on its
        own elsewhere in the text counts ("118 and EP/X/2026/118" names both).
        """
        found = [
            (key, start, end)
            for key, start, end in remittance_spans(text, longest=self._longest_reference)
            if (currency, key) in self._by_reference
        ]
        if len(found) < 2:
            return [key for key, _, _ in found]
        keys: list[str] = []
        for key, start, end in found:
            inside_another = any(
                other != key and other_start <= start and end <= other_end for other, other_start, other_end in found
            )
            if not inside_another and key not in keys:
                keys.append(key)
        return keys

    def referenced(self, currency: str, keys: Iterable[str]) -> list[OpenInvoice]:
        """Open invoices in `currency` whose reference key is one of `keys`, oldest first."""
        ids = [invoice_id for key in keys for invoice_id in self._by_reference.get((currency, key), ())]
        return self._open(sorted(ids, key=self._position.__getitem__))

    def settle(self, invoice_id: uuid.UUID, amount: int) -> None:
        invoice = self._current[invoice_id]
        self._current[invoice_id] = replace(invoice, open_balance=invoice.open_balance - amount)


def reconcile_payment(
    payment: PaymentRecord,
    invoices: Sequence[OpenInvoice] | OpenInvoiceIndex,
    vendors: Sequence[VendorRecord],
    settings: ReconcileSettings,
) -> Proposal | None:
    """The proposal for one payment, or None when no tier applies (see the module docstring)."""
    if not payment.is_debit or payment.amount <= 0:
        return None
    amount, currency = payment.amount, payment.currency
    index = invoices if isinstance(invoices, OpenInvoiceIndex) else OpenInvoiceIndex(invoices)
    identified = identify_vendor(payment, vendors, fuzzy_threshold=settings.fuzzy_vendor_threshold)
    vendor, evidence = identified if identified else (None, None)
    vendor_id = vendor.id if vendor else None

    referenced = index.referenced(currency, index.references_in(currency, payment.remittance_text))
    if vendor is not None and any(invoice.vendor_id == vendor.id for invoice in referenced):
        # The same number at two vendors ("123"): the counterparty says which one is meant.
        referenced = [invoice for invoice in referenced if invoice.vendor_id == vendor.id]

    def build(**fields: object) -> Proposal:
        return _proposal(payment, settings, **fields)  # type: ignore[arg-type]

    # Tier 1: referenced invoices whose balances make up the payment exactly.
    if referenced:
        search = subset_sum(
            [invoice.open_balance for invoice in referenced],
            amount,
            min_size=1,
            max_size=settings.subset_max_size,
            budget=settings.subset_budget,
        )
        if search.solutions:
            chosen = [referenced[index] for index in search.solutions[0]]
            numbers = _numbers(chosen)
            if len(search.solutions) > 1:
                union = {index for solution in search.solutions for index in solution}
                return build(
                    tier=1,
                    confidence=_AMBIGUOUS,
                    reason=REASON_REFERENCE_AMBIGUOUS.format(
                        numbers=_numbers(referenced), amount=_money(amount, currency)
                    ),
                    allocations=_paid(chosen),
                    is_suggestion=True,
                    vendor_id=vendor_id,
                    candidates=[referenced[index] for index in sorted(union)],
                )
            what = "its open balance" if len(chosen) == 1 else "the sum of their open balances"
            if vendor is not None and any(invoice.vendor_id != vendor.id for invoice in chosen):
                return build(
                    tier=1,
                    confidence=_TIER1_OTHER_VENDOR,
                    reason=REASON_REFERENCE_OTHER_VENDOR.format(numbers=numbers, vendor=vendor.name),
                    allocations=_paid(chosen),
                    is_suggestion=True,
                    vendor_id=vendor_id,
                    candidates=chosen,
                )
            bonus = _TIER1_VENDOR_AGREES_BONUS if vendor is not None else Decimal(0)
            return build(
                tier=1,
                confidence=_TIER1_CONFIDENCE + bonus,
                reason=REASON_REFERENCE.format(numbers=numbers, what=what),
                allocations=_paid(chosen),
                is_suggestion=False,
                vendor_id=vendor_id or chosen[0].vendor_id,
                candidates=chosen,
            )

    vendor_invoices = index.of_vendor(currency, vendor.id) if vendor is not None else []
    evidence_confidence = _EVIDENCE_CONFIDENCE[evidence] if evidence else Decimal(0)
    label = f"{vendor.name}, {EVIDENCE_LABEL[evidence]}" if vendor is not None and evidence else ""
    # A reference the counterparty does not contradict outweighs an amount coincidence: the
    # payment is for the invoice it names (tiers 4-5), not for another invoice that happens to
    # have the same amount. A reference to another vendor's invoice is ignored from here on.
    if vendor is not None and any(invoice.vendor_id != vendor.id for invoice in referenced):
        referenced = []

    if vendor is not None and not referenced:
        # Tier 2: exactly one of the vendor's open balances equals the payment.
        exact = [invoice for invoice in vendor_invoices if invoice.open_balance == amount]
        if len(exact) == 1:
            return build(
                tier=2,
                confidence=evidence_confidence,
                reason=REASON_VENDOR_AMOUNT.format(
                    vendor=vendor.name, evidence=EVIDENCE_LABEL[evidence], number=exact[0].number_normalized
                ),
                allocations=_paid(exact),
                is_suggestion=False,
                vendor_id=vendor_id,
                candidates=exact,
            )
        if len(exact) > 1:
            return build(
                tier=2,
                confidence=_AMBIGUOUS,
                reason=REASON_VENDOR_AMOUNT_AMBIGUOUS.format(
                    vendor=vendor.name,
                    evidence=EVIDENCE_LABEL[evidence],
                    count=len(exact),
                    amount=_money(amount, currency),
                ),
                allocations=_paid(exact[:1]),
                is_suggestion=True,
                vendor_id=vendor_id,
                candidates=exact,
            )

        # Tier 3: a small set of the vendor's open balances adds up to the payment.
        smaller = [invoice for invoice in vendor_invoices if invoice.open_balance < amount]
        search = subset_sum(
            [invoice.open_balance for invoice in smaller],
            amount,
            min_size=2,
            max_size=settings.subset_max_size,
            budget=settings.subset_budget,
        )
        if search.solutions:
            chosen = [smaller[index] for index in search.solutions[0]]
            ambiguous = len(search.solutions) > 1 or search.gave_up
            union = sorted({index for solution in search.solutions for index in solution})
            return build(
                tier=3,
                confidence=_AMBIGUOUS if ambiguous else evidence_confidence - _TIER3_PENALTY,
                reason=(
                    REASON_VENDOR_SUM_AMBIGUOUS.format(
                        vendor=vendor.name, evidence=EVIDENCE_LABEL[evidence], amount=_money(amount, currency)
                    )
                    if ambiguous
                    else REASON_VENDOR_SUM.format(
                        vendor=vendor.name, evidence=EVIDENCE_LABEL[evidence], numbers=_numbers(chosen)
                    )
                ),
                allocations=_paid(chosen),
                is_suggestion=ambiguous,
                vendor_id=vendor_id,
                candidates=[smaller[index] for index in union],
            )

    # Tier 4: a short payment within the write-off tolerance of one balance.
    pool = referenced or vendor_invoices
    near = [
        invoice
        for invoice in pool
        if 0 < invoice.open_balance - amount <= write_off_limit(invoice.open_balance, currency, settings)
    ]
    if near:
        source = f"Remittance names {_numbers(referenced)}" if referenced else label
        if len(near) > 1:
            return build(
                tier=4,
                confidence=_AMBIGUOUS,
                reason=REASON_WRITE_OFF_AMBIGUOUS.format(
                    source=source, count=len(near), amount=_money(amount, currency)
                ),
                allocations=(),
                is_suggestion=True,
                vendor_id=vendor_id,
                candidates=near,
            )
        [invoice] = near
        difference = invoice.open_balance - amount
        return build(
            tier=4,
            confidence=_TIER4_REFERENCED if referenced else evidence_confidence - _TIER4_PENALTY,
            reason=REASON_WRITE_OFF.format(
                source=source,
                amount=_money(amount, currency),
                number=invoice.number_normalized,
                balance=_money(invoice.open_balance, currency),
                difference=_money(difference, currency),
            ),
            allocations=(
                ProposedAllocation(invoice.id, amount, PAYMENT),
                ProposedAllocation(invoice.id, difference, WRITE_OFF),
            ),
            is_suggestion=False,
            vendor_id=vendor_id or invoice.vendor_id,
            candidates=near,
        )

    # Tier 5: a referenced invoice that the payment pays in part.
    larger = [invoice for invoice in referenced if invoice.open_balance > amount]
    if len(referenced) == 1 and larger:
        [invoice] = larger
        agrees = vendor is not None and invoice.vendor_id == vendor.id
        return build(
            tier=5,
            confidence=_TIER5_VENDOR_AGREES if agrees else _TIER5_REFERENCE_ONLY,
            reason=REASON_PARTIAL.format(
                number=invoice.number_normalized,
                amount=_money(amount, currency),
                balance=_money(invoice.open_balance, currency),
            ),
            allocations=(ProposedAllocation(invoice.id, amount, PAYMENT),),
            is_suggestion=False,
            vendor_id=vendor_id or invoice.vendor_id,
            candidates=[invoice],
        )
    total = sum(invoice.open_balance for invoice in referenced)
    if len(referenced) > 1 and total > amount:
        return build(
            tier=5,
            confidence=_TIER5_SEVERAL,
            reason=REASON_PARTIAL_SEVERAL.format(
                numbers=_numbers(referenced), amount=_money(amount, currency), balance=_money(total, currency)
            ),
            allocations=_oldest_first_allocations(referenced, amount),
            is_suggestion=True,
            vendor_id=vendor_id,
            candidates=referenced,
        )
    return None


def reconcile_batch(
    payments: Sequence[PaymentRecord],
    invoices: Sequence[OpenInvoice],
    vendors: Sequence[VendorRecord],
    settings: ReconcileSettings,
) -> list[tuple[PaymentRecord, Proposal | None]]:
    """Every payment in booking order; what one auto-applied proposal takes is gone for the next.

    Suggestions take nothing: until a clerk accepts one, its invoices stay open for the others.
    """
    index = OpenInvoiceIndex(invoices)
    results: list[tuple[PaymentRecord, Proposal | None]] = []
    for payment in sorted(payments, key=lambda payment: (payment.booking_date, str(payment.id))):
        proposal = reconcile_payment(payment, index, vendors, settings)
        if proposal is not None and proposal.auto_apply:
            for allocation in proposal.allocations:
                index.settle(allocation.invoice_id, allocation.amount)
        results.append((payment, proposal))
    return results
