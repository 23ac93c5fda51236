"""The plain data the reconciliation engine reads and returns: no ORM, no clock."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.amount_limits import AmountLimits, amount_limits_default


@dataclass(frozen=True)
class PaymentRecord:
    """One unmatched debit statement line, as the engine sees it."""

    id: uuid.UUID
    amount: int  # minor units of `currency`, positive
    currency: str
    is_debit: bool
    counterparty_name: str
    counterparty_account_hash: str
    remittance_text: str
    booking_date: dt.date


@dataclass(frozen=True)
class VendorRecord:
    """What identifies a vendor on a bank line: its names and the accounts it was paid from."""

    id: uuid.UUID
    name: str
    aliases: tuple[str, ...] = ()
    account_hashes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice that still expects money: `open_balance` = total − allocations − credit notes."""

    id: uuid.UUID
    vendor_id: uuid.UUID | None
    number_normalized: str
    open_balance: int  # minor units, > 0
    currency: str
    invoice_date: dt.date
    due_date: dt.date | None = None
    # The number as the invoice prints it ("UITEST-C-004"), for reasons a clerk reads; matching
    # compares `number_normalized` ("UITESTC4"), which is no way to name an invoice to a person.
    number: str = ""

    @property
    def label(self) -> str:
        return self.number or self.number_normalized


@dataclass(frozen=True)
class ReconcileSettings:
    """The tenant's limits (tenants.TenantSettings), already in the engine's terms.

    `amount_limits`: the tenant's limits in each currency of the batch (the write-off maximum in
    that currency's minor units); a currency missing here uses core.amount_limits' defaults.
    """

    amount_limits: Mapping[str, AmountLimits] = field(default_factory=dict)
    write_off_max_pct: Decimal = Decimal("0.5")  # percent of the invoice's open balance
    fuzzy_vendor_threshold: int = 90  # rapidfuzz score 0-100
    auto_apply: bool = True
    auto_apply_min_confidence: Decimal = Decimal("0.90")
    # Sets of the invoices a remittance names (tier 1) have up to this many; sets of invoices it
    # does not name (tier 3), up to subsets.EXACT_MAX_SIZE (4) at most.
    subset_max_size: int = 6
    # Amounts the exact subset-sum may look up per payment before it gives up (payments.
    # reconciliation.subsets): enough to settle three invoices among 10,000 distinct amounts
    # (~7·10⁶) in about a second; past it a found set is only a suggestion.
    subset_budget: int = 10_000_000

    def limits_for(self, currency: str) -> AmountLimits:
        return self.amount_limits.get(currency) or amount_limits_default(currency=currency)


@dataclass(frozen=True)
class ProposedAllocation:
    invoice_id: uuid.UUID
    amount: int  # minor units, > 0
    kind: str  # payments.models.AllocationKind value: "payment" | "write_off"


@dataclass(frozen=True)
class Proposal:
    """The engine's answer for one payment.

    `auto_apply` is true when the service may write `allocations` without a clerk: the tier's
    rule was unambiguous and `confidence` reached the tenant's threshold. Otherwise the proposal
    is a suggestion; `candidates` then lists every invoice a clerk should look at (for equal
    recurring amounts, all of them).
    """

    payment_id: uuid.UUID
    tier: int  # 1-5, strongest first
    confidence: Decimal  # 0..1, three places
    reason: str
    allocations: tuple[ProposedAllocation, ...]
    is_suggestion: bool
    auto_apply: bool = False
    vendor_id: uuid.UUID | None = None
    candidates: tuple[uuid.UUID, ...] = field(default=())

    @property
    def paid_amount(self) -> int:
        """Money this proposal takes from the payment (a write-off is not money paid)."""
        return sum(allocation.amount for allocation in self.allocations if allocation.kind == "payment")
