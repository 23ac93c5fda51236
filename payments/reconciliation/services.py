"""Writes of reconciliation: runs over a tenant's payments, and a clerk's manual moves.

A run (`reconciliation_run_for_tenant`) takes the tenant's reconciliation lock (a second run
returns `skipped` at once), loads unmatched debit payments and open invoices in a fixed number
of queries (payments.reconciliation.loading), runs the pure engine, and writes in one
transaction:
- the allocations the engine is sure of, after re-checking every amount under row locks
  (`SELECT … FOR NO KEY UPDATE` on the invoices, then the payments, both in id order, so runs and
  clerks never deadlock); a payment whose invoices changed meanwhile is left for the next run;
- the invoices' moves approved → partially_paid → reconciled through `invoice_transition_many`
  (one audit event each, and `invoice.reconciled` in the outbox);
- each payment's status (matched / partially_matched / suggested / unmatched), one audit event
  per changed payment, and `payment.reconciled` in the outbox for each allocated payment;
- a `PaymentSuggestion` for each proposal below the tenant's auto-apply threshold.

Manual services (`allocation_split`, `allocation_accept_suggestion`, `allocation_reverse`) go
through the same checked write; `payment_ignore` / `payment_unignore` (payments.reconciliation.
setting_aside) set a payment aside (no allocation at all) and bring it back.
A clerk's match teaches the counterparty: its account hash (`CounterpartyAccount`) and its name
(`VendorAlias`) now identify the vendor at tier 2.

Every write of allocations goes through payments.reconciliation.writing.allocations_apply; the
database trigger of payments migration 0003 is the second line behind its checks.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import AuditEntry, audit_record_many, outbox_enqueue_many
from core import locks
from core.actors import Actor
from core.exceptions import DomainError
from core.tenancy.scoping import tenant_rows_update
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import Invoice, InvoiceStatus
from learning.models import ExampleKind
from learning.services import example_record
from payments.exceptions import AllocationConflict, AllocationInvalid, SuggestionStale
from payments.models import (
    AllocationKind,
    CounterpartyAccount,
    Payment,
    PaymentAllocation,
    PaymentStatus,
    PaymentSuggestion,
)
from payments.reconciliation.engine import reconcile_batch
from payments.reconciliation.loading import (
    PAYABLE_STATUSES,
    RECONCILABLE_PAYMENT_STATUSES,
    load_reconciliation,
    open_balances,
    paid_by_payment,
    reconcile_settings_for,
)
from payments.reconciliation.setting_aside import payment_ignore as payment_ignore
from payments.reconciliation.setting_aside import payment_unignore as payment_unignore
from payments.reconciliation.suggestions import suggestion_staleness, suggestions_store, suggestions_withdraw
from payments.reconciliation.tiers import write_off_limit
from payments.reconciliation.types import Proposal, ProposedAllocation
from payments.reconciliation.writing import (
    AMOUNT_NOT_POSITIVE,
    Application,
    allocations_apply,
    money_label,
    payment_status_for,
)
from payments.runs.returns import run_payments_return
from payments.runs.settlement import run_payments_settle
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_vendor_name

logger = logging.getLogger(__name__)


ALLOCATION_REVERSED_EVENT = "payment.allocation.reversed"

NO_PARTS = "Name at least one invoice and amount."
REPEATED_INVOICE = "Invoice {number} appears more than once; give one amount per invoice."
NO_SUGGESTION = "This payment has no suggestion to accept."
SUGGESTION_STALE = "The suggestion is out of date: {why} It was withdrawn; allocate the payment by hand."
SUGGESTION_EMPTY = "The suggestion names no allocation (several invoices fit); allocate the payment by hand."
ALREADY_REVERSED = "The allocation to invoice {number} was already reversed."
IS_A_REVERSAL = "This entry on invoice {number} is itself a reversal; it cannot be reversed."
MANUAL_EXPLANATION = "Allocated by hand."
WRITE_OFF_WITHOUT_PART = "Only an invoice the payment pays part of can have the rest written off."
NOTHING_TO_WRITE_OFF = "Invoice {number} is paid in full by its part; there is nothing left to write off."
WRITE_OFF_TOO_LARGE = (
    "Writing off {difference} on invoice {number} exceeds the write-off limit ({limit}); leave it open instead."
)
REVERSAL_EXPLANATION = "Reversal of the allocation to invoice {number}."
REVERSED_REASON = "An allocation from the payment booked {booked} was reversed: {balance} open again."


@dataclass
class ReconciliationReport:
    """What one run did (the API's and the command's answer)."""

    status: str  # "finished" | "skipped"
    payments_considered: int = 0
    payments_matched: int = 0
    payments_partially_matched: int = 0
    payments_suggested: int = 0
    payments_unmatched: int = 0
    allocations_created: int = 0
    invoices_reconciled: int = 0
    invoices_partially_paid: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    duration_ms: int = 0

    def as_response(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _application(proposal: Proposal) -> Application:
    return Application(
        payment_id=proposal.payment_id,
        allocations=proposal.allocations,
        tier=proposal.tier,
        confidence=proposal.confidence,
        explanation=proposal.reason,
    )


def reconciliation_run_for_tenant(*, tenant: Tenant, actor: Actor, limit: int | None = None) -> ReconciliationReport:
    """Reconcile the tenant's unmatched debit payments (least recently considered first, at most `limit`).

    Returns `skipped` at once when another run of the tenant holds the lock. Safe to run twice:
    what the first run allocated is no longer unmatched, and suggestions are replaced.
    """
    started = time.perf_counter()
    # A session lock, like matching's: a run reads, computes and writes in separate steps.
    if not locks.tenant_lock_try(locks.RECONCILIATION, tenant.pk):
        return ReconciliationReport(status="skipped")
    try:
        settled = run_payments_settle(tenant=tenant, actor=actor)  # tier 0: a payment run's EndToEndId
        run_payments_return(tenant=tenant, actor=actor)  # and a run's transfer the bank sent back
        loaded = load_reconciliation(tenant=tenant, limit=limit or settings.RECONCILE_MAX_PAYMENTS_PER_RUN)
        results = reconcile_batch(loaded.payments, loaded.invoices, loaded.vendors, loaded.settings)
        report = ReconciliationReport(status="finished", payments_considered=len(results))
        auto = [_application(proposal) for _, proposal in results if proposal is not None and proposal.auto_apply]
        suggested = [proposal for _, proposal in results if proposal is not None and not proposal.auto_apply]
        unanswered = [payment.id for payment, proposal in results if proposal is None]
        considered_at = timezone.now()
        # One pipeline for the run's whole write (see allocations_apply): a statement waits only
        # where its rows are read.
        with transaction.atomic(), connection.pipelined():  # type: ignore[attr-defined]  # core.tenancy.db_backend's
            applied = allocations_apply(
                tenant=tenant,
                applications=auto,
                actor=actor,
                allowed_statuses=RECONCILABLE_PAYMENT_STATUSES,
                considered_at=considered_at,
            )
            # Considered now, whatever the outcome: the next run starts with the ones after them.
            # The allocated ones were stamped with their new status, in the same UPDATE. After
            # the allocations, so the run locks invoices before payments, as a clerk's write does.
            tenant_rows_update(
                tenant=tenant,
                model=Payment,
                fields=(),
                rows=[(payment.id,) for payment in loaded.payments if payment.id not in applied.statuses],
                set_all={"reconcile_considered_at": considered_at},
            )
            # A payment refused under the locks (a clerk was faster) keeps what it has.
            suggestions_store(tenant=tenant, suggested=suggested, unanswered=unanswered, actor=actor)
        statuses = list(applied.statuses.values())
        report.payments_matched = statuses.count(PaymentStatus.MATCHED) + settled
        report.payments_partially_matched = statuses.count(PaymentStatus.PARTIALLY_MATCHED)
        report.payments_suggested = len(suggested)
        report.payments_unmatched = len(unanswered) + len(applied.refused)
        report.allocations_created = sum(len(rows) for rows in applied.allocations.values())
        moves = list(applied.invoice_moves.values())
        report.invoices_reconciled = moves.count(InvoiceStatus.RECONCILED)
        report.invoices_partially_paid = moves.count(InvoiceStatus.PARTIALLY_PAID)
        report.failures = [
            {"payment_id": str(payment_id), "error": error.message} for payment_id, error in applied.refused.items()
        ]
    finally:
        locks.tenant_unlock(locks.RECONCILIATION, tenant.pk)
    report.duration_ms = round((time.perf_counter() - started) * 1000)
    logger.info(
        "Reconciliation of tenant %s: %s payments, %s matched, %s suggested, %s ms",
        tenant.pk,
        report.payments_considered,
        report.payments_matched,
        report.payments_suggested,
        report.duration_ms,
    )
    return report


def _learn_counterparty(*, tenant: Tenant, payment: Payment, vendor_ids: set[uuid.UUID | None], actor: Actor) -> None:
    """Remember who was paid: the account (by its keyed hash) and the name now mean this vendor.

    Only when every allocated invoice has the same vendor. The account is upserted (a later
    clerk's decision wins over an earlier one); the name becomes an alias only when no vendor
    goes by it yet (an alias names one vendor: vendors.VendorAlias is unique per tenant).
    """
    if len(vendor_ids) != 1 or None in vendor_ids:
        return
    [vendor_id] = vendor_ids
    assert vendor_id is not None
    entries = []
    if payment.counterparty_account_hash:
        current = (
            CounterpartyAccount.objects.for_tenant(tenant)
            .filter(account_hash=payment.counterparty_account_hash)
            .values_list("vendor_id", flat=True)
            .first()
        )
        if current != vendor_id:
            CounterpartyAccount.objects.bulk_create(
                [
                    CounterpartyAccount(
                        tenant=tenant,
                        account_hash=payment.counterparty_account_hash,
                        vendor_id=vendor_id,
                        learned_from=payment,
                    )
                ],
                update_conflicts=True,
                unique_fields=["tenant", "account_hash"],
                update_fields=["vendor", "learned_from", "updated_at"],
            )
            entries.append(
                AuditEntry(
                    "counterparty_account",
                    payment.counterparty_account_hash,
                    "learned",
                    {"vendor_id": current} if current else None,
                    {"vendor_id": vendor_id, "payment_id": payment.pk},
                )
            )
    name = normalize_vendor_name(payment.counterparty_name)
    if name:
        # Already a vendor's own name, or an alias: the name identifies a vendor as it is.
        taken = (
            Vendor.objects.for_tenant(tenant).filter(normalized_name=name).exists()
            or VendorAlias.objects.for_tenant(tenant).filter(kind=VendorAliasKind.NAME, normalized_alias=name).exists()
        )
        if not taken:
            created = VendorAlias.objects.bulk_create(
                [
                    VendorAlias(
                        tenant=tenant,
                        vendor_id=vendor_id,
                        alias=payment.counterparty_name.strip()[:255],
                        normalized_alias=name,
                    )
                ],
                ignore_conflicts=True,
            )
            if created:
                entries.append(
                    AuditEntry(
                        "vendor",
                        str(vendor_id),
                        "alias_added",
                        None,
                        {
                            "alias": payment.counterparty_name.strip(),
                            "normalized_alias": name,
                            "payment_id": payment.pk,
                        },
                    )
                )
    audit_record_many(tenant=tenant, actor=actor, entries=entries)


def _apply_one(
    *, tenant: Tenant, application: Application, actor: Actor, allowed: Collection[str]
) -> list[PaymentAllocation]:
    applied = allocations_apply(tenant=tenant, applications=[application], actor=actor, allowed_statuses=allowed)
    if application.payment_id in applied.refused:
        raise applied.refused[application.payment_id]
    payment = Payment.objects.for_tenant(tenant).get(pk=application.payment_id)
    _learn_counterparty(tenant=tenant, payment=payment, vendor_ids=applied.vendors[payment.pk], actor=actor)
    # The clerk's allocation as data (issue #20): which invoices, and the engine's proposal if any.
    vendor_ids = applied.vendors[payment.pk]
    example_record(
        tenant=tenant,
        actor=actor,
        kind=ExampleKind.PAYMENT_ALLOCATION,
        vendor_id=next(iter(vendor_ids)) if len(vendor_ids) == 1 else None,
        payment_id=payment.pk,
        comment=application.explanation,
        details={
            "suggested_tier": application.tier,
            "allocations": [
                {"invoice_id": str(item.invoice_id), "amount": item.amount, "kind": item.kind}
                for item in application.allocations
            ],
            "counterparty_name": payment.counterparty_name,
        },
    )
    return applied.allocations[payment.pk]


_MANUAL_STATUSES = (PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED, PaymentStatus.PARTIALLY_MATCHED)


def allocation_split(
    *,
    tenant: Tenant,
    payment: Payment,
    parts: Sequence[tuple[Invoice, int]],
    actor: Actor,
    note: str = "",
    write_off_rest: Collection[uuid.UUID] = (),
    discounts: Mapping[uuid.UUID, int] | None = None,
) -> list[PaymentAllocation]:
    """A clerk's allocation of a payment to one or more invoices, amounts in minor units.

    Checked like a run's (same currency, payable invoices, never more than the open balance or
    what is left of the payment) under the same row locks; all or nothing. Teaches the
    counterparty when every invoice belongs to one vendor. For the invoices named in
    `write_off_rest` the difference between their open balance and the amount paid is written
    off in the same step (a `write_off` allocation, as reconciliation tier 4 writes one), which
    settles them; only within the tenant's write-off limit (`write_off_limit`: an amount per
    currency and a share of the open balance), measured under the invoices' row locks.
    `discounts` (invoice id → minor units) are early-payment discounts a payment run took
    (payments.runs.settlement): written off as agreed with the invoice's terms, whatever the limit,
    and never past the open balance (checked with the rest under the locks).
    """
    if not parts:
        raise AllocationInvalid(NO_PARTS, details={"allocations": [NO_PARTS]})
    seen: set[uuid.UUID] = set()
    for invoice, amount in parts:
        if amount <= 0:
            raise AllocationInvalid(AMOUNT_NOT_POSITIVE, details={"amount": [AMOUNT_NOT_POSITIVE]})
        if invoice.pk in seen:
            message = REPEATED_INVOICE.format(number=invoice.invoice_number)
            raise AllocationInvalid(message, details={"invoice_id": [message]})
        seen.add(invoice.pk)
    with transaction.atomic():
        allocations = [ProposedAllocation(invoice.pk, amount, AllocationKind.PAYMENT) for invoice, amount in parts]
        allocations += [
            ProposedAllocation(invoice_id, amount, AllocationKind.WRITE_OFF)
            for invoice_id, amount in sorted((discounts or {}).items())
            if amount > 0
        ]
        if write_off_rest:
            allocations += _write_offs(tenant=tenant, payment=payment, parts=parts, write_off_rest=write_off_rest)
        application = Application(
            payment_id=payment.pk,
            allocations=tuple(allocations),
            tier=None,
            confidence=None,
            explanation=note.strip() or MANUAL_EXPLANATION,
        )
        written = _apply_one(tenant=tenant, application=application, actor=actor, allowed=_MANUAL_STATUSES)
    payment.refresh_from_db(fields=["status"])
    return written


def _write_offs(
    *, tenant: Tenant, payment: Payment, parts: Sequence[tuple[Invoice, int]], write_off_rest: Collection[uuid.UUID]
) -> list[ProposedAllocation]:
    """The write-off of what each of these invoices keeps open after its part, within the limit.

    Locks the invoices first (in id order, as allocations_apply does next in the same
    transaction), so the balance measured is the one the allocations are checked against.
    """
    paid = {invoice.pk: amount for invoice, amount in parts}
    unknown = set(write_off_rest) - set(paid)
    if unknown:
        raise AllocationInvalid(WRITE_OFF_WITHOUT_PART, details={"write_off": [WRITE_OFF_WITHOUT_PART]})
    invoices = list(
        Invoice.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(pk__in=sorted(write_off_rest))
        .order_by("pk")
        .only("id", "tenant_id", "amount_due", "currency", "invoice_number")
    )
    balances = open_balances(tenant=tenant, invoices=invoices)
    settings_ = reconcile_settings_for(tenant, currencies=[payment.currency])
    write_offs = []
    for invoice in invoices:
        difference = balances[invoice.pk] - paid[invoice.pk]
        if difference <= 0:
            message = NOTHING_TO_WRITE_OFF.format(number=invoice.invoice_number)
            raise AllocationInvalid(message, details={"write_off": [message]})
        limit = write_off_limit(balances[invoice.pk], payment.currency, settings_)
        if difference > limit:
            message = WRITE_OFF_TOO_LARGE.format(
                difference=money_label(difference, payment.currency),
                number=invoice.invoice_number,
                limit=money_label(limit, payment.currency),
            )
            raise AllocationInvalid(message, details={"write_off": [message]})
        write_offs.append(ProposedAllocation(invoice.pk, difference, AllocationKind.WRITE_OFF))
    return write_offs


def allocation_accept_suggestion(*, tenant: Tenant, payment: Payment, actor: Actor) -> list[PaymentAllocation]:
    """A clerk confirms the engine's suggestion for the payment as it stands; teaches the counterparty.

    Re-checked against the current balances, before and under the row locks: a suggestion whose
    invoices were paid (or voided, or whose payment was allocated) meanwhile is withdrawn
    (payments.reconciliation.suggestions) and the acceptance refused with `SuggestionStale`
    (409) saying why; nothing is allocated.
    """
    suggestion = (
        PaymentSuggestion.objects.for_tenant(tenant).filter(payment_id=payment.pk).select_related("payment").first()
    )
    if suggestion is None:
        raise AllocationConflict(NO_SUGGESTION)
    _refuse_if_stale(tenant=tenant, suggestion=suggestion, actor=actor)
    if not suggestion.allocations:
        raise AllocationConflict(SUGGESTION_EMPTY)
    application = Application(
        payment_id=payment.pk,
        allocations=tuple(
            ProposedAllocation(uuid.UUID(item["invoice_id"]), int(item["amount"]), item["kind"])
            for item in suggestion.allocations
        ),
        tier=suggestion.tier,
        confidence=suggestion.confidence,
        explanation=suggestion.reason,
    )
    try:
        with transaction.atomic():
            allocations = _apply_one(
                tenant=tenant, application=application, actor=actor, allowed=RECONCILABLE_PAYMENT_STATUSES
            )
    except DomainError:
        # Refused under the locks: something changed between the check above and the locks.
        suggestion.payment.refresh_from_db(fields=["status"])
        _refuse_if_stale(tenant=tenant, suggestion=suggestion, actor=actor)
        raise
    payment.refresh_from_db(fields=["status"])
    return allocations


def _refuse_if_stale(*, tenant: Tenant, suggestion: PaymentSuggestion, actor: Actor) -> None:
    stale = suggestion_staleness(tenant=tenant, suggestions=[suggestion])
    if suggestion.payment_id in stale:
        suggestions_withdraw(tenant=tenant, suggestions=[suggestion], reasons=stale, actor=actor)
        why = stale[suggestion.payment_id]
        raise SuggestionStale(SUGGESTION_STALE.format(why=why[:1].upper() + why[1:]), details={"reason": why})


def allocation_reverse(
    *, tenant: Tenant, allocation: PaymentAllocation, actor: Actor, reason: str = ""
) -> list[PaymentAllocation]:
    """Cancel an allocation with a reversing entry (never an edit or a delete).

    Reversing a payment allocation also reverses the write-off written with it (same payment
    and invoice): a write-off stands only beside the payment it completed. The invoice's open
    balance grows back and its status follows (reconciled → partially_paid or approved,
    partially_paid → approved); the payment becomes partially_matched or unmatched.
    """
    with transaction.atomic():
        invoice = (
            Invoice.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .only("id", "tenant_id", "status", "review_queue", "amount_due", "currency", "invoice_number")
            .get(pk=allocation.invoice_id)
        )
        payment = Payment.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=allocation.payment_id)
        original = PaymentAllocation.objects.for_tenant(tenant).get(pk=allocation.pk)
        if original.reversal_of_id is not None:
            raise AllocationConflict(IS_A_REVERSAL.format(number=invoice.invoice_number))
        live = PaymentAllocation.objects.for_tenant(tenant).filter(
            payment=payment, invoice=invoice, reversal_of__isnull=True, reversed_by__isnull=True
        )
        if not live.filter(pk=original.pk).exists():
            raise AllocationConflict(ALREADY_REVERSED.format(number=invoice.invoice_number))
        targets = [original]
        if original.kind == AllocationKind.PAYMENT:
            targets += list(live.filter(kind=AllocationKind.WRITE_OFF).exclude(pk=original.pk))
        explanation = reason.strip() or REVERSAL_EXPLANATION.format(number=invoice.invoice_number)
        reversals = PaymentAllocation.objects.bulk_create(
            [
                PaymentAllocation(
                    tenant=tenant,
                    payment=payment,
                    invoice=invoice,
                    amount=target.amount,
                    currency=target.currency,
                    kind=target.kind,
                    explanation=explanation,
                    made_by_kind=actor.kind,
                    made_by_id=str(actor.id)[:64],
                    reversal_of=target,
                )
                for target in targets
            ]
        )
        balance = open_balances(tenant=tenant, invoices=[invoice])[invoice.pk]
        still_allocated = (
            PaymentAllocation.objects.for_tenant(tenant)
            .filter(invoice=invoice, reversal_of__isnull=True, reversed_by__isnull=True)
            .exists()
        )
        target_status = InvoiceStatus.PARTIALLY_PAID if still_allocated and balance > 0 else InvoiceStatus.APPROVED
        if balance <= 0:
            target_status = InvoiceStatus.RECONCILED
        # A voided invoice stays void: the reversal only gives the money back to the payment.
        if invoice.status in (*PAYABLE_STATUSES, InvoiceStatus.RECONCILED) and target_status != invoice.status:
            [result] = invoice_transition_many(
                tenant=tenant,
                moves=[
                    InvoiceMove(
                        invoice_id=invoice.pk,
                        to_status=target_status,
                        reason=REVERSED_REASON.format(
                            booked=payment.booking_date.isoformat(), balance=money_label(balance, invoice.currency)
                        ),
                        expected_status=invoice.status,
                        context={"allocation_id": original.pk, "open_balance": balance},
                        payment_reversal=True,
                    )
                ],
                actor=actor,
            )
            if not result.ok:
                assert result.error is not None
                raise result.error
        paid = paid_by_payment(tenant=tenant, payment_ids=[payment.pk]).get(payment.pk, 0)
        before = payment.status
        payment.status = payment_status_for(payment, paid)
        Payment.objects.for_tenant(tenant).filter(pk=payment.pk).update(status=payment.status)
        reversed_rows = [
            {"allocation_id": target.pk, "reversal_id": row.pk, "amount": row.amount, "kind": row.kind}
            for target, row in zip(targets, reversals, strict=True)
        ]
        audit_record_many(
            tenant=tenant,
            actor=actor,
            entries=[
                AuditEntry(
                    "payment",
                    str(payment.pk),
                    "allocation_reversed",
                    {"status": before},
                    {
                        "status": payment.status,
                        "invoice_id": invoice.pk,
                        "reversed": reversed_rows,
                        "reason": explanation,
                    },
                )
            ],
        )
        outbox_enqueue_many(
            tenant=tenant,
            events=[
                (
                    ALLOCATION_REVERSED_EVENT,
                    {
                        "payment_id": payment.pk,
                        "invoice_id": invoice.pk,
                        "status": payment.status,
                        "reversed": reversed_rows,
                        "actor": {"kind": actor.kind, "id": actor.id},
                    },
                )
            ],
        )
    return reversals
