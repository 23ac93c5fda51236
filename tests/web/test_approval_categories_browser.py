"""Approval by vendor category in Chromium (#19 item 1): an administrator puts a vendor in the
"Logistics" category on its page, adds a rule for Logistics vendors (any approver, then the fleet
manager) in Settings → Approvals, and the vendor's invoice in review follows that chain: after the
approver it still waits, after the fleet manager it is approved."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.models import ApprovalRule
from tenants.models import Role
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    for name, role in (("ada-admin", Role.ADMIN), ("vera-approver", Role.APPROVER), ("fred-fleet", Role.APPROVER)):
        MembershipFactory(tenant=tenant, user=UserFactory(username=name), role=role)
    vendor = VendorFactory(tenant=tenant, name="Rhenus Logistics")
    invoice = InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number="RH-4411",
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
    )
    return {"tenant": tenant, "vendor": vendor, "invoice": invoice}


def test_an_admin_adds_a_category_rule_and_the_invoice_follows_its_chain(
    live_server: Any, desk: dict[str, Any]
) -> None:
    invoice_url = f"/app/invoices/{desk['invoice'].pk}"
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.goto(f"/app/vendors/{desk['vendor'].pk}")
        page.get_by_test_id("vendor-category-edit").locator("summary").click()
        page.get_by_role("combobox", name="Category").fill("Logistics")
        page.get_by_role("button", name="Save category").click()
        page.get_by_text("Category of Rhenus Logistics: Logistics.").wait_for()
        assert page.get_by_test_id("vendor-category-label").inner_text() == "Logistics"

        page.goto(reverse("web:settings-approvals"))
        page.get_by_label("Name").fill("Logistics vendors")
        page.get_by_label("Vendor category").fill("Logistics")
        page.get_by_label("Step 1: role").select_option(label="Approver")
        page.get_by_role("group", name="Step 2: or these users").get_by_label("fred-fleet").check()
        page.get_by_role("button", name="Add rule").click()
        page.get_by_text("Rule “Logistics vendors” added").wait_for()
        assert "vendors in Logistics" in page.get_by_test_id("approval-rule").inner_text()

        page.context.clear_cookies()
        log_in(page, "vera-approver")
        page.goto(invoice_url)
        assert "Logistics vendors" in page.get_by_test_id("approval-chain").inner_text()
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("your approval is recorded; step 2 of 2").wait_for()

        page.context.clear_cookies()
        log_in(page, "fred-fleet")
        page.goto(invoice_url)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()
        page.goto(invoice_url)
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        assert not page.console_errors

    rule = ApprovalRule.objects.for_tenant(desk["tenant"]).get()
    assert rule.vendor_category == "Logistics"
    assert Invoice.objects.unscoped().get(pk=desk["invoice"].pk).status == InvoiceStatus.APPROVED
