"""The invoice lifecycle of DESIGN.md §4: the table of moves and the one function that makes them.

| from           | to                                                   | by                               |
|----------------|------------------------------------------------------|----------------------------------|
| received       | approved, pending_review, on_hold, rejected          | the matching decision            |
| on_hold        | received                                             | a receipt arrives for its PO     |
| on_hold        | pending_review (escalated)                           | no receipt after HOLD_MAX_DAYS   |
| pending_review | approved, rejected, disputed, pending_review (escalated) | a reviewer                   |
| disputed       | pending_review, rejected, void                       | dispute resolved                 |
| approved       | partially_paid, reconciled                           | payment allocations              |
| partially_paid | reconciled                                           | payment allocations              |
| any non-final  | void                                                 | full credit note, administrator  |

`rejected`, `reconciled` and `void` are final.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from audit.actors import Actor
from audit.services import audit_record, outbox_enqueue
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from recon_site.exceptions import DocumentInvalid
from recon_site.state_machine import IllegalTransition, StateMachine
from tenants.models import Tenant

S = InvoiceStatus

INVOICE_LIFECYCLE = StateMachine(
    entity="Invoice",
    moves={
        S.RECEIVED: frozenset({S.APPROVED, S.PENDING_REVIEW, S.ON_HOLD, S.REJECTED, S.VOID}),
        S.ON_HOLD: frozenset({S.RECEIVED, S.PENDING_REVIEW, S.VOID}),
        S.PENDING_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.DISPUTED, S.PENDING_REVIEW, S.VOID}),
        S.DISPUTED: frozenset({S.PENDING_REVIEW, S.REJECTED, S.VOID}),
        S.APPROVED: frozenset({S.PARTIALLY_PAID, S.RECONCILED, S.VOID}),
        S.PARTIALLY_PAID: frozenset({S.RECONCILED, S.VOID}),
        S.REJECTED: frozenset(),
        S.RECONCILED: frozenset(),
        S.VOID: frozenset(),
    },
)

QUEUE_REQUIRED = "Moving to pending_review needs a queue: standard or escalated."
QUEUE_ONLY_FOR_REVIEW = "Only pending_review carries a queue."
ONLY_ESCALATION = "An invoice in review can only move from the standard queue to the escalated one."

# Transitions other services hear about (DESIGN.md §7: `invoice.approved`, ...).
_PUBLISHED = {S.APPROVED, S.REJECTED, S.DISPUTED, S.RECONCILED, S.VOID}


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

    The row is locked (`SELECT … FOR UPDATE`) and re-read, so two reviewers acting at once are
    serialized and the second sees the first one's result. `expected_status` (what the caller's
    page showed) turns a lost race into a clear `stale_state` 409 instead of a silent overwrite.
    `guard` runs on the locked, current row (a permission that depends on its queue, say) and
    raises to refuse.
    """
    if to_status == S.PENDING_REVIEW and queue not in ReviewQueue.values:
        raise DocumentInvalid(QUEUE_REQUIRED, details={"queue": [QUEUE_REQUIRED]})
    if to_status != S.PENDING_REVIEW and queue is not None:
        raise DocumentInvalid(QUEUE_ONLY_FOR_REVIEW, details={"queue": [QUEUE_ONLY_FOR_REVIEW]})
    with transaction.atomic():
        current = Invoice.objects.for_tenant(tenant).select_for_update().get(pk=invoice.pk)
        INVOICE_LIFECYCLE.check_expected(current.status, expected_status)
        if guard is not None:
            guard(current)
        INVOICE_LIFECYCLE.check(current.status, to_status)
        if current.status == to_status == S.PENDING_REVIEW and not (
            current.review_queue == ReviewQueue.STANDARD and queue == ReviewQueue.ESCALATED
        ):
            raise IllegalTransition(ONLY_ESCALATION, details={"from": current.review_queue, "to": queue})
        before = {"status": current.status, "review_queue": current.review_queue}
        current.status = to_status
        current.review_queue = queue
        current.save(update_fields=["status", "review_queue", "updated_at"])
        after = {"status": to_status, "review_queue": queue}
        if reason:
            after["reason"] = reason
        if context:
            after.update(context)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="invoice",
            entity_id=current.pk,
            action="transition",
            before=before,
            after=after,
        )
        if to_status in _PUBLISHED:
            outbox_enqueue(
                tenant=tenant,
                event_type=f"invoice.{to_status}",
                payload={
                    "invoice_id": str(current.pk),
                    "invoice_number": current.invoice_number,
                    "from_status": before["status"],
                    "status": to_status,
                    "reason": reason,
                    "actor": {"kind": actor.kind, "id": actor.id},
                },
            )
    invoice.status, invoice.review_queue = current.status, current.review_queue
    return current
