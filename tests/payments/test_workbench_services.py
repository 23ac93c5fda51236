"""The services behind the payments workbench (#18 item 5): un-ignore, a clerk's write-off, stale
suggestions withdrawn (and refused on accept, through the API too), reasons that name invoices as
they are printed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus
from payments.exceptions import AllocationConflict, AllocationInvalid, SuggestionStale
from payments.models import AllocationKind, Payment, PaymentAllocation, PaymentStatus, PaymentSuggestion
from payments.reconciliation.services import (
    NOTHING_TO_WRITE_OFF,
    WRITE_OFF_WITHOUT_PART,
    allocation_accept_suggestion,
    allocation_split,
    payment_ignore,
    payment_unignore,
    reconciliation_run_for_tenant,
)
from payments.reconciliation.setting_aside import UNIGNORED_ACTION
from payments.reconciliation.suggestions import suggestion_staleness
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PaymentFactory, PaymentSuggestionFactory, VendorFactory

pytestmark = pytest.mark.django_db

CLERK = Actor(kind="user", id="42", label="clerk@example.com")


def _invoice(tenant: Tenant, number: str, total: int) -> Invoice:
    return InvoiceFactory(tenant=tenant, invoice_number=number, total_amount=total, status=InvoiceStatus.APPROVED)


def _status(payment: Payment) -> str:
    return Payment.objects.for_tenant(payment.tenant_id).get(pk=payment.pk).status


def test_unignore_makes_an_ignored_payment_unmatched_and_considered_first(tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=tenant)
    payment_ignore(tenant=tenant, payment=payment, actor=CLERK, reason="fee")
    payment_unignore(tenant=tenant, payment=payment, actor=CLERK)
    assert _status(payment) == PaymentStatus.UNMATCHED
    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(payment.pk), action=UNIGNORED_ACTION)
    assert (event.before, event.after["status"]) == ({"status": "ignored"}, "unmatched")
    assert event.after["reason"]  # a default reason when the clerk gives none


@pytest.mark.parametrize("status", [PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED, PaymentStatus.MATCHED])
def test_only_an_ignored_payment_can_be_brought_back(tenant: Tenant, status: str) -> None:
    payment = PaymentFactory(tenant=tenant, status=status)
    with pytest.raises(AllocationConflict):
        payment_unignore(tenant=tenant, payment=payment, actor=CLERK)
    assert _status(payment) == status
    assert not AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(payment.pk)).exists()


def test_unignore_of_another_tenants_payment_finds_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=other_tenant, status=PaymentStatus.IGNORED)
    with pytest.raises(Payment.DoesNotExist):
        payment_unignore(tenant=tenant, payment=payment, actor=CLERK)
    assert _status(payment) == PaymentStatus.IGNORED


def test_a_clerks_write_off_settles_the_invoice_within_the_limit(tenant: Tenant) -> None:
    invoice = _invoice(tenant, "WO-1", 1_000_00)  # limit: min(5.00, 0.5 % = 5.00)
    payment = PaymentFactory(tenant=tenant, amount=995_00)
    allocation_split(
        tenant=tenant, payment=payment, parts=[(invoice, 995_00)], actor=CLERK, write_off_rest=[invoice.pk]
    )
    rows = sorted(PaymentAllocation.objects.for_tenant(tenant).values_list("kind", "amount"))
    assert rows == [(AllocationKind.PAYMENT, 995_00), (AllocationKind.WRITE_OFF, 5_00)]
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status == InvoiceStatus.RECONCILED


def test_a_write_off_a_cent_over_the_limit_writes_nothing(tenant: Tenant) -> None:
    invoice = _invoice(tenant, "WO-2", 1_000_00)
    payment = PaymentFactory(tenant=tenant, amount=994_99)
    with pytest.raises(AllocationInvalid, match="exceeds the write-off limit"):
        allocation_split(
            tenant=tenant, payment=payment, parts=[(invoice, 994_99)], actor=CLERK, write_off_rest=[invoice.pk]
        )
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()


def test_a_write_off_needs_a_part_and_something_left(tenant: Tenant) -> None:
    first, second = _invoice(tenant, "WO-3", 100_00), _invoice(tenant, "WO-4", 100_00)
    payment = PaymentFactory(tenant=tenant, amount=200_00)
    with pytest.raises(AllocationInvalid, match=WRITE_OFF_WITHOUT_PART):
        allocation_split(
            tenant=tenant, payment=payment, parts=[(first, 100_00)], actor=CLERK, write_off_rest=[second.pk]
        )
    with pytest.raises(AllocationInvalid) as refused:
        allocation_split(
            tenant=tenant, payment=payment, parts=[(first, 100_00)], actor=CLERK, write_off_rest=[first.pk]
        )
    assert refused.value.message == NOTHING_TO_WRITE_OFF.format(number="WO-3")
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()


def _suggested(tenant: Tenant, invoice: Invoice, amount: int) -> Payment:
    payment = PaymentFactory(tenant=tenant, amount=amount, status=PaymentStatus.SUGGESTED)
    PaymentSuggestionFactory(
        payment=payment,
        tier=2,
        confidence=Decimal("0.800"),
        allocations=[{"invoice_id": str(invoice.pk), "amount": amount, "kind": "payment"}],
        candidate_invoice_ids=[str(invoice.pk)],
    )
    return payment


def test_staleness_names_the_invoice_paid_in_part_meanwhile(tenant: Tenant) -> None:
    invoice = _invoice(tenant, "ST-1", 300_00)
    suggested = _suggested(tenant, invoice, 300_00)
    assert suggestion_staleness(tenant=tenant, suggestions=list(PaymentSuggestion.objects.for_tenant(tenant))) == {}
    allocation_split(
        tenant=tenant, payment=PaymentFactory(tenant=tenant, amount=100_00), parts=[(invoice, 100_00)], actor=CLERK
    )
    stale = suggestion_staleness(
        tenant=tenant, suggestions=list(PaymentSuggestion.objects.for_tenant(tenant).select_related("payment"))
    )
    assert stale == {suggested.pk: "invoice ST-1 has 200.00 EUR open, not the 300.00 EUR suggested (paid meanwhile)."}


def test_accepting_a_stale_suggestion_is_refused_and_withdraws_it(tenant: Tenant) -> None:
    invoice = _invoice(tenant, "ST-2", 300_00)
    suggested = _suggested(tenant, invoice, 300_00)
    allocation_split(
        tenant=tenant, payment=PaymentFactory(tenant=tenant, amount=300_00), parts=[(invoice, 300_00)], actor=CLERK
    )
    with pytest.raises(SuggestionStale) as refused:
        allocation_accept_suggestion(tenant=tenant, payment=suggested, actor=CLERK)
    assert refused.value.status_code == 409
    assert "ST-2" in refused.value.message
    assert _status(suggested) == PaymentStatus.UNMATCHED
    assert not PaymentSuggestion.objects.for_tenant(tenant).filter(payment=suggested).exists()
    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(suggested.pk), action="suggestion_withdrawn")
    assert (event.actor_kind, event.actor_id) == ("user", "42")


def test_the_api_answers_a_stale_acceptance_with_409_suggestion_stale(api: APIClient, tenant: Tenant) -> None:
    invoice = _invoice(tenant, "ST-3", 300_00)
    suggested = _suggested(tenant, invoice, 300_00)
    allocation_split(
        tenant=tenant, payment=PaymentFactory(tenant=tenant, amount=300_00), parts=[(invoice, 300_00)], actor=CLERK
    )
    response = api.post(f"/api/payments/{suggested.pk}/accept-suggestion")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "suggestion_stale"
    assert _status(suggested) == PaymentStatus.UNMATCHED


def test_reasons_name_invoices_as_printed_not_by_their_matching_key(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="UI Test Supplies")
    InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number="UITEST-C-004",
        total_amount=3_000_00,
        status=InvoiceStatus.APPROVED,
    )
    payment = PaymentFactory(tenant=tenant, amount=103_30, remittance_text="Part payment UITEST-C-004")
    reconciliation_run_for_tenant(tenant=tenant, actor=CLERK)
    allocation = PaymentAllocation.objects.for_tenant(tenant).filter(payment=payment).first()
    suggestion = PaymentSuggestion.objects.for_tenant(tenant).filter(payment=payment).first()
    reason = allocation.explanation if allocation is not None else suggestion.reason  # type: ignore[union-attr]
    assert "UITEST-C-004" in reason
    assert "UITESTC4" not in reason
