"""The invoice lifecycle of DESIGN.md §4: the table of moves and the one function that makes them.

| from           | to                                                   | by                               |
|----------------|------------------------------------------------------|----------------------------------|
| draft          | received, void                                       | a clerk submits or discards it   |
| received       | approved, pending_review, on_hold, rejected          | the matching decision            |
| on_hold        | received (re-match)                                  | a receipt, or "Re-match"         |
| on_hold        | pending_review (escalated)                           | no receipt after HOLD_MAX_DAYS   |
| pending_review | approved, rejected, disputed, pending_review (escalated) | a reviewer                   |
| disputed       | pending_review, rejected, void                       | dispute resolved                 |
| approved       | partially_paid, reconciled                           | payment allocations              |
| approved       | payment_scheduled                                    | a payment run including it approved |
| payment_scheduled | approved                                          | its run cancelled (RUN_ONLY)     |
| payment_scheduled | partially_paid, reconciled                        | payment allocations (the statement) |
| partially_paid | reconciled                                           | payment allocations              |
| partially_paid | approved                                             | its allocations reversed         |
| reconciled     | partially_paid, approved                             | an allocation reversed           |
| any non-final  | void                                                 | full credit note, administrator  |
| pending_review | received (re-match)                                  | its facts changed, or "Re-match" |
| disputed       | received (re-match)                                  | a dispute ending in a re-match   |

The moves back to `received` are re-matches only (`REMATCH_ONLY`: matching.rematch and
matching.holds), made when the facts an invoice was matched against changed (a goods receipt,
a tolerance) or someone asked for it; a reviewer's decision cannot make them. matching.rematch
leaves an invoice in dispute alone while its dispute is open (review.disputes ends it).
`rejected` and `void` are final. `reconciled` is closed for everything but a reversal of a
payment allocation (not voidable: a paid invoice is corrected by a credit note and a refund).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from audit.services import NOT_IN_TRANSACTION, AuditEntry, audit_record_many, outbox_enqueue_many
from core.actors import Actor
from core.exceptions import DocumentInvalid, DomainError, NotFoundError
from core.state_machine import IllegalTransition, StaleState, StateMachine
from core.tenancy.scoping import id_array, tenant_rows_update
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.models import Tenant

S = InvoiceStatus

INVOICE_LIFECYCLE = StateMachine(
    entity="Invoice",
    moves={
        # Submitting a draft (invoices.services.invoice_create with `draft=`) or discarding it.
        S.DRAFT: frozenset({S.RECEIVED, S.VOID}),
        S.RECEIVED: frozenset({S.APPROVED, S.PENDING_REVIEW, S.ON_HOLD, S.REJECTED, S.VOID}),
        S.ON_HOLD: frozenset({S.RECEIVED, S.PENDING_REVIEW, S.VOID}),
        # → received: a re-match (REMATCH_ONLY).
        S.PENDING_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.DISPUTED, S.PENDING_REVIEW, S.RECEIVED, S.VOID}),
        S.DISPUTED: frozenset({S.PENDING_REVIEW, S.REJECTED, S.RECEIVED, S.VOID}),
        S.APPROVED: frozenset({S.PARTIALLY_PAID, S.RECONCILED, S.PAYMENT_SCHEDULED, S.VOID}),
        # In an approved payment run (payments.runs): paid by the statement line that carries its
        # transfer (or any other payment found for it), or back to approved when the run is
        # cancelled; only the runs' services make the moves in and back (RUN_ONLY).
        S.PAYMENT_SCHEDULED: frozenset({S.PARTIALLY_PAID, S.RECONCILED, S.APPROVED, S.VOID}),
        # → approved, and reconciled → partially_paid / approved: a payment allocation reversed
        # (payments.reconciliation.services.allocation_reverse) gives the money back to the
        # invoice, so what is still owed must be payable again. Only that service makes them.
        S.PARTIALLY_PAID: frozenset({S.RECONCILED, S.APPROVED, S.VOID}),
        S.REJECTED: frozenset(),
        S.RECONCILED: frozenset({S.PARTIALLY_PAID, S.APPROVED}),
        S.VOID: frozenset(),
    },
)

# Moves back towards "unpaid" that only a reversed payment allocation makes (its service sets
# `InvoiceMove.payment_reversal`): a reviewer's "approve" must never reopen a paid invoice
# while its allocations still stand.
PAYMENT_REVERSAL_ONLY = frozenset(
    {(S.PARTIALLY_PAID, S.APPROVED), (S.RECONCILED, S.PARTIALLY_PAID), (S.RECONCILED, S.APPROVED)}
)
ONLY_BY_PAYMENT_REVERSAL = "Invoice moves from {current!r} to {target!r} only when a payment allocation is reversed."

# Moves back to `received`, to be matched again, that only a re-match makes (its service sets
# `InvoiceMove.rematch`: matching.rematch, matching.holds): the facts the invoice was matched
# against changed, or someone asked for a re-match. A reviewer's decision (invoice_transition)
# never sends an invoice back to the engine.
REMATCH_ONLY = frozenset({(S.ON_HOLD, S.RECEIVED), (S.PENDING_REVIEW, S.RECEIVED), (S.DISPUTED, S.RECEIVED)})
ONLY_BY_REMATCH = "Invoice moves from {current!r} to {target!r} only to be matched again (a re-match)."

# Moves into and out of a payment run that only the runs' services make (payments.runs, setting
# `InvoiceMove.payment_run`): a reviewer's "approve" must not take an invoice out of a run whose
# file may be at the bank, and nothing else may schedule a payment.
RUN_ONLY = frozenset({(S.APPROVED, S.PAYMENT_SCHEDULED), (S.PAYMENT_SCHEDULED, S.APPROVED)})
ONLY_BY_PAYMENT_RUN = "Invoice moves from {current!r} to {target!r} only through a payment run."

QUEUE_REQUIRED = "Moving to pending_review needs a queue: standard or escalated."
QUEUE_ONLY_FOR_REVIEW = "Only pending_review carries a queue."
ONLY_ESCALATION = "An invoice in review can only move from the standard queue to the escalated one."
INVOICE_NOT_FOUND = "No invoice with this id."
MOVED_MEANWHILE = "Invoice {invoice_id} changed while it was being moved; nothing was written."
REPEATED_MOVE = "Invoice {invoice_id} appears more than once in one batch of moves."

# Transitions other services hear about (DESIGN.md §7: `invoice.approved`, ...).
# Not payment_scheduled: a run's approval publishes one `payment_run.approved` (payments.runs).
_PUBLISHED = {S.APPROVED, S.REJECTED, S.DISPUTED, S.RECONCILED, S.VOID}


@dataclass(frozen=True)
class InvoiceMove:
    """One requested transition. `context` is merged into the audit event's `after`."""

    invoice_id: uuid.UUID
    to_status: str
    queue: str | None = None
    reason: str = ""
    expected_status: str | None = None
    context: dict[str, Any] | None = None
    payment_reversal: bool = False  # see PAYMENT_REVERSAL_ONLY
    rematch: bool = False  # see REMATCH_ONLY
    payment_run: bool = False  # see RUN_ONLY
    # Other columns the caller sets on the row in the same UPDATE as the move, by field name
    # (foreign keys and other single-value columns: batch matching's latest_match, vendor and
    # purchase_order), so a batch writes each invoice row once. Not audited here: the caller's
    # `context` says what they mean.
    also_set: dict[str, Any] | None = None


@dataclass(frozen=True)
class InvoiceMoveResult:
    """What became of one move of `invoice_transition_many`: done, or refused with the reason."""

    move: InvoiceMove
    from_status: str | None = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _check_queue(to_status: str, queue: str | None) -> None:
    if to_status == S.PENDING_REVIEW and queue not in ReviewQueue.values:
        raise DocumentInvalid(QUEUE_REQUIRED, details={"queue": [QUEUE_REQUIRED]})
    if to_status != S.PENDING_REVIEW and queue is not None:
        raise DocumentInvalid(QUEUE_ONLY_FOR_REVIEW, details={"queue": [QUEUE_ONLY_FOR_REVIEW]})


def _check_move(current: Invoice, move: InvoiceMove) -> None:
    """The table, and the one move inside pending_review (standard → escalated)."""
    INVOICE_LIFECYCLE.check(current.status, move.to_status)
    if (current.status, move.to_status) in PAYMENT_REVERSAL_ONLY and not move.payment_reversal:
        current_status, target = str(current.status), str(move.to_status)
        raise IllegalTransition(
            ONLY_BY_PAYMENT_REVERSAL.format(current=current_status, target=target),
            details={"from": current_status, "to": target},
        )
    if (current.status, move.to_status) in REMATCH_ONLY and not move.rematch:
        current_status, target = str(current.status), str(move.to_status)
        raise IllegalTransition(
            ONLY_BY_REMATCH.format(current=current_status, target=target),
            details={"from": current_status, "to": target},
        )
    if (current.status, move.to_status) in RUN_ONLY and not move.payment_run:
        current_status, target = str(current.status), str(move.to_status)
        raise IllegalTransition(
            ONLY_BY_PAYMENT_RUN.format(current=current_status, target=target),
            details={"from": current_status, "to": target},
        )
    if current.status == move.to_status == S.PENDING_REVIEW and not (
        current.review_queue == ReviewQueue.STANDARD and move.queue == ReviewQueue.ESCALATED
    ):
        raise IllegalTransition(ONLY_ESCALATION, details={"from": current.review_queue, "to": move.queue})


def _apply_moves(*, tenant: Tenant, accepted: list[tuple[Invoice, InvoiceMove]], actor: Actor) -> None:
    """Write checked moves: the new states, one audit event each, the published events.

    The rows were locked when they were read, so the compare-and-set below cannot miss; it is
    kept so that a caller who forgot the lock gets an error instead of a silent overwrite.
    Updates go by (from, to) group: a batch of any size is a handful of statements.
    """
    if not accepted:
        return
    # By the state moved from (the compare-and-set) and the columns set with the move; the new
    # state goes per row, so a matching batch, all from `received` to five decisions, is one
    # statement.
    groups: dict[tuple[str, str | None, tuple[str, ...]], list[InvoiceMove]] = defaultdict(list)
    for current, move in accepted:
        also = tuple(sorted(move.also_set or ()))
        groups[(current.status, current.review_queue, also)].append(move)
    now = timezone.now()
    sent = []
    for (from_status, from_queue, also), group in groups.items():
        rows_updated = tenant_rows_update(
            tenant=tenant,
            model=Invoice,
            fields=("status", "review_queue", *also),
            rows=[
                (move.invoice_id, move.to_status, move.queue, *((move.also_set or {})[name] for name in also))
                for move in group
            ],
            set_all={"updated_at": now},
            only_where={"status": from_status, "review_queue": from_queue},
        )
        sent.append(([move.invoice_id for move in group], rows_updated))
    # Built while the updates run (in a caller's pipeline); their counts are checked below.
    entries = []
    events = []
    for current, move in accepted:
        before = {"status": current.status, "review_queue": current.review_queue}
        after: dict[str, Any] = {"status": move.to_status, "review_queue": move.queue}
        if move.reason:
            after["reason"] = move.reason
        if move.context:
            after.update(move.context)
        entries.append(AuditEntry("invoice", str(current.pk), "transition", before, after))
        if move.to_status in _PUBLISHED:
            events.append(
                (
                    f"invoice.{move.to_status}",
                    {
                        "invoice_id": str(current.pk),
                        "invoice_number": current.invoice_number,
                        "from_status": current.status,
                        "status": move.to_status,
                        "reason": move.reason,
                        "actor": {"kind": actor.kind, "id": actor.id},
                    },
                )
            )
    audit_record_many(tenant=tenant, actor=actor, entries=entries)
    outbox_enqueue_many(tenant=tenant, events=events)
    # Last, after the events: in a caller's pipeline asking for a count waits for the updates, and
    # the events are built meanwhile. A mismatch raises all the same, and the transaction (with
    # those events) is rolled back.
    for invoice_ids, rows_updated in sent:
        if rows_updated() != len(invoice_ids):
            raise StaleState(MOVED_MEANWHILE.format(invoice_id=", ".join(map(str, invoice_ids))))
    for current, move in accepted:
        current.status, current.review_queue, current.updated_at = move.to_status, move.queue, now


def invoice_transition(
    *,
    tenant: Tenant,
    invoice: Invoice,
    to_status: str,
    actor: Actor,
    queue: str | None = None,
    reason: str = "",
    expected_status: str | None = None,
    context: dict[str, Any] | None = None,
    guard: Callable[[Invoice], None] | None = None,
) -> Invoice:
    """Move an invoice to `to_status` if the table allows it; write the audit event with it.

    The row is locked (`SELECT … FOR NO KEY UPDATE`, core/locks.py) and re-read, so two
    reviewers acting at once are serialized and the second sees the first one's result.
    `expected_status` (what the caller's page showed) turns a lost race into a clear
    `stale_state` 409 instead of a silent overwrite.
    `guard` runs on the locked, current row (a permission that depends on its queue, say) and
    raises to refuse.
    """
    move = InvoiceMove(invoice.pk, to_status, queue, reason, expected_status, context)
    _check_queue(to_status, queue)
    with transaction.atomic():
        current = Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=invoice.pk)
        INVOICE_LIFECYCLE.check_expected(current.status, expected_status)
        if guard is not None:
            guard(current)
        _check_move(current, move)
        _apply_moves(tenant=tenant, accepted=[(current, move)], actor=actor)
    invoice.status, invoice.review_queue = current.status, current.review_queue
    return current


MOVES_PER_TRANSACTION = 500


def invoice_transition_chunked(*, tenant: Tenant, moves: Sequence[InvoiceMove], actor: Actor) -> int:
    """`invoice_transition_many` for a scheduled sweep (holds or approval chains past their days):
    `MOVES_PER_TRANSACTION` moves per transaction, so a large backlog neither holds its locks to
    the end nor is undone whole by one failure. Returns how many moves were made."""
    made = 0
    for start in range(0, len(moves), MOVES_PER_TRANSACTION):
        with transaction.atomic():
            results = invoice_transition_many(
                tenant=tenant, moves=moves[start : start + MOVES_PER_TRANSACTION], actor=actor
            )
        made += sum(result.ok for result in results)
    return made


def invoice_transition_many(
    *,
    tenant: Tenant,
    moves: Sequence[InvoiceMove],
    actor: Actor,
    locked: Mapping[uuid.UUID, Invoice] | None = None,
) -> list[InvoiceMoveResult]:
    """Make many moves at once (batch matching, receipts), inside the caller's transaction.

    Each move is checked against the same table as `invoice_transition`; a move that is not
    allowed, or whose invoice is no longer in the state the caller expected (someone else moved
    it since the caller read it), is refused on its own and reported in its result, and the
    others go ahead. The rows are locked in id order (`SELECT … FOR NO KEY UPDATE`), so two batches
    cannot deadlock each other, and a reviewer acting at the same time either goes first (and
    the move is refused as stale) or waits. One audit INSERT and one outbox INSERT for all.

    `locked`: the invoices as the caller locked them (`FOR NO KEY UPDATE`, in id order) and read
    them in this transaction, by id, with at least `status`, `review_queue` and `invoice_number`
    loaded (payments.reconciliation.writing, which checks the allocations on those very rows).
    Nobody else can have moved them since, so they are used as they are instead of being locked
    and read a second time; a move whose invoice is not among them is refused as not found.
    """
    if not connection.in_atomic_block:
        raise RuntimeError(NOT_IN_TRANSACTION)
    invoice_ids = [move.invoice_id for move in moves]
    if len(set(invoice_ids)) != len(invoice_ids):
        repeated = next(invoice_id for invoice_id in invoice_ids if invoice_ids.count(invoice_id) > 1)
        raise ValueError(REPEATED_MOVE.format(invoice_id=repeated))
    if locked is not None:
        current_by_id = locked
    else:
        # The ids as one array parameter, not one placeholder each: a payment run moves 10,000 at once.
        ids = RawSQL("SELECT unnest(%s::uuid[])", (id_array(invoice_ids),))
        rows = Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
        current_by_id = {
            invoice.pk: invoice for invoice in rows.only("id", "tenant_id", "status", "review_queue", "invoice_number")
        }
    results: list[InvoiceMoveResult] = []
    accepted: list[tuple[Invoice, InvoiceMove]] = []
    for move in moves:
        current = current_by_id.get(move.invoice_id)
        try:
            if current is None:
                raise NotFoundError(INVOICE_NOT_FOUND, details={"invoice_id": str(move.invoice_id)})
            _check_queue(move.to_status, move.queue)
            INVOICE_LIFECYCLE.check_expected(current.status, move.expected_status)
            _check_move(current, move)
        except DomainError as exc:
            results.append(InvoiceMoveResult(move, current.status if current else None, exc))
            continue
        results.append(InvoiceMoveResult(move, current.status))
        accepted.append((current, move))
    _apply_moves(tenant=tenant, accepted=accepted, actor=actor)
    return results
