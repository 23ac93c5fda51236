"""The vendor bank accounts API (#19 item 2): an ERP connector (API key) or a clerk proposes, a
second person signed in approves or rejects; the error envelope, 404 for another tenant's vendor,
replayed idempotent POSTs, and never the number in full."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from tenants.models import Role, Tenant, TenantSettings
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import IBAN_CHECKSUM, NEEDS_PERSON, SAME_PERSON
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount
from vendors.selectors import BANK_ACCOUNT_SHARED_CODE

pytestmark = pytest.mark.django_db

IBAN = "DE89 3704 0044 0532 0130 00"
FULL_DIGITS = "0532013000"


def _session(tenant: Tenant, role: str, username: str) -> APIClient:
    client = APIClient()
    client.force_login(MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user)
    return client


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant)


def _url(vendor: Vendor, tail: str = "") -> str:
    return f"/api/vendors/{vendor.pk}/bank-accounts{tail}"


def test_an_api_key_proposes_an_approver_approves_and_the_list_shows_it_masked(
    tenant: Tenant, vendor: Vendor, api: APIClient
) -> None:
    TenantSettings.objects.filter(tenant=tenant).update(bank_account_cooling_off_days=2)
    created = api.post(_url(vendor), {"iban": IBAN, "comment": "ERP sync"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "pending" and body["account"] == "****3000" and body["bic"] == "COBADEFFXXX"
    assert body["proposed_by"].startswith("api-key:")

    # An API key is not a second person.
    refused = api.post(_url(vendor, "/approve"), {"account_id": body["id"]}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "permission_denied", "message": NEEDS_PERSON, "details": {}}

    approver = _session(tenant, Role.APPROVER, "ada")
    approved = approver.post(_url(vendor, "/approve"), {"account_id": body["id"]}, format="json")
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "active" and approved.json()["decided_by"] == "ada"
    assert approved.json()["usable_from"] is not None

    listed = api.get(_url(vendor))
    assert listed.status_code == 200
    details = listed.json()
    assert details["id"] == str(vendor.pk) and [row["status"] for row in details["accounts"]] == ["active"]
    assert not details["payable_now"] and details["reason"] == "cooling_off"
    assert details["usable_from"] == approved.json()["usable_from"]
    for response in (created, approved, listed):
        assert FULL_DIGITS not in json.dumps(response.json())


def test_the_proposer_cannot_decide_and_a_rejection_keeps_nothing(tenant: Tenant, vendor: Vendor) -> None:
    clerk = _session(tenant, Role.ADMIN, "root")
    body = clerk.post(_url(vendor), {"iban": IBAN}, format="json").json()
    refused = clerk.post(_url(vendor, "/approve"), {"account_id": body["id"]}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["message"] == SAME_PERSON
    approver = _session(tenant, Role.APPROVER, "ada")
    no_reason = approver.post(_url(vendor, "/reject"), {"account_id": body["id"]}, format="json")
    assert no_reason.status_code == 400 and "comment" in no_reason.json()["error"]["details"]
    rejected = approver.post(_url(vendor, "/reject"), {"account_id": body["id"], "comment": "Fax"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    again = approver.post(_url(vendor, "/approve"), {"account_id": body["id"]}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"iban": "DE88370400440532013000"}, "iban"),
        ({"iban": "DE89" + "3" * 10_000}, "iban"),
        ({"iban": "DE89\x00370400440532013000"}, "iban"),
        ({"account_number": "12", "bank_code": "1" * 10_000, "country": "US"}, "bank_code"),
        ({"iban": 42}, "iban"),
        ({}, "iban"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    tenant: Tenant, vendor: Vendor, api: APIClient, payload: dict[str, Any], field: str
) -> None:
    response = api.post(_url(vendor), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not VendorBankAccount.objects.for_tenant(tenant).exists()


def test_a_bad_checksum_says_so(vendor: Vendor, api: APIClient) -> None:
    response = api.post(_url(vendor), {"iban": "DE88370400440532013000"}, format="json")
    assert response.json()["error"]["details"] == {"iban": [IBAN_CHECKSUM]}


def test_an_idempotent_proposal_is_replayed_not_made_twice(tenant: Tenant, vendor: Vendor, api: APIClient) -> None:
    headers = {"HTTP_IDEMPOTENCY_KEY": "bank-1"}
    first = api.post(_url(vendor), {"iban": IBAN}, format="json", **headers)
    second = api.post(_url(vendor), {"iban": IBAN}, format="json", **headers)
    assert first.status_code == second.status_code == 201 and first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert VendorBankAccount.objects.for_tenant(tenant).count() == 1


def test_another_tenants_vendor_or_account_is_a_404(
    tenant: Tenant, other_tenant: Tenant, vendor: Vendor, api: APIClient, foreign_api: APIClient
) -> None:
    body = api.post(_url(vendor), {"iban": IBAN}, format="json").json()
    for method, tail, payload in (
        ("get", "", None),
        ("post", "", {"iban": IBAN}),
        ("post", "/approve", {"account_id": body["id"]}),
    ):
        response = getattr(foreign_api, method)(_url(vendor, tail), payload, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    foreign_approver = _session(other_tenant, Role.APPROVER, "mallory")
    own = VendorFactory(tenant=other_tenant)
    for account_id in (body["id"], str(uuid.uuid4())):
        response = foreign_approver.post(_url(own, "/approve"), {"account_id": account_id}, format="json")
        assert response.status_code == 404
    assert VendorBankAccount.objects.for_tenant(tenant).get().status == BankAccountStatus.PENDING


def test_an_account_another_vendor_has_is_accepted_with_a_warning(
    tenant: Tenant, other_tenant: Tenant, vendor: Vendor, api: APIClient
) -> None:
    # The same account at another tenant's vendor, and rejected for one of ours, warns of nothing.
    foreign = VendorFactory(tenant=other_tenant, name="Foreign Twin")
    theirs = _session(other_tenant, Role.CLERK, "fritz").post(_url(foreign), {"iban": IBAN}, format="json")
    assert theirs.status_code == 201
    refused_vendor = VendorFactory(tenant=tenant, name="Once Refused")
    proposed = api.post(_url(refused_vendor), {"iban": IBAN}, format="json").json()
    _session(tenant, Role.APPROVER, "ada").post(
        _url(refused_vendor, "/reject"), {"account_id": proposed["id"], "comment": "Forged letter"}, format="json"
    )
    first = api.post(_url(vendor), {"iban": IBAN}, format="json")
    assert first.status_code == 201 and first.json()["warnings"] == []

    twin = VendorFactory(tenant=tenant, name="Northwynd Trading")
    second = api.post(_url(twin), {"iban": IBAN}, format="json")
    assert second.status_code == 201
    assert second.json()["status"] == "pending"
    [warning] = second.json()["warnings"]
    assert warning["code"] == BANK_ACCOUNT_SHARED_CODE and warning["field"] == "iban"
    assert warning["message"].startswith(f"Account ****3000 is also on record for {vendor.name}.")
    assert "Foreign Twin" not in warning["message"] and "Once Refused" not in warning["message"]
    listed = api.get(_url(twin)).json()
    assert listed["accounts"][0]["warnings"] == second.json()["warnings"]
    assert FULL_DIGITS not in json.dumps(second.json())
