"""A clerk on a phone (390 × 844): the review queue, the payments queue, the invoice page and the
vendor and PO lists fit the width, tables become stacked cards, nothing scrolls sideways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import PHONE, chromium_page, log_in
from tests.web.every_code import EveryCode, every_code_books

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@pytest.fixture
def phone_books(settings: Any) -> EveryCode:
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="approver-phone"), role=Role.APPROVER)
    return every_code_books(tenant)


def _pages(books: EveryCode) -> dict[str, str]:
    return {
        "invoices": reverse("web:invoices"),
        "queue": reverse("web:queue", kwargs={"queue": "standard"}),
        "escalated": reverse("web:queue", kwargs={"queue": "escalated"}),
        "payments": reverse("web:payments"),
        "suggestions": reverse("web:payment-suggestions"),
        "invoice": reverse("web:invoice-detail", kwargs={"invoice_id": books.scenario.price_mismatch.pk}),
        "vendors": reverse("web:vendors"),
        "purchase-orders": reverse("web:purchase-orders"),
        "payment": reverse("web:payment-detail", kwargs={"payment_id": books.payments[0].pk}),
        "dashboard": reverse("web:dashboard"),
    }


@pytest.mark.django_db(transaction=True)
def test_no_page_scrolls_sideways_at_390_px(
    live_server: Any, phone_books: EveryCode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    widths = {}
    with chromium_page(base_url=live_server.url, viewport=PHONE) as page:
        log_in(page, "approver-phone")
        for name, url in _pages(phone_books).items():
            page.goto(url)
            page.wait_for_load_state()
            widths[name] = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=str(SCREENSHOTS / f"phone-{name}.png"), full_page=True)
        assert widths == dict.fromkeys(widths, 390), widths
        # Stacked, each value still named: the queue's amount cell says what it is.
        page.goto(_pages(phone_books)["queue"])
        cell = page.locator('[data-testid="queue-row"] td.num').first
        label = cell.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label == '"Amount"'
        assert page.console_errors == []
