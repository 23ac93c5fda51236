"""A Chromium page for the web app's browser tests that need their own data or viewport (a phone's
390 px, say): the same Debian Chromium, arguments and console-error capture as tests/web/
test_browser.py, whose constants it takes, and a sign-in through the login form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections

from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, _require_chromium

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium_page(*, base_url: str, viewport: dict[str, int] = DESKTOP) -> Iterator[Any]:
    """A page of a fresh browser; `page.console_errors` collects console errors and page errors
    (a CSP refusal shows there). ORM calls the test makes while the page is open run in
    Playwright's greenlet, on connections of that greenlet's own: they are closed when the page
    is, or the test database could not be dropped at the end of the run."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport, base_url=base_url)
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.console_errors = errors
            yield page
        finally:
            connections.close_all()
            browser.close()


def log_in(page: Any, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/$"))
