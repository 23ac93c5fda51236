"""End to end in a real browser: Debian's Chromium driven by Playwright against a live server.

Playwright never downloads a browser here: it launches `/usr/bin/chromium`. Without it the
tests fail under REQUIRE_SERVICES=1 (CI installs it) and are skipped elsewhere, with the reason.
Screenshots of the main pages go to `artifacts/screenshots/` for review.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.conftest import Scenario, build_scenario
from tests.web.test_decisions import clean_in_review

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"

pytestmark = pytest.mark.django_db(transaction=True)


def _require_chromium() -> None:
    """Like `require_service` in tests/conftest.py: a failure in CI, a skip elsewhere."""
    reason = ""
    if not os.access(CHROMIUM, os.X_OK):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright package is not installed (make test installs it from requirements/dev.txt)"
    if reason:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"REQUIRE_SERVICES=1 and {reason}")
        pytest.skip(reason)


@pytest.fixture
def browser_page(
    django_db_setup: None, live_server: Any, live_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    # django_db_setup first: fixtures are torn down in reverse, so the live server (and its
    # database connections) goes before the test database is dropped. ORM calls made inside
    # Playwright's greenlet open connections of their own: closed with the page, below.
    _require_chromium()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous, which Django would otherwise refuse next to a running loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 900}, base_url=live_server.url)
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.console_errors = errors  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            connections.close_all()
            browser.close()


@pytest.fixture
def live_scenario(settings: Any) -> Scenario:
    # No background matching tasks from a live test: the scenario runs matching itself.
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    for role in (Role.CLERK, Role.APPROVER):
        MembershipFactory(tenant=tenant, user=UserFactory(username=f"{role}-e2e"), role=role)
    return build_scenario(tenant)


def _log_in(page: Any, role: str) -> None:
    page.goto("/")
    assert "/login" in page.url
    page.get_by_label("Username").fill(f"{role}-e2e")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))


def _nav(page: Any, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def test_a_clerk_approves_a_price_discrepancy_with_a_comment(browser_page: Any, live_scenario: Scenario) -> None:
    page = browser_page
    _log_in(page, Role.CLERK)
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    _nav(page, "Standard queue")
    page.get_by_role("heading", name="Standard review queue").wait_for()
    assert page.get_by_test_id("queue-count").inner_text() == "1 invoice waiting"
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    page.get_by_role("link", name="INV-100").click()
    page.get_by_role("heading", name=re.compile("INV-100")).wait_for()
    flagged = page.locator('[data-testid="comparison-row"][data-flagged="true"]')
    assert flagged.count() == 1 and flagged.get_attribute("data-line") == "2"
    price_cell = flagged.get_by_test_id("invoice-price")
    assert price_cell.inner_text() == "19.00" and "diff" in price_cell.get_attribute("class")
    # The highlight is really drawn, not only a class name: the stylesheet colours the cell.
    assert price_cell.evaluate("cell => getComputedStyle(cell).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.screenshot(path=str(SCREENSHOTS / "invoice_detail.png"), full_page=True)
    events_before = page.get_by_test_id("timeline-item").count()

    page.get_by_label(re.compile("^Comment")).fill("Price rise agreed by phone with the vendor.")
    # Approving over the price difference asks to confirm it (the only invoice: back to the queue).
    page.get_by_role("checkbox", name=re.compile("I have checked")).check()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Invoice INV-100 approved. Nothing else is waiting in the standard queue.").wait_for()
    assert page.get_by_test_id("queue-count").inner_text() == "0 invoices waiting"
    page.go_back()
    page.reload()
    assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
    assert page.get_by_test_id("timeline-item").count() == events_before + 1
    assert "Price rise agreed by phone" in page.get_by_test_id("timeline").inner_text()
    assert "clerk-e2e" in page.get_by_test_id("timeline").inner_text()

    assert page.console_errors == []


def test_an_approver_rejects_an_escalated_duplicate(browser_page: Any, live_scenario: Scenario) -> None:
    page = browser_page
    _log_in(page, Role.APPROVER)
    _nav(page, "Escalated queue")
    row = page.get_by_test_id("queue-row").filter(has_text="INV-200-B")
    assert "Possible duplicate" in row.inner_text()
    row.get_by_role("link", name="INV-200-B").click()
    page.get_by_label(re.compile("^Comment")).fill("Same delivery billed twice as INV-200.")
    page.get_by_role("button", name="Reject").click()
    # The last one of the queue: the reviewer is back on the (empty) queue.
    page.get_by_text("Invoice INV-200-B rejected. Nothing else is waiting in the escalated queue.").wait_for()
    assert page.get_by_test_id("queue-count").inner_text() == "0 invoices waiting"


def test_queue_filters_update_the_results_in_place(browser_page: Any, live_scenario: Scenario) -> None:
    """htmx swaps only the results: the filter form (and focus) stay, the URL follows."""
    page = browser_page
    _log_in(page, Role.APPROVER)
    _nav(page, "Escalated queue")
    page.locator("#f-type").evaluate("select => select.setAttribute('data-marker', 'kept')")
    page.locator("#f-type").select_option("missing_po")
    page.wait_for_url(re.compile(r"type=missing_po"))
    page.get_by_test_id("queue-count").filter(has_text="0 invoices").wait_for()
    # The same form element: the page was not reloaded.
    assert page.locator("#f-type").get_attribute("data-marker") == "kept"
    assert page.console_errors == []


@pytest.fixture
def live_clean(live_scenario: Scenario) -> None:
    """A clean invoice (no discrepancy at all) beside INV-100 in the standard queue."""
    clean_in_review(live_scenario.tenant, "C-1")


def test_a_clerk_bulk_approves_clean_invoices_after_confirming(live_clean: None, browser_page: Any) -> None:
    page = browser_page
    _log_in(page, Role.CLERK)
    _nav(page, "Standard queue")
    # The header checkbox (our own script, no inline JS) ticks every clean row; INV-100's price
    # difference is not clean (tests/web/test_decisions_browser.py: the confirmation in full).
    page.get_by_label("Select all clean invoices on this page").check()
    assert page.get_by_label("Select C-1").is_checked()
    assert page.get_by_label("Select INV-100").count() == 0
    page.get_by_test_id("bulk-approve").click()
    page.get_by_role("heading", name="1 clean invoice will be approved").wait_for()
    page.get_by_test_id("confirm-bulk").click()
    page.get_by_text("1 invoice(s) approved; 0 left for individual review.").wait_for()
    assert page.get_by_test_id("queue-count").inner_text() == "1 invoice waiting"
    assert page.console_errors == []


def test_the_review_flow_works_from_the_keyboard(browser_page: Any) -> None:
    page = browser_page
    page.goto("/login")
    # The username field has the focus on arrival; no mouse from here on.
    page.keyboard.type("approver-e2e")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/$"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.goto("/app/queues/standard")
    page.get_by_role("link", name="INV-100").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name=re.compile("INV-100")).wait_for()
    page.get_by_label(re.compile("^Comment")).focus()
    page.keyboard.type("Checked against the vendor's new price list.")
    # The confirmation of the price difference sits just before the comment box.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.id") == "confirm_discrepancies"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Approve"
    # The focus ring is drawn (keyboard users must see where they are).
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.get_by_text("Invoice INV-100 approved.").wait_for()


@pytest.mark.parametrize(("require", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, require: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.setenv("REQUIRE_SERVICES", require)
    with pytest.raises(outcome, match="Chromium is not installed at /usr/bin/chromium"):
        _require_chromium()
