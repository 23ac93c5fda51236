"""A clerk disputes an invoice in Chromium: from the invoice in review, opens a dispute with a
reason, writes to the vendor and mentions an approver (who sees the notification), hears back,
ends the dispute back in review, and approves the invoice."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from invoices.models import Invoice, InvoiceStatus
from review.models import Dispute, DisputeStatus
from tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import build_scenario

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada"), role=Role.APPROVER)
    scenario = build_scenario(tenant)
    return {"tenant": tenant, "invoice": scenario.price_mismatch}


def test_dispute_then_back_to_review_then_approve(live_server: Any, books: dict[str, Any]) -> None:
    invoice: Invoice = books["invoice"]
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        page.get_by_test_id("dispute-start").click()
        form = page.get_by_test_id("dispute-form")
        form.get_by_label("What is disputed").select_option(label="Price")
        form.get_by_label("What is wrong").fill("Hoses billed at 19.00, ordered at 18.40.")
        form.get_by_role("button", name="Dispute the invoice").click()
        page.get_by_text(f"Invoice {invoice.invoice_number} is disputed with the vendor.").wait_for()
        assert page.get_by_test_id("dispute-reason").inner_text() == "Price"

        comment = page.get_by_test_id("comment-form")
        comment.get_by_label("Kind").select_option(label="Message to the vendor")
        comment.get_by_label("Comment").fill("Please send a corrected invoice at 18.40. @ada for your information.")
        comment.get_by_role("button", name="Add to the thread").click()
        page.get_by_text("Added to the thread.").wait_for()
        assert page.get_by_test_id("dispute-comment").count() == 2
        page.screenshot(path=str(SCREENSHOTS / "dispute.png"), full_page=True)

        end = page.get_by_test_id("resolve-form")
        end.get_by_label("How it ends").select_option(label="Back to review")
        end.get_by_label("Why").fill("Vendor confirmed 18.40; the difference is credited on the next invoice.")
        end.get_by_role("button", name="End the dispute").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{invoice.pk}$"))
        page.get_by_text("Dispute ended: back to review.", exact=True).wait_for()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")

        decision = page.get_by_test_id("review-form")
        confirm = decision.locator("#confirm_discrepancies")
        if confirm.count():
            confirm.check()
        decision.locator("#comment").fill("Approved after the vendor's confirmation.")
        decision.get_by_role("button", name="Approve").click()
        page.get_by_text("Approved").first.wait_for()
        page.get_by_role("button", name="Log out").click()

        log_in(page, "ada")
        page.get_by_test_id("notifications-unread").wait_for()
        page.get_by_test_id("notifications-link").click()
        page.get_by_text("mentioned you in the dispute").wait_for()
        assert page.console_errors == []
    assert Invoice.objects.for_tenant(books["tenant"]).get(pk=invoice.pk).status == InvoiceStatus.APPROVED
    assert Dispute.objects.for_tenant(books["tenant"]).get().status == DisputeStatus.RESOLVED
