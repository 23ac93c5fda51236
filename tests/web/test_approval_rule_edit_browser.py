"""Editing an approval rule in place, in Chromium (#19 leftovers): the administrator opens Settings →
Approvals, edits the rule's amount band, is refused beside the field for a band that ends before it
starts, corrects it, and sees the new band in the policy and the change (before → after) in the
policy's latest changes and in the settings' audit trail. The edit page says that invoices already
part-way through the chain keep the chain they started with."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from core.actors import Actor
from invoices.models import InvoiceStatus, ReviewQueue
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create
from review.decisions import invoice_review
from review.models import ApprovalRule
from tenants.models import Role
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def policy(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="alma-admin"), role=Role.ADMIN)
    vera = MembershipFactory(tenant=tenant, user=UserFactory(username="vera-approver"), role=Role.APPROVER).user
    controller = MembershipFactory(tenant=tenant, user=UserFactory(username="carl-controller"), role=Role.ADMIN).user
    rule = approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(
            name="Big invoices",
            currency="EUR",
            amount_from=100_000,
            steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[controller.pk])],
        ),
    )
    # An invoice half-way through the chain: step 1 approved by Vera.
    invoice = InvoiceFactory(
        tenant=tenant, total_amount=250_000, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD
    )
    invoice_review(
        tenant=tenant,
        invoice=invoice,
        action="approve",
        actor=Actor(kind="user", id=str(vera.pk), label="vera-approver"),
        role=Role.APPROVER,
    )
    return {"tenant": tenant, "rule": rule, "invoice": invoice}


def test_an_administrator_edits_a_rules_amount_band_and_sees_the_change_audited(
    live_server: Any, policy: dict[str, Any]
) -> None:
    rule = policy["rule"]
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "alma-admin")
        page.goto("/app/settings/approvals")
        row = page.get_by_test_id("approval-rule").filter(has_text="Big invoices")
        assert row.get_by_test_id("rule-band").inner_text() == "EUR 1000.00 and up"
        row.get_by_role("link", name="Edit rule Big invoices").click()
        page.wait_for_url(re.compile(rf"/app/settings/approvals/{rule.pk}$"))
        kept = page.get_by_test_id("approval-rule-kept").inner_text()
        assert "1 invoice in review is part-way through this rule's chain" in kept
        assert "keeps the chain it started with" in kept
        form = page.get_by_test_id("approval-rule-edit-form")
        assert form.get_by_label("From amount (included)").input_value() == "1000.00"

        # A band that ends before it starts is refused beside its field; nothing is saved.
        form.get_by_label("From amount (included)").fill("5000")
        form.get_by_label("Below amount").fill("2000")
        form.get_by_role("button", name="Save rule").click()
        assert "must be more than" in page.get_by_test_id("error-amount_below").inner_text()
        assert ApprovalRule.objects.for_tenant(policy["tenant"]).get().amount_from == 100_000
        assert page.console_errors == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        page.console_errors.clear()  # the refusal's own 400, as expected

        form = page.get_by_test_id("approval-rule-edit-form")
        form.get_by_label("Below amount").fill("")
        form.get_by_role("button", name="Save rule").click()
        page.wait_for_url(re.compile(r"/app/settings/approvals$"))
        page.get_by_text("Rule “Big invoices” saved.").wait_for()
        row = page.get_by_test_id("approval-rule").filter(has_text="Big invoices")
        assert row.get_by_test_id("rule-band").inner_text() == "EUR 5000.00 and up"
        change = page.get_by_test_id("approval-rule-change").first.inner_text()
        assert "alma-admin" in change and "Approval rule · Big invoices" in change
        assert "From amount (included): 1000.00 EUR → 5000.00 EUR" in change
        page.screenshot(path=str(SCREENSHOTS / "approval-rule-edit.png"), full_page=True)

        # The settings' audit trail has it too.
        page.get_by_role("link", name="Audit trail").first.click()
        trail = page.get_by_test_id("audit-trail").inner_text()
        assert "Approval rule · Big invoices" in trail
        assert "From amount (included): 1000.00 EUR → 5000.00 EUR" in trail

        # The invoice half-way through keeps its two steps and says so.
        page.goto(f"/app/invoices/{policy['invoice'].pk}")
        assert page.get_by_test_id("approval-step").count() == 2
        assert "keeps the chain it started with" in page.get_by_test_id("approval-kept").inner_text()
        assert not page.console_errors

    tenant = policy["tenant"]
    stored = ApprovalRule.objects.for_tenant(tenant).get()
    assert stored.amount_from == 500_000
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="approval_rule", action="updated")
    assert (event.before["amount_from"], event.after["amount_from"]) == (100_000, 500_000)
    assert event.actor_label == "alma-admin"
