"""Approval chains on the pages and the API (#19 item 1): the invoice page's chain card and its
decision form, segregation of duties refused on the page, the Delegations page, Settings →
Approvals, bulk approval leaving chained invoices out, the chain in the invoice's JSON and the
delegation endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services import audit_record
from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create
from review.decisions import STEP_TAKEN_MEANWHILE
from review.models import ApprovalDelegation, ApprovalRule, InvoiceApproval
from review.queues import NEEDS_CHAIN
from review.segregation import SOD_REFUSED
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, UserFactory, VendorFactory
from tests.web.test_decisions import clean_in_review

pytestmark = pytest.mark.django_db


def member(tenant: Tenant, username: str, role: str = Role.APPROVER) -> Any:
    return MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def in_review(tenant: Tenant, number: str = "INV-900", **fields: Any) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor=VendorFactory(tenant=tenant),
        invoice_number=number,
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
        **fields,
    )


@pytest.fixture
def chain(tenant: Tenant) -> dict[str, Any]:
    """Two steps: any approver, then the controller by name."""
    people = {
        "vera": member(tenant, "vera-approver"),
        "carl": member(tenant, "carl-controller", Role.ADMIN),
        "cleo": member(tenant, "cleo-clerk", Role.CLERK),
    }
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(
            name="Large invoices",
            currency="EUR",
            amount_from=10_000,
            steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[people["carl"].pk])],
        ),
    )
    return people


def approve(client: Client, invoice: Invoice) -> Any:
    return client.post(
        reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}),
        {"action": "approve", "expected_status": invoice.status},
    )


def test_the_page_shows_the_chain_and_each_step_is_approved_in_turn(tenant: Tenant, chain: dict[str, Any]) -> None:
    invoice = in_review(tenant)
    page = signed_in(chain["vera"]).get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    body = page.content.decode()
    assert 'data-testid="approval-chain"' in body and "Large invoices" in body
    assert "Step 1</strong> · Any approver" in body and "Step 2</strong> · Any of carl-controller" in body

    done = approve(signed_in(chain["vera"]), invoice)
    assert done.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW

    # Vera took step 1: the page no longer offers her Approve, and says why.
    page = signed_in(chain["vera"]).get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    body = page.content.decode()
    assert "Approved by vera-approver" in body
    assert "Approved by vera-approver · step 1 of 2 (Large invoices)" in body  # the timeline
    assert 'data-testid="approve-refused"' in body
    assert 'value="approve"' not in body
    refused = approve(signed_in(chain["vera"]), invoice)
    assert refused.status_code == 403
    # The clerk is not named by step 2 either.
    assert approve(signed_in(chain["cleo"]), invoice).status_code == 403

    assert approve(signed_in(chain["carl"]), invoice).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED
    page = signed_in(chain["cleo"]).get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    assert "Approved by carl-controller · step 2 of 2 (Large invoices)" in page.content.decode()


def test_a_step_taken_meanwhile_is_a_409_not_the_next_step(tenant: Tenant, chain: dict[str, Any]) -> None:
    invoice = in_review(tenant, number="INV-RACE")
    url = reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})
    # Both pages show step 1 waiting; the controller may take step 1 (an administrator) and step 2.
    assert 'name="approval_step" value="1"' in signed_in(chain["carl"]).get(url).content.decode()
    assert approve(signed_in(chain["vera"]), invoice).status_code == 302
    late = signed_in(chain["carl"]).post(
        reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}),
        {"action": "approve", "expected_status": "pending_review", "approval_step": "1"},
    )
    assert late.status_code == 409
    assert STEP_TAKEN_MEANWHILE.format(step=1) in late.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW
    assert InvoiceApproval.objects.for_tenant(tenant).filter(invoice=invoice).count() == 1


def test_whoever_changed_the_invoice_is_refused_on_the_page(tenant: Tenant) -> None:
    vera = member(tenant, "vera-approver")
    invoice = in_review(tenant, number="INV-SOD")
    audit_record(
        tenant=tenant,
        actor=Actor(kind="user", id=str(vera.pk), label="vera-approver"),
        entity_type="invoice",
        entity_id=invoice.pk,
        action="updated",
        after={"note": "typed in"},
    )
    page = signed_in(vera).get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    assert SOD_REFUSED in page.content.decode()
    refused = approve(signed_in(vera), invoice)
    assert refused.status_code == 403
    assert SOD_REFUSED in refused.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW


def test_bulk_approval_leaves_a_chained_invoice_for_its_page(tenant: Tenant, chain: dict[str, Any]) -> None:
    chained = clean_in_review(tenant, "INV-BULK")  # EUR, over the rule's 100.00
    response = signed_in(chain["vera"]).post(
        reverse("web:bulk-approve", kwargs={"queue": "standard"}),
        {"invoice_ids": [str(chained.pk)], "confirm": "yes"},
        follow=True,
    )
    chained.refresh_from_db()
    assert chained.status == InvoiceStatus.PENDING_REVIEW
    assert NEEDS_CHAIN.format(rule="Large invoices") in response.content.decode()


def test_the_delegations_page_gives_refuses_and_revokes(tenant: Tenant) -> None:
    carl, deputy = member(tenant, "carl-controller", Role.ADMIN), member(tenant, "dana-deputy")
    client = signed_in(carl)
    today = timezone.localdate()
    bad = client.post(
        reverse("web:delegations"),
        {
            "delegate": str(deputy.pk),
            "starts_on": today.isoformat(),
            "ends_on": (today - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert bad.status_code == 400
    assert 'data-testid="error-ends_on"' in bad.content.decode()
    assert ApprovalDelegation.objects.for_tenant(tenant).count() == 0

    made = client.post(
        reverse("web:delegations"),
        {"delegate": str(deputy.pk), "starts_on": today.isoformat(), "ends_on": today.isoformat()},
        follow=True,
    )
    assert "dana-deputy may approve for you" in made.content.decode()
    delegation = ApprovalDelegation.objects.for_tenant(tenant).get()
    assert (delegation.delegator_id, delegation.delegate_id) == (carl.pk, deputy.pk)
    received = signed_in(deputy).get(reverse("web:delegations")).content.decode()
    assert 'data-testid="delegation-received"' in received and "carl-controller" in received

    # The deputy cannot revoke it; the delegator can.
    signed_in(deputy).post(reverse("web:delegation-revoke"), {"delegation_id": str(delegation.pk)})
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    client.post(reverse("web:delegation-revoke"), {"delegation_id": str(delegation.pk)})
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None
    assert (
        AuditEvent.objects.for_tenant(tenant).filter(entity_type="approval_delegation", action="revoked").count() == 1
    )


def test_an_administrator_edits_the_policy_and_a_clerk_cannot(tenant: Tenant) -> None:
    admin, clerk = member(tenant, "ada-admin", Role.ADMIN), member(tenant, "cleo-clerk", Role.CLERK)
    url = reverse("web:settings-approvals")
    assert signed_in(clerk).get(url).status_code == 403
    client = signed_in(admin)
    assert "No rules" in client.get(url).content.decode()

    no_currency = client.post(
        url, {"name": "Big", "amount_from": "5000", "step1_role": "approver", "step1_mode": "any"}
    )
    assert no_currency.status_code == 400
    assert 'data-testid="error-currency"' in no_currency.content.decode()
    too_precise = client.post(
        url, {"name": "Big", "currency": "JPY", "amount_from": "5000.5", "step1_role": "approver", "step1_mode": "any"}
    )
    assert too_precise.status_code == 400 and 'data-testid="error-amount_from"' in too_precise.content.decode()

    added = client.post(
        url,
        {
            "name": "Big yen",
            "currency": "jpy",
            "amount_from": "500000",
            "step1_role": "approver",
            "step1_mode": "any",
            "step2_users": [str(admin.pk)],
            "step2_mode": "all",
            "escalate_after_days": "5",
        },
        follow=True,
    )
    assert added.status_code == 200
    rule = ApprovalRule.objects.for_tenant(tenant).get()
    assert (rule.currency, rule.amount_from, rule.escalate_after_days) == ("JPY", 500_000, 5)
    assert [(s.role, s.mode) for s in rule.steps.all()] == [("approver", "any"), ("", "all")]
    page = added.content.decode()
    assert "JPY 500000 and up" in page and "All of ada-admin" in page

    client.post(reverse("web:settings-approval-change"), {"rule_id": str(rule.pk), "remove": "1"})
    assert not ApprovalRule.objects.for_tenant(tenant).exists()
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="approval_rule").count() == 2


def test_the_api_approves_a_step_and_shows_the_chain(tenant: Tenant, chain: dict[str, Any]) -> None:
    invoice = in_review(tenant, number="INV-API")
    api = APIClient()
    api.force_login(chain["vera"])
    answer = api.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert answer.status_code == 200
    data = answer.json()
    assert data["status"] == "pending_review"
    assert data["approval"]["rule"] == "Large invoices" and data["approval"]["current_step"] == 2
    assert data["approval"]["steps"][0]["approvals"][0]["approver"] == "vera-approver"
    assert data["approval"]["steps"][1]["may_approve"] == ["carl-controller"]
    stale = api.post(f"/api/invoices/{invoice.pk}/approve", {"expected_step": 1}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_state"
    again = api.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert again.status_code == 403 and again.json()["error"]["code"] == "permission_denied"
    listed = api.get("/api/invoices").json()
    assert all(row["approval"] is None for row in listed["results"])


def test_the_delegation_endpoints(tenant: Tenant, api: APIClient, foreign_api: APIClient) -> None:
    carl, deputy = member(tenant, "carl-controller", Role.ADMIN), member(tenant, "dana-deputy")
    today = timezone.localdate().isoformat()
    missing = api.post(
        "/api/approval-delegations", {"delegate_id": deputy.pk, "starts_on": today, "ends_on": today}, format="json"
    )
    assert missing.status_code == 400 and "delegator_id" in missing.json()["error"]["details"]
    made = api.post(
        "/api/approval-delegations",
        {"delegator_id": carl.pk, "delegate_id": deputy.pk, "starts_on": today, "ends_on": today},
        format="json",
    )
    assert made.status_code == 201
    assert (made.json()["delegator"], made.json()["delegate"]) == ("carl-controller", "dana-deputy")
    assert [row["id"] for row in api.get("/api/approval-delegations").json()["results"]] == [made.json()["id"]]
    assert foreign_api.get("/api/approval-delegations").json()["results"] == []
    foreign = foreign_api.post(
        "/api/approval-delegations/revoke", {"id": made.json()["id"], "delegator_id": carl.pk}, format="json"
    )
    assert foreign.status_code == 404
    revoked = api.post(
        "/api/approval-delegations/revoke", {"id": made.json()["id"], "delegator_id": carl.pk}, format="json"
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
