"""`payment_ignore`: a clerk sets a payment aside; status, suggestion and audit in one transaction."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.actors import Actor
from payments.exceptions import AllocationConflict
from payments.models import Payment, PaymentStatus, PaymentSuggestion
from payments.reconciliation.services import payment_ignore
from tenants.models import Tenant
from tests.factories import PaymentFactory, PaymentSuggestionFactory

pytestmark = pytest.mark.django_db

CLERK = Actor(kind="user", id="42", label="clerk@example.com")


def _status(payment: Payment) -> str:
    return Payment.objects.for_tenant(payment.tenant_id).get(pk=payment.pk).status


def test_ignoring_a_suggested_payment_removes_its_suggestion_and_audits(tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=tenant, status=PaymentStatus.SUGGESTED)
    PaymentSuggestionFactory(payment=payment)
    payment_ignore(tenant=tenant, payment=payment, actor=CLERK, reason="Bank fee")

    assert _status(payment) == PaymentStatus.IGNORED
    assert not PaymentSuggestion.objects.for_tenant(tenant).filter(payment=payment).exists()
    event = AuditEvent.objects.for_tenant(tenant).get(
        entity_type="payment", entity_id=str(payment.pk), action="ignored"
    )
    assert (event.actor_kind, event.actor_id) == ("user", "42")
    assert event.before == {"status": "suggested"}
    assert event.after == {"status": "ignored", "reason": "Bank fee"}


@pytest.mark.parametrize("status", [PaymentStatus.MATCHED, PaymentStatus.PARTIALLY_MATCHED, PaymentStatus.IGNORED])
def test_only_unmatched_or_suggested_payments_can_be_ignored(tenant: Tenant, status: str) -> None:
    payment = PaymentFactory(tenant=tenant, status=status)
    with pytest.raises(AllocationConflict):
        payment_ignore(tenant=tenant, payment=payment, actor=CLERK)
    assert _status(payment) == status
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(payment.pk)).exists()


def test_another_tenants_payment_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=other_tenant)
    with pytest.raises(Payment.DoesNotExist):
        payment_ignore(tenant=tenant, payment=payment, actor=CLERK)
    assert _status(payment) == PaymentStatus.UNMATCHED
