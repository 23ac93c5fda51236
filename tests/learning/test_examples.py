"""Every human intervention is recorded as a labelled example tied to what it overrode (issue #20
item 1): a dispute with its reason, a clerk's payment allocation with its invoices; a system actor
teaches nothing."""

from __future__ import annotations

import pytest

from core.actors import Actor
from learning.models import DecisionExample
from payments.reconciliation.services import allocation_split
from review.disputes import dispute_open
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, PaymentFactory, VendorFactory
from tests.payments.test_reconciliation import approved_invoice

pytestmark = pytest.mark.django_db


def test_a_dispute_is_an_example_with_its_reason(tenant: Tenant) -> None:
    user = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    actor = Actor(kind="user", id=str(user.pk), label=user.get_username())
    invoice = InvoiceFactory(tenant=tenant, status="pending_review", review_queue="standard")
    dispute_open(tenant=tenant, invoice=invoice, actor=actor, role=Role.APPROVER, author=user, reason="price",
                 comment="the unit price is not the quoted one")  # fmt: skip
    example = DecisionExample.objects.for_tenant(tenant).get(invoice=invoice)
    assert (example.kind, example.details["dispute_reason"], example.comment, example.actor_label) == (
        "dispute", "price", "the unit price is not the quoted one", user.get_username()
    )  # fmt: skip


def test_a_clerks_payment_allocation_is_an_example_naming_the_payment_and_its_invoices(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    first = approved_invoice(tenant, acme, "INV-1", 300_00)
    second = approved_invoice(tenant, acme, "INV-2", 500_00)
    payment = PaymentFactory(tenant=tenant, amount=700_00, counterparty_name="ACME", remittance_text="thanks")
    clerk = Actor(kind="user", id="42", label="clerk@example.com")

    allocation_split(tenant=tenant, payment=payment, parts=[(first, 300_00), (second, 400_00)], actor=clerk)

    example = DecisionExample.objects.for_tenant(tenant).get(kind="payment_allocation")
    assert (example.payment_id, example.vendor_id, example.actor_label) == (payment.pk, acme.pk, clerk.label)
    assert sorted((item["invoice_id"], item["amount"]) for item in example.details["allocations"]) == sorted(
        [(str(first.pk), 300_00), (str(second.pk), 400_00)]
    )
    assert example.details["suggested_tier"] is None
    assert not DecisionExample.objects.for_tenant(other_tenant).exists()
