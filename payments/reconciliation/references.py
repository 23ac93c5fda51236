"""Invoice numbers in remittance texts, and the open invoices of a batch indexed to find them.

A remittance text names an invoice when a run of its whole words reads as the invoice's number
once both are keyed alike (`reference_key`: case, punctuation, zero padding and prefix words
such as "INV" or "Rechnung Nr." dropped). `OpenInvoiceIndex` holds a batch's open invoices by
vendor and by that key, so a payment looks only at its vendor's invoices and at the ones its text
names. Pure: no ORM, no clock.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import replace

from invoices.numbers import normalize_invoice_number
from payments.reconciliation.types import OpenInvoice

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
# The prefix words at the start of a key, in the order above: the first that starts it is the
# one stripped (when a digit follows; if none follows it, none follows any shorter prefix word
# starting the key either, the letters between being the longer word's).
_PREFIX = re.compile("|".join(_REFERENCE_PREFIXES))
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


@functools.lru_cache(maxsize=65_536)
def reference_key(number: str) -> str:
    """`"INV-000123"` → `"123"`; `"RE 2026/0042"` → `"20260042"`: the part of a number people write.

    Normalized as duplicate detection does (case, spaces, punctuation, zero padding), then the
    common prefix words are dropped, so the vendor's "INV-0123" and a remittance "Rechnung 123"
    or "#123" meet. A key without a digit is no reference at all ("" is returned).
    """
    key = normalize_invoice_number(number)
    # One match per word stripped instead of a test of every prefix word (5,600 keys per run).
    while (prefix := _PREFIX.match(key)) and _HAS_DIGIT.search(key, prefix.end()):
        key = _LEADING_ZEROS.sub("", key[prefix.end() :])
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


def _oldest_first(invoices: Iterable[OpenInvoice]) -> list[OpenInvoice]:
    return sorted(
        # By the id itself, which orders as its text does (engine.reconcile_batch).
        invoices,
        key=lambda invoice: (invoice.due_date or invoice.invoice_date, invoice.invoice_date, invoice.id),
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
