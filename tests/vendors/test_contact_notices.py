"""The vendor's contacts flagged for it are e-mailed when a change of its bank account is proposed
and when it is approved (#19 item 2), after commit, each their own message, with the account
masked only; not unflagged contacts, not another vendor's or another tenant's; who was told is
recorded and listed for the vendor's page."""

from __future__ import annotations

from typing import Any

import pytest

from audit.models import AuditEvent
from core.actors import Actor
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose, vendor_bank_account_reject
from vendors.contact_notices import TOLD_ACTION, bank_change_notices
from vendors.models import Vendor, VendorContact

pytestmark = pytest.mark.django_db

IBAN = "NL91 ABNA 0417 1643 00"
NEW_IBAN = "DE89 3704 0044 0532 0130 00"
FULL_NUMBERS = ("0417164300", "0417 1643", "NL91ABNA", "0532013000", "DE89370400440532013000")


def person(tenant: Tenant, username: str, role: str) -> Actor:
    user = UserFactory(username=username, email=f"{username}@buyer.example")
    MembershipFactory(tenant=tenant, user=user, role=role)
    return Actor(kind="user", id=str(user.pk), label=username)


def contact(vendor: Vendor, name: str, email: str, *, notify: bool = True) -> VendorContact:
    return VendorContact.objects.create(
        tenant_id=vendor.tenant_id, vendor=vendor, name=name, email=email, notify_bank_changes=notify
    )


@pytest.fixture
def northwind(tenant: Tenant, other_tenant: Tenant) -> Vendor:
    vendor = VendorFactory(tenant=tenant, name="Northwind Traders")
    contact(vendor, "Anna Berg", "anna@northwind.example")
    contact(vendor, "Bo Lind", "bo@northwind.example")
    contact(vendor, "Carl Sales", "carl@northwind.example", notify=False)
    # Another vendor of the same tenant, and a vendor of another tenant, with flagged contacts.
    contact(VendorFactory(tenant=tenant, name="Contoso"), "Dana", "dana@contoso.example")
    contact(VendorFactory(tenant=other_tenant, name="Northwind Traders"), "Eve", "eve@northwind.example")
    return vendor


def _to_contacts(mails: list[Any]) -> list[Any]:
    return [mail for mail in mails if not mail.to[0].endswith("@buyer.example")]


def test_a_proposal_and_its_approval_are_mailed_to_each_flagged_contact_masked(
    tenant: Tenant, northwind: Vendor, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    cleo, ada = person(tenant, "cleo-clerk", Role.CLERK), person(tenant, "ada-admin", Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        account = vendor_bank_account_propose(tenant=tenant, vendor=northwind, actor=cleo, role=Role.CLERK, iban=IBAN,
                                              comment="Internal: letter of 3 Dec")  # fmt: skip
    proposed = _to_contacts(mailoutbox)
    # One message per contact, so no contact sees another's address; the unflagged one, another
    # vendor's and another tenant's contacts get none.
    assert sorted(mail.to for mail in proposed) == [["anna@northwind.example"], ["bo@northwind.example"]]
    anna = next(mail for mail in proposed if mail.to == ["anna@northwind.example"])
    assert anna.subject == f"{tenant.name}: a change of the bank account we pay Northwind Traders to (****4300)"
    assert anna.body.startswith("Dear Anna Berg,")
    assert "The new account is ****4300 · ABNANL2A" in anna.body
    assert f"call {tenant.name} at once on a phone number you already know" in anna.body
    for mail in proposed:
        assert not any(number in mail.body or number in mail.subject for number in FULL_NUMBERS)
        assert "Internal" not in mail.body and "/app/" not in mail.body
    # The administrators are still told, apart.
    assert [mail.to for mail in mailoutbox if mail not in proposed] == [["ada-admin@buyer.example"]]

    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        vendor_bank_account_approve(tenant=tenant, account=account, actor=ada, role=Role.ADMIN)
    approved = _to_contacts(mailoutbox)
    assert sorted(mail.to[0] for mail in approved) == ["anna@northwind.example", "bo@northwind.example"]
    assert all("payments go to ****4300" in mail.body and "0417164300" not in mail.body for mail in approved)

    # Who was told, and when: recorded on the vendor by Recon, listed for its page newest first.
    approval_notice, proposal_notice = bank_change_notices(tenant=tenant, vendor=northwind)
    assert (proposal_notice.change, approval_notice.change) == ("proposed", "approved")
    assert proposal_notice.account == "****4300"
    assert proposal_notice.told == ["Anna Berg (anna@northwind.example)", "Bo Lind (bo@northwind.example)"]
    assert proposal_notice.not_told == []
    events = AuditEvent.objects.for_tenant(tenant).filter(action=TOLD_ACTION)
    assert {event.actor_kind for event in events} == {"system"} and events.count() == 2


def test_a_rejection_and_a_rolled_back_proposal_tell_no_contact(
    tenant: Tenant, northwind: Vendor, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    cleo, vera = person(tenant, "cleo-clerk", Role.CLERK), person(tenant, "vera-approver", Role.APPROVER)
    with django_capture_on_commit_callbacks(execute=True):
        account = vendor_bank_account_propose(tenant=tenant, vendor=northwind, actor=cleo, role=Role.CLERK,
                                              iban=NEW_IBAN)  # fmt: skip
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        vendor_bank_account_reject(tenant=tenant, account=account, actor=vera, role=Role.APPROVER, comment="Forged")
    assert _to_contacts(mailoutbox) == []

    class RolledBack(Exception):
        pass

    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RolledBack), transaction.atomic():
        vendor_bank_account_propose(tenant=tenant, vendor=northwind, actor=cleo, role=Role.CLERK, iban=IBAN)
        raise RolledBack
    assert _to_contacts(mailoutbox) == []
    assert [notice.change for notice in bank_change_notices(tenant=tenant, vendor=northwind)] == ["proposed"]


def test_a_mail_server_that_refuses_is_recorded_as_not_reached(
    tenant: Tenant, northwind: Vendor, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A real SMTP backend aimed at a port nobody listens on: the change stands (committed,
    audited), and the contacts are listed as not reached."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    cleo = person(tenant, "cleo-clerk", Role.CLERK)
    with django_capture_on_commit_callbacks(execute=True):
        account = vendor_bank_account_propose(tenant=tenant, vendor=northwind, actor=cleo, role=Role.CLERK, iban=IBAN)
    account.refresh_from_db()
    assert account.status == "pending"
    [notice] = bank_change_notices(tenant=tenant, vendor=northwind)
    assert notice.told == []
    assert sorted(notice.not_told) == ["Anna Berg (anna@northwind.example)", "Bo Lind (bo@northwind.example)"]


def test_a_vendor_without_flagged_contacts_records_no_notice(
    tenant: Tenant, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    vendor = VendorFactory(tenant=tenant)
    contact(vendor, "Carl Sales", "carl@vendor.example", notify=False)
    with django_capture_on_commit_callbacks(execute=True):
        vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=person(tenant, "cleo", Role.CLERK),
                                    role=Role.CLERK, iban=IBAN)  # fmt: skip
    assert _to_contacts(mailoutbox) == [] and bank_change_notices(tenant=tenant, vendor=vendor) == []
