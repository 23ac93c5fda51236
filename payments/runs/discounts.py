"""Early-payment discounts in a payment run (issue #19 items 3 and 4, DESIGN.md §6a "discounts
taken while available").

A run that takes discounts (PaymentRun.take_discounts, on by default) pays an invoice whose
discount is still available on the run's execution date (invoices.terms.discount_available: on
or before its discount deadline) its open balance less the discount, and records the discount on
the line (PaymentRunItem.discount_amount): the amount paid plus the discount settles the invoice
when tier 0 reconciles the transfer (payments.runs.settlement writes the discount off, labelled
as such). The discount is the invoice's own amount (its terms, computed at the door), taken whole
or not at all: never when it would leave nothing to pay (a credit note already took the invoice
down to its discount or below: the open balance is paid instead), so 0 < paid ≤ open balance.
"""

from __future__ import annotations

import datetime as dt

from invoices.terms import discount_available

DISCOUNT_NOTE = "Early-payment discount"
DISCOUNT_ENDED = "Its early-payment discount ended before the execution date {date}."


def discount_taken(
    *,
    open_amount: int,
    discount_amount: int,
    discount_due_date: dt.date | None,
    paid_on: dt.date,
    take_discounts: bool,
) -> int:
    """The discount a run takes on an invoice paid on `paid_on` (0: none); see the module docstring."""
    if not take_discounts or open_amount <= 0:
        return 0
    if not discount_available(discount_amount=discount_amount, discount_due_date=discount_due_date, on=paid_on):
        return 0
    return discount_amount if discount_amount < open_amount else 0
