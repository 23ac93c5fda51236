"""Reconciliation tier 0 (DESIGN.md §6): a statement line carrying the EndToEndId of a payment run's
transfer pays exactly that transfer's invoices.

Above the engine's tiers and before them, in reconciliation_run_for_tenant: the id was written by
Recon into the bank file, so when the bank brings it back on a debit of the same amount and
currency there is nothing to guess. The allocations go through allocation_split, the same checked
write as a clerk's (row locks, open balances, the invoices' moves to reconciled, the audit
events); its note says it was tier 0 and which run. An early-payment discount the run took
(PaymentRunItem.discount_amount) is written off in the same step (a `write_off` allocation, the
note naming it "Early-payment discount"), so the transfer plus the discount settles the invoice.
A line whose amount differs from the transfer (a partial execution, fees) is left to the other
tiers and to the clerk.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from core.actors import Actor
from core.exceptions import DomainError
from invoices.models import Invoice, InvoiceStatus
from payments.models import Payment, PaymentDirection, PaymentRunItem, PaymentRunStatus
from payments.reconciliation.loading import RECONCILABLE_PAYMENT_STATUSES
from payments.reconciliation.writing import money_label
from tenants.models import Tenant

TIER_0_NOTE = "Tier 0: the statement line carries EndToEndId {end_to_end_id} of the payment run approved {date}."
DISCOUNT_NOTE = " Early-payment discount written off: {discounts}."


def run_payments_settle(*, tenant: Tenant, actor: Actor) -> int:
    """Allocate every unmatched debit whose EndToEndId is a live, approved run transfer of the same
    amount and currency to that transfer's invoices; returns how many payments were settled."""
    # Here, not at the top: payments.reconciliation.services calls this module at the start of
    # each run (same app, no layer crossed).
    from payments.reconciliation.services import allocation_split

    payments = list(
        Payment.objects.for_tenant(tenant)
        .filter(status__in=RECONCILABLE_PAYMENT_STATUSES, direction=PaymentDirection.DEBIT)
        .exclude(end_to_end_id="")
        .filter(
            end_to_end_id__in=PaymentRunItem.objects.for_tenant(tenant)
            .filter(is_live=True, run__status=PaymentRunStatus.APPROVED)
            .values("end_to_end_id")
        )
    )
    if not payments:
        return 0
    items: dict[str, list[PaymentRunItem]] = defaultdict(list)
    for item in (
        PaymentRunItem.objects.for_tenant(tenant)
        .filter(
            is_live=True,
            run__status=PaymentRunStatus.APPROVED,
            end_to_end_id__in=[payment.end_to_end_id for payment in payments],
        )
        .select_related("run")
    ):
        items[item.end_to_end_id].append(item)
    invoices: dict[uuid.UUID, Invoice] = {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_tenant(tenant).filter(
            pk__in=[item.invoice_id for group in items.values() for item in group]
        )
    }
    settled = 0
    for payment in payments:
        group = items.get(payment.end_to_end_id, [])
        if not group or payment.currency != group[0].run.currency:
            continue
        if payment.amount != sum(item.amount for item in group):
            continue
        if any(invoices[item.invoice_id].status != InvoiceStatus.PAYMENT_SCHEDULED for item in group):
            continue
        approved_at = group[0].run.approved_at
        note = TIER_0_NOTE.format(
            end_to_end_id=payment.end_to_end_id, date=approved_at.date().isoformat() if approved_at else "?"
        )
        discounts = {item.invoice_id: item.discount_amount for item in group if item.discount_amount}
        if discounts:
            note += DISCOUNT_NOTE.format(
                discounts=", ".join(
                    f"{invoices[item.invoice_id].invoice_number} {money_label(item.discount_amount, payment.currency)}"
                    for item in group
                    if item.discount_amount
                )
            )
        try:
            allocation_split(
                tenant=tenant,
                payment=payment,
                parts=[(invoices[item.invoice_id], item.amount) for item in group],
                actor=actor,
                note=note,
                discounts=discounts,
            )
        except DomainError:
            continue  # changed meanwhile (a clerk was faster): the engine's tiers and the clerk see it
        settled += 1
    return settled
