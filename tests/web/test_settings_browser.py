"""An administrator at the settings pages in Chromium: changes the price tolerance and finds the
change in the audit trail; invites a clerk, who signs in with the password shown once and is
refused the settings (the 403 page)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tenants.models import Role, Tenant
from tests.audit.sealing import seal
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def admin_username(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin"), role=Role.ADMIN)
    return "ada-admin"


def test_an_admin_changes_the_price_tolerance_and_sees_it_in_the_audit_trail(
    live_server: Any, admin_username: str
) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, admin_username)
        page.get_by_role("link", name="Settings").click()
        page.wait_for_url(re.compile(r"/app/settings/$"))
        tolerance = page.get_by_label("Price tolerance (%)")
        assert tolerance.input_value() == "2"
        tolerance.fill("3.5")
        page.get_by_label("PO is another vendor's").check()
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for()
        assert page.get_by_label("Price tolerance (%)").input_value() == "3.5"

        page.get_by_role("navigation", name="Settings").get_by_role("link", name="Audit trail").click()
        trail = page.get_by_test_id("audit-trail")
        trail.get_by_text("Price tolerance (%): 2.000 → 3.500").wait_for()
        assert "Matching settings: Changed" in trail.inner_text() and admin_username in trail.inner_text()
        # No worker runs here: the change is on the trail, marked as not in the hash chain yet,
        # until its seal runs (audit.sealer); then the mark is gone.
        change = trail.get_by_role("row").filter(has_text="Price tolerance (%)")
        assert "not sealed yet" in change.inner_text()
        seal(Tenant.objects.get(name="Acme Manufacturing"))
        page.reload()
        change = page.get_by_test_id("audit-trail").get_by_role("row").filter(has_text="Price tolerance (%)")
        assert "not sealed yet" not in change.inner_text()
        assert (
            "Reject invoices with: Duplicate invoice → Duplicate invoice, PO is another vendor's" in trail.inner_text()
        )
        page.screenshot(path=str(SCREENSHOTS / "settings-audit.png"), full_page=True)
        assert page.console_errors == []


def test_an_admin_invites_a_clerk_who_signs_in_and_is_refused_the_settings(
    live_server: Any, admin_username: str
) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, admin_username)
        page.goto("/app/settings/users")
        invite = page.get_by_test_id("invite")
        invite.get_by_label("User name").fill("nora-clerk")
        invite.get_by_label("Email").fill("nora@example.com")
        invite.get_by_label("Role").select_option(label="Clerk")
        invite.get_by_role("button", name="Invite").click()
        password = page.get_by_test_id("invited-password").inner_text()
        assert len(password) >= 12
        assert page.get_by_test_id("user-nora-clerk").is_visible()
        page.screenshot(path=str(SCREENSHOTS / "settings-users.png"), full_page=True)
        page.get_by_role("button", name="Log out").click()

        page.goto("/login")
        page.get_by_label("Username").fill("nora-clerk")
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/$"))
        assert page.get_by_text("Clerk", exact=True).is_visible()
        assert page.get_by_role("link", name="Settings").count() == 0  # not offered to a clerk

        response = page.goto("/app/settings/")
        assert response is not None and response.status == 403
        assert page.get_by_test_id("forbidden").is_visible()
        # Chromium logs the page's own 403 status as a console error; nothing else may appear.
        assert [error for error in page.console_errors if "status of 403" not in error] == []
