"""Fixtures of the API tests."""

from __future__ import annotations

import pytest

from tenants.models import Tenant
from tests.api.bad_input import World
from tests.factories import GoodsReceiptFactory, PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory


@pytest.fixture
def world(tenant: Tenant, other_tenant: Tenant) -> World:
    """What the bad-input baselines refer to: the tenant's vendor, PO and receipt, and a foreign tenant's."""
    vendor = VendorFactory(tenant=tenant, tax_id="DE111222333", external_id="ERP-1")
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number="PO-EXIST")
    for number in (1, 2, 3):
        PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=number)
    GoodsReceiptFactory(purchase_order=purchase_order, receipt_number="GR-EXIST")
    foreign_vendor = VendorFactory(tenant=other_tenant, tax_id="FR999")
    foreign_po = PurchaseOrderFactory(tenant=other_tenant, vendor=foreign_vendor, po_number="PO-FOREIGN")
    PurchaseOrderLineFactory(purchase_order=foreign_po, line_number=1)
    return World(
        vendor_id=str(vendor.pk),
        existing_tax_id="DE111222333",
        existing_external_id="ERP-1",
        existing_po_number="PO-EXIST",
        existing_receipt_number="GR-EXIST",
        foreign_vendor_id=str(foreign_vendor.pk),
        foreign_po_number="PO-FOREIGN",
    )
