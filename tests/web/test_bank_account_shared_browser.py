"""An account already another vendor's, in Chromium (#19 item 2): the clerk proposing it for a
second vendor is warned, not refused, and the approver deciding it reads the same warning beside
the pending account."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.actors import Actor
from tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount

IBAN = "NL91 ABNA 0417 1643 00"

pytestmark = pytest.mark.django_db(transaction=True)


def _actor(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


@pytest.fixture
def second_vendor(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Vendor:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant = TenantFactory(name="Acme Manufacturing")
    clerk = MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK).user
    approver = MembershipFactory(tenant=tenant, user=UserFactory(username="ada-approver"), role=Role.APPROVER).user
    first = VendorFactory(tenant=tenant, name="Northwind Traders")
    account = vendor_bank_account_propose(tenant=tenant, vendor=first, actor=_actor(clerk), role=Role.CLERK, iban=IBAN)
    vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER)
    return VendorFactory(tenant=tenant, name="Northwynd Trading")


def test_an_account_another_vendor_has_is_proposed_with_a_warning(live_server: Any, second_vendor: Vendor) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/vendors/{second_vendor.pk}")
        page.get_by_test_id("bank-accounts").get_by_text("Add or change account").click()
        form = page.get_by_test_id("bank-account-propose-form")
        form.get_by_label("IBAN", exact=True).fill(IBAN)
        form.get_by_role("button", name="Propose account").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{second_vendor.pk}#bank-accounts$"))
        warning = page.locator(".alert-warning").first.inner_text()
        assert "Account ****4300 is also on record for Northwind Traders" in warning

        page.context.clear_cookies()
        log_in(page, "ada-approver")
        page.goto(f"/app/vendors/{second_vendor.pk}")
        assert "also on record for Northwind Traders" in page.get_by_test_id("bank-account-warning").inner_text()
        page.get_by_test_id("bank-account-decide-form").get_by_role("button", name="Approve").click()
        page.get_by_text("approved: it is paid to from").wait_for()
        assert not page.console_errors

    # A warning, not a refusal: both vendors now have the account.
    accounts = VendorBankAccount.objects.unscoped().filter(status=BankAccountStatus.ACTIVE)
    assert sorted(accounts.values_list("vendor__name", flat=True)) == ["Northwind Traders", "Northwynd Trading"]
