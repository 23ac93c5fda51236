"""An invoice as it arrives, normalized, before it is stored: what every source builds.

Amounts are still decimals in major units here; `invoices.services.invoice_create` turns them
into minor units of the invoice currency, refusing excess precision, the same way for every
source.

Two rules every source shares live here, beside the document, so that no source (and no door)
has its own copy:

- the sign of a document (`document_with_positive_total`): what a document that bills less than
  nothing is stored as;
- the content of a document (`InvoiceContent`, `document_content`): what makes a second document
  with a known vendor and number the same document sent again, rather than a different one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from core.money import MoneyError, normalize_currency, to_minor
from core.quantities import line_amount_minor
from invoices.models import DocumentType

# The other kind: what a document with a negative total is stored as.
_OTHER_KIND: dict[str, str] = {
    DocumentType.INVOICE.value: DocumentType.CREDIT_NOTE.value,
    DocumentType.CREDIT_NOTE.value: DocumentType.INVOICE.value,
}


@dataclass(frozen=True)
class InvoiceLineDocument:
    description: str
    quantity: Decimal
    unit_price: Decimal
    line_number: int | None = None
    sku: str = ""
    amount: Decimal | None = None  # None: quantity × unit price, rounded to the currency
    po_line_number: int | None = None
    # As the document states it (UN/ECE Rec. 20, "C62", "DAY"); no column yet, so it is kept in
    # the creation audit event with the rest of the document.
    unit_code: str = ""


@dataclass(frozen=True)
class InvoiceDocument:
    invoice_number: str
    currency: str
    invoice_date: dt.date | None  # None only in a draft still being typed in
    total_amount: Decimal
    lines: list[InvoiceLineDocument] = field(default_factory=list)
    vendor_id: uuid.UUID | None = None
    vendor_name: str = ""
    vendor_tax_id: str = ""
    po_number: str = ""
    due_date: dt.date | None = None
    tax_amount: Decimal = Decimal(0)
    shipping_amount: Decimal = Decimal(0)
    external_id: str = ""
    tax_rate: Decimal | None = None  # percent (19 for 19 %), when the document states one
    document_type: str = "invoice"  # invoices.models.DocumentType: "invoice" | "credit_note"
    credited_invoice_number: str = ""  # a credit note's reference to the invoice it credits
    # EN 16931 BT-113 "Paid amount": paid before this document (a deposit, a prepayment). The
    # total still includes it; what is left to pay is total − prepaid (BT-115).
    prepaid_amount: Decimal = Decimal(0)
    # BT-115 "Amount due for payment" when the document states it (UBL PayableAmount, the API's
    # `amount_due`): checked against total − prepaid by the door, never stored as given.
    amount_due: Decimal | None = None
    # UNTDID 1001 document type code as stated (UBL InvoiceTypeCode / CreditNoteTypeCode: 380,
    # 381, 384, ...); no column, kept in the creation audit event with the rest of the document.
    type_code: str = ""
    # Set by `document_with_positive_total` only: the kind the document stated, when it is stored
    # as the other kind because its total is negative.
    converted_from: str = ""
    # Payment terms as the document states them (EN 16931 BT-20 note, UBL PaymentTerms, CII
    # SpecifiedTradePaymentTerms; invoices.terms fills what is missing from the vendor's terms):
    # the early-payment discount's percent, the days it may be taken in or its last day, and its
    # amount when the document states the amount itself.
    payment_terms_note: str = ""
    discount_pct: Decimal | None = None
    discount_days: int | None = None
    discount_due_date: dt.date | None = None
    discount_amount: Decimal | None = None
    # The account the document asks to be paid to (UBL PayeeFinancialAccount, CII
    # PayeePartyCreditorFinancialAccount, the API's `payee_account`). Past the door
    # (invoices.checks) it holds only the masked number, so what is audited never shows it.
    payee_account: str = ""


def _negated(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value


def document_with_positive_total(document: InvoiceDocument) -> InvoiceDocument:
    """The document as Recon stores it: a negative total turns it into the other kind.

    Peppol BIS 3 allows a negative invoice (type 380, a correction of an earlier invoice,
    base-negative-inv-correction.xml), and nothing forbids a negative credit note. Recon stores
    every total, tax and shipping amount ≥ 0 (database constraints on the invoice), and payments,
    the cash forecast and matching all rely on it: an invoice bills, a credit note takes back.
    A negative invoice takes back, so it is stored as a credit note; a negative credit note
    bills, so it is stored as an invoice. Every amount and quantity is negated (unit prices are
    never negative, so they stay), and `converted_from` records the kind the document stated, for
    the clerk to see and the auditor to find. The alternative — an invoice with negative amounts —
    would need every reader of amounts (open balances, forecasts, matching's quantities billed
    against the PO) to learn a second sign convention. A credit note stored this way keeps the
    reference to the invoice it corrects; an invoice has none, so a negative credit note's is
    dropped (it stays in the creation audit event).

    The same rule for every source (API, CSV, UBL, webhooks): `invoice_create` applies it first.
    """
    if document.converted_from or not document.total_amount.is_finite() or document.total_amount >= 0:
        return document
    stated = document.document_type
    stored = _OTHER_KIND.get(stated)
    if stored is None:
        return document  # an unknown kind: the door refuses it as stated
    return replace(
        document,
        document_type=stored,
        converted_from=stated,
        total_amount=-document.total_amount,
        tax_amount=-document.tax_amount,
        shipping_amount=-document.shipping_amount,
        prepaid_amount=-document.prepaid_amount,
        amount_due=_negated(document.amount_due),
        discount_amount=_negated(document.discount_amount),
        credited_invoice_number=document.credited_invoice_number if stored == DocumentType.CREDIT_NOTE.value else "",
        lines=[replace(line, quantity=-line.quantity, amount=_negated(line.amount)) for line in document.lines],
    )


@dataclass(frozen=True)
class InvoiceContent:
    """What a document says, for telling a re-send from a different document with the same number.

    Two documents of the same kind, vendor and normalized number are *the same document* (a
    re-send: answer the stored one) exactly when their contents are equal; otherwise the second
    is a different document reusing the number, stored and flagged `duplicate_invoice` by
    matching. The content is what a payment or an approval depends on: the currency, the dates,
    every header amount in minor units (total, tax, shipping, prepaid) and each line's quantity,
    unit price and amount. Line order, line numbers, descriptions, SKUs, the PO number and where
    the document came from are not content: a vendor's system re-sending the same bill may
    renumber or re-word them, and the same bill sent by e-mail and by e-invoice is one bill.

    Build one with `invoice_content` (or `document_content` for an incoming document); both the
    stored invoice (invoices.selectors) and the document go through it, so they compare alike.
    """

    currency: str
    invoice_date: dt.date | None
    due_date: dt.date | None
    total: int
    tax: int
    shipping: int
    prepaid: int
    # (quantity, unit price, amount) per line, sorted. Decimals compare by value (2 == 2.0000),
    # so the stored NUMERIC scale does not matter.
    lines: tuple[tuple[Decimal, Decimal, int], ...]


def invoice_content(
    *,
    currency: str,
    invoice_date: dt.date | None,
    due_date: dt.date | None,
    total: int,
    tax: int,
    shipping: int,
    prepaid: int,
    lines: Iterable[tuple[Decimal, Decimal, int]],
) -> InvoiceContent:
    return InvoiceContent(
        currency=currency,
        invoice_date=invoice_date,
        due_date=due_date,
        total=total,
        tax=tax,
        shipping=shipping,
        prepaid=prepaid,
        lines=tuple(sorted(lines)),
    )


def document_content(document: InvoiceDocument) -> InvoiceContent | None:
    """The content of an incoming document as it would be stored; None if it cannot be stored.

    The door's own conversions, in its order: the sign rule first, then minor units of the
    currency, and a missing line amount computed as the door computes it. A document the door
    would refuse (an unknown currency, excess decimals, a quantity of 1E+999999) has no content,
    so it is never taken for a re-send: it goes to the door and gets its 400.
    """
    stored = document_with_positive_total(document)
    try:
        currency = normalize_currency(stored.currency)
        lines = [
            (
                line.quantity,
                line.unit_price,
                to_minor(line.amount, currency)
                if line.amount is not None
                else line_amount_minor(line.quantity, line.unit_price, currency),
            )
            for line in stored.lines
        ]
        return invoice_content(
            currency=currency,
            invoice_date=stored.invoice_date,
            due_date=stored.due_date,
            total=to_minor(stored.total_amount, currency),
            tax=to_minor(stored.tax_amount, currency),
            shipping=to_minor(stored.shipping_amount, currency),
            prepaid=to_minor(stored.prepaid_amount, currency),
            lines=lines,
        )
    except (MoneyError, ArithmeticError, TypeError, ValueError):  # ArithmeticError: every decimal signal
        return None
