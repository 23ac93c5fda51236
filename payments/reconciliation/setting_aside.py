"""A clerk sets a payment aside (`payment_ignore`) and brings it back (`payment_unignore`).

An ignored payment is one nothing should be allocated to (a bank fee, a transfer between the
tenant's own accounts). Runs load unmatched and suggested payments only, so it stays out of
them until a clerk brings it back. Both moves lock the payment's row, check its status, write
the new one and one audit event in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.services import AuditEntry, audit_record_many
from core.actors import Actor
from payments.exceptions import AllocationConflict
from payments.models import Payment, PaymentStatus, PaymentSuggestion
from tenants.models import Tenant

NOT_IGNORABLE = "This payment is {status}; only an unmatched or suggested payment can be ignored."
NOT_IGNORED = "This payment is {status}, not ignored; there is nothing to bring back."
IGNORED_REASON = "Ignored by a clerk."
UNIGNORED_REASON = "Brought back to the unmatched payments by a clerk."
# The audit action of bringing a payment back: the trail's existing "Reactivated" (audit.labels)
# reads right for a payment set aside and taken up again.
UNIGNORED_ACTION = "reactivated"

_IGNORABLE_STATUSES = (PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED)


def payment_ignore(*, tenant: Tenant, payment: Payment, actor: Actor, reason: str = "") -> Payment:
    """A clerk sets aside a payment nothing should be allocated to (a bank fee, a transfer).

    Only an unmatched or suggested payment, checked under the row lock: one with allocations
    must be reversed first. Its suggestion is removed, the status becomes `ignored` (runs load
    unmatched and suggested payments only, so it stays out of them) and one audit event is
    written, all in one transaction.
    """
    with transaction.atomic():
        locked = Payment.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=payment.pk)
        if locked.status not in _IGNORABLE_STATUSES:
            raise AllocationConflict(NOT_IGNORABLE.format(status=locked.get_status_display().lower()))
        before = locked.status
        PaymentSuggestion.objects.for_tenant(tenant).filter(payment_id=locked.pk).delete()
        Payment.objects.for_tenant(tenant).filter(pk=locked.pk).update(
            status=PaymentStatus.IGNORED, updated_at=timezone.now()
        )
        audit_record_many(
            tenant=tenant,
            actor=actor,
            entries=[
                AuditEntry(
                    "payment",
                    str(locked.pk),
                    "ignored",
                    {"status": before},
                    {"status": PaymentStatus.IGNORED, "reason": reason.strip() or IGNORED_REASON},
                )
            ],
        )
    payment.status = PaymentStatus.IGNORED
    return payment


def payment_unignore(*, tenant: Tenant, payment: Payment, actor: Actor, reason: str = "") -> Payment:
    """Undo `payment_ignore`: an ignored payment becomes unmatched again, in the clerk's lists.

    Only an ignored payment, checked under the row lock. Its `reconcile_considered_at` is
    cleared, so the next reconciliation run looks at it before the payments it already saw
    (Payment.reconcile_considered_at); one audit event names who brought it back and why.
    """
    with transaction.atomic():
        locked = Payment.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=payment.pk)
        if locked.status != PaymentStatus.IGNORED:
            raise AllocationConflict(NOT_IGNORED.format(status=locked.get_status_display().lower()))
        Payment.objects.for_tenant(tenant).filter(pk=locked.pk).update(
            status=PaymentStatus.UNMATCHED, reconcile_considered_at=None, updated_at=timezone.now()
        )
        audit_record_many(
            tenant=tenant,
            actor=actor,
            entries=[
                AuditEntry(
                    "payment",
                    str(locked.pk),
                    UNIGNORED_ACTION,
                    {"status": PaymentStatus.IGNORED},
                    {"status": PaymentStatus.UNMATCHED, "reason": reason.strip() or UNIGNORED_REASON},
                )
            ],
        )
    payment.status = PaymentStatus.UNMATCHED
    return payment
