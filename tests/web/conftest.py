"""Personas and invoices for the web app's tests, built through the real services.

The scenario is what an AP clerk meets on a Monday: a clean-ish invoice with a price
discrepancy (standard queue), a possible duplicate (escalated), and another tenant's invoice
that must never show.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from invoices.models import Invoice
from tenants.models import Role, Tenant
from tests.factories import BOLTS, HOSES, MembershipFactory
from tests.matching.db_builders import make_invoice, make_purchase_order, make_vendor, receive, reload, run_matching


@dataclass(frozen=True)
class Scenario:
    tenant: Tenant
    price_mismatch: Invoice  # standard queue, a medium price_mismatch on line 2
    original: Invoice  # approved by the engine (clean 3-way match)
    duplicate: Invoice  # escalated: possible_duplicate of `original` (high)


def build_scenario(tenant: Tenant, prefix: str = "") -> Scenario:
    vendor = make_vendor(tenant, f"{prefix}Acme Industrial Supplies", tax_id=f"{prefix}DE811907980")
    make_purchase_order(tenant, vendor=vendor, po_number=f"{prefix}PO-1", lines=[BOLTS, HOSES])
    receive(tenant, po_number=f"{prefix}PO-1", receipt_number=f"{prefix}GR-1", quantities={1: "1000", 2: "50"})
    make_purchase_order(tenant, vendor=vendor, po_number=f"{prefix}PO-2", lines=[BOLTS, HOSES])
    receive(tenant, po_number=f"{prefix}PO-2", receipt_number=f"{prefix}GR-2", quantities={1: "1000", 2: "50"})
    # 19.00 against 18.40: 3.3 % over a 2 % tolerance, under 5× it, so medium: standard queue.
    price_mismatch = make_invoice(
        tenant, number=f"{prefix}INV-100", vendor=vendor, po_number=f"{prefix}PO-1", lines=[BOLTS, HOSES.at("19.00")]
    )
    original = make_invoice(
        tenant, number=f"{prefix}INV-200", vendor=vendor, po_number=f"{prefix}PO-2", lines=[BOLTS, HOSES]
    )
    run_matching(tenant)
    duplicate = make_invoice(
        tenant, number=f"{prefix}INV-200-B", vendor=vendor, po_number=f"{prefix}PO-2", lines=[BOLTS, HOSES]
    )
    run_matching(tenant)
    return Scenario(tenant, reload(price_mismatch), reload(original), reload(duplicate))


@pytest.fixture
def scenario(tenant: Tenant) -> Scenario:
    return build_scenario(tenant)


@pytest.fixture
def foreign_scenario(other_tenant: Tenant) -> Scenario:
    return build_scenario(other_tenant, prefix="X-")


def _client(tenant: Tenant, role: str) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


@pytest.fixture
def clerk(tenant: Tenant) -> Client:
    return _client(tenant, Role.CLERK)


@pytest.fixture
def approver(tenant: Tenant) -> Client:
    return _client(tenant, Role.APPROVER)


@pytest.fixture
def foreign_clerk(other_tenant: Tenant) -> Client:
    """A member of the other tenant only: the persona every ownership test tries."""
    return _client(other_tenant, Role.APPROVER)
