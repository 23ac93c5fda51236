"""The vendor's category on its page, a PO's cost centre typed by hand and shown on the PO's page,
and Settings → Approvals naming both (#19 item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from review.models import ApprovalRule
from tenants.models import Role, Tenant
from tests.factories import BOLTS, MembershipFactory, PurchaseOrderFactory, VendorFactory
from tests.web.test_purchasing_entry import NEW_PO, po_form

pytestmark = pytest.mark.django_db


def signed_in(tenant: Tenant, role: str) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


def test_a_clerk_sets_the_vendors_category_on_its_page(tenant: Tenant, other_tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Rhenus")
    VendorFactory(tenant=tenant, category="Facilities")
    VendorFactory(tenant=other_tenant, category="Foreign secret")
    clerk = signed_in(tenant, Role.CLERK)
    page = clerk.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    assert 'data-testid="vendor-category-label">No category' in page
    assert '<option value="Facilities">' in page and "Foreign secret" not in page

    url = reverse("web:vendor-category", kwargs={"vendor_id": vendor.pk})
    saved = clerk.post(url, {"category": " Logistics "}, follow=True)
    assert "Category of Rhenus: Logistics." in saved.content.decode()
    vendor.refresh_from_db()
    assert vendor.category == "Logistics"
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(vendor.pk), action="category_changed").exists()

    too_long = clerk.post(url, {"category": "x" * 101})
    assert too_long.status_code == 400 and 'data-testid="error-category"' in too_long.content.decode()
    # An approver reads it but has no form; another tenant's vendor is the 404 page.
    approver = signed_in(tenant, Role.APPROVER)
    assert (
        'data-testid="vendor-category-form"'
        not in approver.get(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})).content.decode()
    )
    assert approver.post(url, {"category": "Mine"}).status_code == 403
    foreign = VendorFactory(tenant=other_tenant)
    assert (
        clerk.post(reverse("web:vendor-category", kwargs={"vendor_id": foreign.pk}), {"category": "x"}).status_code
        == 404
    )


def test_a_po_typed_by_hand_books_its_lines_to_a_cost_centre_shown_on_its_page(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Acme Industrial Supplies")
    clerk = signed_in(tenant, Role.CLERK)
    created = clerk.post(NEW_PO, po_form(cost_centre=" WH-1 "))
    assert created.status_code == 302
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-7001")
    lines = PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order=purchase_order)
    assert set(lines.values_list("cost_centre", flat=True)) == {"WH-1"}
    page = clerk.get(created["Location"]).content.decode()
    assert 'data-testid="cost-centre-1">WH-1' in page and 'data-testid="cost-centre-2">WH-1' in page

    bare = PurchaseOrderFactory(vendor=VendorFactory(tenant=tenant), lines=[BOLTS])
    page = clerk.get(reverse("web:purchase-order-detail", kwargs={"purchase_order_id": bare.pk})).content.decode()
    assert 'data-testid="cost-centre-1">—' in page


def test_the_policy_page_adds_a_rule_by_category_and_cost_centre(tenant: Tenant, other_tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, category="Logistics")
    PurchaseOrderLine.objects.for_tenant(tenant).filter(
        pk=PurchaseOrderFactory(vendor=VendorFactory(tenant=tenant), lines=[BOLTS]).lines.get().pk
    ).update(cost_centre="WH-1")
    VendorFactory(tenant=other_tenant, category="Foreign category")
    admin = signed_in(tenant, Role.ADMIN)
    url = reverse("web:settings-approvals")
    page = admin.get(url).content.decode()
    assert '<option value="Logistics">' in page and '<option value="WH-1">' in page
    assert "Foreign category" not in page

    added: Any = admin.post(
        url,
        {
            "name": "Warehouse logistics",
            "vendor_category": "Logistics",
            "cost_centre": "WH-1",
            "step1_role": "approver",
            "step1_mode": "any",
        },
        follow=True,
    )
    assert added.status_code == 200
    rule = ApprovalRule.objects.for_tenant(tenant).get()
    assert (rule.vendor_category, rule.cost_centre) == ("Logistics", "WH-1")
    body = added.content.decode()
    assert "vendors in Logistics" in body and "cost centre WH-1" in body
