"""Risk signals in Chromium: a clerk opens an invoice that asks to be paid to an account not on
its vendor's record and reads, beside it, what is wrong and what to do; it was not approved.
An administrator sets the new-vendor limit and the unusual-amount score on the settings pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from invoices.models import InvoiceStatus
from tenants.models import CurrencyLimit, Role, TenantSettings
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.matching.runs import reload, run_matching
from tests.matching.test_loading_risk import FOREIGN_IBAN, IBAN, approved_account, naming, small_order
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ready(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False  # the test runs matching itself


def test_a_clerk_sees_the_foreign_account_on_the_invoice_which_was_not_approved(live_server: Any, ready: None) -> None:
    tenant = TenantFactory(name="Buyer Ltd")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    acme = VendorFactory(tenant=tenant, name="ACME")
    approved_account(tenant, acme, IBAN)
    invoice = small_order(acme, invoice_number="INV-666", **naming(FOREIGN_IBAN))
    run_matching(tenant)
    assert reload(invoice).status == InvoiceStatus.PENDING_REVIEW

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        page.get_by_text("Bank account not on vendor's record").first.wait_for()
        page.get_by_text(
            "Account ****3000 is not one of ACME's accounts (the vendor's account on record is ****4300)"
        ).first.wait_for()
        page.get_by_text("confirm with ACME by phone").first.wait_for()
        assert page.get_by_text("Approved", exact=True).count() == 0
        assert page.console_errors == []


def test_an_admin_sets_the_new_vendor_limit_and_the_unusual_amount_score(live_server: Any, ready: None) -> None:
    tenant = TenantFactory(name="Buyer Ltd")
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin"), role=Role.ADMIN)
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.goto("/app/settings/limits")
        new = page.get_by_test_id("limits-new")
        new.get_by_label("Currency").fill("EUR")
        new.get_by_label("Auto-approve below").fill("100.00")
        new.get_by_label("Escalate from").fill("10000.00")
        new.get_by_label("Write off up to").fill("5.00")
        new.get_by_label("Price tolerance floor per unit").fill("0")
        new.get_by_label("New vendor's first invoice up to").fill("2500.5")
        new.get_by_role("button", name="Add").click()
        page.get_by_text("Limits in EUR saved.").wait_for()
        assert CurrencyLimit.objects.for_tenant(tenant).get(currency="EUR").new_vendor_first_invoice_max == 250_050

        page.get_by_role("navigation", name="Settings").get_by_role("link", name="Matching").first.click()
        page.wait_for_url(re.compile(r"/app/settings/$"))
        form = page.get_by_test_id("matching-settings")
        form.get_by_label("Unusual amounts: judge from (approved invoices)").fill("30")
        form.get_by_label("Unusual amounts: compare with the vendor's last (invoices)").fill("20")
        form.get_by_role("button", name="Save settings").click()
        # More than compared with: refused beside the field, nothing saved.
        page.get_by_text("At most the number of invoices compared with").wait_for()
        assert page.console_errors == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        page.console_errors.clear()  # the refusal's own 400, as expected
        assert TenantSettings.objects.get(tenant=tenant).unusual_amount_min_history == 5
        form = page.get_by_test_id("matching-settings")
        form.get_by_label("Unusual amounts: judge from (approved invoices)").fill("8")
        form.get_by_label("Unusual amounts: flag from score").fill("5")
        form.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for()
        saved = TenantSettings.objects.get(tenant=tenant)
        assert (saved.unusual_amount_min_history, saved.unusual_amount_threshold) == (8, 5)
        assert page.console_errors == []
