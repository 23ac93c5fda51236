"""`PUT`/`PATCH /api/approval-rules/{id}` (#19 leftovers): an administrator's or an API key's edit
of a rule in place, validated as on create (400 in the error envelope naming the field, nothing
written), audited before/after; another tenant's rule a 404, a clerk a 403. And the API's approve
refusing whoever changed the vendor's bank details, with the reason."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.actors import Actor
from invoices.models import InvoiceStatus, ReviewQueue
from review.approval_policies import BAND_NEEDS_CURRENCY, UNKNOWN_VENDOR
from review.models import ApprovalRule
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, VendorFactory
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose

pytestmark = pytest.mark.django_db

RULES = "/api/approval-rules"


def rule_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Big invoices",
        "currency": "EUR",
        "amount_from": "1000.00",
        "steps": [{"role": "approver"}],
        **fields,
    }


def created(api: APIClient, **fields: Any) -> dict[str, Any]:
    response = api.post(RULES, rule_body(**fields), format="json")
    assert response.status_code == 201, response.content
    return dict(response.json())


def updates(tenant: Tenant) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant).filter(entity_type="approval_rule", action="updated").order_by("id")
    )


def test_patch_changes_the_amount_band_and_keeps_the_rest(tenant: Tenant, api: APIClient) -> None:
    rule = created(api, vendor_category="Logistics")
    response = api.patch(f"{RULES}/{rule['id']}", {"amount_from": "5000.00", "amount_below": "20000"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["amount_from"], body["amount_below"], body["currency"]) == ("5000.00", "20000.00", "EUR")
    assert (body["name"], body["vendor_category"], body["steps"]) == (
        "Big invoices",
        "Logistics",
        [{"role": "approver", "user_ids": [], "mode": "any"}],
    )
    stored = ApprovalRule.objects.for_tenant(tenant).get()
    assert (stored.amount_from, stored.amount_below) == (500_000, 2_000_000)
    [event] = updates(tenant)
    assert (event.before["amount_from"], event.after["amount_from"]) == (100_000, 500_000)
    assert event.actor_kind == "api_key"


def test_put_replaces_every_field_and_moves_the_rule(tenant: Tenant, api: APIClient) -> None:
    created(api, name="First")
    second = created(api, name="Second", vendor_category="Logistics")
    approver = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    body = {"name": "Second, edited", "steps": [{"user_ids": [approver.pk], "mode": "all"}], "position": 1}
    response = api.put(f"{RULES}/{second['id']}", body, format="json")
    assert response.status_code == 200, response.content
    edited = response.json()
    # PUT: what is not given takes its default (no band, any category).
    assert (edited["currency"], edited["amount_from"], edited["vendor_category"]) == ("", None, "")
    assert edited["steps"] == [{"role": "", "user_ids": [approver.pk], "mode": "all"}]
    listed = api.get(RULES).json()["results"]
    assert [rule["name"] for rule in listed] == ["Second, edited", "First"]


def test_bad_edits_are_400s_naming_the_field_and_write_nothing(
    tenant: Tenant, api: APIClient, other_tenant: Tenant
) -> None:
    rule = created(api)
    url = f"{RULES}/{rule['id']}"
    no_currency = api.patch(url, {"currency": ""}, format="json")
    assert no_currency.status_code == 400
    assert no_currency.json()["error"]["details"]["currency"] == [BAND_NEEDS_CURRENCY]
    yen_cents = api.patch(url, {"currency": "JPY", "amount_from": "10.5"}, format="json")
    assert yen_cents.status_code == 400 and "amount_from" in yen_cents.json()["error"]["details"]
    # A new currency alone: the kept amount is read again in it (EUR 1000.00 is JPY 1000).
    assert api.patch(url, {"currency": "JPY"}, format="json").status_code == 200
    assert api.patch(url, {"currency": "EUR", "amount_from": "10.50"}, format="json").status_code == 200
    # Back to JPY with EUR 10.50 kept: 10.50 yen cannot be, and the refusal names the amount.
    kept_cents = api.patch(url, {"currency": "JPY"}, format="json")
    assert kept_cents.status_code == 400 and "amount_from" in kept_cents.json()["error"]["details"]
    foreign_vendor = VendorFactory(tenant=other_tenant)
    stolen = api.patch(url, {"vendor_id": str(foreign_vendor.pk)}, format="json")
    assert stolen.status_code == 400 and stolen.json()["error"]["details"]["vendor_id"] == [UNKNOWN_VENDOR]
    no_steps = api.patch(url, {"steps": []}, format="json")
    assert no_steps.status_code == 400 and "steps" in no_steps.json()["error"]["details"]
    far = api.patch(url, {"position": 9}, format="json")
    assert far.status_code == 400 and "position" in far.json()["error"]["details"]
    not_a_number = api.patch(url, {"amount_below": "lots"}, format="json")
    assert not_a_number.status_code == 400
    stored = ApprovalRule.objects.for_tenant(tenant).get()
    assert (stored.currency, stored.amount_from, stored.vendor_id) == ("EUR", 1050, None)
    assert len(updates(tenant)) == 2  # the two accepted edits


def test_another_tenants_rule_is_a_404_and_a_clerk_may_not_edit(
    tenant: Tenant, api: APIClient, foreign_api: APIClient
) -> None:
    rule = created(api)
    url = f"{RULES}/{rule['id']}"
    for response in (
        foreign_api.patch(url, {"name": "Stolen"}, format="json"),
        foreign_api.put(url, rule_body(name="Stolen"), format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    clerk = MembershipFactory(tenant=tenant, role=Role.CLERK).user
    session = APIClient()
    session.force_login(clerk)
    refused = session.patch(url, {"name": "Mine"}, format="json")
    assert refused.status_code == 403
    assert ApprovalRule.objects.for_tenant(tenant).get().name == "Big invoices"
    assert updates(tenant) == []


def test_the_api_approve_refuses_who_changed_the_vendors_bank_details(tenant: Tenant) -> None:
    clerk = MembershipFactory(tenant=tenant, role=Role.CLERK).user
    bank_approver = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    colleague = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    vendor = VendorFactory(tenant=tenant)
    account = vendor_bank_account_propose(
        tenant=tenant,
        vendor=vendor,
        actor=Actor(kind="user", id=str(clerk.pk), label=clerk.get_username()),
        role=Role.CLERK,
        iban="NL91ABNA0417164300",
    )
    vendor_bank_account_approve(
        tenant=tenant,
        account=account,
        actor=Actor(kind="user", id=str(bank_approver.pk), label=bank_approver.get_username()),
        role=Role.APPROVER,
    )
    invoice = InvoiceFactory(
        tenant=tenant, vendor=vendor, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD
    )
    session = APIClient()
    session.force_login(bank_approver)
    refused = session.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "permission_denied"
    assert error["message"].startswith("You changed this vendor's bank details on ")
    assert "approved account ****4300" in error["message"]
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW

    session.force_login(colleague)
    approved = session.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert approved.status_code == 200, approved.content
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED
