"""Approval rules by vendor category and cost centre (#19 item 1): the vendor's category (service,
API, audited), the PO line's cost centre (API, CSV, shown on the PO), the rules that name them
(which invoices they take, in the service and through `/api/approval-rules`), and the foreign
tenant's persona on each door."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.exceptions import DocumentInvalid
from invoices.models import Invoice, InvoiceLine, InvoiceStatus, ReviewQueue
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from review.approval_apis import RULES_ADMINS_ONLY
from review.approval_policies import BAND_NEEDS_CURRENCY, UNKNOWN_VENDOR, RuleSpec, StepSpec, approval_rule_create
from review.approvals import approval_rule_for, invoice_cost_centres
from review.decisions import invoice_review
from review.models import ApprovalRule
from tenants.models import Role, Tenant
from tests.factories import (
    BOLTS,
    HOSES,
    TEST_ACTOR,
    InvoiceFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    VendorFactory,
)
from tests.review.test_approval_policies import actor_of
from vendors.services import CATEGORY_TOO_LONG, vendor_category_update, vendor_create

pytestmark = pytest.mark.django_db


def one_step_rule(tenant: Tenant, name: str, **criteria: Any) -> ApprovalRule:
    return approval_rule_create(
        tenant=tenant, actor=TEST_ACTOR, spec=RuleSpec(name=name, steps=[StepSpec(role=Role.ADMIN)], **criteria)
    )


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(
        tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD, **fields
    )


def po_with_centres(tenant: Tenant, vendor: Any, *centres: str) -> PurchaseOrder:
    purchase_order = PurchaseOrderFactory(vendor=vendor, lines=[BOLTS, HOSES][: len(centres)])
    for number, centre in enumerate(centres, start=1):
        PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order=purchase_order, line_number=number).update(
            cost_centre=centre
        )
    return purchase_order


# --- the vendor's category --------------------------------------------------------------------------


def test_a_vendor_category_is_set_cleared_and_audited(tenant: Tenant) -> None:
    vendor = vendor_create(tenant=tenant, name="Rhenus Logistics", category="  Logistics ", actor=TEST_ACTOR)
    assert vendor.category == "Logistics"
    vendor = vendor_category_update(tenant=tenant, vendor=vendor, actor=TEST_ACTOR, category="Freight  and  post")
    assert vendor.category == "Freight and post"
    vendor_category_update(tenant=tenant, vendor=vendor, actor=TEST_ACTOR, category="Freight and post")  # no change
    vendor = vendor_category_update(tenant=tenant, vendor=vendor, actor=TEST_ACTOR, category="")
    assert vendor.category == ""
    changes = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(vendor.pk), action="category_changed")
    assert [(e.before["category"], e.after["category"]) for e in changes.order_by("occurred_at")] == [
        ("Logistics", "Freight and post"),
        ("Freight and post", ""),
    ]


def test_the_vendor_api_reads_and_writes_the_category(tenant: Tenant, api: APIClient, foreign_api: APIClient) -> None:
    created = api.post("/api/vendors", {"name": "Rhenus", "category": "Logistics"}, format="json")
    assert created.status_code == 201 and created.json()["category"] == "Logistics"
    url = f"/api/vendors/{created.json()['id']}/category"
    changed = api.put(url, {"category": "Facilities"}, format="json")
    assert changed.status_code == 200 and changed.json()["category"] == "Facilities"
    too_long = api.put(url, {"category": "x" * 101}, format="json")
    assert too_long.status_code == 400 and "category" in too_long.json()["error"]["details"]
    assert foreign_api.put(url, {"category": "Stolen"}, format="json").status_code == 404
    assert api.get(f"/api/vendors/{created.json()['id']}").json()["category"] == "Facilities"


def test_a_category_too_long_for_its_column_is_refused_by_name(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    with pytest.raises(DocumentInvalid) as refused:
        vendor_category_update(tenant=tenant, vendor=vendor, actor=TEST_ACTOR, category="x" * 101)
    assert refused.value.details["category"] == [CATEGORY_TOO_LONG.format(limit=100)]


# --- the PO line's cost centre ------------------------------------------------------------------------


def test_po_lines_carry_their_cost_centre_through_the_api_and_csv(tenant: Tenant, api: APIClient) -> None:
    vendor = VendorFactory(tenant=tenant, name="Rhenus")
    created = api.post(
        "/api/purchase-orders",
        {
            "po_number": "PO-CC-1",
            "vendor_id": str(vendor.pk),
            "currency": "EUR",
            "order_date": "2026-10-01",
            "lines": [
                {
                    "line_number": 1,
                    "description": "Pallets",
                    "quantity": "10",
                    "unit_price": "5",
                    "cost_centre": "WH-1",
                },
                {"line_number": 2, "description": "Labels", "quantity": "1", "unit_price": "2"},
            ],
        },
        format="json",
    )
    assert created.status_code == 201
    assert [line["cost_centre"] for line in created.json()["lines"]] == ["WH-1", ""]

    rows = (
        "po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price,cost_centre\n"
        "PO-CC-2,Rhenus,EUR,2026-10-01,1,Pallets,10,5,OFFICE\n"
        "PO-CC-2,Rhenus,EUR,2026-10-01,2,Labels,1,2,WH-2\n"
    )
    imported = api.generic("POST", "/api/purchase-orders/import/csv", rows.encode(), content_type="text/csv")
    assert imported.status_code == 201, imported.content
    centres = PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order__po_number="PO-CC-2")
    assert sorted(centres.values_list("cost_centre", flat=True)) == ["OFFICE", "WH-2"]


# --- rules that name them ----------------------------------------------------------------------------


def test_a_category_rule_takes_the_vendors_of_that_category_whatever_the_case(tenant: Tenant) -> None:
    logistics = VendorFactory(tenant=tenant, category="Logistics")
    other = VendorFactory(tenant=tenant, category="Facilities")
    one_step_rule(tenant, "Logistics vendors", vendor_category="logistics")
    assert approval_rule_for(tenant=tenant, invoice=in_review(tenant, vendor=logistics)).name == "Logistics vendors"
    assert approval_rule_for(tenant=tenant, invoice=in_review(tenant, vendor=other)) is None
    assert approval_rule_for(tenant=tenant, invoice=in_review(tenant, vendor=VendorFactory(tenant=tenant))) is None


def test_a_cost_centre_rule_reads_the_matched_po_lines_first_then_the_po(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    one_step_rule(tenant, "Warehouse", cost_centre="WH-1")
    purchase_order = po_with_centres(tenant, vendor, "WH-1", "OFFICE")
    warehouse_line, office_line = (
        PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order=purchase_order).order_by("line_number")
    )

    # Not matched line by line: the PO's lines count, and one of them is the warehouse's.
    header_only = in_review(tenant, vendor=vendor, purchase_order=purchase_order)
    assert invoice_cost_centres(tenant=tenant, invoice=header_only) == {"wh-1", "office"}
    assert approval_rule_for(tenant=tenant, invoice=header_only).name == "Warehouse"

    # Matched to the office's line only: the warehouse's rule does not take it.
    office_only = in_review(tenant, vendor=vendor, purchase_order=purchase_order, lines=[HOSES])
    InvoiceLine.objects.for_tenant(tenant).filter(invoice=office_only).update(matched_po_line=office_line)
    assert invoice_cost_centres(tenant=tenant, invoice=office_only) == {"office"}
    assert approval_rule_for(tenant=tenant, invoice=office_only) is None

    billed_warehouse = in_review(tenant, vendor=vendor, purchase_order=purchase_order, lines=[BOLTS])
    InvoiceLine.objects.for_tenant(tenant).filter(invoice=billed_warehouse).update(matched_po_line=warehouse_line)
    assert approval_rule_for(tenant=tenant, invoice=billed_warehouse).name == "Warehouse"

    # No PO at all: no cost centre.
    assert invoice_cost_centres(tenant=tenant, invoice=in_review(tenant, vendor=vendor)) == frozenset()


def test_an_invoice_follows_the_category_rules_two_step_chain(tenant: Tenant) -> None:
    logistics = VendorFactory(tenant=tenant, category="Logistics")
    approver = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    fleet = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    approval_rule_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        spec=RuleSpec(
            name="Logistics",
            vendor_category="Logistics",
            steps=[StepSpec(role=Role.APPROVER), StepSpec(user_ids=[fleet.pk])],
        ),
    )
    invoice = in_review(tenant, vendor=logistics)
    invoice_review(tenant=tenant, invoice=invoice, action="approve", actor=actor_of(approver), role=Role.APPROVER)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW
    invoice_review(tenant=tenant, invoice=invoice, action="approve", actor=actor_of(fleet), role=Role.APPROVER)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.APPROVED


# --- /api/approval-rules --------------------------------------------------------------------------------


def rule_body(**fields: Any) -> dict[str, Any]:
    return {"name": "Warehouse spend", "steps": [{"role": "approver"}, {"role": "admin"}], **fields}


def test_the_api_adds_lists_moves_and_removes_rules(tenant: Tenant, api: APIClient) -> None:
    first = api.post(
        "/api/approval-rules", rule_body(cost_centre="WH-1", currency="EUR", amount_from="500.00"), format="json"
    )
    assert first.status_code == 201, first.content
    assert first.json()["cost_centre"] == "WH-1" and first.json()["amount_from"] == "500.00"
    assert ApprovalRule.objects.for_tenant(tenant).get().amount_from == 50_000
    second = api.post("/api/approval-rules", rule_body(name="Logistics", vendor_category="Logistics"), format="json")
    assert second.status_code == 201
    assert [step["role"] for step in second.json()["steps"]] == ["approver", "admin"]

    moved = api.post(f"/api/approval-rules/{second.json()['id']}/move-up")
    assert moved.status_code == 200 and [rule["name"] for rule in moved.json()] == ["Logistics", "Warehouse spend"]
    listed = api.get("/api/approval-rules").json()["results"]
    assert [rule["name"] for rule in listed] == ["Logistics", "Warehouse spend"]

    assert api.delete(f"/api/approval-rules/{first.json()['id']}").status_code == 204
    assert list(ApprovalRule.objects.for_tenant(tenant).values_list("name", flat=True)) == ["Logistics"]
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="approval_rule").count() == 4


def test_the_api_refuses_bad_rules_by_field(tenant: Tenant, api: APIClient, other_tenant: Tenant) -> None:
    no_currency = api.post("/api/approval-rules", rule_body(amount_from="10"), format="json")
    assert no_currency.status_code == 400
    assert no_currency.json()["error"]["details"]["currency"] == [BAND_NEEDS_CURRENCY]
    cents = api.post("/api/approval-rules", rule_body(currency="JPY", amount_from="10.5"), format="json")
    assert cents.status_code == 400 and "amount_from" in cents.json()["error"]["details"]
    foreign_vendor = VendorFactory(tenant=other_tenant)
    stolen = api.post("/api/approval-rules", rule_body(vendor_id=str(foreign_vendor.pk)), format="json")
    assert stolen.status_code == 400 and stolen.json()["error"]["details"]["vendor_id"] == [UNKNOWN_VENDOR]
    no_steps = api.post("/api/approval-rules", rule_body(steps=[]), format="json")
    assert no_steps.status_code == 400
    assert ApprovalRule.objects.for_tenant(tenant).count() == 0


def test_another_tenants_rule_is_a_404_and_a_clerk_may_not_touch_the_policy(
    tenant: Tenant, api: APIClient, foreign_api: APIClient
) -> None:
    rule = one_step_rule(tenant, "Ours", vendor_category="Logistics")
    assert foreign_api.get(f"/api/approval-rules/{rule.pk}").status_code == 404
    assert foreign_api.delete(f"/api/approval-rules/{rule.pk}").status_code == 404
    assert foreign_api.post(f"/api/approval-rules/{rule.pk}/move-up").status_code == 404
    assert foreign_api.get("/api/approval-rules").json()["results"] == []

    clerk = APIClient()
    clerk.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    refused = clerk.post("/api/approval-rules", rule_body(), format="json")
    assert refused.status_code == 403 and refused.json()["error"]["message"] == RULES_ADMINS_ONLY
    assert clerk.delete(f"/api/approval-rules/{rule.pk}").status_code == 403
    assert clerk.post(f"/api/approval-rules/{rule.pk}/move-up").status_code == 403
    assert clerk.get("/api/approval-rules").status_code == 200  # members read the policy
    assert ApprovalRule.objects.for_tenant(tenant).count() == 1
    assert api.get(f"/api/approval-rules/{rule.pk}").json()["vendor_category"] == "Logistics"


def test_a_rule_names_nothing_longer_than_its_columns(tenant: Tenant) -> None:
    with pytest.raises(DocumentInvalid) as refused:
        one_step_rule(tenant, "Long", cost_centre="C" * 65)
    assert "cost_centre" in refused.value.details
    assert ApprovalRule.objects.for_tenant(tenant).count() == 0
