"""Editing an approval rule in place (#19 leftovers): its criteria, chain and place in the order,
validated as on create (nothing written when refused), audited with the rule before and after;
another tenant's rule is not found; an invoice already part-way through the rule's chain keeps the
chain it started with, and one whose chain has not started follows the edited rule."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from audit.models import AuditEvent
from core.actors import Actor
from core.exceptions import DocumentInvalid, NotFoundError
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.approval_policies import (
    BAND_EMPTY,
    BAND_NEEDS_CURRENCY,
    RuleSpec,
    StepSpec,
    approval_rule_create,
    approval_rule_update,
    approval_rules_list,
    invoices_mid_chain,
    rule_spec_of,
)
from review.approvals import approval_rule_for, invoice_approval_chain
from review.decisions import invoice_review
from review.models import ApprovalRule, ApprovalStep
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, VendorFactory

pytestmark = pytest.mark.django_db


def member(tenant: Tenant, role: str = Role.APPROVER) -> Any:
    return MembershipFactory(tenant=tenant, role=role).user


def actor_of(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def in_review(tenant: Tenant, total: int = 500_000) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor=VendorFactory(tenant=tenant),
        total_amount=total,
        currency="EUR",
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
    )


def approve(tenant: Tenant, invoice: Invoice, user: Any, role: str = Role.APPROVER) -> Invoice:
    return invoice_review(tenant=tenant, invoice=invoice, action="approve", actor=actor_of(user), role=role)


def rule(tenant: Tenant, name: str = "Big invoices", **fields: Any) -> ApprovalRule:
    fields.setdefault("steps", [StepSpec(role=Role.APPROVER)])
    return approval_rule_create(tenant=tenant, actor=TEST_ACTOR, spec=RuleSpec(name=name, **fields))


def edited(rule_row: ApprovalRule, **changes: Any) -> RuleSpec:
    return dataclasses.replace(rule_spec_of(rule_row), **changes)


def updates(tenant: Tenant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_type="approval_rule", action="updated").order_by("id")
    )


def test_an_edit_of_the_amount_band_is_audited_before_and_after(tenant: Tenant) -> None:
    big = rule(tenant, currency="EUR", amount_from=100_000)
    invoice = in_review(tenant, total=500_000)
    assert approval_rule_for(tenant=tenant, invoice=invoice) == big

    approval_rule_update(
        tenant=tenant, actor=TEST_ACTOR, rule_id=big.pk, spec=edited(big, amount_from=1_000_000, name="Very big")
    )
    big.refresh_from_db()
    assert (big.name, big.amount_from, big.currency) == ("Very big", 1_000_000, "EUR")
    assert approval_rule_for(tenant=tenant, invoice=invoice) is None  # 5,000.00 is below the new band
    [event] = updates(tenant)
    assert (event.before["amount_from"], event.after["amount_from"]) == (100_000, 1_000_000)
    assert (event.before["name"], event.after["name"]) == ("Big invoices", "Very big")
    assert event.after["chain"] == "1. Any approver"


def test_a_refused_edit_names_its_fields_and_writes_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    approver = member(tenant)
    big = rule(tenant, currency="EUR", amount_from=100_000, steps=[StepSpec(user_ids=[approver.pk])])
    outsider = MembershipFactory(tenant=other_tenant).user
    with pytest.raises(DocumentInvalid) as refused:
        approval_rule_update(
            tenant=tenant,
            actor=TEST_ACTOR,
            rule_id=big.pk,
            spec=edited(
                big,
                currency="",
                amount_below=50_000,
                steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[outsider.pk])],
            ),
            place=7,
        )
    details = refused.value.details
    assert details["currency"] == [BAND_NEEDS_CURRENCY]
    assert BAND_EMPTY in details["amount_below"]
    assert "steps" in details and "position" in details
    big.refresh_from_db()
    assert (big.currency, big.amount_below) == ("EUR", None)
    assert [list(step.named_users.values_list("user_id", flat=True)) for step in big.steps.all()] == [[approver.pk]]
    assert updates(tenant) == []


def test_another_tenants_rule_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = rule(other_tenant, name="Theirs")
    with pytest.raises(NotFoundError):
        approval_rule_update(tenant=tenant, actor=TEST_ACTOR, rule_id=foreign.pk, spec=edited(foreign, name="Mine"))
    foreign.refresh_from_db()
    assert foreign.name == "Theirs"


def test_an_edit_moves_the_rule_to_its_new_place(tenant: Tenant) -> None:
    first, second, third = rule(tenant, "First"), rule(tenant, "Second"), rule(tenant, "Third")
    approval_rule_update(tenant=tenant, actor=TEST_ACTOR, rule_id=third.pk, spec=edited(third), place=1)
    assert [r.name for r in approval_rules_list(tenant=tenant)] == ["Third", "First", "Second"]
    approval_rule_update(tenant=tenant, actor=TEST_ACTOR, rule_id=third.pk, spec=edited(third), place=3)
    assert [r.name for r in approval_rules_list(tenant=tenant)] == ["First", "Second", "Third"]
    assert [(e.before["position"], e.after["position"]) for e in updates(tenant)] == [(3, 1), (1, 3)]
    assert {first.pk, second.pk} <= {r.pk for r in approval_rules_list(tenant=tenant)}


def test_an_edit_that_changes_nothing_records_nothing(tenant: Tenant) -> None:
    big = rule(tenant, currency="EUR", amount_from=100_000)
    steps_before = list(ApprovalStep.objects.for_tenant(tenant).values_list("pk", flat=True))
    approval_rule_update(tenant=tenant, actor=TEST_ACTOR, rule_id=big.pk, spec=edited(big), place=1)
    assert updates(tenant) == []
    assert list(ApprovalStep.objects.for_tenant(tenant).values_list("pk", flat=True)) == steps_before


def test_an_invoice_part_way_through_keeps_the_chain_it_started_with(tenant: Tenant) -> None:
    first, controller, auditor = member(tenant), member(tenant, Role.ADMIN), member(tenant, Role.ADMIN)
    two_steps = rule(
        tenant,
        "Two approvals",
        currency="EUR",
        amount_from=100_000,
        steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[controller.pk])],
    )
    started, waiting = in_review(tenant), in_review(tenant)
    approve(tenant, started, first)  # step 1 of 2
    assert invoices_mid_chain(tenant=tenant, rule=two_steps) == 1

    # The administrator makes the rule a single step by the auditor, for invoices of 10,000.00 and up.
    approval_rule_update(
        tenant=tenant,
        actor=TEST_ACTOR,
        rule_id=two_steps.pk,
        spec=edited(two_steps, amount_from=1_000_000, steps=[StepSpec(user_ids=[auditor.pk])]),
    )
    kept = invoice_approval_chain(tenant=tenant, invoice=started)
    assert kept is not None and kept.kept and kept.name == "Two approvals"
    assert [step.label for step in kept.steps] == ["Any approver", f"Any of {controller.get_username()}"]
    assert kept.current is not None and kept.current.position == 2
    assert kept.may_approve_now == [controller]
    # The invoice whose chain had not started follows the rule as it is now: 5,000.00 is outside it.
    assert invoice_approval_chain(tenant=tenant, invoice=waiting) is None

    approve(tenant, started, controller, role=Role.ADMIN)
    started.refresh_from_db()
    assert started.status == InvoiceStatus.APPROVED
    approve(tenant, waiting, first)
    assert waiting.status == InvoiceStatus.APPROVED
    big = in_review(tenant, total=2_000_000)
    chain = invoice_approval_chain(tenant=tenant, invoice=big)
    assert (
        chain is not None and not chain.kept and [s.label for s in chain.steps] == [f"Any of {auditor.get_username()}"]
    )
