"""The vendor page's "Bank accounts" card (#19 item 2): a clerk proposes, another person decides,
the page says where the account stands, refusals sit beside their field, the number never shows
in full, and another tenant's vendor is the 404 page."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import IBAN_CHECKSUM, NEEDS_DECIDER, REJECT_REASON_REQUIRED, SAME_PERSON
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount

pytestmark = pytest.mark.django_db

IBAN = "NL91 ABNA 0417 1643 00"
FULL_DIGITS = "0417164300"


def _client(tenant: Tenant, role: str, username: str) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user)
    return client


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Northwind Traders")


@pytest.fixture
def clerk(tenant: Tenant) -> Client:
    return _client(tenant, Role.CLERK, "cleo")


@pytest.fixture
def approver(tenant: Tenant) -> Client:
    return _client(tenant, Role.APPROVER, "ada")


def _propose(client: Client, vendor: Vendor, **form: str) -> Any:
    return client.post(reverse("web:vendor-bank-account-propose", kwargs={"vendor_id": vendor.pk}), form)


def _decide(client: Client, vendor: Vendor, account: VendorBankAccount, decision: str, comment: str = "") -> Any:
    url = reverse("web:vendor-bank-account-decide", kwargs={"vendor_id": vendor.pk})
    return client.post(url, {"account_id": str(account.pk), "decision": decision, "comment": comment})


def _page(client: Client, vendor: Vendor) -> str:
    response = client.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}))
    assert response.status_code == 200
    return response.content.decode()


def test_a_clerk_proposes_the_same_clerk_cannot_approve_an_approver_approves_and_it_cools_off(
    tenant: Tenant, vendor: Vendor, clerk: Client, approver: Client
) -> None:
    page = _page(clerk, vendor)
    assert "No bank account yet" in page and 'data-testid="bank-account-propose-form"' in page

    response = _propose(clerk, vendor, iban=IBAN, comment="Letter of 3 Dec, called back")
    assert response.status_code == 302 and response["Location"].endswith("#bank-accounts")
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    page = _page(clerk, vendor)
    assert "Pending approval by another person" in page and "****4300" in page
    assert "You proposed this account" in page and "bank-account-decide-form" not in page

    refused = _decide(clerk, vendor, account, "approve")
    assert refused.status_code == 403 and escape(NEEDS_DECIDER) in refused.content.decode()

    page = _page(approver, vendor)
    assert "bank-account-decide-form" in page and "bank-account-propose-form" not in page
    assert _decide(approver, vendor, account, "approve").status_code == 302
    account.refresh_from_db()
    assert account.status == BankAccountStatus.ACTIVE
    page = _page(approver, vendor)
    assert "Cooling off until" in page and "Approved by ada" in page
    assert FULL_DIGITS not in page and "NL91ABNA" not in page


def test_an_administrator_who_proposed_cannot_approve_it(tenant: Tenant, vendor: Vendor) -> None:
    admin = _client(tenant, Role.ADMIN, "root")
    assert _propose(admin, vendor, iban=IBAN).status_code == 302
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    assert "bank-account-decide-form" not in _page(admin, vendor)
    refused = _decide(admin, vendor, account, "approve")
    assert refused.status_code == 403 and escape(SAME_PERSON) in refused.content.decode()
    account.refresh_from_db()
    assert account.status == BankAccountStatus.PENDING


def test_a_rejection_without_a_reason_is_refused_beside_the_reason(
    tenant: Tenant, vendor: Vendor, clerk: Client, approver: Client
) -> None:
    _propose(clerk, vendor, iban=IBAN)
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    refused = _decide(approver, vendor, account, "reject")
    assert refused.status_code == 400
    assert 'data-testid="error-comment"' in refused.content.decode()
    assert escape(REJECT_REASON_REQUIRED) in refused.content.decode()
    assert _decide(approver, vendor, account, "reject", "Not the vendor's letterhead").status_code == 302
    account.refresh_from_db()
    assert account.status == BankAccountStatus.REJECTED
    page = _page(clerk, vendor)
    assert "Rejected" in page and "Not the vendor&#x27;s letterhead" in page and "No bank account yet" in page


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"iban": "NL92ABNA0417164300"}, "iban", IBAN_CHECKSUM),
        ({"iban": "NL91" + "9" * 10_000}, "iban", None),
        ({"account_number": "1" * 10_000, "bank_code": "026009593", "country": "US"}, "account_number", None),
        ({"account_number": "12345678", "bank_code": "026009593", "country": "U" * 10_000}, "country", None),
        ({}, "iban", None),
    ],
)
def test_bad_input_is_refused_beside_its_field_with_nothing_saved(
    tenant: Tenant, vendor: Vendor, clerk: Client, form: dict[str, str], field: str, message: str | None
) -> None:
    response = _propose(clerk, vendor, **form)
    body = response.content.decode()
    assert response.status_code == 400
    assert f'data-testid="error-{field}"' in body
    if message:
        assert escape(message) in body
    assert len(body) < 60_000  # a 10 kB paste is not echoed back in an error message
    assert not VendorBankAccount.objects.for_tenant(tenant).exists()


def test_a_nul_byte_is_the_bad_request_page(tenant: Tenant, vendor: Vendor, clerk: Client) -> None:
    assert _propose(clerk, vendor, iban="NL91ABNA\x000417164300").status_code == 400
    assert not VendorBankAccount.objects.for_tenant(tenant).exists()


def test_an_approver_cannot_propose_and_an_unknown_decision_is_refused(
    tenant: Tenant, vendor: Vendor, clerk: Client, approver: Client
) -> None:
    assert _propose(approver, vendor, iban=IBAN).status_code == 403
    _propose(clerk, vendor, iban=IBAN)
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    assert _decide(approver, vendor, account, "delete").status_code == 400
    missing = approver.post(
        reverse("web:vendor-bank-account-decide", kwargs={"vendor_id": vendor.pk}), {"decision": "approve"}
    )
    assert missing.status_code == 400
    account.refresh_from_db()
    assert account.status == BankAccountStatus.PENDING


def test_another_tenants_vendor_and_account_are_the_404_page(
    tenant: Tenant, other_tenant: Tenant, vendor: Vendor, clerk: Client
) -> None:
    _propose(clerk, vendor, iban=IBAN)
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    intruder = _client(other_tenant, Role.ADMIN, "mallory")
    events = AuditEvent.objects.for_tenant(tenant).count()
    for name in ("web:vendor-bank-accounts", "web:vendor-bank-account-propose", "web:vendor-bank-account-decide"):
        url = reverse(name, kwargs={"vendor_id": vendor.pk})
        assert intruder.get(url).status_code == 404
        assert (
            intruder.post(url, {"iban": IBAN, "account_id": str(account.pk), "decision": "approve"}).status_code == 404
        )
    # Tenant B's own vendor, naming tenant A's account: not found either.
    own = VendorFactory(tenant=other_tenant)
    assert _decide(intruder, own, account, "approve").status_code == 404
    account.refresh_from_db()
    assert account.status == BankAccountStatus.PENDING
    assert AuditEvent.objects.for_tenant(tenant).count() == events


def test_the_history_page_and_the_admin_show_only_the_masked_number(
    tenant: Tenant, vendor: Vendor, clerk: Client, approver: Client
) -> None:
    _propose(clerk, vendor, iban=IBAN)
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    _decide(approver, vendor, account, "approve")
    page = clerk.get(reverse("web:vendor-bank-accounts", kwargs={"vendor_id": vendor.pk}))
    assert page.status_code == 200 and "****4300" in page.content.decode()
    assert FULL_DIGITS not in page.content.decode()
    superuser = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-not-used-123")
    admin = Client()
    admin.force_login(superuser)
    change = admin.get(reverse("admin:vendors_vendor_change", args=[vendor.pk]))
    assert change.status_code == 200
    assert "****4300" in change.content.decode() and FULL_DIGITS not in change.content.decode()
