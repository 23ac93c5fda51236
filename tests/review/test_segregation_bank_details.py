"""Segregation of duties over bank details (#19 item 1): whoever proposed or approved the account a
vendor's invoice would be paid to (its active account, or the change waiting for approval) may not
approve that invoice — alone, at a step of a chain, through bulk approval, or as a delegate — and is
told when they changed the bank details. Whoever rejected a change, or changed an account since
replaced by someone else, may."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create, delegation_create
from review.approvals import ApprovalRefused, invoice_approval_chain
from review.decisions import invoice_review
from review.queues import bulk_approval_plan, invoice_review_bulk_approve
from review.segregation import BANK_DETAILS_REFUSED, invoice_approval_exclusions
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, VendorFactory
from tests.web.test_decisions import clean_in_review
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose, vendor_bank_account_reject
from vendors.models import Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

IBAN = "NL91ABNA0417164300"
OTHER_IBAN = "DE89370400440532013000"
THIRD_IBAN = "GB29NWBK60161331926819"


def member(tenant: Tenant, role: str = Role.APPROVER) -> Any:
    return MembershipFactory(tenant=tenant, role=role).user


def actor_of(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def propose(tenant: Tenant, vendor: Vendor, user: Any, iban: str = IBAN) -> VendorBankAccount:
    return vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=actor_of(user), role=Role.CLERK, iban=iban)


def decide(tenant: Tenant, account: VendorBankAccount, user: Any) -> VendorBankAccount:
    return vendor_bank_account_approve(tenant=tenant, account=account, actor=actor_of(user), role=Role.APPROVER)


def in_review(tenant: Tenant, vendor: Vendor) -> Invoice:
    return InvoiceFactory(
        tenant=tenant, vendor=vendor, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD
    )


def approve(tenant: Tenant, invoice: Invoice, user: Any, role: str = Role.APPROVER) -> Invoice:
    return invoice_review(tenant=tenant, invoice=invoice, action="approve", actor=actor_of(user), role=role)


def refusal(account: VendorBankAccount, what: str, when: dt.datetime) -> str:
    day = timezone.localtime(when).date().isoformat()
    return BANK_DETAILS_REFUSED.format(date=day, what=what, account=account.account_mask)


def test_who_approved_the_vendors_account_cannot_approve_its_invoice_and_is_told_when(tenant: Tenant) -> None:
    clerk, bank_approver, colleague = member(tenant, Role.CLERK), member(tenant), member(tenant)
    vendor = VendorFactory(tenant=tenant)
    account = decide(tenant, propose(tenant, vendor, clerk), bank_approver)
    invoice = in_review(tenant, vendor)

    with pytest.raises(ApprovalRefused) as refused:
        approve(tenant, invoice, bank_approver)
    assert account.decided_at is not None
    assert refused.value.message == refusal(account, "approved", account.decided_at)
    assert "You changed this vendor's bank details on " in refused.value.message
    assert refused.value.status_code == 403
    with pytest.raises(ApprovalRefused) as refused_clerk:
        approve(tenant, invoice, clerk, role=Role.CLERK)
    assert refused_clerk.value.message == refusal(account, "proposed", account.created_at)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW  # nothing written

    approve(tenant, invoice, colleague)
    assert invoice.status == InvoiceStatus.APPROVED


def test_a_waiting_change_excludes_its_proposer_and_a_rejection_lifts_it(tenant: Tenant) -> None:
    first_clerk, second_clerk, bank_approver, checker = (
        member(tenant, Role.CLERK),
        member(tenant, Role.CLERK),
        member(tenant),
        member(tenant),
    )
    vendor = VendorFactory(tenant=tenant)
    decide(tenant, propose(tenant, vendor, first_clerk), bank_approver)
    invoice = in_review(tenant, vendor)
    pending = propose(tenant, vendor, second_clerk, iban=OTHER_IBAN)
    excluded = invoice_approval_exclusions(tenant=tenant, invoice=invoice)
    assert set(excluded) == {first_clerk.pk, second_clerk.pk, bank_approver.pk}
    assert excluded[second_clerk.pk] == refusal(pending, "proposed", pending.created_at)

    # Rejected, the change never reaches the record: its proposer and the person who refused it may approve.
    vendor_bank_account_reject(
        tenant=tenant, account=pending, actor=actor_of(checker), role=Role.APPROVER, comment="Not the vendor's letter"
    )
    assert set(invoice_approval_exclusions(tenant=tenant, invoice=invoice)) == {first_clerk.pk, bank_approver.pk}
    approve(tenant, invoice, second_clerk, role=Role.CLERK)
    assert invoice.status == InvoiceStatus.APPROVED


def test_a_replaced_account_no_longer_excludes_who_set_it_up(tenant: Tenant) -> None:
    old_clerk, old_approver, new_clerk, new_approver = (
        member(tenant, Role.CLERK),
        member(tenant),
        member(tenant, Role.CLERK),
        member(tenant),
    )
    vendor = VendorFactory(tenant=tenant)
    decide(tenant, propose(tenant, vendor, old_clerk), old_approver)
    decide(tenant, propose(tenant, vendor, new_clerk, iban=OTHER_IBAN), new_approver)
    invoice = in_review(tenant, vendor)
    assert set(invoice_approval_exclusions(tenant=tenant, invoice=invoice)) == {new_clerk.pk, new_approver.pk}
    approve(tenant, invoice, old_approver)
    assert invoice.status == InvoiceStatus.APPROVED


def test_only_the_invoices_own_vendor_counts_and_an_api_key_names_nobody(tenant: Tenant, other_tenant: Tenant) -> None:
    clerk, bank_approver = member(tenant, Role.CLERK), member(tenant)
    vendor, other_vendor = VendorFactory(tenant=tenant), VendorFactory(tenant=tenant)
    decide(tenant, propose(tenant, other_vendor, clerk), bank_approver)
    by_key = vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=TEST_ACTOR, role=None, iban=THIRD_IBAN)
    decide(tenant, by_key, clerk)
    invoice = in_review(tenant, vendor)
    # The clerk approved this vendor's account (an API key proposed it); the approver touched another vendor.
    assert set(invoice_approval_exclusions(tenant=tenant, invoice=invoice)) == {clerk.pk}
    approve(tenant, invoice, bank_approver)
    assert invoice.status == InvoiceStatus.APPROVED


def test_a_chain_step_and_a_delegate_are_refused_for_bank_detail_changes(tenant: Tenant) -> None:
    controller, deputy, approver = member(tenant, Role.ADMIN), member(tenant, Role.CLERK), member(tenant)
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(name="Two approvals", steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[controller.pk])]),
    )
    vendor = VendorFactory(tenant=tenant)
    # The deputy proposed the vendor's account; the controller approved it.
    account = decide(tenant, propose(tenant, vendor, deputy), controller)
    today = timezone.localdate()
    delegation_create(
        tenant=tenant,
        actor=actor_of(controller),
        delegator_id=controller.pk,
        delegate_id=deputy.pk,
        starts_on=today,
        ends_on=today + dt.timedelta(days=3),
    )
    invoice = in_review(tenant, vendor)
    approve(tenant, invoice, approver)  # step 1

    chain = invoice_approval_chain(tenant=tenant, invoice=invoice)
    assert chain is not None and chain.may_approve_now == []
    # The delegate changed the bank details: refused in their own name, whoever they act for.
    with pytest.raises(ApprovalRefused) as refused:
        approve(tenant, invoice, deputy, role=Role.CLERK)
    assert refused.value.message == refusal(account, "proposed", account.created_at)
    # The step's own approver changed them too.
    with pytest.raises(ApprovalRefused) as refused_controller:
        approve(tenant, invoice, controller, role=Role.ADMIN)
    assert refused_controller.value.message.startswith("You changed this vendor's bank details on ")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW


def test_a_delegate_may_not_act_for_a_delegator_who_changed_the_bank_details(tenant: Tenant) -> None:
    controller, deputy, clerk = member(tenant, Role.ADMIN), member(tenant, Role.CLERK), member(tenant, Role.CLERK)
    approval_rule_create(
        tenant=tenant, actor=TEST_ACTOR, spec=RuleSpec(name="Controller", steps=[StepSpec(user_ids=[controller.pk])])
    )
    vendor = VendorFactory(tenant=tenant)
    decide(tenant, propose(tenant, vendor, clerk), controller)
    today = timezone.localdate()
    delegation_create(
        tenant=tenant,
        actor=actor_of(controller),
        delegator_id=controller.pk,
        delegate_id=deputy.pk,
        starts_on=today,
        ends_on=today,
    )
    invoice = in_review(tenant, vendor)
    with pytest.raises(ApprovalRefused):
        approve(tenant, invoice, deputy, role=Role.CLERK)
    # The same delegation works for another vendor's invoice, whose bank details the controller never touched.
    other = in_review(tenant, VendorFactory(tenant=tenant))
    approve(tenant, other, deputy, role=Role.CLERK)
    assert other.status == InvoiceStatus.APPROVED


def test_bulk_approval_leaves_out_the_changers_invoices_with_the_reason(tenant: Tenant) -> None:
    clerk, bank_approver, colleague = member(tenant, Role.CLERK), member(tenant), member(tenant)
    theirs, elsewhere = clean_in_review(tenant, "BULK-1"), clean_in_review(tenant, "BULK-2")
    account = decide(tenant, propose(tenant, theirs.vendor, clerk), bank_approver)
    assert account.decided_at is not None
    chosen = [theirs.pk, elsewhere.pk]

    # The confirmation page says so before anything is approved.
    plan = bulk_approval_plan(tenant=tenant, invoice_ids=chosen, role=Role.APPROVER, user_id=bank_approver.pk)
    assert [invoice.pk for invoice in plan.approved] == [elsewhere.pk]
    assert [(invoice.pk, reason) for invoice, reason in plan.skipped] == [
        (theirs.pk, refusal(account, "approved", account.decided_at))
    ]
    outcome = invoice_review_bulk_approve(
        tenant=tenant, invoice_ids=chosen, actor=actor_of(bank_approver), role=Role.APPROVER
    )
    assert [invoice.pk for invoice in outcome.approved] == [elsewhere.pk]
    theirs.refresh_from_db()
    assert theirs.status == InvoiceStatus.PENDING_REVIEW
    outcome = invoice_review_bulk_approve(
        tenant=tenant, invoice_ids=[theirs.pk], actor=actor_of(colleague), role=Role.APPROVER
    )
    assert [invoice.pk for invoice in outcome.approved] == [theirs.pk]
