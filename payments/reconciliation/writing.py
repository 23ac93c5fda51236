"""The checked write of allocations: every path (a run, a split, an accepted suggestion) ends here.

`allocations_apply` locks the invoices, then the payments (each in id order, so a run and a
clerk never deadlock), re-computes open balances under those locks, refuses what no longer
fits, and writes the rest in bulk with the invoices' moves, the payments' status, and their
audit and outbox events, inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from audit.services import AuditEntry, audit_record_many, outbox_enqueue_many
from core.actors import Actor
from core.exceptions import DomainError, NotFoundError
from core.money import format_minor
from core.tenancy.scoping import tenant_rows_insert, tenant_rows_update
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.exceptions import AllocationConflict, AllocationInvalid
from payments.models import (
    AllocationKind,
    Payment,
    PaymentAllocation,
    PaymentDirection,
    PaymentStatus,
    PaymentSuggestion,
)
from payments.reconciliation.loading import PAYABLE_STATUSES, among, open_balances, paid_by_payment
from payments.reconciliation.types import ProposedAllocation
from tenants.models import Tenant

PAYMENT_RECONCILED_EVENT = "payment.reconciled"

PAYMENT_NOT_FOUND = "No payment with this id."
INVOICE_NOT_FOUND = "No invoice with id {invoice_id}."
NOT_A_DEBIT = "Only a debit (money paid out) can be allocated to vendor invoices."
PAYMENT_NOT_ALLOCATABLE = "Payment {payment_id} is {status}; it cannot be allocated now."
NOT_AN_INVOICE = "{number} is a credit note; payments are allocated to invoices."
INVOICE_NOT_PAYABLE = "Invoice {number} is {status}; only approved or partially paid invoices take payments."
CURRENCY_DIFFERS = "Invoice {number} is in {invoice_currency}, the payment in {payment_currency}."
EXCEEDS_INVOICE = "{amount} exceeds the open balance of invoice {number} ({balance})."
EXCEEDS_PAYMENT = "The allocations ({amount}) exceed what is left of the payment ({remaining})."
AMOUNT_NOT_POSITIVE = "Every amount must be greater than zero."
PAID_REASON = "Payment {payment_ids}: {balance} still open."


@dataclass(frozen=True)
class Application:
    """Allocations to write for one payment, with where they came from."""

    payment_id: uuid.UUID
    allocations: tuple[ProposedAllocation, ...]
    tier: int | None
    confidence: Decimal | None
    explanation: str


@dataclass(frozen=True)
class LockedPayment:
    """A payment as `allocations_apply` reads it under its row lock: what the checks and the
    events need, as values (a model instance per payment cost more than the read)."""

    pk: uuid.UUID
    direction: str
    status: str
    amount: int
    currency: str


@dataclass
class Applied:
    allocations: dict[uuid.UUID, list[PaymentAllocation]] = field(default_factory=dict)
    refused: dict[uuid.UUID, DomainError] = field(default_factory=dict)
    statuses: dict[uuid.UUID, str] = field(default_factory=dict)
    invoice_moves: dict[uuid.UUID, str] = field(default_factory=dict)
    vendors: dict[uuid.UUID, set[uuid.UUID | None]] = field(default_factory=dict)


def money_label(amount: int, currency: str) -> str:
    return f"{format_minor(amount, currency)} {currency}"


def payment_status_for(payment: Payment | LockedPayment, paid: int) -> str:
    if paid <= 0:
        return PaymentStatus.UNMATCHED
    return PaymentStatus.MATCHED if paid >= payment.amount else PaymentStatus.PARTIALLY_MATCHED


def _check(
    *,
    application: Application,
    payment: LockedPayment | None,
    invoices: dict[uuid.UUID, Invoice],
    balances: dict[uuid.UUID, int],
    paid: dict[uuid.UUID, int],
    allowed_statuses: Collection[str],
) -> DomainError | None:
    """Why this application cannot be written now, or None (balances read under the row locks)."""
    if payment is None:
        return NotFoundError(PAYMENT_NOT_FOUND, details={"payment_id": str(application.payment_id)})
    if payment.direction != PaymentDirection.DEBIT:
        return AllocationConflict(NOT_A_DEBIT)
    if payment.status not in allowed_statuses:
        return AllocationConflict(PAYMENT_NOT_ALLOCATABLE.format(payment_id=payment.pk, status=payment.status))
    # This application's invoices only: a copy of every locked invoice's balance per application
    # made a run of 10,000 payments quadratic (bench_reconcile).
    remaining = {
        allocation.invoice_id: balances.get(allocation.invoice_id, 0) for allocation in application.allocations
    }
    for allocation in application.allocations:
        invoice = invoices.get(allocation.invoice_id)
        if invoice is None:
            return NotFoundError(INVOICE_NOT_FOUND.format(invoice_id=allocation.invoice_id))
        if allocation.amount <= 0:
            return AllocationInvalid(AMOUNT_NOT_POSITIVE)
        if invoice.document_type != DocumentType.INVOICE:
            return AllocationConflict(NOT_AN_INVOICE.format(number=invoice.invoice_number))
        if invoice.status not in PAYABLE_STATUSES:
            return AllocationConflict(INVOICE_NOT_PAYABLE.format(number=invoice.invoice_number, status=invoice.status))
        if invoice.currency != payment.currency:
            return AllocationInvalid(
                CURRENCY_DIFFERS.format(
                    number=invoice.invoice_number,
                    invoice_currency=invoice.currency,
                    payment_currency=payment.currency,
                )
            )
        if allocation.amount > remaining[invoice.pk]:
            return AllocationConflict(
                EXCEEDS_INVOICE.format(
                    amount=money_label(allocation.amount, payment.currency),
                    number=invoice.invoice_number,
                    balance=money_label(max(remaining[invoice.pk], 0), payment.currency),
                )
            )
        remaining[invoice.pk] -= allocation.amount
    money = sum(
        allocation.amount for allocation in application.allocations if allocation.kind == AllocationKind.PAYMENT
    )
    left = payment.amount - paid.get(payment.pk, 0)
    if money > left:
        return AllocationConflict(
            EXCEEDS_PAYMENT.format(
                amount=money_label(money, payment.currency), remaining=money_label(left, payment.currency)
            )
        )
    return None


def allocations_apply(
    *,
    tenant: Tenant,
    applications: Sequence[Application],
    actor: Actor,
    allowed_statuses: Collection[str],
    considered_at: dt.datetime | None = None,
) -> Applied:
    """Check and write allocations for several payments, inside the caller's transaction.

    Locks the invoices, then the payments (each in id order), re-computes balances under those
    locks, refuses an application that no longer fits (reported in `refused`, nothing written
    for that payment), writes the rest in bulk, moves the invoices, sets the payments' status,
    drops their suggestions, and writes audit and outbox events.

    Set-based, as matching's write (matching.writer): a fixed number of statements whatever the
    number of payments, each table's rows as one parameter, and pipelined
    (`connection.pipelined()`): the reads under the locks wait for their rows, the writes are
    sent without waiting, so PostgreSQL inserts and updates while Python builds the next rows.
    A database error (the allocation trigger, the second line behind `_check`) surfaces at the
    end of the block and rolls back the caller's transaction, as it did unpipelined.

    `considered_at` (a run's): set as the allocated payments' `reconcile_considered_at` with
    their status, in the same UPDATE (one new version of each payment row, not two).
    """
    applied = Applied()
    if not applications:
        return applied
    with connection.pipelined():  # type: ignore[attr-defined]  # core.tenancy.db_backend's
        _apply(
            tenant=tenant,
            applications=applications,
            actor=actor,
            allowed_statuses=allowed_statuses,
            considered_at=considered_at,
            applied=applied,
        )
    return applied


def _apply(
    *,
    tenant: Tenant,
    applications: Sequence[Application],
    actor: Actor,
    allowed_statuses: Collection[str],
    considered_at: dt.datetime | None,
    applied: Applied,
) -> None:
    invoice_ids = sorted({allocation.invoice_id for app in applications for allocation in app.allocations})
    payment_ids = sorted({app.payment_id for app in applications})
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(pk__in=among(invoice_ids))
        .order_by("pk")
        .only(
            "id",
            "tenant_id",
            "status",
            "review_queue",
            "amount_due",
            "currency",
            "document_type",
            "invoice_number",
            "vendor_id",
        )
    }
    payments = {
        row["id"]: LockedPayment(
            pk=row["id"],
            direction=row["direction"],
            status=row["status"],
            amount=row["amount"],
            currency=row["currency"],
        )
        for row in Payment.objects.for_tenant(tenant)
        .select_for_update(no_key=True)
        .filter(pk__in=among(payment_ids))
        .order_by("pk")
        .values("id", "direction", "status", "amount", "currency")
    }
    balances = open_balances(tenant=tenant, invoices=list(invoices.values()))
    paid = paid_by_payment(tenant=tenant, payment_ids=payment_ids)
    rows: list[PaymentAllocation] = []
    for application in applications:
        payment = payments.get(application.payment_id)
        problem = _check(
            application=application,
            payment=payment,
            invoices=invoices,
            balances=balances,
            paid=paid,
            allowed_statuses=allowed_statuses,
        )
        if problem is not None:
            applied.refused[application.payment_id] = problem
            continue
        assert payment is not None
        written = [
            PaymentAllocation(
                tenant_id=tenant.pk,
                payment_id=payment.pk,
                invoice_id=allocation.invoice_id,
                amount=allocation.amount,
                currency=payment.currency,
                kind=allocation.kind,
                tier=application.tier,
                confidence=application.confidence,
                explanation=application.explanation,
                made_by_kind=actor.kind,
                made_by_id=str(actor.id)[:64],
            )
            for allocation in application.allocations
        ]
        for allocation in application.allocations:
            balances[allocation.invoice_id] -= allocation.amount
            if allocation.kind == AllocationKind.PAYMENT:
                paid[payment.pk] = paid.get(payment.pk, 0) + allocation.amount
        rows += written
        applied.allocations[payment.pk] = written
        applied.vendors[payment.pk] = {
            invoices[allocation.invoice_id].vendor_id for allocation in application.allocations
        }
    if not rows:
        return
    # From here on every statement is sent while Python builds the next: the reads above were the
    # write's last wait, but for the moves' compare-and-set count (checked after their events).
    moves = _invoice_moves(rows=rows, invoices=invoices, balances=balances, applied=applied)
    # The invoices locked and read above: the moves need not lock and read them again.
    for result in invoice_transition_many(tenant=tenant, moves=moves, actor=actor, locked=invoices):
        if not result.ok:
            assert result.error is not None
            raise result.error  # the rows are locked: only a bug gets here; roll everything back
    tenant_rows_insert(tenant=tenant, rows=rows)

    entries, events = [], []
    for payment_id, written in applied.allocations.items():
        payment = payments[payment_id]
        status = payment_status_for(payment, paid.get(payment_id, 0))
        applied.statuses[payment_id] = status
        # Plain JSON values already (ids and the confidence as the audit log stores them), so
        # the audit append need not round-trip each event through the JSON encoder.
        allocations = [
            {"allocation_id": str(row.pk), "invoice_id": str(row.invoice_id), "amount": row.amount, "kind": row.kind}
            for row in written
        ]
        first = written[0]
        confidence = None if first.confidence is None else str(first.confidence)
        entries.append(
            AuditEntry(
                "payment",
                str(payment_id),
                "allocated",
                {"status": payment.status},
                {
                    "status": status,
                    "tier": first.tier,
                    "confidence": confidence,
                    "explanation": first.explanation,
                    "allocations": allocations,
                },
            )
        )
        events.append(
            (
                PAYMENT_RECONCILED_EVENT,
                {
                    "payment_id": str(payment_id),
                    "status": status,
                    "amount": payment.amount,
                    "currency": payment.currency,
                    "tier": first.tier,
                    "confidence": confidence,
                    "allocations": allocations,
                    "actor": {"kind": actor.kind, "id": actor.id},
                },
            )
        )
    tenant_rows_update(
        tenant=tenant,
        model=Payment,
        fields=("status",),
        rows=[(payment_id, status) for payment_id, status in applied.statuses.items()],
        set_all={"reconcile_considered_at": considered_at} if considered_at else None,
    )
    PaymentSuggestion.objects.for_tenant(tenant).filter(payment_id__in=among(list(applied.allocations))).delete()
    audit_record_many(tenant=tenant, actor=actor, entries=entries)
    outbox_enqueue_many(tenant=tenant, events=events)


def _invoice_moves(
    *,
    rows: Sequence[PaymentAllocation],
    invoices: dict[uuid.UUID, Invoice],
    balances: dict[uuid.UUID, int],
    applied: Applied,
) -> list[InvoiceMove]:
    """approved → partially_paid → reconciled for the invoices these allocations pay."""
    paid_with: dict[uuid.UUID, list[str]] = {}
    for row in rows:
        paid_with.setdefault(row.invoice_id, []).append(str(row.payment_id))
    moves = []
    for invoice_id, payers in paid_with.items():
        invoice = invoices[invoice_id]
        target = InvoiceStatus.RECONCILED if balances[invoice_id] <= 0 else InvoiceStatus.PARTIALLY_PAID
        if target != invoice.status:
            payer_list = sorted(set(payers))
            moves.append(
                InvoiceMove(
                    invoice_id=invoice_id,
                    to_status=target,
                    reason=PAID_REASON.format(
                        payment_ids=", ".join(payer_list),
                        balance=money_label(balances[invoice_id], invoice.currency),
                    ),
                    expected_status=invoice.status,
                    context={"payment_ids": payer_list, "open_balance": balances[invoice_id]},
                )
            )
            applied.invoice_moves[invoice_id] = target
    return moves
