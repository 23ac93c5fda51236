"""Whether an invoice repeats an earlier one of its vendor, against the database's earlier
invoices and the batch's so far (none void or rejected, no credit notes). Strongest first; the
first finding is the only one (one duplicate says it all):

1. `duplicate_invoice` [critical]: the same normalized number (invoices.numbers: case,
   separators, zero padding ignored) — `INV-0042` and `inv 42`.
2. `duplicate_invoice` [critical]: the same number once OCR and typing confusions are allowed
   for (the lookalike key: O/0, I/1/l, S/5, B/8, a label such as INV or "Rechnung Nr.") *and*
   the same total, currency and invoice date — `lNV-779O` scanned, `INV-7790` sent by EDI, both
   1,240.00 EUR of 1 Dec: one document by two channels. Rejected by default (REJECT_ON), so the
   fold alone never rejects: the amount and the date must agree too.
3. `possible_duplicate` [high]: the same lookalike number, but another total or date — a
   person decides (`S-100` and `5-100` may be two series of one vendor).
4. `possible_duplicate` [high]: same total and currency, dated within 7 days, another number
   (a re-keyed or renumbered re-send).
5. `possible_duplicate` [high]: same total and currency, dated within 30 days, numbers one edit
   apart (a character changed, added, dropped, or two neighbours swapped: `7790`/`7709`) on the
   lookalike keys, each at least 4 characters (below that every number is one edit from many).
   Not the next number of a series dated another day (`1001` of 1 Mar and `1002` of 29 Mar at
   the same amount is a subscription's next month, not a typo): a re-keyed copy keeps its date.

The false positives this guards against: `INV-1001` and `INV-1011` at different totals are two
invoices (one edit apart, but rule 5 needs the same total); the same at the same total 40 days
apart too (outside the window); `CN-5` is no `INV-5` (CN is no label, and credit notes are not
compared). The earlier invoice a finding names is kept on it (`related_invoice_id`) so the
invoice page can show both documents side by side.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from rapidfuzz.distance import OSA

from core.money import format_minor
from invoices.billing import NOT_BILLING
from invoices.numbers import lookalike_confusions, lookalike_of_normalized, normalize_invoice_number
from matching.engine.types import Discrepancy, InvoiceRecord, PriorInvoiceRecord, VendorRecord
from matching.engine.vocabulary import CRITICAL, DUPLICATE_INVOICE, HIGH, POSSIBLE_DUPLICATE

POSSIBLE_DUPLICATE_DAYS = 7
ONE_EDIT_DAYS = 30
ONE_EDIT_MIN_LENGTH = 4
# How far back the loader looks for earlier invoices at the same total: the widest window above.
SAME_TOTAL_DAYS = max(POSSIBLE_DUPLICATE_DAYS, ONE_EDIT_DAYS)

_TRAILING_NUMBER = re.compile(r"^(.*?)([0-9]+)$")


@dataclass
class EarlierInvoices:
    """The invoices a new one could duplicate (the database's and the batch's so far, none void
    or rejected), indexed by vendor and number, by vendor and lookalike number, and by vendor and
    total: a lookup per invoice, not a scan of the vendor's history."""

    by_number: dict[tuple[uuid.UUID, str], list[PriorInvoiceRecord]] = field(default_factory=dict)
    by_lookalike: dict[tuple[uuid.UUID, str], list[PriorInvoiceRecord]] = field(default_factory=dict)
    by_total: dict[tuple[uuid.UUID, int, str], list[PriorInvoiceRecord]] = field(default_factory=dict)

    @classmethod
    def build(cls, prior_invoices: dict[uuid.UUID, list[PriorInvoiceRecord]]) -> EarlierInvoices:
        earlier = cls()
        records = [record for records in prior_invoices.values() for record in records]
        for record in sorted(records, key=lambda r: (r.invoice_date, str(r.id))):
            earlier.add(record)
        return earlier

    def add(self, record: PriorInvoiceRecord) -> None:
        if record.status in NOT_BILLING:
            return
        lookalike = lookalike_of_normalized(record.invoice_number_normalized)
        self.by_number.setdefault((record.vendor_id, record.invoice_number_normalized), []).append(record)
        self.by_lookalike.setdefault((record.vendor_id, lookalike), []).append(record)
        self.by_total.setdefault((record.vendor_id, record.total_amount, record.currency), []).append(record)


def check_duplicates(invoice: InvoiceRecord, vendor: VendorRecord, earlier: EarlierInvoices) -> list[Discrepancy]:
    """The rules of the module docstring, in its order; the earliest invoice a rule finds is named."""
    number = invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number)
    lookalike = lookalike_of_normalized(number)

    def others(records: list[PriorInvoiceRecord]) -> list[PriorInvoiceRecord]:
        return [prior for prior in records if prior.id != invoice.id and not _received_later(prior, invoice)]

    for prior in others(earlier.by_number.get((vendor.id, number), [])):
        return [
            Discrepancy(
                DUPLICATE_INVOICE,
                CRITICAL,
                f"{vendor.name} already sent invoice {prior.invoice_number} dated "
                f"{prior.invoice_date.isoformat()} (now {prior.status}); this looks like the same invoice again.",
                expected=None,
                actual=invoice.invoice_number,
                related_invoice_id=prior.id,
            )
        ]
    lookalikes = others(earlier.by_lookalike.get((vendor.id, lookalike), []))
    for prior in lookalikes:
        if _same_total(prior, invoice) and prior.invoice_date == invoice.invoice_date:
            return [
                Discrepancy(
                    DUPLICATE_INVOICE,
                    CRITICAL,
                    f"{_both(invoice, prior)} read the same once {_confusions(invoice, prior)} allowed for; "
                    f"same total {_total(invoice)} and same date {invoice.invoice_date.isoformat()}: "
                    "this looks like the same invoice again.",
                    expected=None,
                    actual=invoice.invoice_number,
                    related_invoice_id=prior.id,
                )
            ]
    for prior in lookalikes:
        return [
            Discrepancy(
                POSSIBLE_DUPLICATE,
                HIGH,
                f"{_both(invoice, prior)} read the same once {_confusions(invoice, prior)} allowed for, "
                f"but {_what_differs(invoice, prior)}: check whether it is the same invoice.",
                expected=None,
                actual=invoice.invoice_number,
                related_invoice_id=prior.id,
            )
        ]
    same_total = others(earlier.by_total.get((vendor.id, invoice.total_amount, invoice.currency), []))
    for prior in same_total:
        if prior.invoice_number_normalized == number:
            continue
        if _days_apart(prior, invoice) <= POSSIBLE_DUPLICATE_DAYS:
            return [
                Discrepancy(
                    POSSIBLE_DUPLICATE,
                    HIGH,
                    f"Same vendor, same total {_total(invoice)} and within {POSSIBLE_DUPLICATE_DAYS} days of invoice "
                    f"{prior.invoice_number} ({prior.invoice_date.isoformat()}): "
                    "check it is not the same invoice renumbered.",
                    expected=None,
                    actual=invoice.invoice_number,
                    related_invoice_id=prior.id,
                )
            ]
    for prior in same_total:
        if _days_apart(prior, invoice) <= ONE_EDIT_DAYS and _one_edit_apart(
            lookalike, lookalike_of_normalized(prior.invoice_number_normalized), same_day=_same_day(prior, invoice)
        ):
            return [
                Discrepancy(
                    POSSIBLE_DUPLICATE,
                    HIGH,
                    f"{_both(invoice, prior)} differ by one character; same total {_total(invoice)}, "
                    f"dated {_days_apart(prior, invoice)} days apart: check it is not the same invoice re-keyed.",
                    expected=None,
                    actual=invoice.invoice_number,
                    related_invoice_id=prior.id,
                )
            ]
    return []


def _one_edit_apart(key: str, other: str, *, same_day: bool) -> bool:
    """One edit apart (optimal string alignment: a swap of neighbours is one edit), both long
    enough to tell, and not the next number of a series on another day."""
    if key == other or min(len(key), len(other)) < ONE_EDIT_MIN_LENGTH:
        return False
    if OSA.distance(key, other, score_cutoff=1) > 1:
        return False
    return same_day or not _successive(key, other)


def _successive(key: str, other: str) -> bool:
    """`1001`/`1002`, `A-0999`/`A-1000`: the same head, trailing numbers one apart."""
    this, that = _TRAILING_NUMBER.match(key), _TRAILING_NUMBER.match(other)
    if this is None or that is None or this.group(1) != that.group(1):
        return False
    return abs(int(this.group(2)) - int(that.group(2))) == 1


def _received_later(prior: PriorInvoiceRecord, invoice: InvoiceRecord) -> bool:
    """Whether `prior` arrived after `invoice` (by receipt time, then id, the batch's order).

    An original re-matched after a receipt must not be flagged as the copy of its own later
    re-send: the copy is flagged when its own turn comes.
    """
    if prior.received_at is None or invoice.received_at is None:
        return False
    return (prior.received_at, prior.id) > (invoice.received_at, invoice.id)


def _same_total(prior: PriorInvoiceRecord, invoice: InvoiceRecord) -> bool:
    return prior.total_amount == invoice.total_amount and prior.currency == invoice.currency


def _days_apart(prior: PriorInvoiceRecord, invoice: InvoiceRecord) -> int:
    return abs((prior.invoice_date - invoice.invoice_date).days)


def _same_day(prior: PriorInvoiceRecord, invoice: InvoiceRecord) -> bool:
    return prior.invoice_date == invoice.invoice_date


def _total(record: InvoiceRecord | PriorInvoiceRecord) -> str:
    return f"{format_minor(record.total_amount, record.currency)} {record.currency}"


def _both(invoice: InvoiceRecord, prior: PriorInvoiceRecord) -> str:
    """`INV-7790 (this) and lNV-779O (received 3 Dec 2026 by CSV import)`."""
    if prior.received_at is not None:
        received = prior.received_at.date()
        arrival = f"received {received.day} {_MONTHS[received.month - 1]} {received.year}"
        arrival += f" by {prior.source}" if prior.source else ""
    else:
        arrival = f"dated {prior.invoice_date.isoformat()}"
    return f"{invoice.invoice_number} (this) and {prior.invoice_number} ({arrival})"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _confusions(invoice: InvoiceRecord, prior: PriorInvoiceRecord) -> str:
    """`O/0 and I/1/l are` — what the two numbers differ by, for "read the same once … allowed for"."""
    found = lookalike_confusions(invoice.invoice_number, prior.invoice_number)
    if not found:
        return "OCR and typing confusions are"
    named = found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]
    return f"{named} {'is' if len(found) == 1 else 'are'}"


def _what_differs(invoice: InvoiceRecord, prior: PriorInvoiceRecord) -> str:
    differences = []
    if not _same_total(prior, invoice):
        differences.append(f"the total differs ({_total(invoice)} here, {_total(prior)} there)")
    if prior.invoice_date != invoice.invoice_date:
        differences.append(
            f"the date differs ({invoice.invoice_date.isoformat()} here, {prior.invoice_date.isoformat()} there)"
        )
    return " and ".join(differences)
