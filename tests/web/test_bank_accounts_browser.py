"""A vendor's bank account change under four eyes, in Chromium (#19 item 2): a clerk mistypes an
IBAN and is told beside the field, types it right and proposes it; the same clerk is not offered
the approval; an approver approves it, and the page says it cools off until a date. The full
IBAN is on no page either of them sees."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from tenants.models import Role
from tests.audit.sealing import seal
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
IBAN = "NL91 ABNA 0417 1643 00"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def vendor(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Vendor:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-approver"), role=Role.APPROVER)
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def _full_iban_absent(page: Any) -> None:
    text = page.content()
    assert "0417164300" not in text and "NL91ABNA" not in text and "0417 1643" not in text


def test_a_clerk_proposes_an_iban_and_another_person_approves_it(live_server: Any, vendor: Vendor) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="Vendors").first.click()
        page.get_by_role("link", name="Northwind Traders").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}$"))
        card = page.get_by_test_id("bank-accounts")
        assert "No bank account yet" in card.inner_text()
        card.get_by_text("Add or change account").click()
        form = page.get_by_test_id("bank-account-propose-form")
        form.get_by_label("IBAN", exact=True).fill("NL92 ABNA 0417 1643 00")
        form.get_by_role("button", name="Propose account").click()
        assert "check digits are wrong" in page.get_by_test_id("error-iban").inner_text()
        form = page.get_by_test_id("bank-account-propose-form")
        form.get_by_label("IBAN", exact=True).fill(IBAN)
        form.get_by_label("Why it changes").fill("Letter of 3 December; called back on the number we know.")
        form.get_by_role("button", name="Propose account").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#bank-accounts$"))
        pending = page.get_by_test_id("bank-account-pending")
        assert "****4300" in pending.inner_text() and "Pending approval by another person" in pending.inner_text()
        # The clerk who proposed it is told someone else must approve it, and is offered no button.
        assert page.get_by_test_id("bank-account-own-proposal").is_visible()
        assert page.get_by_role("button", name="Approve").count() == 0
        _full_iban_absent(page)

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-approver")
        page.goto(f"/app/vendors/{vendor.pk}")
        decide = page.get_by_test_id("bank-account-decide-form")
        decide.get_by_role("button", name="Approve").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#bank-accounts$"))
        state = page.get_by_test_id("bank-account-state").inner_text()
        assert re.fullmatch(r"Cooling off until \d{4}-\d{2}-\d{2} \d{2}:\d{2}", state), state
        assert "Approved by ada-approver" in page.get_by_test_id("bank-account-active").inner_text()
        _full_iban_absent(page)
        page.screenshot(path=str(SCREENSHOTS / "vendor-bank-accounts.png"), full_page=True)

    account = VendorBankAccount.objects.for_tenant(vendor.tenant_id).get(vendor=vendor)
    assert account.status == BankAccountStatus.ACTIVE and account.decided_by_label == "ada-approver"
    actions = AuditEvent.objects.for_tenant(vendor.tenant_id).filter(entity_type="vendor_bank_account")
    assert sorted(actions.values_list("action", flat=True)) == ["bank_account_approved", "bank_account_proposed"]
    assert seal(vendor.tenant_id).unsealed == 0
    assert audit_chain_verify(tenant=vendor.tenant_id).intact
