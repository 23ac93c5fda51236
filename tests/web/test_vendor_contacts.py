"""The vendor page's "Contacts" card (#19 item 2): a clerk adds, changes and removes a contact
(each audited), a refusal sits beside its field with nothing written, an approver reads but gets
no form and is refused a POST, and another tenant's vendor or contact is the 404 page."""

from __future__ import annotations

from html import escape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import CHAIN_ORDER, AuditEvent
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory, VendorFactory
from vendors.contacts import EMAIL_TAKEN, NEEDS_EDITOR, PHONE_INVALID
from vendors.models import Vendor, VendorBankAccount, VendorContact

pytestmark = pytest.mark.django_db


def _client(tenant: Tenant, role: str, username: str) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role, user=UserFactory(username=username)).user)
    return client


@pytest.fixture
def vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Northwind Traders")


def _add(client: Client, vendor: Vendor, **form: Any) -> Any:
    fields = {f"new-contact-{name}": value for name, value in form.items()}
    return client.post(reverse("web:vendor-contact-add", kwargs={"vendor_id": vendor.pk}), fields)


def _contact_url(name: str, contact: VendorContact) -> str:
    return reverse(f"web:vendor-contact-{name}", kwargs={"vendor_id": contact.vendor_id, "contact_id": contact.pk})


def test_a_clerk_adds_changes_and_removes_a_contact(tenant: Tenant, vendor: Vendor) -> None:
    clerk = _client(tenant, Role.CLERK, "cleo")
    added = _add(clerk, vendor, name="Anna Berg", email="anna@northwind.example", role="Accounts receivable",
                 notify_bank_changes="on")  # fmt: skip
    assert added.status_code == 302 and added["Location"].endswith(f"/app/vendors/{vendor.pk}#contacts")
    contact = VendorContact.objects.for_tenant(tenant).get()
    assert (contact.name, contact.role, contact.notify_bank_changes) == ("Anna Berg", "Accounts receivable", True)

    page = clerk.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    assert 'data-testid="contact-anna@northwind.example"' in page and "Told of bank-detail changes" in page

    prefix = f"contact-{contact.pk}-"
    # The checkbox left unticked: no longer told of bank-detail changes.
    saved = clerk.post(_contact_url("edit", contact), {prefix + "name": "Anna Berg", prefix + "email": contact.email,
                                                       prefix + "phone": "+31 20 555 0101"})  # fmt: skip
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert (contact.notify_bank_changes, contact.phone, contact.role) == (False, "+31 20 555 0101", "")

    assert clerk.post(_contact_url("remove", contact)).status_code == 302
    assert not VendorContact.objects.for_tenant(tenant).exists()
    actions = AuditEvent.objects.for_tenant(tenant).filter(entity_type="vendor_contact").order_by(*CHAIN_ORDER)
    assert list(actions.values_list("action", flat=True)) == ["contact_added", "contact_changed", "contact_removed"]


def test_a_refusal_is_shown_beside_its_field_and_nothing_is_written(tenant: Tenant, vendor: Vendor) -> None:
    clerk = _client(tenant, Role.CLERK, "cleo")
    refused = _add(clerk, vendor, name="Anna", email="anna@northwind.example", phone="ring reception")
    assert refused.status_code == 400
    assert escape(PHONE_INVALID) in refused.content.decode()
    assert not VendorContact.objects.for_tenant(tenant).exists()
    _add(clerk, vendor, name="Anna", email="anna@northwind.example")
    repeated = _add(clerk, vendor, name="Anna Again", email="ANNA@northwind.example")
    assert repeated.status_code == 409
    assert escape(EMAIL_TAKEN.format(email="anna@northwind.example")) in repeated.content.decode()
    assert VendorContact.objects.for_tenant(tenant).count() == 1


def test_an_approver_reads_the_contacts_but_may_not_edit_them(tenant: Tenant, vendor: Vendor) -> None:
    contact = VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Anna", email="anna@northwind.example")
    approver = _client(tenant, Role.APPROVER, "vera")
    page = approver.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    assert "anna@northwind.example" in page and "Add a contact" not in page and "Save contact" not in page
    refused = approver.post(_contact_url("remove", contact))
    assert refused.status_code == 403 and escape(NEEDS_EDITOR) in refused.content.decode()
    assert VendorContact.objects.for_tenant(tenant).filter(pk=contact.pk).exists()


def test_another_tenants_vendor_or_contact_is_the_404_page(
    tenant: Tenant, other_tenant: Tenant, vendor: Vendor
) -> None:
    contact = VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Anna", email="anna@northwind.example")
    stranger = _client(other_tenant, Role.ADMIN, "mallory")
    assert _add(stranger, vendor, name="Eve", email="eve@example.com").status_code == 404
    assert stranger.post(_contact_url("remove", contact)).status_code == 404
    assert stranger.get(_contact_url("edit", contact)).status_code == 404
    # Another vendor's address with this contact's id: the 404 page too.
    clerk = _client(tenant, Role.CLERK, "cleo")
    other_vendor = VendorFactory(tenant=tenant)
    wrong = reverse("web:vendor-contact-remove", kwargs={"vendor_id": other_vendor.pk, "contact_id": contact.pk})
    assert clerk.post(wrong).status_code == 404
    assert VendorContact.objects.for_tenant(tenant).filter(pk=contact.pk).exists()


def test_the_page_says_who_was_told_of_a_bank_change_and_who_could_not_be_reached(
    tenant: Tenant, vendor: Vendor, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Anna Berg", email="anna@northwind.example")
    VendorContact.objects.create(tenant=tenant, vendor=vendor, name="Carl", email="carl@northwind.example",
                                 notify_bank_changes=False)  # fmt: skip
    clerk = _client(tenant, Role.CLERK, "cleo")
    propose = reverse("web:vendor-bank-account-propose", kwargs={"vendor_id": vendor.pk})
    with django_capture_on_commit_callbacks(execute=True):
        assert clerk.post(propose, {"iban": "NL91 ABNA 0417 1643 00"}).status_code == 302
    page = clerk.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    notices = page[page.index('data-testid="contact-notices"') :]
    assert "Account ****4300 proposed" in notices and "Anna Berg (anna@northwind.example)" in notices
    assert "carl@northwind.example" not in notices and 'data-testid="contact-not-reached"' not in notices

    # A mail server nobody answers on: the next change is listed as not reached.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    pending = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    decide = reverse("web:vendor-bank-account-decide", kwargs={"vendor_id": vendor.pk})
    approver = _client(tenant, Role.APPROVER, "vera")
    rejected = approver.post(decide, {"account_id": str(pending.pk), "decision": "reject", "comment": "Not ours"})
    assert rejected.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert clerk.post(propose, {"iban": "DE89 3704 0044 0532 0130 00"}).status_code == 302
    page = clerk.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    assert 'data-testid="contact-not-reached">Anna Berg (anna@northwind.example)' in page
