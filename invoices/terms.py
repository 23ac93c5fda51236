"""An invoice's payment terms (issue #19 item 3): its due date and early-payment discount.

What the document states wins; what it leaves out comes from the vendor's agreed terms
(vendors.models.Vendor: 2/10 net 30 is `payment_net_days` 30, `discount_pct` 2, `discount_days`
10), counted from the invoice date:

- due date: the document's (UBL DueDate / PaymentDueDate, CII DueDateDateTime, the API's), else
  invoice date + net days;
- discount percent and deadline: the document's (UBL SettlementDiscountPercent and
  SettlementPeriod, CII ApplicableTradePaymentDiscountTerms), else the vendor's, the deadline being
  invoice date + discount days;
- discount amount: the document's own (CII ActualDiscountAmount), else percent × amount due
  (total − prepaid) rounded half up to the currency's minor unit — exact Decimal arithmetic;
  never more than the amount due.

Applied where the vendor is known: at the door (invoices.checks, so the API, files, webhooks, a
draft kept and a draft submitted all compute them alike, and a clerk choosing the vendor on a
draft recomputes them). A vendor that only matching finds later (fuzzy name) leaves the invoice
with the document's terms alone. Pure: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from core.money import from_minor, round_to_minor


@dataclass(frozen=True)
class StatedTerms:
    """What a document says about paying it (every field optional)."""

    note: str = ""
    due_date: dt.date | None = None
    discount_pct: Decimal | None = None
    discount_days: int | None = None
    discount_due_date: dt.date | None = None
    discount_amount: int | None = None  # minor units, when the document states the amount itself


@dataclass(frozen=True)
class AgreedTerms:
    """The vendor's terms (vendors.models.Vendor's three columns)."""

    net_days: int | None = None
    discount_pct: Decimal | None = None
    discount_days: int | None = None


@dataclass(frozen=True)
class InvoiceTerms:
    note: str
    due_date: dt.date | None
    discount_pct: Decimal | None
    discount_due_date: dt.date | None
    discount_amount: int  # minor units; 0: no discount


def _plus_days(start: dt.date | None, days: int | None) -> dt.date | None:
    if start is None or days is None:
        return None
    try:
        return start + dt.timedelta(days=days)
    except OverflowError:
        return None


def discount_of(*, pct: Decimal, amount_due: int, currency: str) -> int:
    """`pct` percent of `amount_due` (minor units), rounded half up; 12.40 EUR for 2 % of 620.00."""
    if amount_due <= 0 or not currency:
        return 0
    return min(round_to_minor(from_minor(amount_due, currency) * pct / 100, currency), amount_due)


def invoice_terms(
    *,
    stated: StatedTerms,
    agreed: AgreedTerms | None,
    invoice_date: dt.date | None,
    amount_due: int,
    currency: str,
) -> InvoiceTerms:
    """The terms stored on an invoice (module docstring)."""
    agreed = agreed or AgreedTerms()
    due_date = stated.due_date or _plus_days(invoice_date, agreed.net_days)
    if stated.discount_pct is not None or stated.discount_amount:
        pct = stated.discount_pct
        deadline = stated.discount_due_date or _plus_days(invoice_date, stated.discount_days)
    else:
        pct = agreed.discount_pct
        deadline = _plus_days(invoice_date, agreed.discount_days) if pct is not None else None
    if stated.discount_amount:
        amount = min(stated.discount_amount, max(amount_due, 0))
    elif pct is not None:
        amount = discount_of(pct=pct, amount_due=amount_due, currency=currency)
    else:
        amount = 0
    if deadline is None:
        amount = 0  # a discount with no last day cannot be taken on time
    return InvoiceTerms(
        note=stated.note,
        due_date=due_date,
        discount_pct=pct,
        discount_due_date=deadline if amount else None,
        discount_amount=amount,
    )


def discount_available(*, discount_amount: int, discount_due_date: dt.date | None, on: dt.date) -> bool:
    """Whether the early-payment discount may still be taken by paying on `on`."""
    return discount_amount > 0 and discount_due_date is not None and on <= discount_due_date
