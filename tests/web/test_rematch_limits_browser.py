"""An administrator in Chromium raises the EUR price floor on Settings → Amount limits: the page
says how many open invoices are being matched again, and the invoice in review says why on its
page; matched again, it is approved."""

from __future__ import annotations

import re
from typing import Any

import pytest

from recon_site.tenant_settings.views_matching import REMATCHED
from tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.matching.runs import reload, run_matching
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import Scenario, build_scenario

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scenario(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Scenario:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False  # the test runs matching itself
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin"), role=Role.ADMIN)
    return build_scenario(tenant)


def test_an_admin_raises_the_price_floor_and_the_invoice_in_review_is_matched_again(
    live_server: Any, scenario: Scenario
) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.get_by_role("link", name="Settings").click()
        page.get_by_role("navigation", name="Settings").get_by_role("link", name="Amount limits").click()
        page.wait_for_url(re.compile(r"/settings/limits$"))
        eur = page.get_by_test_id("limits-EUR")
        floor = eur.get_by_label("Price tolerance floor per unit")
        floor.fill("1.00")
        eur.get_by_role("button", name="Save EUR").click()
        page.get_by_text("Limits in EUR saved.").wait_for()
        # The price mismatch and the possible duplicate, both EUR and in review.
        page.get_by_text(REMATCHED.format(count=2)).wait_for()
        assert reload(scenario.price_mismatch).status == "received"

        page.goto(f"/app/invoices/{scenario.price_mismatch.pk}")
        page.get_by_text("Amount limits in EUR changed (price tolerance floor 0 → 1): matching again.").first.wait_for()

        run_matching(scenario.tenant)
        page.reload()
        assert reload(scenario.price_mismatch).status == "approved"
        page.get_by_test_id("discrepancy-gone").first.wait_for()
        assert page.console_errors == []
