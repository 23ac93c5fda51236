"""A two-step approval chain in Chromium (#19 item 1): the controller delegates his approvals to a
deputy on the Delegations page; an approver takes step 1, the deputy step 2 on the controller's
behalf, and the invoice is approved with both names in its chain and audit trail."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.approval_policies import RuleSpec, StepSpec, approval_rule_create
from review.models import InvoiceApproval
from tenants.models import Role
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    people = {
        name: MembershipFactory(tenant=tenant, user=UserFactory(username=name), role=role).user
        for name, role in (
            ("vera-approver", Role.APPROVER),
            ("carl-controller", Role.ADMIN),
            ("dana-deputy", Role.CLERK),
        )
    }
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(
            name="Over 1,000 EUR",
            currency="EUR",
            amount_from=100_000,
            steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[people["carl-controller"].pk])],
        ),
    )
    invoice = InvoiceFactory(
        tenant=tenant,
        invoice_number="INV-BIG",
        total_amount=250_000,
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
    )
    return {"tenant": tenant, "invoice": invoice, **people}


def test_a_two_step_chain_approved_by_an_approver_and_a_delegate(live_server: Any, desk: dict[str, Any]) -> None:
    invoice_url = f"/app/invoices/{desk['invoice'].pk}"
    with chromium_page(base_url=live_server.url) as page:
        # The controller, away next week, lets his deputy approve for him.
        log_in(page, "carl-controller")
        page.get_by_role("link", name="Delegations", exact=True).click()
        page.get_by_label("Delegate to").select_option(label="dana-deputy")
        page.get_by_role("button", name="Delegate").click()
        page.get_by_text("dana-deputy may approve for you").wait_for()
        assert page.get_by_test_id("delegation-given").inner_text().count("In force") == 1

        # Step 1: an approver.
        page.context.clear_cookies()
        log_in(page, "vera-approver")
        page.goto(invoice_url)
        steps = page.get_by_test_id("approval-step")
        assert steps.nth(0).get_attribute("data-state") == "current"
        assert "vera-approver" in page.get_by_test_id("approval-may").inner_text()
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("your approval is recorded; step 2 of 2").wait_for()
        page.goto(invoice_url)
        assert "Pending review" in page.get_by_test_id("invoice-status").inner_text()
        assert page.get_by_test_id("approval-step").nth(0).get_attribute("data-state") == "done"
        assert "Approved by vera-approver" in page.get_by_test_id("approval-given").first.inner_text()
        assert page.get_by_role("button", name="Approve").count() == 0

        # Step 2 names the controller: his deputy approves it on his behalf.
        page.context.clear_cookies()
        log_in(page, "dana-deputy")
        page.goto(invoice_url)
        assert "on behalf of carl-controller" in page.get_by_test_id("approval-as-delegate").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "approval-chain.png"), full_page=True)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(re.compile(r"/app/"))
        page.goto(invoice_url)
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        given = page.get_by_test_id("approval-given")
        assert given.nth(1).inner_text().startswith("Approved by dana-deputy on behalf of carl-controller")
        assert not page.console_errors

    tenant, invoice = desk["tenant"], Invoice.objects.unscoped().get(pk=desk["invoice"].pk)
    assert invoice.status == InvoiceStatus.APPROVED
    last = InvoiceApproval.objects.for_tenant(tenant).get(invoice=invoice, step_position=2)
    assert (last.approver_id, last.on_behalf_of_id) == (desk["dana-deputy"].pk, desk["carl-controller"].pk)
    move = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .get()
    )
    assert move.after["summary"] == "Approved by dana-deputy on behalf of carl-controller"
