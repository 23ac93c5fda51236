"""Vendor bank accounts under dual control (#19 item 2): checked (schwifty), kept encrypted with
the keyed hash, proposed by one person and approved or rejected by another, payable only after
the tenant's cooling-off days, every move audited — and the number never shown in full."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from core.actors import Actor
from core.bank_accounts import account_hash, decrypt_account
from core.exceptions import ConflictError, DocumentInvalid
from core.tenancy.scoping import tenant_cursor
from tenants.models import Role, Tenant, TenantSettings
from tests.audit.sealing import seal
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import (
    ACCOUNT_NUMBER_INVALID,
    ALREADY_ACTIVE,
    ALREADY_PENDING,
    BIC_COUNTRY,
    COUNTRY_USES_IBAN,
    IBAN_CHECKSUM,
    IBAN_COUNTRY,
    IBAN_LENGTH,
    NEEDS_DECIDER,
    NEEDS_PERSON,
    NOT_PENDING,
    REJECT_REASON_REQUIRED,
    SAME_PERSON,
    BankAccountForbidden,
    bank_account_parsed,
    vendor_bank_account_approve,
    vendor_bank_account_propose,
    vendor_bank_account_reject,
)
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount
from vendors.selectors import (
    NOT_PAYABLE_COOLING_OFF,
    NOT_PAYABLE_NO_ACCOUNT,
    NOT_PAYABLE_PENDING,
    vendor_bank_account_payable,
    vendor_bank_accounts_payable,
)

pytestmark = pytest.mark.django_db

IBAN = "NL91 ABNA 0417 1643 00"
IBAN_COMPACT = "NL91ABNA0417164300"
OTHER_IBAN = "DE89 3704 0044 0532 0130 00"
A = BankAccountStatus


def _actor(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


@pytest.fixture
def clerk(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="cleo"), role=Role.CLERK).user


@pytest.fixture
def approver(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="ada"), role=Role.APPROVER).user


@pytest.fixture
def admin(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="root"), role=Role.ADMIN).user


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def proposed(tenant: Tenant, vendor: Vendor, clerk: Any, **typed: str) -> VendorBankAccount:
    typed = typed or {"iban": IBAN}
    return vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=_actor(clerk), role=Role.CLERK, **typed)


def _events(tenant: Tenant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor_bank_account").order_by("xid", "append_seq")
    )


# --- what is accepted, what is refused -------------------------------------------------------------


def test_an_iban_is_kept_encrypted_with_its_keyed_hash_and_shown_masked_with_its_bank(
    tenant: Tenant, vendor: Vendor, clerk: Any
) -> None:
    account = proposed(tenant, vendor, clerk)
    assert account.status == A.PENDING and account.kind == "iban" and account.country == "NL"
    assert account.account_mask == "****4300"
    assert account.bic == "ABNANL2A" and "ABN AMRO" in account.bank_name
    assert account.account_hash == account_hash(IBAN_COMPACT)
    assert decrypt_account(account.account_encrypted) == IBAN_COMPACT
    # Nowhere in the row's columns in clear, as a database dump would show it.
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            "SELECT row_to_json(t)::text FROM vendors_vendorbankaccount t WHERE tenant_id = %s AND id = %s",
            [tenant.pk, account.pk],
        )
        (row,) = cursor.fetchone()
    assert "0417164300" not in row and "417164300" not in row


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"iban": "NL92ABNA0417164300"}, "iban", IBAN_CHECKSUM),
        ({"iban": "NL91ABNA041716430"}, "iban", IBAN_LENGTH),
        ({"iban": "XX91ABNA0417164300"}, "iban", IBAN_COUNTRY.format(country="XX")),
        ({"iban": "NL91" + "4" * 10_000}, "iban", IBAN_LENGTH),
        ({"iban": "NL91ABNA04\x0017164300"}, "iban", None),
        ({"iban": IBAN, "bic": "COBADEFFXXX"}, "bic", BIC_COUNTRY.format(bic_country="DE", iban_country="NL")),
        ({"iban": IBAN, "bic": "NOPE"}, "bic", None),
        ({"account_number": "12345678", "bank_code": "12-34-56", "country": "DE"}, "iban", None),
        ({"account_number": "x" * 10_000, "bank_code": "026009593", "country": "US"}, "account_number", None),
        ({"account_number": "12345678", "bank_code": "", "country": "US"}, "bank_code", None),
        ({"account_number": "12345678", "bank_code": "026009593", "country": "ZZ"}, "country", None),
        ({}, "iban", None),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_nothing_is_saved(
    tenant: Tenant, vendor: Vendor, clerk: Any, typed: dict[str, str], field: str, message: str | None
) -> None:
    with pytest.raises(DocumentInvalid) as refused:
        vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=_actor(clerk), role=Role.CLERK, **typed)
    assert field in refused.value.details
    if message is not None:
        assert refused.value.details[field] == [message]
    assert not VendorBankAccount.objects.for_tenant(tenant).exists()
    assert _events(tenant) == []


def test_a_country_with_ibans_asks_for_the_iban() -> None:
    with pytest.raises(DocumentInvalid) as refused:
        bank_account_parsed(account_number="0532013000", bank_code="37040044", country="de")
    assert refused.value.details["iban"] == [COUNTRY_USES_IBAN.format(country="DE")]


def test_a_local_account_keeps_its_bank_code_and_country(tenant: Tenant, vendor: Vendor, clerk: Any) -> None:
    account = proposed(tenant, vendor, clerk, account_number="0012 3456-789", bank_code="026009593", country="us")
    assert (account.kind, account.country, account.bank_code, account.account_mask) == (
        "local",
        "US",
        "026009593",
        "****6789",
    )
    assert decrypt_account(account.account_encrypted) == "00123456789"
    with pytest.raises(DocumentInvalid) as refused:
        bank_account_parsed(account_number="12 34 5€", bank_code="1", country="US")
    assert refused.value.details["account_number"] == [ACCOUNT_NUMBER_INVALID]


# --- four eyes ------------------------------------------------------------------------------------


def test_the_proposer_cannot_approve_their_own_account_even_as_an_administrator(
    tenant: Tenant, vendor: Vendor, admin: Any
) -> None:
    account = vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=_actor(admin), role=Role.ADMIN, iban=IBAN)
    with pytest.raises(BankAccountForbidden) as refused:
        vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(admin), role=Role.ADMIN)
    assert refused.value.message == SAME_PERSON and refused.value.status_code == 403
    account.refresh_from_db()
    assert account.status == A.PENDING and account.usable_from is None


def test_a_clerk_and_an_api_key_cannot_decide(tenant: Tenant, vendor: Vendor, clerk: Any) -> None:
    account = vendor_bank_account_propose(
        tenant=tenant, vendor=vendor, actor=Actor(kind="api_key", id="k1", label="erp"), iban=IBAN
    )
    other_clerk = MembershipFactory(tenant=tenant, role=Role.CLERK).user
    with pytest.raises(BankAccountForbidden) as refused:
        vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(other_clerk), role=Role.CLERK)
    assert refused.value.message == NEEDS_DECIDER
    with pytest.raises(BankAccountForbidden) as refused:
        vendor_bank_account_approve(
            tenant=tenant, account=account, actor=Actor(kind="api_key", id="k2", label="other"), role=None
        )
    assert refused.value.message == NEEDS_PERSON


def test_another_person_approves_it_payable_after_the_tenant_cooling_off_days_and_audited(
    tenant: Tenant, vendor: Vendor, clerk: Any, approver: Any
) -> None:
    TenantSettings.objects.filter(tenant=tenant).update(bank_account_cooling_off_days=5)
    account = proposed(tenant, vendor, clerk)
    assert vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=timezone.now()).reason == NOT_PAYABLE_PENDING
    before = timezone.now()
    approved = vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER)
    assert approved.status == A.ACTIVE and approved.decided_by_label == "ada"
    assert approved.decided_at is not None and approved.usable_from == approved.decided_at + dt.timedelta(days=5)
    assert approved.decided_at >= before

    cooling = vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=timezone.now() + dt.timedelta(days=4))
    assert not cooling.payable and cooling.reason == NOT_PAYABLE_COOLING_OFF
    assert cooling.usable_from == approved.usable_from
    assert timezone.localtime(approved.usable_from).date().isoformat() in cooling.message
    payable = vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=approved.usable_from)
    assert payable.payable and payable.account is not None and payable.account.pk == account.pk

    events = _events(tenant)
    assert [event.action for event in events] == ["bank_account_proposed", "bank_account_approved"]
    assert events[0].actor_id == str(clerk.pk) and events[1].actor_id == str(approver.pk)
    assert events[1].before["status"] == "pending" and events[1].after["status"] == "active"
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_change_retires_the_account_it_replaces_which_pays_until_then(
    tenant: Tenant, vendor: Vendor, clerk: Any, approver: Any
) -> None:
    first = proposed(tenant, vendor, clerk)
    vendor_bank_account_approve(tenant=tenant, account=first, actor=_actor(approver), role=Role.APPROVER)
    later = timezone.now() + dt.timedelta(days=10)
    change = proposed(tenant, vendor, clerk, iban=OTHER_IBAN)
    # A change waiting for approval does not stop payment to the approved account.
    assert vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=later).account.pk == first.pk  # type: ignore[union-attr]
    approved = vendor_bank_account_approve(tenant=tenant, account=change, actor=_actor(approver), role=Role.APPROVER)
    first.refresh_from_db()
    assert first.status == A.RETIRED and first.retired_at is not None and approved.replaces_id == first.pk
    # The new one cools off; the old one pays no more.
    assert (
        vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=timezone.now()).reason == NOT_PAYABLE_COOLING_OFF
    )
    assert [event.action for event in _events(tenant)][-2:] == ["bank_account_retired", "bank_account_approved"]


def test_a_rejection_needs_a_reason_and_keeps_the_current_account(
    tenant: Tenant, vendor: Vendor, clerk: Any, approver: Any
) -> None:
    account = proposed(tenant, vendor, clerk)
    with pytest.raises(DocumentInvalid) as refused:
        vendor_bank_account_reject(
            tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER, comment=""
        )
    assert refused.value.details == {"comment": [REJECT_REASON_REQUIRED]}
    rejected = vendor_bank_account_reject(
        tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER, comment="Letter not on letterhead"
    )
    assert rejected.status == A.REJECTED and rejected.decision_comment == "Letter not on letterhead"
    assert vendor_bank_account_payable(tenant=tenant, vendor=vendor, at=timezone.now()).reason == NOT_PAYABLE_NO_ACCOUNT
    with pytest.raises(ConflictError) as again:
        vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER)
    assert again.value.message == NOT_PENDING.format(status="Rejected")


def test_one_change_waits_at_a_time_and_the_same_account_again_is_refused(
    tenant: Tenant, vendor: Vendor, clerk: Any, approver: Any
) -> None:
    account = proposed(tenant, vendor, clerk)
    with pytest.raises(ConflictError) as waiting:
        proposed(tenant, vendor, clerk, iban=OTHER_IBAN)
    assert waiting.value.message == ALREADY_PENDING.format(mask="****4300")
    vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER)
    with pytest.raises(ConflictError) as same:
        proposed(tenant, vendor, clerk, iban=IBAN_COMPACT.lower())
    assert same.value.message == ALREADY_ACTIVE


def test_the_number_is_never_in_an_audit_event(tenant: Tenant, vendor: Vendor, clerk: Any, approver: Any) -> None:
    account = proposed(tenant, vendor, clerk)
    vendor_bank_account_approve(tenant=tenant, account=account, actor=_actor(approver), role=Role.APPROVER)
    for event in _events(tenant):
        text = json.dumps([event.before, event.after])
        assert "417164300" not in text and "****4300" in text


def test_payability_is_answered_for_many_vendors_in_one_query(
    tenant: Tenant, clerk: Any, approver: Any, django_assert_num_queries: Any
) -> None:
    vendors = [VendorFactory(tenant=tenant) for _ in range(3)]
    ready = proposed(tenant, vendors[0], clerk)
    vendor_bank_account_approve(tenant=tenant, account=ready, actor=_actor(approver), role=Role.APPROVER)
    proposed(tenant, vendors[1], clerk, iban=OTHER_IBAN)
    later = timezone.now() + dt.timedelta(days=30)
    with django_assert_num_queries(1):
        answers = vendor_bank_accounts_payable(tenant=tenant, vendor_ids=[vendor.pk for vendor in vendors], at=later)
    assert [answers[vendor.pk].reason for vendor in vendors] == ["", NOT_PAYABLE_PENDING, NOT_PAYABLE_NO_ACCOUNT]


def test_another_tenant_sees_none_of_the_accounts(
    tenant: Tenant, other_tenant: Tenant, vendor: Vendor, clerk: Any
) -> None:
    proposed(tenant, vendor, clerk)
    assert not VendorBankAccount.objects.for_tenant(other_tenant).exists()
    answer = vendor_bank_accounts_payable(tenant=other_tenant, vendor_ids=[vendor.pk], at=timezone.now())
    assert answer[vendor.pk].reason == NOT_PAYABLE_NO_ACCOUNT
