"""A vendor's contacts in Chromium (#19 item 2): a clerk adds one on the vendor's page (and is told
beside the field when the address is mistyped); an administrator proposes a new bank account; the
contact gets an e-mail with the account masked, and the vendor's page says who was told."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from tenants.models import Role
from tests.audit.sealing import seal
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS
from vendors.models import Vendor, VendorContact

pytestmark = pytest.mark.django_db(transaction=True)

IBAN = "NL91 ABNA 0417 1643 00"


@pytest.fixture
def vendor(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Vendor:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin", email="ada@acme.example"), role=Role.ADMIN)
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def test_a_clerk_adds_a_contact_who_is_mailed_when_an_admin_proposes_a_bank_account(
    live_server: Any, vendor: Vendor, mailoutbox: list[Any]
) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="Vendors").first.click()
        page.get_by_role("link", name="Northwind Traders").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}$"))
        card = page.get_by_test_id("vendor-contacts")
        assert "No contacts yet" in card.inner_text()
        card.get_by_text("Add a contact").click()
        form = page.get_by_test_id("contact-add-form")
        form.get_by_label("Name").fill("Anna Berg")
        form.get_by_label("E-mail").fill("anna at northwind")
        form.get_by_label("Role (optional)").fill("Accounts receivable")
        assert form.get_by_label("Tell about bank-detail changes").is_checked()
        form.get_by_role("button", name="Add contact").click()
        assert "Enter an e-mail address" in page.get_by_test_id("error-email").inner_text()
        form = page.get_by_test_id("contact-add-form")
        assert form.get_by_label("Name").input_value() == "Anna Berg"
        form.get_by_label("E-mail").fill("Anna.Berg@Northwind.example")
        form.get_by_role("button", name="Add contact").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#contacts$"))
        row = page.get_by_test_id("contact-anna.berg@northwind.example")
        assert "Accounts receivable" in row.inner_text() and "Yes" in row.inner_text()
        assert "Anna Berg added as a contact of Northwind Traders." in page.inner_text("main")

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.goto(f"/app/vendors/{vendor.pk}")
        page.get_by_test_id("bank-accounts").get_by_text("Add or change account").click()
        form = page.get_by_test_id("bank-account-propose-form")
        form.get_by_label("IBAN", exact=True).fill(IBAN)
        form.get_by_label("Why it changes").fill("Letter of 3 December.")
        form.get_by_role("button", name="Propose account").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#bank-accounts$"))
        notices = page.get_by_test_id("contact-notices")
        text = notices.inner_text()
        assert "Account ****4300 proposed" in text and "Anna Berg (anna.berg@northwind.example)" in text
        assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", text)
        page.screenshot(path=str(SCREENSHOTS / "vendor-contacts.png"), full_page=True)
        assert page.console_errors == []

    [told] = [mail for mail in mailoutbox if mail.to == ["anna.berg@northwind.example"]]
    assert "****4300" in told.body and "0417164300" not in told.body and "0417 1643" not in told.body
    assert "If you did not ask for this change, call Acme Manufacturing" in told.body
    contact = VendorContact.objects.for_tenant(vendor.tenant_id).get(vendor=vendor)
    assert contact.email == "anna.berg@northwind.example" and contact.role == "Accounts receivable"
    actions = set(AuditEvent.objects.for_tenant(vendor.tenant_id).values_list("action", flat=True))
    assert {"contact_added", "bank_account_proposed", "contacts_told_of_bank_change"} <= actions
    assert seal(vendor.tenant_id).unsealed == 0
    assert audit_chain_verify(tenant=vendor.tenant_id).intact
