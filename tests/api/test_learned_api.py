"""The API of what Recon learned (issue #20): item aliases, vendor aliases and tolerance
suggestions listed with their evidence; an alias forgotten; a suggestion accepted (the vendor's
tolerance set, its open invoices matched again), declined, undone — each through the same
services as the page, in the error envelope when refused; another tenant's ids are 404s and
change nothing; a clerk signed in may read but not decide."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from learning.models import DecisionExample, ItemAlias, ToleranceSuggestion
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, VendorFactory
from vendors.models import Vendor, VendorAlias

pytestmark = pytest.mark.django_db


def _learned(tenant: Tenant) -> dict[str, Any]:
    """What a tenant's people taught, as the services write it (tests/learning drive them)."""
    vendor = VendorFactory(tenant=tenant, name="Nordic Freight AB")
    example = DecisionExample.objects.create(
        tenant=tenant, kind="line_reassignment", vendor=vendor, actor_kind="user", actor_id="1",
        actor_label="cleo", details={"invoice_number": "INV-1"},
    )  # fmt: skip
    alias = ItemAlias.objects.create(
        tenant=tenant, vendor=vendor, invoice_text="Freight surcharge", invoice_key="text:freight surcharge",
        po_item_text="Delivery charge", po_item_key="text:delivery charge", example=example, learned_by_label="cleo",
    )  # fmt: skip
    name = VendorAlias.objects.create(
        tenant=tenant, vendor=vendor, alias="Nordic Frakt", normalized_alias="nordic frakt"
    )
    DecisionExample.objects.create(
        tenant=tenant, kind="vendor_resolution", vendor=vendor, actor_kind="user", actor_id="2", actor_label="anna",
        details={"taught_alias": "nordic frakt"},
    )  # fmt: skip
    evidence = [{"invoice_number": f"INV-{n}", "pct": "3.000", "by": "anna", "on": "2026-12-01"} for n in range(5)]
    price = ToleranceSuggestion.objects.create(
        tenant=tenant, vendor=vendor, kind="price", low_pct=Decimal("2.5"), high_pct=Decimal("3"),
        proposed_pct=Decimal("3"), approvals=5, window_days=60, evidence=evidence,
    )  # fmt: skip
    quantity = ToleranceSuggestion.objects.create(
        tenant=tenant, vendor=vendor, kind="quantity", low_pct=Decimal("3"), high_pct=Decimal("3"),
        proposed_pct=Decimal("3"), approvals=5, window_days=60, evidence=evidence,
    )  # fmt: skip
    return {"vendor": vendor, "item": alias, "name": name, "price": price, "quantity": quantity}


def test_the_learned_facts_are_listed_with_their_evidence(api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
    mine, _ = _learned(tenant), _learned(other_tenant)

    items = api.get("/api/learned/item-aliases").json()["results"]
    assert [(i["id"], i["invoice_text"], i["po_item_text"], i["learned_by"], i["learned_from"], i["active"])
            for i in items] == [(str(mine["item"].pk), "Freight surcharge", "Delivery charge", "cleo",
                                 "line_assigned_by_hand", True)]  # fmt: skip
    names = api.get("/api/learned/vendor-aliases").json()["results"]
    assert [(n["alias"], n["vendor_name"], n["taught_by"]) for n in names] == [
        ("Nordic Frakt", "Nordic Freight AB", "anna")
    ]
    suggestions = api.get("/api/learned/tolerance-suggestions", {"kind": "quantity"}).json()["results"]
    assert [(s["id"], s["kind_label"], s["status"], s["proposed_pct"], len(s["evidence"])) for s in suggestions] == [
        (str(mine["quantity"].pk), "Quantity tolerance", "open", "3.000", 5)
    ]


def test_forget_and_decide_through_the_api(api: APIClient, tenant: Tenant) -> None:
    mine = _learned(tenant)
    forgotten = api.post(f"/api/learned/item-aliases/{mine['item'].pk}/forget")
    assert forgotten.status_code == 200 and forgotten.json()["active"] is False
    again = api.post(f"/api/learned/item-aliases/{mine['item'].pk}/forget")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "This alias was already forgotten."

    accepted = api.post(f"/api/learned/tolerance-suggestions/{mine['quantity'].pk}/accept")
    assert accepted.status_code == 200, accepted.json()
    assert (accepted.json()["suggestion"]["status"], accepted.json()["rematched"]) == ("accepted", 0)
    vendor = Vendor.objects.for_tenant(tenant).get(pk=mine["vendor"].pk)
    assert (vendor.quantity_tolerance_pct, vendor.price_tolerance_pct) == (Decimal("3"), None)
    declined = api.post(f"/api/learned/tolerance-suggestions/{mine['price'].pk}/decline")
    assert declined.json()["suggestion"]["status"] == "declined"
    assert api.post(f"/api/learned/tolerance-suggestions/{mine['price'].pk}/accept").status_code == 409
    undone = api.post(f"/api/learned/tolerance-suggestions/{mine['quantity'].pk}/undo")
    assert undone.json()["suggestion"]["status"] == "undone"
    assert Vendor.objects.for_tenant(tenant).get(pk=vendor.pk).quantity_tolerance_pct is None

    assert api.post(f"/api/learned/vendor-aliases/{mine['name'].pk}/forget").status_code == 204
    assert not VendorAlias.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("item-aliases/{}", "item"),
        ("item-aliases/{}/forget", "item"),
        ("vendor-aliases/{}", "name"),
        ("vendor-aliases/{}/forget", "name"),
        ("tolerance-suggestions/{}", "price"),
        ("tolerance-suggestions/{}/accept", "price"),
        ("tolerance-suggestions/{}/decline", "price"),
        ("tolerance-suggestions/{}/undo", "price"),
    ],
)
def test_another_tenants_ids_are_404s_and_change_nothing(
    foreign_api: APIClient, tenant: Tenant, path: str, key: str
) -> None:
    mine = _learned(tenant)
    url = f"/api/learned/{path.format(mine[key].pk)}"
    response = foreign_api.post(url) if path.count("/") == 2 else foreign_api.get(url)
    assert response.status_code == 404
    assert response.json()["error"]["code"]
    assert ItemAlias.objects.for_tenant(tenant).get().forgotten_at is None
    assert VendorAlias.objects.for_tenant(tenant).exists()
    assert set(ToleranceSuggestion.objects.for_tenant(tenant).values_list("status", flat=True)) == {"open"}


def test_a_clerk_reads_but_neither_forgets_nor_decides(client: Client, tenant: Tenant) -> None:
    mine = _learned(tenant)
    client.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    assert client.get("/api/learned/tolerance-suggestions").status_code == 200
    refused = client.post(f"/api/learned/tolerance-suggestions/{mine['price'].pk}/accept")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Only an administrator can accept, decline or undo a learned rule."
    assert client.post(f"/api/learned/item-aliases/{mine['item'].pk}/forget").status_code == 403
    assert ToleranceSuggestion.objects.for_tenant(tenant).get(pk=mine["price"].pk).status == "open"


def _tax_id_taught(tenant: Tenant) -> VendorAlias:
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies Ltd", tax_id="DE123456789")
    alias = VendorAlias.objects.create(
        tenant=tenant, vendor=vendor, kind="tax_id", alias="DE 812 526 315", normalized_alias="DE812526315"
    )
    DecisionExample.objects.create(
        tenant=tenant, kind="vendor_resolution", vendor=vendor, actor_kind="user", actor_id="3", actor_label="bea",
        details={"taught_alias": "acme handelsgesellschaft", "taught_tax_id": "DE812526315",
                 "payee_account_hash": "h", "payee_account_mask": "****4300"},
    )  # fmt: skip
    return alias


def test_a_learned_tax_id_is_listed_with_who_taught_it_and_forgotten(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine, theirs = _tax_id_taught(tenant), _tax_id_taught(other_tenant)

    listed = api.get("/api/learned/vendor-aliases", {"kind": "tax_id"}).json()["results"]
    assert [(a["id"], a["kind"], a["kind_label"], a["alias"], a["vendor_name"], a["taught_by"]) for a in listed] == [
        (str(mine.pk), "tax_id", "Tax id", "DE 812 526 315", "Acme Supplies Ltd", "bea")
    ]
    assert api.get("/api/learned/vendor-aliases", {"kind": "name"}).json()["results"] == []
    assert api.get(f"/api/learned/vendor-aliases/{theirs.pk}").status_code == 404
    refused = foreign_api.post(f"/api/learned/vendor-aliases/{mine.pk}/forget")
    assert refused.status_code == 404 and refused.json()["error"]["code"]
    assert VendorAlias.objects.for_tenant(tenant).filter(pk=mine.pk).exists()

    assert api.post(f"/api/learned/vendor-aliases/{mine.pk}/forget").status_code == 204
    assert not VendorAlias.objects.for_tenant(tenant).exists()
    assert VendorAlias.objects.for_tenant(other_tenant).filter(pk=theirs.pk).exists()
    event = AuditEvent.objects.for_tenant(tenant).get(action="alias_removed")
    assert (event.before["kind"], event.before["normalized_alias"], event.after) == (
        "tax_id", "DE812526315", {"why": "forgotten by hand"}
    )  # fmt: skip
