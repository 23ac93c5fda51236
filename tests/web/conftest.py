"""Personas and invoices for the web app's tests.

The scenario is what an AP clerk meets on a Monday: a clean-ish invoice with a price
discrepancy (standard queue), a possible duplicate (escalated), and another tenant's invoice
that must never show. The vendor, POs and receipts are factory rows; the invoices come in
through the invoice door, so their pages show the `created` event, and a real matching run
decides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.test import Client

from invoices.models import Invoice
from invoices.services import invoice_create
from tenants.models import Role, Tenant
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import (
    BOLTS,
    HOSES,
    TEST_ACTOR,
    GoodsReceiptFactory,
    Line,
    MembershipFactory,
    PurchaseOrderFactory,
    VendorFactory,
)
from tests.matching.runs import reload, run_matching


@dataclass(frozen=True)
class Scenario:
    tenant: Tenant
    price_mismatch: Invoice  # standard queue, a medium price_mismatch on line 2
    original: Invoice  # approved by the engine (clean 3-way match)
    duplicate: Invoice  # escalated: possible_duplicate of `original` (high)


def build_scenario(tenant: Tenant, prefix: str = "") -> Scenario:
    vendor = VendorFactory(tenant=tenant, name=f"{prefix}Acme Industrial Supplies", tax_id=f"{prefix}DE811907980")
    for number in ("1", "2"):
        purchase_order = PurchaseOrderFactory(vendor=vendor, po_number=f"{prefix}PO-{number}", lines=[BOLTS, HOSES])
        GoodsReceiptFactory(
            purchase_order=purchase_order, receipt_number=f"{prefix}GR-{number}", quantities={1: "1000", 2: "50"}
        )

    def receive_invoice(number: str, po_number: str, lines: list[Line]) -> Invoice:
        document = InvoiceDocumentFactory(invoice_number=number, vendor_id=vendor.pk, po_number=po_number, lines=lines)
        return invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)

    # 19.00 against 18.40: 3.3 % over a 2 % tolerance, under 5× it, so medium: standard queue.
    price_mismatch = receive_invoice(f"{prefix}INV-100", f"{prefix}PO-1", [BOLTS, HOSES.at("19.00")])
    original = receive_invoice(f"{prefix}INV-200", f"{prefix}PO-2", [BOLTS, HOSES])
    run_matching(tenant)
    duplicate = receive_invoice(f"{prefix}INV-200-B", f"{prefix}PO-2", [BOLTS, HOSES])
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
