"""Approval policies (#19 item 1): chains of steps (any of / all of), amount bands per currency,
segregation of duties, delegation, escalation on the schedule, and no policy = one approval."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from core.actors import Actor
from core.exceptions import DocumentInvalid
from invoices.lifecycle import invoice_transition
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from invoices.services import invoice_create
from review.approval_policies import (
    BAND_NEEDS_CURRENCY,
    RuleSpec,
    StepSpec,
    approval_rule_create,
    approval_rule_move_up,
    delegation_create,
    delegation_revoke,
)
from review.approvals import (
    ALREADY_APPROVED_STEP,
    ApprovalRefused,
    approval_rule_for,
    invoice_approval_chain,
)
from review.decisions import invoice_review
from review.models import ApprovalRule, InvoiceApproval
from review.segregation import SOD_REFUSED
from review.tasks import escalate_stale_approvals
from tenants.models import Role, Tenant
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import BOLTS, TEST_ACTOR, InvoiceFactory, MembershipFactory, VendorFactory
from tests.web.conftest import build_scenario

pytestmark = pytest.mark.django_db


def member(tenant: Tenant, role: str = Role.APPROVER) -> Any:
    return MembershipFactory(tenant=tenant, role=role).user


def actor_of(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor=fields.pop("vendor", None) or VendorFactory(tenant=tenant),
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
        **fields,
    )


def approve(tenant: Tenant, invoice: Invoice, user: Any, role: str = Role.APPROVER, comment: str = "") -> Invoice:
    return invoice_review(
        tenant=tenant, invoice=invoice, action="approve", actor=actor_of(user), role=role, comment=comment
    )


def events(tenant: Tenant, invoice: Invoice, action: str) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action=action)
        .order_by("occurred_at")
    )


def two_step_rule(tenant: Tenant, *, second: Any, **criteria: Any) -> None:
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(
            name="Two approvals",
            steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[second.pk])],
            **criteria,
        ),
    )


def test_without_a_policy_one_reviewer_approves_as_before(tenant: Tenant) -> None:
    invoice = in_review(tenant)
    approve(tenant, invoice, member(tenant, Role.CLERK), role=Role.CLERK)
    assert invoice.status == InvoiceStatus.APPROVED
    assert events(tenant, invoice, "step_approved") == []
    assert InvoiceApproval.objects.for_tenant(tenant).count() == 0


def test_a_two_step_chain_stays_in_review_until_its_last_step(tenant: Tenant) -> None:
    first, controller, clerk = member(tenant), member(tenant, Role.ADMIN), member(tenant, Role.CLERK)
    two_step_rule(tenant, second=controller)
    invoice = in_review(tenant)

    approve(tenant, invoice, first, comment="Prices checked")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_queue) == (InvoiceStatus.PENDING_REVIEW, ReviewQueue.STANDARD)
    [step_event] = events(tenant, invoice, "step_approved")
    assert step_event.actor_id == str(first.pk)
    assert step_event.after["approval_step"] == 1 and step_event.after["reason"] == "Prices checked"

    # The same person cannot take the second step too; nor anyone the step does not name.
    with pytest.raises(ApprovalRefused, match=ALREADY_APPROVED_STEP):
        approve(tenant, invoice, first)
    with pytest.raises(ApprovalRefused) as refused:
        approve(tenant, invoice, clerk, role=Role.CLERK)
    assert refused.value.details["may_approve"] == [controller.get_username()]

    approve(tenant, invoice, controller, role=Role.ADMIN)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED
    [move] = [e for e in events(tenant, invoice, "transition") if e.after["status"] == InvoiceStatus.APPROVED]
    assert move.actor_id == str(controller.pk)
    assert (move.after["approval_step"], move.after["approval_steps"]) == (2, 2)
    chain = invoice_approval_chain(tenant=tenant, invoice=invoice)
    assert chain is not None and chain.complete


def test_all_of_needs_every_named_user(tenant: Tenant) -> None:
    anna, bob = member(tenant), member(tenant)
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(name="Both", steps=[StepSpec(user_ids=[anna.pk, bob.pk], mode="all")]),
    )
    invoice = in_review(tenant)
    approve(tenant, invoice, bob)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW
    chain = invoice_approval_chain(tenant=tenant, invoice=invoice)
    assert chain is not None and [u.pk for u in chain.steps[0].awaited] == [anna.pk]
    approve(tenant, invoice, anna)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED


def test_amount_bands_are_per_currency_in_its_minor_units(tenant: Tenant) -> None:
    controller = member(tenant, Role.ADMIN)
    # EUR 10,000.00 and up, and JPY 1,000,000 and up: each in its own currency's minor units.
    two_step_rule(tenant, second=controller, currency="EUR", amount_from=1_000_000)
    two_step_rule(tenant, second=controller, currency="JPY", amount_from=1_000_000)
    small_eur = in_review(tenant, total_amount=999_999, currency="EUR")
    big_eur = in_review(tenant, total_amount=1_000_000, currency="EUR")
    small_jpy = in_review(tenant, total_amount=20_000, currency="JPY")
    big_jpy = in_review(tenant, total_amount=1_000_000, currency="JPY")
    big_usd = in_review(tenant, total_amount=50_000_000, currency="USD")
    assert approval_rule_for(tenant=tenant, invoice=small_eur) is None
    assert approval_rule_for(tenant=tenant, invoice=big_eur) is not None
    assert approval_rule_for(tenant=tenant, invoice=small_jpy) is None
    assert approval_rule_for(tenant=tenant, invoice=big_jpy) is not None
    assert approval_rule_for(tenant=tenant, invoice=big_usd) is None
    approve(tenant, small_eur, member(tenant))
    approve(tenant, big_eur, member(tenant))
    assert small_eur.status == InvoiceStatus.APPROVED
    big_eur.refresh_from_db()
    assert big_eur.status == InvoiceStatus.PENDING_REVIEW


def test_rules_are_tried_in_order_and_a_vendor_rule_can_go_first(tenant: Tenant) -> None:
    vendor, controller = VendorFactory(tenant=tenant), member(tenant, Role.ADMIN)
    two_step_rule(tenant, second=controller)
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(name="Trusted vendor", vendor_id=vendor.pk, steps=[StepSpec(role=Role.APPROVER)]),
    )
    invoice = in_review(tenant, vendor=vendor)
    rule = approval_rule_for(tenant=tenant, invoice=invoice)
    assert rule is not None and rule.name == "Two approvals"
    approval_rule_move_up(tenant=tenant, actor=TEST_ACTOR, rule_id=_rule_id(tenant, "Trusted vendor"))
    rule = approval_rule_for(tenant=tenant, invoice=invoice)
    assert rule is not None and rule.name == "Trusted vendor"
    approve(tenant, invoice, member(tenant))
    assert invoice.status == InvoiceStatus.APPROVED


def _rule_id(tenant: Tenant, name: str) -> Any:
    return ApprovalRule.objects.for_tenant(tenant).get(name=name).pk


def test_a_band_without_its_currency_is_refused(tenant: Tenant) -> None:
    with pytest.raises(DocumentInvalid) as refused:
        approval_rule_create(
            tenant=tenant,
            actor=TEST_ACTOR,
            spec=RuleSpec(name="Big", amount_from=100, steps=[StepSpec(role=Role.APPROVER)]),
        )
    assert refused.value.details["currency"] == [BAND_NEEDS_CURRENCY]


def test_whoever_entered_the_invoice_cannot_approve_it(tenant: Tenant) -> None:
    typist, colleague = member(tenant), member(tenant)
    document = InvoiceDocumentFactory(invoice_number="SOD-1", vendor_id=VendorFactory(tenant=tenant).pk, lines=[BOLTS])
    invoice = invoice_create(tenant=tenant, document=document, actor=actor_of(typist))
    invoice_transition(
        tenant=tenant,
        invoice=invoice,
        to_status=InvoiceStatus.PENDING_REVIEW,
        queue=ReviewQueue.STANDARD,
        actor=TEST_ACTOR,
    )
    with pytest.raises(ApprovalRefused, match="segregation of duties") as refused:
        approve(tenant, invoice, typist)
    assert refused.value.message == SOD_REFUSED
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW
    approve(tenant, invoice, colleague)
    assert invoice.status == InvoiceStatus.APPROVED


def test_a_delegate_approves_a_step_naming_the_delegator_and_the_event_names_both(tenant: Tenant) -> None:
    first, controller, deputy = member(tenant), member(tenant, Role.ADMIN), member(tenant, Role.CLERK)
    two_step_rule(tenant, second=controller)
    invoice = in_review(tenant)
    approve(tenant, invoice, first)
    # Without a delegation the deputy may not.
    with pytest.raises(ApprovalRefused):
        approve(tenant, invoice, deputy, role=Role.CLERK)
    today = timezone.localdate()
    delegation = delegation_create(
        tenant=tenant,
        actor=actor_of(controller),
        delegator_id=controller.pk,
        delegate_id=deputy.pk,
        starts_on=today,
        ends_on=today + dt.timedelta(days=7),
    )
    approve(tenant, invoice, deputy, role=Role.CLERK)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED
    [move] = [e for e in events(tenant, invoice, "transition") if e.after["status"] == InvoiceStatus.APPROVED]
    assert move.actor_id == str(deputy.pk)
    assert move.after["on_behalf_of"] == controller.get_username()
    assert move.after["summary"] == f"Approved by {deputy.get_username()} on behalf of {controller.get_username()}"
    last = InvoiceApproval.objects.for_tenant(tenant).get(invoice=invoice, step_position=2)
    assert (last.approver_id, last.on_behalf_of_id) == (deputy.pk, controller.pk)

    # Revoked, it no longer lets the deputy act.
    delegation_revoke(
        tenant=tenant, actor=actor_of(controller), delegator_id=controller.pk, delegation_id=delegation.pk
    )
    other = in_review(tenant)
    approve(tenant, other, first)
    with pytest.raises(ApprovalRefused):
        approve(tenant, other, deputy, role=Role.CLERK)


def test_a_delegation_starting_tomorrow_does_not_count_today(tenant: Tenant) -> None:
    controller, deputy = member(tenant, Role.ADMIN), member(tenant)
    approval_rule_create(
        tenant=tenant, actor=TEST_ACTOR, spec=RuleSpec(name="Controller", steps=[StepSpec(user_ids=[controller.pk])])
    )
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    delegation_create(
        tenant=tenant,
        actor=actor_of(controller),
        delegator_id=controller.pk,
        delegate_id=deputy.pk,
        starts_on=tomorrow,
        ends_on=tomorrow,
    )
    with pytest.raises(ApprovalRefused):
        approve(tenant, in_review(tenant), deputy)


def test_reject_at_a_step_works_as_before(tenant: Tenant) -> None:
    two_step_rule(tenant, second=member(tenant, Role.ADMIN))
    invoice = in_review(tenant)
    approve(tenant, invoice, member(tenant))
    invoice_review(
        tenant=tenant, invoice=invoice, action="reject", actor=TEST_ACTOR, role=Role.APPROVER, comment="Not ours"
    )
    assert invoice.status == InvoiceStatus.REJECTED


def test_a_chain_not_complete_in_time_is_escalated_by_the_schedule(tenant: Tenant, other_tenant: Tenant) -> None:
    two_step_rule(tenant, second=member(tenant, Role.ADMIN), escalate_after_days=3)
    late, recent = in_review(tenant), in_review(tenant)
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(days=4))
    foreign = in_review(other_tenant)  # no policy there: never escalated
    Invoice.objects.for_tenant(other_tenant).filter(pk=foreign.pk).update(
        created_at=timezone.now() - dt.timedelta(days=40)
    )

    assert escalate_stale_approvals() == "escalated 1 invoices"
    for invoice in (late, recent, foreign):
        invoice.refresh_from_db()
    assert late.review_queue == ReviewQueue.ESCALATED and late.status == InvoiceStatus.PENDING_REVIEW
    assert recent.review_queue == ReviewQueue.STANDARD
    assert foreign.review_queue == ReviewQueue.STANDARD
    [move] = events(tenant, late, "transition")
    assert move.actor_id == "approval_escalation"
    assert escalate_stale_approvals() == "escalated 0 invoices"


def test_the_engine_approves_a_clean_invoice_without_a_chain(tenant: Tenant) -> None:
    # A rule that takes every invoice: auto-approval still needs no chain.
    two_step_rule(tenant, second=member(tenant, Role.ADMIN))
    scenario = build_scenario(tenant)
    assert scenario.original.status == InvoiceStatus.APPROVED
    assert InvoiceApproval.objects.for_tenant(tenant).count() == 0


def test_another_tenants_policy_does_not_apply(tenant: Tenant, other_tenant: Tenant) -> None:
    two_step_rule(other_tenant, second=member(other_tenant, Role.ADMIN))
    invoice = in_review(tenant)
    assert approval_rule_for(tenant=tenant, invoice=invoice) is None
    approve(tenant, invoice, member(tenant))
    assert invoice.status == InvoiceStatus.APPROVED
