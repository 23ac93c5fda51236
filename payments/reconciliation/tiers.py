"""The five tiers of payment reconciliation (DESIGN.md §6), each a function of one payment's facts.

Every tier takes the same `PaymentFacts` (the payment, the tenant's limits, the batch's open
invoices, the vendor the bank line comes from and the invoices its remittance names) and returns
a `Proposal` or None; `engine.reconcile_payment` asks them strongest first and the first that
answers wins. Also here: the write-off limit the tiers share (the subset-sum they share is
payments.reconciliation.subsets). Pure: no ORM, no clock, no randomness.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from core.money import format_minor
from payments.reconciliation.counterparty import Evidence
from payments.reconciliation.references import OpenInvoiceIndex
from payments.reconciliation.subsets import EXACT_MAX_SIZE, SubsetSearch, subset_sum
from payments.reconciliation.types import (
    OpenInvoice,
    PaymentRecord,
    Proposal,
    ProposedAllocation,
    ReconcileSettings,
    VendorRecord,
)

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
REASON_VENDOR_SUM_UNPROVEN = (
    "{vendor} ({evidence}); {numbers} add up to {amount}, but among this many open invoices another set"
    " of four could too: check it."
)
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


def write_off_limit(balance: int, currency: str, settings: ReconcileSettings) -> int:
    """The largest difference (minor units) that may be written off against `balance`.

    Both limits bind: at most the tenant's write-off maximum in this currency (minor units) and
    at most `write_off_max_pct` percent of the open balance, rounded down, so a write-off is small
    in absolute and in relative terms (5.00 on a 100.00 invoice is 5 %: too much at 0.5 %).
    """
    absolute = settings.limits_for(currency).write_off_max
    relative = int((Decimal(balance) * settings.write_off_max_pct / 100).to_integral_value(rounding=ROUND_FLOOR))
    return max(0, min(absolute, relative))


def _numbers(invoices: Iterable[OpenInvoice]) -> str:
    return ", ".join(invoice.label for invoice in invoices)


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


@dataclass(frozen=True)
class PaymentFacts:
    """What every tier reads about one payment: the vendor it comes from and the invoices it names.

    Worked out once per payment, before the first tier; what only the later tiers need (the
    vendor's open invoices) is worked out when one of them first asks, so a payment that tier 1
    answers never lists them.
    """

    payment: PaymentRecord
    settings: ReconcileSettings
    index: OpenInvoiceIndex
    vendor: VendorRecord | None
    evidence: Evidence | None
    # The open invoices the remittance names, oldest first; only the vendor's when some are: the
    # same number at two vendors ("123"), the counterparty says which one is meant.
    referenced: list[OpenInvoice]

    @property
    def uncontested_references(self) -> list[OpenInvoice]:
        """`referenced`, or none of them when the counterparty is another vendor than theirs.

        A reference the counterparty does not contradict outweighs an amount coincidence: the
        payment is for the invoice it names (tiers 4-5), not for another invoice that happens to
        have the same amount. A reference to another vendor's invoice is ignored after tier 1.
        """
        if self.vendor is not None and any(invoice.vendor_id != self.vendor.id for invoice in self.referenced):
            return []
        return self.referenced

    @functools.cached_property
    def vendor_invoices(self) -> list[OpenInvoice]:
        """The identified vendor's open invoices in the payment's currency, oldest first."""
        return self.index.of_vendor(self.payment.currency, self.vendor.id) if self.vendor is not None else []

    @property
    def vendor_id(self) -> uuid.UUID | None:
        return self.vendor.id if self.vendor else None

    @property
    def evidence_confidence(self) -> Decimal:
        return _EVIDENCE_CONFIDENCE[self.evidence] if self.evidence else Decimal(0)

    @property
    def evidence_label(self) -> str:
        """How the vendor was recognized, in a reason's words ("" when it was not)."""
        return EVIDENCE_LABEL[self.evidence] if self.evidence else ""

    def proposal(
        self,
        *,
        tier: int,
        confidence: Decimal,
        reason: str,
        allocations: tuple[ProposedAllocation, ...],
        is_suggestion: bool,
        vendor_id: uuid.UUID | None,
        candidates: Iterable[OpenInvoice] = (),
    ) -> Proposal:
        """A tier's answer; applied without a clerk only when it is no suggestion and sure enough."""
        confidence = min(Decimal(1), max(Decimal(0), confidence)).quantize(Decimal("0.001"))
        settings = self.settings
        return Proposal(
            payment_id=self.payment.id,
            tier=tier,
            confidence=confidence,
            reason=reason,
            allocations=allocations,
            is_suggestion=is_suggestion,
            auto_apply=(not is_suggestion and settings.auto_apply and confidence >= settings.auto_apply_min_confidence),
            vendor_id=vendor_id,
            candidates=tuple(invoice.id for invoice in candidates),
        )


class Tier(Protocol):
    """One tier: a proposal for the payment, or None to let the next tier try."""

    def __call__(self, *, facts: PaymentFacts) -> Proposal | None: ...


def tier_reference(*, facts: PaymentFacts) -> Proposal | None:
    """Tier 1: invoice number(s) found in the remittance text, whose open balances make up the payment.

    The payment equals the open balance of one referenced invoice, or of several whose balances
    sum to it. A number is found when a run of whole words of the text, of any length, reads as
    it ("FV/X/09/2026" is four words); a number found only inside a longer number that is also
    found is not ("118" in "EP/X/2026/118" when EP/X/2026/118 is open). See
    `OpenInvoiceIndex.references_in`.
    """
    referenced, vendor = facts.referenced, facts.vendor
    if not referenced:
        return None
    amount, currency = facts.payment.amount, facts.payment.currency
    search = subset_sum(
        [invoice.open_balance for invoice in referenced],
        amount,
        min_size=1,
        max_size=facts.settings.subset_max_size,
        budget=facts.settings.subset_budget,
    )
    if not search.solutions:
        return None
    chosen = [referenced[index] for index in search.solutions[0]]
    numbers = _numbers(chosen)
    if not search.is_unique:
        union = {index for solution in search.solutions for index in solution}
        return facts.proposal(
            tier=1,
            confidence=_AMBIGUOUS,
            reason=REASON_REFERENCE_AMBIGUOUS.format(numbers=_numbers(referenced), amount=_money(amount, currency)),
            allocations=_paid(chosen),
            is_suggestion=True,
            vendor_id=facts.vendor_id,
            candidates=[referenced[index] for index in sorted(union)],
        )
    what = "its open balance" if len(chosen) == 1 else "the sum of their open balances"
    if vendor is not None and any(invoice.vendor_id != vendor.id for invoice in chosen):
        return facts.proposal(
            tier=1,
            confidence=_TIER1_OTHER_VENDOR,
            reason=REASON_REFERENCE_OTHER_VENDOR.format(numbers=numbers, vendor=vendor.name),
            allocations=_paid(chosen),
            is_suggestion=True,
            vendor_id=facts.vendor_id,
            candidates=chosen,
        )
    bonus = _TIER1_VENDOR_AGREES_BONUS if vendor is not None else Decimal(0)
    return facts.proposal(
        tier=1,
        confidence=_TIER1_CONFIDENCE + bonus,
        reason=REASON_REFERENCE.format(numbers=numbers, what=what),
        allocations=_paid(chosen),
        is_suggestion=False,
        vendor_id=facts.vendor_id or chosen[0].vendor_id,
        candidates=chosen,
    )


def tier_vendor_amount(*, facts: PaymentFacts) -> Proposal | None:
    """Tier 2: the vendor is known and the payment equals exactly one of its open balances.

    The vendor comes from the counterparty account, its name or an alias, and the remittance
    names none of its invoices. Several equal balances (monthly rent, a subscription) are a
    suggestion listing them all, never an automatic match: paying the wrong month is worse than
    asking.
    """
    vendor = facts.vendor
    if vendor is None or facts.uncontested_references:
        return None
    amount, currency = facts.payment.amount, facts.payment.currency
    exact = [invoice for invoice in facts.vendor_invoices if invoice.open_balance == amount]
    if len(exact) == 1:
        return facts.proposal(
            tier=2,
            confidence=facts.evidence_confidence,
            reason=REASON_VENDOR_AMOUNT.format(
                vendor=vendor.name, evidence=facts.evidence_label, number=exact[0].label
            ),
            allocations=_paid(exact),
            is_suggestion=False,
            vendor_id=facts.vendor_id,
            candidates=exact,
        )
    if len(exact) > 1:
        return facts.proposal(
            tier=2,
            confidence=_AMBIGUOUS,
            reason=REASON_VENDOR_AMOUNT_AMBIGUOUS.format(
                vendor=vendor.name,
                evidence=facts.evidence_label,
                count=len(exact),
                amount=_money(amount, currency),
            ),
            allocations=_paid(exact[:1]),
            is_suggestion=True,
            vendor_id=facts.vendor_id,
            candidates=exact,
        )
    return None


def tier_vendor_sum(*, facts: PaymentFacts) -> Proposal | None:
    """Tier 3: the payment equals the sum of a small set (2..`subset_max_size`) of the vendor's open balances.

    Exact for sets of up to four (payments.reconciliation.subsets): when exactly one set adds
    up, it is proposed for allocation; when several do, or the search could not rule out another
    within `subset_budget` (four invoices among thousands of distinct amounts), the proposal is a
    suggestion of the sets found, never an allocation. Smaller sets are proposed before larger
    ones, then the oldest invoices. A set of five or more invoices the remittance does not name
    is left to a clerk: nothing proves it is the only one.
    """
    vendor = facts.vendor
    if vendor is None or facts.uncontested_references:
        return None
    amount = facts.payment.amount
    smaller = [invoice for invoice in facts.vendor_invoices if invoice.open_balance < amount]
    search = subset_sum(
        [invoice.open_balance for invoice in smaller],
        amount,
        min_size=2,
        max_size=min(facts.settings.subset_max_size, EXACT_MAX_SIZE),
        budget=facts.settings.subset_budget,
    )
    if not search.solutions:
        return None
    chosen = [smaller[index] for index in search.solutions[0]]
    ambiguous = not search.is_unique
    union = sorted({index for solution in search.solutions for index in solution})
    return facts.proposal(
        tier=3,
        confidence=_AMBIGUOUS if ambiguous else facts.evidence_confidence - _TIER3_PENALTY,
        reason=_vendor_sum_reason(facts, search, chosen),
        allocations=_paid(chosen),
        is_suggestion=ambiguous,
        vendor_id=facts.vendor_id,
        candidates=[smaller[index] for index in union],
    )


def _vendor_sum_reason(facts: PaymentFacts, search: SubsetSearch, chosen: list[OpenInvoice]) -> str:
    assert facts.vendor is not None
    vendor, evidence = facts.vendor.name, facts.evidence_label
    amount = _money(facts.payment.amount, facts.payment.currency)
    if len(search.solutions) > 1:
        return REASON_VENDOR_SUM_AMBIGUOUS.format(vendor=vendor, evidence=evidence, amount=amount)
    if search.gave_up:
        return REASON_VENDOR_SUM_UNPROVEN.format(
            vendor=vendor, evidence=evidence, numbers=_numbers(chosen), amount=amount
        )
    return REASON_VENDOR_SUM.format(vendor=vendor, evidence=evidence, numbers=_numbers(chosen))


def tier_short_payment(*, facts: PaymentFacts) -> Proposal | None:
    """Tier 4: the payment is smaller than one open balance by at most the write-off tolerance.

    That balance is one of a referenced invoice, else of the vendor. The proposal is the payment
    plus a `write_off` allocation for the difference (a bank fee, a small discount). Never for an
    overpayment.
    """
    referenced, vendor = facts.uncontested_references, facts.vendor
    pool = referenced or facts.vendor_invoices
    if not pool:
        return None
    amount, currency = facts.payment.amount, facts.payment.currency
    near = [
        invoice
        for invoice in pool
        if 0 < invoice.open_balance - amount <= write_off_limit(invoice.open_balance, currency, facts.settings)
    ]
    if not near:
        return None
    label = f"{vendor.name}, {facts.evidence_label}" if vendor is not None and facts.evidence else ""
    source = f"Remittance names {_numbers(referenced)}" if referenced else label
    if len(near) > 1:
        return facts.proposal(
            tier=4,
            confidence=_AMBIGUOUS,
            reason=REASON_WRITE_OFF_AMBIGUOUS.format(source=source, count=len(near), amount=_money(amount, currency)),
            allocations=(),
            is_suggestion=True,
            vendor_id=facts.vendor_id,
            candidates=near,
        )
    [invoice] = near
    difference = invoice.open_balance - amount
    return facts.proposal(
        tier=4,
        confidence=_TIER4_REFERENCED if referenced else facts.evidence_confidence - _TIER4_PENALTY,
        reason=REASON_WRITE_OFF.format(
            source=source,
            amount=_money(amount, currency),
            number=invoice.label,
            balance=_money(invoice.open_balance, currency),
            difference=_money(difference, currency),
        ),
        allocations=(
            ProposedAllocation(invoice.id, amount, PAYMENT),
            ProposedAllocation(invoice.id, difference, WRITE_OFF),
        ),
        is_suggestion=False,
        vendor_id=facts.vendor_id or invoice.vendor_id,
        candidates=near,
    )


def tier_partial_payment(*, facts: PaymentFacts) -> Proposal | None:
    """Tier 5: a referenced invoice whose open balance is larger than the payment: paid in part.

    Several referenced invoices that together are owed more than the payment are a suggestion,
    paid oldest first.
    """
    referenced, vendor = facts.uncontested_references, facts.vendor
    if not referenced:
        return None
    amount, currency = facts.payment.amount, facts.payment.currency
    larger = [invoice for invoice in referenced if invoice.open_balance > amount]
    if len(referenced) == 1 and larger:
        [invoice] = larger
        agrees = vendor is not None and invoice.vendor_id == vendor.id
        return facts.proposal(
            tier=5,
            confidence=_TIER5_VENDOR_AGREES if agrees else _TIER5_REFERENCE_ONLY,
            reason=REASON_PARTIAL.format(
                number=invoice.label,
                amount=_money(amount, currency),
                balance=_money(invoice.open_balance, currency),
            ),
            allocations=(ProposedAllocation(invoice.id, amount, PAYMENT),),
            is_suggestion=False,
            vendor_id=facts.vendor_id or invoice.vendor_id,
            candidates=[invoice],
        )
    total = sum(invoice.open_balance for invoice in referenced)
    if len(referenced) > 1 and total > amount:
        return facts.proposal(
            tier=5,
            confidence=_TIER5_SEVERAL,
            reason=REASON_PARTIAL_SEVERAL.format(
                numbers=_numbers(referenced), amount=_money(amount, currency), balance=_money(total, currency)
            ),
            allocations=_oldest_first_allocations(referenced, amount),
            is_suggestion=True,
            vendor_id=facts.vendor_id,
            candidates=referenced,
        )
    return None
