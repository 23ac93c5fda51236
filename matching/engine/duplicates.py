"""Whether an invoice repeats an earlier one of its vendor: the same normalized number
(`duplicate_invoice`), or the same total within a week under another number
(`possible_duplicate`), against the database's earlier invoices and the batch's so far.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from core.money import format_minor
from invoices.billing import NOT_BILLING
from invoices.numbers import normalize_invoice_number
from matching.engine.types import Discrepancy, InvoiceRecord, PriorInvoiceRecord, VendorRecord
from matching.engine.vocabulary import CRITICAL, DUPLICATE_INVOICE, HIGH, POSSIBLE_DUPLICATE

POSSIBLE_DUPLICATE_DAYS = 7


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
        if record.status in NOT_BILLING:
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
