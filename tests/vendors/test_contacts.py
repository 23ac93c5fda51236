"""A vendor's contacts (#19 item 2): added, changed and removed by clerks and administrators (or an
API key), each audited with before and after; bad input refused by field with nothing written;
one address is one contact of a vendor; creating a vendor adds none."""

from __future__ import annotations

import pytest

from audit.models import CHAIN_ORDER, AuditEvent
from core.actors import Actor
from core.exceptions import DocumentInvalid, DuplicateDocument
from tenants.models import Role, Tenant
from tests.factories import VendorFactory
from vendors.contacts import (
    EMAIL_INVALID,
    EMAIL_TAKEN,
    NAME_REQUIRED,
    NEEDS_EDITOR,
    PHONE_INVALID,
    ContactForbidden,
    vendor_contact_create,
    vendor_contact_delete,
    vendor_contact_update,
)
from vendors.models import Vendor, VendorContact
from vendors.services import vendor_create

pytestmark = pytest.mark.django_db

CLERK = Actor(kind="user", id="11", label="cleo-clerk")
APPROVER = Actor(kind="user", id="12", label="vera-approver")
API_KEY = Actor(kind="api_key", id="k1", label="api-key:erp")


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def _events(tenant: Tenant) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor_contact").order_by(*CHAIN_ORDER))


def test_a_clerk_adds_changes_and_removes_a_contact_each_audited_with_before_and_after(
    tenant: Tenant, vendor: Vendor
) -> None:
    contact = vendor_contact_create(
        tenant=tenant,
        vendor=vendor,
        actor=CLERK,
        member_role=Role.CLERK,
        name="  Anna   Berg ",
        email=" Anna.Berg@Northwind.Example ",
        phone="+44 20 7946 0000",
        role="Accounts receivable",
    )
    assert (contact.name, contact.email, contact.notify_bank_changes) == (
        "Anna Berg",
        "anna.berg@northwind.example",
        True,
    )

    vendor_contact_update(
        tenant=tenant, contact=contact, actor=CLERK, member_role=Role.CLERK, changes={"notify_bank_changes": False}
    )
    contact.refresh_from_db()
    assert contact.notify_bank_changes is False and contact.phone == "+44 20 7946 0000"
    # The same values again change nothing and record nothing.
    vendor_contact_update(
        tenant=tenant, contact=contact, actor=CLERK, member_role=Role.CLERK, changes={"phone": "+44 20 7946 0000"}
    )
    vendor_contact_delete(tenant=tenant, contact=contact, actor=API_KEY, member_role=None)
    assert not VendorContact.objects.for_tenant(tenant).exists()

    added, changed, removed = _events(tenant)
    assert (added.action, changed.action, removed.action) == ("contact_added", "contact_changed", "contact_removed")
    assert added.after["email"] == "anna.berg@northwind.example" and added.after["vendor_id"] == str(vendor.pk)
    assert changed.before["notify_bank_changes"] is True and changed.after["notify_bank_changes"] is False
    assert removed.before["name"] == "Anna Berg" and removed.after is None and removed.actor_kind == "api_key"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": " -- ", "email": "a@b.example"}, "name", NAME_REQUIRED),
        ({"name": "Anna", "email": "not an address"}, "email", EMAIL_INVALID),
        ({"name": "Anna", "email": "a@b.example", "phone": "call me"}, "phone", PHONE_INVALID),
        ({"name": "Anna", "email": "a@b.example", "phone": "+-()"}, "phone", PHONE_INVALID),
        ({"name": "Anna\x00", "email": "a@b.example"}, "name", None),
        ({"name": "A" * 151, "email": "a@b.example"}, "name", "At most 150 characters."),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_written(
    tenant: Tenant, vendor: Vendor, fields: dict[str, str], field: str, message: str | None
) -> None:
    with pytest.raises(DocumentInvalid) as refused:
        vendor_contact_create(tenant=tenant, vendor=vendor, actor=CLERK, member_role=Role.CLERK, **fields)
    assert list(refused.value.details) == [field]
    if message:
        assert refused.value.details[field] == [message]
    assert not VendorContact.objects.for_tenant(tenant).exists() and _events(tenant) == []


def test_one_address_is_one_contact_of_a_vendor_but_may_be_another_vendors_too(tenant: Tenant, vendor: Vendor) -> None:
    first = vendor_contact_create(tenant=tenant, vendor=vendor, actor=CLERK, member_role=Role.CLERK, name="Anna",
                                  email="anna@northwind.example")  # fmt: skip
    with pytest.raises(DuplicateDocument) as repeated:
        vendor_contact_create(tenant=tenant, vendor=vendor, actor=CLERK, member_role=Role.CLERK, name="Anna B",
                              email="ANNA@northwind.example")  # fmt: skip
    assert repeated.value.details == {"email": [EMAIL_TAKEN.format(email="anna@northwind.example")]}
    second = vendor_contact_create(tenant=tenant, vendor=vendor, actor=CLERK, member_role=Role.CLERK, name="Bo",
                                   email="bo@northwind.example")  # fmt: skip
    with pytest.raises(DuplicateDocument):
        vendor_contact_update(tenant=tenant, contact=second, actor=CLERK, member_role=Role.CLERK,
                              changes={"email": first.email})  # fmt: skip
    second.refresh_from_db()
    assert second.email == "bo@northwind.example"
    other_vendor = VendorFactory(tenant=tenant)
    vendor_contact_create(tenant=tenant, vendor=other_vendor, actor=CLERK, member_role=Role.CLERK, name="Anna",
                          email="anna@northwind.example")  # fmt: skip
    assert VendorContact.objects.for_tenant(tenant).filter(email="anna@northwind.example").count() == 2


def test_an_approver_may_not_edit_contacts(tenant: Tenant, vendor: Vendor) -> None:
    with pytest.raises(ContactForbidden, match=NEEDS_EDITOR):
        vendor_contact_create(tenant=tenant, vendor=vendor, actor=APPROVER, member_role=Role.APPROVER, name="Anna",
                              email="anna@northwind.example")  # fmt: skip
    contact = vendor_contact_create(tenant=tenant, vendor=vendor, actor=API_KEY, member_role=None, name="Anna",
                                    email="anna@northwind.example")  # fmt: skip
    with pytest.raises(ContactForbidden):
        vendor_contact_update(tenant=tenant, contact=contact, actor=APPROVER, member_role=Role.APPROVER,
                              changes={"name": "Eve"})  # fmt: skip
    with pytest.raises(ContactForbidden):
        vendor_contact_delete(tenant=tenant, contact=contact, actor=APPROVER, member_role=Role.APPROVER)
    contact.refresh_from_db()
    assert contact.name == "Anna" and [event.action for event in _events(tenant)] == ["contact_added"]


def test_creating_a_vendor_adds_no_contact(tenant: Tenant) -> None:
    vendor = vendor_create(tenant=tenant, name="Contoso GmbH", tax_id="DE123456789", actor=CLERK)
    assert not VendorContact.objects.for_tenant(tenant).filter(vendor=vendor).exists()
