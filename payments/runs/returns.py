"""A run's transfer returned by the bank (issue #19 item 5): the invoices are open again, with why.

Recognised beside tier 0 (payments.runs.settlement), at the start of each reconciliation run: a
statement line that brings money back (a credit) carrying the EndToEndId of a live transfer of an
approved run, in the run's currency and for no more than the transfer, is that transfer returned.
Only Recon writes its EndToEndIds into bank files, so a credit carrying one can only be the
transfer coming back (CAMT.053 `RtrInf` or a reversal `RvslInd`; ING's MT940 `/RTRN/` with
`/EREF/`); the reason is the bank's ISO 20022 code (`Payment.return_reason`), "" when it gives none.

What a return does, in one transaction per returned transfer:
- the allocations that had settled the transfer (the debit carrying the same EndToEndId) are
  reversed through allocation_reverse, the clerk's own checked write (reconciled / partially paid
  → approved, audited); invoices still `payment_scheduled` move back to `approved` through the
  lifecycle (a RUN_ONLY move), the audit event naming the bank's reason;
- the run's items are marked returned (when, why, by which statement line) and are no longer
  live, so the invoices can be in another run;
- the credit, and the debit it cancels out, are set aside (payment_ignore, with the reason): nothing
  is to be allocated to either (the debit, unmatched again, would otherwise pay the reopened
  invoices a second time in the engine's tiers);
- each invoice gets a `payment_returned` discrepancy [high] with the reason in the clerk's words.

Where the discrepancy goes: on the invoice's latest match result, as every discrepancy raised
outside the engine (matching.engine.vocabulary.RAISED_OUTSIDE_ENGINE), so the invoice page, the
discrepancy API and the compliance ledger's `invoice.discrepancy.detected` event see it as they
see the engine's. An invoice that was never matched (imported as approved) has no result to hang
it on: its return is then recorded on the run item and in the audit trail only.

When is a returned invoice paid again? Not by the next proposal on its own: `returns_held_back`
leaves it out with why until the vendor's payable bank account was approved after the return
(the bank said the account is wrong or closed: paying it again would come back again). A clerk
who has checked that the account is right after all adds the invoice to a run by hand
(payment_run_line_add): that is the confirmation.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from audit.services import AuditEntry, audit_deferred, audit_record_many, outbox_enqueue_many
from core.actors import Actor
from core.exceptions import DomainError
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import Invoice, InvoiceStatus
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS, HIGH, PAYMENT_RETURNED
from matching.models import Discrepancy
from payments.models import (
    AllocationKind,
    Payment,
    PaymentAllocation,
    PaymentDirection,
    PaymentRunItem,
    PaymentRunStatus,
    PaymentStatus,
)
from payments.reconciliation.setting_aside import payment_ignore
from tenants.models import Tenant
from vendors.selectors import vendor_bank_accounts_payable

if TYPE_CHECKING:
    from payments.runs.proposals import Candidate

logger = logging.getLogger(__name__)

# ISO 20022 return reason codes (ExternalReturnReason1Code) a bank uses for a credit transfer,
# in the clerk's words.
RETURN_REASONS = {
    "AC01": "incorrect account number",
    "AC03": "invalid creditor account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AC13": "invalid account type",
    "AG01": "transfers not allowed to this account",
    "AG02": "invalid bank operation",
    "AM04": "insufficient funds",
    "AM05": "duplicate payment",
    "BE04": "creditor address missing",
    "BE05": "unknown creditor",
    "CNOR": "the creditor's bank is not reachable",
    "CUST": "requested by the creditor",
    "DNOR": "the debtor's bank is not reachable",
    "FF01": "invalid file format",
    "FOCR": "returned after a cancellation request",
    "MD07": "the account holder has died",
    "MS02": "refused by the creditor",
    "MS03": "no reason given by the bank",
    "RC01": "incorrect bank identifier (BIC)",
    "RR01": "debtor account or identification missing",
    "RR02": "debtor name or address missing",
    "RR03": "creditor name or address missing",
    "RR04": "regulatory reason",
    "SL01": "specific service offered by the creditor's bank",
    "TM01": "received after the bank's cut-off time",
}
NO_REASON = "no reason given"
RETURNED_MESSAGE = "The bank returned the payment: {reason}. Check the vendor's bank details before paying again."
RETURNED_EXPLANATION = "Transfer {end_to_end_id} of the payment run approved {date} returned by the bank: {reason}."
HELD_BACK = (
    "The bank returned its last payment ({reason}, {date}): the vendor's bank account must be changed "
    "first, or add it to a run by hand once you have checked the account."
)
DISCREPANCY_TITLE = "{label} on invoice {invoice_number}"


def return_reason_text(code: str) -> str:
    """`"AC04"` → `"account closed (AC04)"`; an unknown code is shown as the bank gave it."""
    code = (code or "").strip().upper()
    if not code:
        return NO_REASON
    words = RETURN_REASONS.get(code)
    return f"{words} ({code})" if words else f"reason code {code}"


def run_payments_return(*, tenant: Tenant, actor: Actor) -> int:
    """Apply every credit that brings back a live transfer of an approved run; returns how many
    transfers were returned. Each in its own transaction: one that changed meanwhile (a clerk
    was faster) is left to the clerk and the others go on."""
    credits = list(
        Payment.objects.for_tenant(tenant)
        .filter(status=PaymentStatus.UNMATCHED, direction=PaymentDirection.CREDIT)
        .exclude(end_to_end_id="")
        .filter(
            end_to_end_id__in=PaymentRunItem.objects.for_tenant(tenant)
            .filter(is_live=True, run__status=PaymentRunStatus.APPROVED)
            .values("end_to_end_id")
        )
        .order_by("booking_date", "id")
    )
    returned = 0
    for credit in credits:
        try:
            # Events held to the end of the transaction: the services called here each append
            # theirs, and the audit lock is taken after every row lock (core.locks' order).
            with transaction.atomic(), audit_deferred():
                returned += _return_one(tenant=tenant, credit=credit, actor=actor)
        except DomainError as exc:
            logger.warning(
                "Returned transfer %s of tenant %s left to the clerk: %s", credit.end_to_end_id, tenant.pk, exc
            )
    return returned


def _return_one(*, tenant: Tenant, credit: Payment, actor: Actor) -> int:
    # Here, not at the top: payments.reconciliation.services calls this module (same app).
    from payments.reconciliation.services import allocation_reverse

    items = list(
        PaymentRunItem.objects.for_tenant(tenant)
        .select_for_update(no_key=True, of=("self",))
        .filter(is_live=True, run__status=PaymentRunStatus.APPROVED, end_to_end_id=credit.end_to_end_id)
        .select_related("run")
        .order_by("id")
    )
    # A return brings back at most what was sent (a bank may keep its fee), in the run's currency.
    if not items or credit.currency != items[0].run.currency or credit.amount > sum(i.amount for i in items):
        return 0
    run = items[0].run
    reason = return_reason_text(credit.return_reason)
    approved_on = run.approved_at.date().isoformat() if run.approved_at else "?"
    explanation = RETURNED_EXPLANATION.format(end_to_end_id=credit.end_to_end_id, date=approved_on, reason=reason)
    invoice_ids = [item.invoice_id for item in items]
    settled = PaymentAllocation.objects.for_tenant(tenant).filter(
        invoice_id__in=invoice_ids,
        kind=AllocationKind.PAYMENT,
        reversal_of__isnull=True,
        reversed_by__isnull=True,
        payment__direction=PaymentDirection.DEBIT,
        payment__end_to_end_id=credit.end_to_end_id,
    )
    debit_ids = set()
    for allocation in settled.order_by("id"):
        allocation_reverse(tenant=tenant, allocation=allocation, actor=actor, reason=explanation)
        debit_ids.add(allocation.payment_id)
    context = {
        "payment_run_id": str(run.pk),
        "end_to_end_id": credit.end_to_end_id,
        "return_reason": credit.return_reason,
        "returned_by_payment_id": str(credit.pk),
    }
    scheduled = Invoice.objects.for_tenant(tenant).filter(pk__in=invoice_ids, status=InvoiceStatus.PAYMENT_SCHEDULED)
    moves = [
        InvoiceMove(
            invoice_id=invoice_id,
            to_status=InvoiceStatus.APPROVED,
            expected_status=InvoiceStatus.PAYMENT_SCHEDULED,
            reason=explanation,
            context=context,
            payment_run=True,
        )
        for invoice_id in scheduled.values_list("id", flat=True)
    ]
    for result in invoice_transition_many(tenant=tenant, moves=moves, actor=actor):
        if not result.ok:
            assert result.error is not None
            raise result.error
    now = timezone.now()
    PaymentRunItem.objects.for_tenant(tenant).filter(pk__in=[item.pk for item in items]).update(
        is_live=False, returned_at=now, return_reason=credit.return_reason, return_payment=credit
    )
    # The debit and the credit cancel out: both are set aside, or the debit, unmatched again,
    # would pay the reopened invoices a second time in the engine's tiers.
    for payment in Payment.objects.for_tenant(tenant).filter(pk__in=[credit.pk, *debit_ids]).order_by("id"):
        payment_ignore(tenant=tenant, payment=payment, actor=actor, reason=explanation)
    _discrepancies_raise(tenant=tenant, invoice_ids=invoice_ids, reason=reason, actor=actor)
    # One event per invoice naming the bank's reason (a settled invoice's own move back was
    # written by allocation_reverse, which names the reversal only), and one for the run.
    audit_record_many(
        tenant=tenant,
        actor=actor,
        entries=[
            *(
                AuditEntry("invoice", str(item.invoice_id), "payment_returned", None, {**context, "reason": reason})
                for item in items
            ),
            AuditEntry(
                "payment_run",
                str(run.pk),
                "payment_run_transfer_returned",
                None,
                {**context, "reason": reason, "invoices": len(items), "amount": credit.amount},
            ),
        ],
    )
    return 1


def _discrepancies_raise(*, tenant: Tenant, invoice_ids: Sequence[uuid.UUID], reason: str, actor: Actor) -> None:
    """A `payment_returned` discrepancy on each invoice's latest match result, and the event the
    compliance ledger takes for a high one (DESIGN.md §7's payload, as matching.writer writes it)."""
    message = RETURNED_MESSAGE.format(reason=reason)
    invoices = list(
        Invoice.objects.for_tenant(tenant)
        .filter(pk__in=invoice_ids, latest_match__isnull=False)
        .select_related("vendor", "purchase_order", "latest_match")
        .order_by("id")
    )
    rows = Discrepancy.objects.bulk_create(
        [
            Discrepancy(
                tenant=tenant,
                match_result_id=invoice.latest_match_id,
                invoice=invoice,
                type=PAYMENT_RETURNED,
                severity=HIGH,
                message=message,
            )
            for invoice in invoices
        ]
    )
    events: list[tuple[str, dict[str, Any]]] = []
    for invoice, discrepancy in zip(invoices, rows, strict=True):
        assert invoice.latest_match is not None
        events.append(
            (
                "invoice.discrepancy.detected",
                {
                    "external_id": str(discrepancy.pk),
                    "source_system": "recon",
                    "discrepancy_type": PAYMENT_RETURNED,
                    "severity": HIGH,
                    "title": DISCREPANCY_TITLE.format(
                        label=DISCREPANCY_TYPE_LABELS[PAYMENT_RETURNED], invoice_number=invoice.invoice_number
                    ),
                    "description": message,
                    "amount_expected": None,
                    "amount_actual": None,
                    "currency": invoice.currency,
                    "metadata": {
                        "invoice_id": str(invoice.pk),
                        "invoice_number": invoice.invoice_number,
                        "vendor": invoice.vendor.name if invoice.vendor else invoice.vendor_name_raw,
                        "po_number": invoice.purchase_order.po_number if invoice.purchase_order else None,
                        "confidence": float(invoice.latest_match.confidence),
                    },
                },
            )
        )
    outbox_enqueue_many(tenant=tenant, events=events)


def returns_held_back(*, tenant: Tenant, candidates: list[Candidate], at: dt.datetime) -> list[Candidate]:
    """`candidates` with a reason on each whose last run payment the bank returned, unless the
    vendor's payable account was approved after that return (see the module's docstring)."""
    open_ids = [candidate.invoice_id for candidate in candidates if not candidate.reason]
    if not open_ids:
        return candidates
    last_return: dict[uuid.UUID, tuple[dt.datetime, str, uuid.UUID]] = {}
    for invoice_id, returned_at, code, vendor_id in (
        PaymentRunItem.objects.for_tenant(tenant)
        .filter(invoice_id__in=open_ids, returned_at__isnull=False)
        .order_by("returned_at")
        .values_list("invoice_id", "returned_at", "return_reason", "vendor_id")
    ):
        last_return[invoice_id] = (returned_at, code, vendor_id)
    if not last_return:
        return candidates
    by_vendor: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for invoice_id, (_, _, vendor_id) in last_return.items():
        by_vendor[vendor_id].append(invoice_id)
    payable = vendor_bank_accounts_payable(tenant=tenant, vendor_ids=by_vendor, at=at)
    held: dict[uuid.UUID, str] = {}
    for invoice_id, (returned_at, code, vendor_id) in last_return.items():
        account = payable[vendor_id].account if vendor_id in payable else None
        changed_since = account is not None and account.decided_at is not None and account.decided_at > returned_at
        if not changed_since:
            held[invoice_id] = HELD_BACK.format(
                reason=return_reason_text(code), date=timezone.localtime(returned_at).date().isoformat()
            )
    return [
        dataclasses.replace(candidate, reason=held[candidate.invoice_id]) if candidate.invoice_id in held else candidate
        for candidate in candidates
    ]
