"""A vendor's contacts in the API (`/api/vendors/{id}/contacts`): list, create, read, update,
delete; refusals in the error envelope with nothing written; another tenant's vendor or contact,
and another vendor's contact, are a 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import CHAIN_ORDER, AuditEvent
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, VendorFactory
from vendors.contacts import EMAIL_TAKEN, NEEDS_EDITOR
from vendors.models import Vendor, VendorContact

pytestmark = pytest.mark.django_db

ANNA = {
    "name": "Anna Berg",
    "email": "Anna@Northwind.example",
    "phone": "+31 20 555 0101",
    "role": "Accounts receivable",
}


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def _url(vendor: Vendor, contact_id: object = None) -> str:
    return f"/api/vendors/{vendor.pk}/contacts" + (f"/{contact_id}" if contact_id else "")


def test_an_api_client_adds_lists_changes_and_removes_a_contact(api: APIClient, tenant: Tenant, vendor: Vendor) -> None:
    created = api.post(_url(vendor), ANNA, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["email"] == "anna@northwind.example" and body["notify_bank_changes"] is True
    assert body["vendor_id"] == str(vendor.pk)

    api.post(_url(vendor), {"name": "Bo Lind", "email": "bo@northwind.example", "notify_bank_changes": False},
             format="json")  # fmt: skip
    listed = api.get(_url(vendor))
    assert listed.status_code == 200
    # Newest first, in pages, as every list of the API.
    assert [(row["name"], row["notify_bank_changes"]) for row in listed.json()["results"]] == [
        ("Bo Lind", False),
        ("Anna Berg", True),
    ]

    changed = api.patch(_url(vendor, body["id"]), {"notify_bank_changes": False, "role": "Treasury"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["role"], changed.json()["notify_bank_changes"], changed.json()["phone"]) == (
        "Treasury", False, "+31 20 555 0101"
    )  # fmt: skip
    assert api.get(_url(vendor, body["id"])).json()["role"] == "Treasury"

    assert api.delete(_url(vendor, body["id"])).status_code == 204
    assert api.get(_url(vendor, body["id"])).status_code == 404
    actions = AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor_contact").order_by(*CHAIN_ORDER)
    assert list(actions.values_list("action", flat=True)) == ["contact_added", "contact_added", "contact_changed",
                                                              "contact_removed"]  # fmt: skip


def test_bad_input_is_a_400_envelope_by_field_and_a_repeat_a_409(
    api: APIClient, tenant: Tenant, vendor: Vendor
) -> None:
    bad = api.post(_url(vendor), {"name": "Anna", "email": "anna@"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"
    assert "email" in bad.json()["error"]["details"]
    missing = api.post(_url(vendor), {"email": "anna@northwind.example"}, format="json")
    assert missing.status_code == 400 and "name" in missing.json()["error"]["details"]
    assert not VendorContact.objects.for_tenant(tenant).exists()

    assert api.post(_url(vendor), ANNA, format="json").status_code == 201
    repeated = api.post(_url(vendor), ANNA | {"name": "Anna B."}, format="json")
    assert repeated.status_code == 409
    assert repeated.json()["error"]["details"] == {"email": [EMAIL_TAKEN.format(email="anna@northwind.example")]}
    contact = VendorContact.objects.for_tenant(tenant).get()
    not_an_address = api.patch(_url(vendor, contact.pk), {"email": "anna at northwind"}, format="json")
    assert not_an_address.status_code == 400
    contact.refresh_from_db()
    assert contact.email == "anna@northwind.example"


def test_a_session_approver_may_read_but_not_edit(tenant: Tenant, vendor: Vendor) -> None:
    contact = VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Anna", email="anna@northwind.example")
    approver = APIClient()
    approver.force_login(MembershipFactory(tenant=tenant, role=Role.APPROVER).user)
    assert approver.get(_url(vendor)).status_code == 200
    refused = approver.patch(_url(vendor, contact.pk), {"name": "Eve"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"] == {"code": "permission_denied", "message": NEEDS_EDITOR, "details": {}}
    assert approver.delete(_url(vendor, contact.pk)).status_code == 403
    contact.refresh_from_db()
    assert contact.name == "Anna"


def test_another_tenants_or_another_vendors_contact_is_a_404(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, vendor: Vendor
) -> None:
    contact = VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Anna", email="anna@northwind.example")
    for method in ("get", "patch", "delete"):
        answer = getattr(foreign_api, method)(_url(vendor, contact.pk), {"name": "Eve"}, format="json")
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert foreign_api.get(_url(vendor)).status_code == 404
    assert foreign_api.post(_url(vendor), ANNA, format="json").status_code == 404
    other_vendor = VendorFactory(tenant=tenant)
    assert api.get(_url(other_vendor, contact.pk)).status_code == 404
    assert api.patch(_url(other_vendor, contact.pk), {"name": "Eve"}, format="json").status_code == 404
    assert api.get(_url(vendor, "not-a-uuid")).status_code == 404
    contact.refresh_from_db()
    assert contact.name == "Anna" and VendorContact.objects.for_tenant(tenant).count() == 1


def test_listing_vendors_and_creating_one_are_unchanged(api: APIClient, tenant: Tenant) -> None:
    created = api.post("/api/vendors", {"name": "Contoso GmbH"}, format="json")
    assert created.status_code == 201 and "contacts" not in created.json()
    assert not VendorContact.objects.for_tenant(tenant).exists()
