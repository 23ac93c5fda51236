"""A change of a vendor's bank details is e-mailed to the tenant's other administrators (#19 item
2): on proposal, approval and rejection, after commit, never to the person who acted, never the
full number, never to another tenant's administrators."""

from __future__ import annotations

from typing import Any

import pytest

from core.actors import Actor
from core.exceptions import DomainError
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose, vendor_bank_account_reject

pytestmark = pytest.mark.django_db

IBAN = "NL91 ABNA 0417 1643 00"
NEW_IBAN = "DE89 3704 0044 0532 0130 00"


def person(tenant: Tenant, username: str, role: str, email: str = "") -> Actor:
    user = UserFactory(username=username, email=email or f"{username}@example.com")
    MembershipFactory(tenant=tenant, user=user, role=role)
    return Actor(kind="user", id=str(user.pk), label=username)


@pytest.fixture
def people(tenant: Tenant, other_tenant: Tenant) -> dict[str, Actor]:
    found = {
        "cleo": person(tenant, "cleo-clerk", Role.CLERK),
        "ada": person(tenant, "ada-admin", Role.ADMIN),
        "max": person(tenant, "max-admin", Role.ADMIN),
        "vera": person(tenant, "vera-approver", Role.APPROVER),
    }
    person(other_tenant, "foreign-admin", Role.ADMIN)
    return found


def test_a_proposal_and_its_approval_are_mailed_to_the_other_administrators(
    tenant: Tenant, people: dict[str, Actor], mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    vendor = VendorFactory(tenant=tenant, name="Northwind Traders")
    with django_capture_on_commit_callbacks(execute=True):
        first = vendor_bank_account_propose(
            tenant=tenant, vendor=vendor, actor=people["cleo"], role=Role.CLERK, iban=IBAN, comment="Letter of 3 Dec"
        )
    [proposed] = mailoutbox
    assert proposed.subject == "[Recon] Northwind Traders: bank account ****4300 proposed"
    assert sorted(proposed.to) == ["ada-admin@example.com", "max-admin@example.com"]
    assert "cleo-clerk proposed a new bank account for Northwind Traders: ****4300" in proposed.body
    assert "Letter of 3 Dec" in proposed.body and f"/app/vendors/{vendor.pk}#bank-accounts" in proposed.body
    assert "0417164300" not in proposed.body and "0417 1643" not in proposed.body

    with django_capture_on_commit_callbacks(execute=True):
        vendor_bank_account_approve(tenant=tenant, account=first, actor=people["ada"], role=Role.ADMIN)
    approved = mailoutbox[1]
    assert approved.subject.endswith("****4300 approved") and approved.to == ["max-admin@example.com"]
    assert "Payment runs pay to it from" in approved.body

    with django_capture_on_commit_callbacks(execute=True):
        change = vendor_bank_account_propose(
            tenant=tenant, vendor=vendor, actor=people["max"], role=Role.ADMIN, iban=NEW_IBAN
        )
        vendor_bank_account_reject(
            tenant=tenant, account=change, actor=people["vera"], role=Role.APPROVER, comment="Forged letter"
        )
    proposed_again, rejected = mailoutbox[2:]
    assert "to replace ****4300" in proposed_again.body and proposed_again.to == ["ada-admin@example.com"]
    assert rejected.subject.endswith("****3000 rejected") and "Forged letter" in rejected.body
    assert sorted(rejected.to) == ["ada-admin@example.com", "max-admin@example.com"]
    assert all("foreign-admin@example.com" not in mail.to for mail in mailoutbox)


def test_a_refused_change_tells_no_one(
    tenant: Tenant, people: dict[str, Actor], mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    vendor = VendorFactory(tenant=tenant)
    with django_capture_on_commit_callbacks(execute=True):
        account = vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=people["cleo"], role=Role.CLERK,
                                              iban=IBAN)  # fmt: skip
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        # The proposer may not decide: nothing changes, and nobody is told anything.
        vendor_bank_account_approve(tenant=tenant, account=account, actor=people["cleo"], role=Role.CLERK)
    assert mailoutbox == []


def test_an_api_clients_proposal_is_mailed_to_every_administrator(
    tenant: Tenant,
    people: dict[str, Actor],
    api: Any,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    vendor = VendorFactory(tenant=tenant, name="Northwind Traders")
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(f"/api/vendors/{vendor.pk}/bank-accounts", {"iban": IBAN}, format="json")
    assert created.status_code == 201
    [mail] = mailoutbox
    assert sorted(mail.to) == ["ada-admin@example.com", "max-admin@example.com"]
    assert mail.body.startswith("api-key:")
