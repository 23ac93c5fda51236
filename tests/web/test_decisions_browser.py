"""Decisions with reasons in Chromium (#18 items 6 and 7): a clerk escalates without a reason, sees
the refusal beside the comment box with the focus in it, types the reason and lands on the next
invoice of the queue; bulk approval shows each chosen invoice's discrepancies and the sum per
currency before anything is approved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import Scenario, build_scenario
from tests.web.test_decisions import clean_in_review

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Desk:
    scenario: Scenario
    clean_eur: str  # invoice ids, read before Playwright starts
    clean_usd: str


@pytest.fixture
def desk(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Desk:
    """The standard queue, oldest first: INV-100 (a medium price difference), C-1 (clean, 1,045.00
    EUR), C-2 (clean, 1,045.00 USD)."""
    settings.MATCH_ON_INGEST = False
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-decides"), role=Role.CLERK)
    scenario = build_scenario(tenant)
    clean_eur = clean_in_review(tenant, "C-1")
    clean_usd = clean_in_review(tenant, "C-2", currency="USD")
    return Desk(scenario, str(clean_eur.pk), str(clean_usd.pk))


def test_a_clerk_escalates_with_a_reason_and_lands_on_the_next_invoice(live_server: Any, desk: Desk) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-decides")
        page.goto("/app/queues/standard")
        page.get_by_role("link", name="INV-100").click()
        page.get_by_role("heading", name=re.compile("INV-100")).wait_for()
        # What an approval would be over, by its label, before any button is pressed.
        confirmation = page.get_by_test_id("confirm-discrepancies")
        assert "Price differs from PO" in confirmation.inner_text()

        page.get_by_role("button", name="Escalate").click()
        error = page.get_by_test_id("error-comment")
        error.wait_for()
        assert error.inner_text() == "A comment is required to escalate an invoice."
        comment = page.get_by_label(re.compile("^Comment"))
        # The focus is in the comment box, and the reason is right under it, not at the top.
        assert page.evaluate("document.activeElement.id") == "comment"
        assert comment.get_attribute("aria-invalid") == "true"
        box, below = comment.bounding_box(), error.bounding_box()
        assert 0 <= below["y"] - (box["y"] + box["height"]) < 40
        assert page.get_by_test_id("action-error").count() == 0
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review · Standard")

        # Typed where the focus already is: no click needed.
        page.keyboard.type("Price rise of 3 % not on the PO: needs an approver.")
        page.get_by_role("button", name="Escalate").click()
        page.get_by_text("Invoice INV-100 escalated to an approver. Next in the standard queue: C-1.").wait_for()
        page.get_by_role("heading", name=re.compile("C-1")).wait_for()
        assert page.url.endswith(f"/app/invoices/{desk.clean_eur}")
        # C-1 is clean: nothing to confirm, the clerk approves it and goes on to C-2.
        assert page.get_by_test_id("confirm-discrepancies").count() == 0
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("Invoice C-1 approved. Next in the standard queue: C-2.").wait_for()
        assert page.url.endswith(f"/app/invoices/{desk.clean_usd}")
        # Chromium logs the refused form's 400 document as "Failed to load resource"; nothing else may show.
        assert [error for error in page.console_errors if "Failed to load resource" not in error] == []


def test_bulk_approval_shows_discrepancies_and_the_sum_per_currency(live_server: Any, desk: Desk) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-decides")
        page.goto("/app/queues/standard")
        # Only the clean invoices can be chosen; the price difference has no checkbox.
        assert page.get_by_label("Select INV-100").count() == 0
        page.get_by_label("Select all clean invoices on this page").check()
        assert page.get_by_label("Select C-1").is_checked() and page.get_by_label("Select C-2").is_checked()
        # A stale or hand-made form naming INV-100 too: the confirmation must still leave it out.
        page.get_by_test_id("bulk-approve").evaluate(
            "(button, id) => { const box = document.createElement('input'); box.type = 'hidden';"
            " box.name = 'invoice_ids'; box.value = id; button.form.appendChild(box); }",
            str(desk.scenario.price_mismatch.pk),
        )
        page.get_by_test_id("bulk-approve").click()
        page.get_by_role("heading", name="2 clean invoices will be approved").wait_for()

        rows = page.get_by_test_id("bulk-row")
        assert rows.count() == 3
        left_out = rows.filter(has_text="INV-100")
        assert "Price differs from PO" in left_out.inner_text()
        assert "Left out: Not clean (Price differs from PO)" in left_out.inner_text()
        assert "none" in rows.filter(has_text="C-1").inner_text()
        totals = page.get_by_test_id("bulk-total")
        assert [totals.nth(i).inner_text().split() for i in range(totals.count())] == [
            ["EUR", "1", "1,045.00", "EUR"],
            ["USD", "1", "1,045.00", "USD"],
        ]
        page.get_by_test_id("confirm-bulk").click()
        # The confirmation sent only what it listed as approved.
        page.get_by_text("2 invoice(s) approved; 0 left for individual review.").wait_for()
        assert page.get_by_test_id("queue-count").inner_text() == "1 invoice waiting"
        assert page.console_errors == []
