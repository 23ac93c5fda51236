"""Risk signals (issue #19 items 2 and 6): where the invoice asks to be paid, and whether its amount
or its vendor is out of the ordinary. Each is a discrepancy with a message that says what to check,
and each is high or critical, so decision.decide keeps the invoice from auto-approval (escalated).

- `bank_account_mismatch` [critical]: the document names a payee account that is not one of the
  vendor's approved accounts (check_bank_account);
- `bank_account_changed` [high]: the vendor's account was changed and the invoice came while the
  new one was still cooling off, or while a change waits for approval (check_bank_account);
- `unusual_amount` [high]: the total is far above the vendor's accepted invoices (check_unusual_amount);
- `new_vendor_large_invoice` [high]: nothing of the vendor's has been accepted yet and the total is
  above the tenant's limit for a first invoice (check_new_vendor);
- `shared_bank_account` [high]: another vendor has the same account, and an invoice of its repeats
  this one's number or total (check_shared_account).

Pure like the rest of the engine: "recently" is measured against the invoice's own arrival
(`InvoiceRecord.received_at`), never a clock, so a re-match gives the same answer. Accounts are
compared by their keyed hash (core.bank_accounts) and shown by their mask only.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

from core.money import format_minor
from invoices.numbers import normalize_invoice_number
from matching.engine.types import (
    AcceptedTotalRecord,
    BankAccountRecord,
    Discrepancy,
    InvoiceRecord,
    MatchContext,
    MatchSettings,
    SharedAccountInvoiceRecord,
    VendorRecord,
)
from matching.engine.vocabulary import (
    BANK_ACCOUNT_CHANGED,
    BANK_ACCOUNT_MISMATCH,
    CRITICAL,
    HIGH,
    NEW_VENDOR_LARGE_INVOICE,
    SHARED_BANK_ACCOUNT,
    UNUSUAL_AMOUNT,
)

# The invoice statuses that count as accepted history: a person or the tenant's rules approved it
# (invoices.models.InvoiceStatus values; the loader selects by the same set). An invoice still in
# review is no precedent: it may be the very fraud the history is meant to reveal.
ACCEPTED_STATUSES = frozenset({"approved", "payment_scheduled", "partially_paid", "reconciled"})

# Accounts a vendor has on record: approved once. A retired account is the vendor's old one: an
# invoice naming it is paid to the current account anyway, so it is no mismatch.
_ON_RECORD = frozenset({"active", "retired"})

# 0.6745 = Φ⁻¹(0.75): scales the median absolute deviation to a normal's standard deviation
# (Iglewicz & Hoaglin's modified z-score).
_MAD_SCALE = Decimal("0.6745")
# The least spread assumed in log amounts: a vendor that always bills the same total (MAD 0) would
# otherwise make one cent more infinitely unusual. 0.1 in ln ≈ ±10 %; with the default threshold
# 3.5, an amount about 1.7 times the usual one is then flagged.
MAD_FLOOR = Decimal("0.1")
_Q1 = Decimal("0.1")


def _mask(invoice: InvoiceRecord) -> str:
    return invoice.payee_account_mask or "(masked)"


def check_bank_account(invoice: InvoiceRecord, vendor: VendorRecord) -> list[Discrepancy]:
    """`bank_account_mismatch` [critical]: the invoice names a payee account, the vendor has
    approved accounts on record (active or retired), and the named one is none of them. Not raised
    for a vendor with no approved account yet (nothing to compare with), nor for an invoice that
    names no account. The message says whether the account is a change waiting for approval or
    one that was rejected.

    `bank_account_changed` [high]: the vendor's active account replaced another, and the invoice
    was received before the new one became payable (`usable_from`: approval + cooling-off days);
    or a change of the account is waiting for approval. Forged "our bank details have changed"
    letters come with invoices: the change is confirmed by phone before such an invoice is paid.
    """
    accounts = vendor.bank_accounts
    found: list[Discrepancy] = []
    named = invoice.payee_account_hash
    on_record = [account for account in accounts if account.status in _ON_RECORD]
    if named and on_record and named not in {account.account_hash for account in on_record}:
        found.append(_mismatch(invoice, vendor, accounts))
    active = next((account for account in accounts if account.status == "active"), None)
    pending = next((account for account in accounts if account.status == "pending"), None)
    if (
        active is not None
        and active.replaces_mask
        and active.usable_from is not None
        and invoice.received_at is not None
        and invoice.received_at < active.usable_from
    ):
        decided = active.decided_at.date().isoformat() if active.decided_at else "recently"
        found.append(
            Discrepancy(
                BANK_ACCOUNT_CHANGED,
                HIGH,
                f"{vendor.name}'s bank account was changed on {decided} from {active.replaces_mask} to "
                f"{active.account_mask}, and this invoice arrived before the new account's cooling-off ended "
                f"({active.usable_from.date().isoformat()}): confirm the change with {vendor.name} by phone, on a "
                "number from the vendor's record rather than from the invoice, before approving.",
                expected=active.replaces_mask,
                actual=active.account_mask,
            )
        )
    elif pending is not None and active is not None and invoice.payee_account_hash != pending.account_hash:
        # (An invoice naming the pending account already says so in its bank_account_mismatch.)
        found.append(
            Discrepancy(
                BANK_ACCOUNT_CHANGED,
                HIGH,
                f"A change of {vendor.name}'s bank account from {active.account_mask} to {pending.account_mask} is "
                f"waiting for approval: confirm it with {vendor.name} by phone, on a number from the vendor's "
                "record, before approving this invoice.",
                expected=active.account_mask,
                actual=pending.account_mask,
            )
        )
    return found


def _mismatch(invoice: InvoiceRecord, vendor: VendorRecord, accounts: Sequence[BankAccountRecord]) -> Discrepancy:
    mask = _mask(invoice)
    same = next((account for account in accounts if account.account_hash == invoice.payee_account_hash), None)
    known = ", ".join(account.account_mask for account in accounts if account.status == "active")
    if same is not None and same.status == "pending":
        why = "it is a change of account proposed on the vendor's page and not approved yet"
    elif same is not None and same.status == "rejected":
        why = "it was proposed as the vendor's account and rejected"
    else:
        why = f"the vendor's account on record is {known}" if known else "it is not on the vendor's record"
    return Discrepancy(
        BANK_ACCOUNT_MISMATCH,
        CRITICAL,
        f"Account {mask} is not one of {vendor.name}'s accounts ({why}); confirm with {vendor.name} by phone, on "
        "a number from the vendor's record rather than from the invoice, before approving.",
        expected=known or None,
        actual=mask,
    )


def _median(values: Sequence[Decimal]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


_LOG_PRECISION = 28


@functools.lru_cache(maxsize=65_536)
def _amount_ln(amount: int) -> Decimal:
    """ln(amount) to `_LOG_PRECISION` digits, remembered: a vendor's window of totals is judged
    again for each of its invoices, and `Decimal.ln` was most of the engine's time (27,000 logs
    of ~0.3 ms for 2,000 invoices, bench_matching). The same value as computed in place: `ln` is
    correctly rounded (half-even) whatever the context's rounding, and the precision is fixed here."""
    with localcontext() as context:
        context.prec = _LOG_PRECISION
        return Decimal(amount).ln()


def robust_z_score(total: int, history: Sequence[int]) -> tuple[Decimal, int]:
    """(z, the median amount) of `total` against `history` (positive amounts in minor units), on natural logs:
    z = 0.6745 · (ln total − median ln) / max(MAD, MAD_FLOOR). Logs because invoice amounts are
    multiplicative (a vendor billing 100 and 10,000 is spread by a factor, not a difference);
    median and MAD because one earlier outlier must not widen the band the next is judged by.
    Decimal logs: exact to the context's precision, the same on every machine."""
    with localcontext() as context:
        context.prec = _LOG_PRECISION
        logs = [_amount_ln(amount) for amount in history]
        centre = _median(logs)
        spread = max(_median([abs(value - centre) for value in logs]), MAD_FLOOR)
        z = _MAD_SCALE * (_amount_ln(total) - centre) / spread
    ordered, middle = sorted(history), len(history) // 2
    median_amount = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) // 2
    return z, median_amount


@dataclass
class VendorHistory:
    """Each vendor's accepted invoices (the database's before the batch, then the batch's
    auto-approved ones as it goes), for unusual amounts and new vendors."""

    # Vendors absent here have no known history (a hand-built context): not judged as new.
    first_accepted_at: dict[uuid.UUID, dt.datetime | None] = field(default_factory=dict)
    recent: dict[uuid.UUID, list[AcceptedTotalRecord]] = field(default_factory=dict)  # newest first
    accepted_in_batch: set[uuid.UUID] = field(default_factory=set)

    @classmethod
    def build(cls, context: MatchContext) -> VendorHistory:
        history = cls()
        for vendor_id, record in context.vendor_histories.items():
            history.first_accepted_at[vendor_id] = record.first_accepted_at
            history.recent[vendor_id] = sorted(record.recent, key=lambda r: r.received_at, reverse=True)
        return history

    def add(self, vendor_id: uuid.UUID, invoice: InvoiceRecord) -> None:
        """An invoice of the batch the engine approved: history for the batch's later ones."""
        self.accepted_in_batch.add(vendor_id)
        if invoice.received_at is not None and invoice.total_amount > 0:
            record = AcceptedTotalRecord(invoice.received_at, invoice.total_amount, invoice.currency)
            self.recent.setdefault(vendor_id, []).insert(0, record)

    def totals_before(self, invoice: InvoiceRecord, vendor_id: uuid.UUID, window: int) -> list[int]:
        """The totals of the vendor's latest `window` accepted invoices in the invoice's currency
        received before it (all of them when either side has no time: a hand-built context)."""
        totals = [
            record.total_amount
            for record in self.recent.get(vendor_id, ())
            if record.currency == invoice.currency
            and record.total_amount > 0
            and (invoice.received_at is None or record.received_at < invoice.received_at)
        ]
        return totals[:window]

    def has_accepted_before(self, invoice: InvoiceRecord, vendor_id: uuid.UUID) -> bool:
        if vendor_id in self.accepted_in_batch or vendor_id not in self.first_accepted_at:
            return True
        first = self.first_accepted_at.get(vendor_id)
        if first is None:
            return False
        return invoice.received_at is None or first < invoice.received_at


def check_unusual_amount(
    invoice: InvoiceRecord, vendor: VendorRecord, history: VendorHistory, settings: MatchSettings
) -> list[Discrepancy]:
    """`unusual_amount` [high]: the total's robust z-score (robust_z_score) against the vendor's
    latest `unusual_amount_window` accepted invoices in the same currency is at least
    `unusual_amount_threshold`. Not judged with fewer than `unusual_amount_min_history` of them
    (a short history says nothing about what is usual). Only amounts *above* the usual are
    flagged: the risk is money going out, and a small partial bill below a vendor's usual is
    ordinary (it still meets every other check)."""
    if invoice.total_amount <= 0:
        return []
    totals = history.totals_before(invoice, vendor.id, settings.unusual_amount_window)
    if len(totals) < max(settings.unusual_amount_min_history, 1):
        return []
    z, median = robust_z_score(invoice.total_amount, totals)
    if z < settings.unusual_amount_threshold:
        return []
    currency = invoice.currency
    usual = f"{format_minor(median, currency)} {currency}"
    return [
        Discrepancy(
            UNUSUAL_AMOUNT,
            HIGH,
            f"Total {format_minor(invoice.total_amount, currency)} {currency} is far above {vendor.name}'s usual "
            f"invoices (typically {usual} over its last {len(totals)} accepted; score "
            f"{z.quantize(_Q1, rounding=ROUND_HALF_UP)}, unusual from {settings.unusual_amount_threshold}): check the "
            "amount against the order or with the vendor before approving.",
            expected=usual,
            actual=f"{format_minor(invoice.total_amount, currency)} {currency}",
        )
    ]


def check_new_vendor(
    invoice: InvoiceRecord, vendor: VendorRecord, history: VendorHistory, settings: MatchSettings
) -> list[Discrepancy]:
    """`new_vendor_large_invoice` [high]: none of the vendor's invoices received before this one
    has been accepted (approved or paid), and the total is above the tenant's limit for a new
    vendor's first invoice in its currency (`AmountLimits.new_vendor_first_invoice_max`; none by
    default: not judged). A vendor set up to be paid once and disappear bills big at once; a real
    one's first invoice is confirmed once.
    Judged only for a vendor whose history the context carries (the loader gives every batch
    vendor's, empty or not)."""
    limit = settings.limits_for(invoice.currency).new_vendor_first_invoice_max
    if limit is None or invoice.total_amount <= limit or history.has_accepted_before(invoice, vendor.id):
        return []
    currency = invoice.currency
    return [
        Discrepancy(
            NEW_VENDOR_LARGE_INVOICE,
            HIGH,
            f"No invoice of {vendor.name} has been approved yet, and this first one is "
            f"{format_minor(invoice.total_amount, currency)} {currency}, above the new-vendor limit "
            f"{format_minor(limit, currency)} {currency}: confirm the vendor and the order with the buyer before "
            "approving.",
            expected=f"{format_minor(limit, currency)} {currency}",
            actual=f"{format_minor(invoice.total_amount, currency)} {currency}",
        )
    ]


@dataclass
class SharedAccounts:
    """By payee account hash, invoices of the vendors that have that account: the database's
    (loader) and the batch's so far."""

    by_hash: dict[str, list[SharedAccountInvoiceRecord]] = field(default_factory=dict)

    @classmethod
    def build(cls, context: MatchContext) -> SharedAccounts:
        return cls({hash_: list(records) for hash_, records in context.shared_account_invoices.items()})

    def add(self, invoice: InvoiceRecord, vendor: VendorRecord) -> None:
        if invoice.payee_account_hash:
            self.by_hash.setdefault(invoice.payee_account_hash, []).append(
                SharedAccountInvoiceRecord(
                    account_hash=invoice.payee_account_hash,
                    invoice_id=invoice.id,
                    vendor_id=vendor.id,
                    vendor_name=vendor.name,
                    invoice_number=invoice.invoice_number,
                    invoice_number_normalized=invoice.invoice_number_normalized
                    or normalize_invoice_number(invoice.invoice_number),
                    total_amount=invoice.total_amount,
                    currency=invoice.currency,
                    invoice_date=invoice.invoice_date,
                )
            )


def check_shared_account(invoice: InvoiceRecord, vendor: VendorRecord, shared: SharedAccounts) -> list[Discrepancy]:
    """`shared_bank_account` [high]: the payee account is also another vendor's, and that vendor
    has an invoice with the same normalized number, or the same total and currency. One bill sent
    twice under two vendor names that pay to one account is how a shell vendor duplicates a real
    one; a shared account alone (a factoring company, a group's treasury) is not flagged."""
    if not invoice.payee_account_hash:
        return []
    number = invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number)
    for other in shared.by_hash.get(invoice.payee_account_hash, ()):
        if other.vendor_id == vendor.id or other.invoice_id == invoice.id:
            continue
        if number and other.invoice_number_normalized == number:
            repeated = f"the same invoice number {other.invoice_number}"
        elif other.total_amount == invoice.total_amount and other.currency == invoice.currency:
            repeated = f"the same total {format_minor(other.total_amount, other.currency)} {other.currency}"
        else:
            continue
        return [
            Discrepancy(
                SHARED_BANK_ACCOUNT,
                HIGH,
                f"Account {_mask(invoice)} is also {other.vendor_name}'s, whose invoice {other.invoice_number} "
                f"({other.invoice_date.isoformat()}) has {repeated}: the same bill may be charged through two "
                "vendors. Check both with the vendors before approving.",
                expected=None,
                actual=other.invoice_number,
            )
        ]
    return []


@dataclass
class RiskState:
    """What the risk checks carry from one invoice of a batch to the next."""

    history: VendorHistory
    shared: SharedAccounts

    @classmethod
    def build(cls, context: MatchContext) -> RiskState:
        return cls(VendorHistory.build(context), SharedAccounts.build(context))


def check_risks(
    invoice: InvoiceRecord, vendor: VendorRecord, state: RiskState, settings: MatchSettings
) -> list[Discrepancy]:
    """Every risk signal of an invoice whose vendor is known (see the module docstring)."""
    return [
        *check_bank_account(invoice, vendor),
        *check_shared_account(invoice, vendor, state.shared),
        *check_unusual_amount(invoice, vendor, state.history, settings),
        *check_new_vendor(invoice, vendor, state.history, settings),
    ]
