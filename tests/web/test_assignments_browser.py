"""A clerk takes work and hands it over in Chromium: "Assign to me" on a queue's row, "My work"
with the late first, the invoice page's "Who works it" card, and the daily digest switched on."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.models import Membership, Role
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    cleo = MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    vera = MembershipFactory(tenant=tenant, user=UserFactory(username="vera-approver"), role=Role.APPROVER)
    fields = {"tenant": tenant, "status": InvoiceStatus.PENDING_REVIEW, "review_queue": ReviewQueue.STANDARD}
    fresh = InvoiceFactory(invoice_number="INV-FRESH", **fields)
    late = InvoiceFactory(invoice_number="INV-LATE", due_date=timezone.localdate() - dt.timedelta(days=1), **fields)
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(days=6))
    return {"tenant": tenant, "cleo": cleo, "vera": vera, "fresh": fresh, "late": late}


def test_a_clerk_takes_work_from_the_queue_and_hands_it_on(live_server: Any, desk: dict[str, Any]) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="Standard queue", exact=True).click()
        late_row = page.locator('[data-testid="queue-row"][data-invoice="INV-LATE"]')
        assert late_row.get_by_test_id("review-overdue").is_visible()
        for number in ("INV-LATE", "INV-FRESH"):
            page.get_by_role("button", name=f"Assign {number} to me").click()
            page.wait_for_url(re.compile(r"/app/queues/standard"))
            row = page.locator(f'[data-testid="queue-row"][data-invoice="{number}"]')
            assert row.get_by_test_id("queue-assignee").inner_text() == "cleo-clerk"

        page.get_by_role("link", name="My work", exact=True).click()
        page.wait_for_url(re.compile(r"/app/my-work$"))
        rows = page.get_by_test_id("my-invoice")
        assert [rows.nth(i).get_attribute("data-invoice") for i in range(rows.count())] == ["INV-LATE", "INV-FRESH"]
        assert "Overdue for review; payment overdue" in rows.nth(0).inner_text()
        page.get_by_test_id("digest-on").click()
        page.get_by_test_id("digest-off").wait_for()
        page.screenshot(path=str(SCREENSHOTS / "my-work.png"), full_page=True)

        rows.nth(1).get_by_role("link", name="INV-FRESH").click()
        card = page.get_by_test_id("work-card")
        assert card.get_by_test_id("assignee").inner_text().startswith("cleo-clerk")
        card.get_by_label("Give it to").select_option(label="vera-approver (Approver)")
        card.get_by_test_id("assign").click()
        page.get_by_text("Invoice INV-FRESH assigned to vera-approver.").wait_for()
        assert page.get_by_test_id("work-card").get_by_test_id("assignee").inner_text().startswith("vera-approver")
        assert "cleo-clerk → vera-approver" in page.get_by_test_id("timeline").inner_text()
        assert page.console_errors == []

    tenant = desk["tenant"]
    assert Invoice.objects.for_tenant(tenant).get(pk=desk["fresh"].pk).assigned_to == desk["vera"].user
    assert Membership.objects.for_tenant(tenant).get(pk=desk["cleo"].pk).digest_email
