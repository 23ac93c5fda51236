"""Matching runs against the real PostgreSQL: a run and a receipt touch only their own tenant.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import pytest

from audit.models import AuditEvent, OutboxMessage
from invoices.models import InvoiceLine
from matching.models import MatchResult, MatchRun
from purchasing.services import goods_receipt_create
from tenants.models import Tenant
from tests.document_factories import GoodsReceiptDocumentFactory
from tests.factories import BOLTS, HOSES, TEST_ACTOR, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import (
    acme_vendor,
    assert_left_alone,
    found,
    reload,
    results_of,
    run_matching,
    transitions_of,
)

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- tenants ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_touches_only_its_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    # The foreign tenant: a vendor, PO-7000 (only there) and PO-7001 (the same number as ours),
    # and an invoice waiting in `received`.
    initech = VendorFactory(tenant=other_tenant, name="Initech Components", tax_id="DE555000555")
    PurchaseOrderFactory(vendor=initech, po_number="PO-7000", lines=[BOLTS], received=True)
    PurchaseOrderFactory(vendor=initech, po_number="PO-7001", lines=[HOSES], received=True)
    foreign = InvoiceFactory(vendor=initech, invoice_number="INV-B1", po_number="PO-7000", lines=[BOLTS])

    acme = acme_vendor(tenant)
    ours = PurchaseOrderFactory(vendor=acme, po_number="PO-7001", lines=[BOLTS], received=True)
    same_number = InvoiceFactory(vendor=acme, invoice_number="INV-A1", po_number="PO-7001", lines=[BOLTS])
    # Names the foreign tenant's vendor and PO: neither exists here.
    strays = InvoiceFactory(
        tenant=tenant,
        vendor=None,
        vendor_name_raw="Initech Components",
        invoice_number="INV-A2",
        po_number="PO-7000",
        lines=[BOLTS.times("5")],
    )

    run = run_matching(tenant)

    assert run.invoices_matched == 2
    [result] = results_of(same_number)
    assert (result.purchase_order_id, result.vendor_id, result.decision, found(result)) == (
        ours.pk,
        acme.pk,
        "approved",
        [],
    )
    [stray_result] = results_of(strays)
    assert (stray_result.vendor_id, stray_result.purchase_order_id) == (None, None)
    assert found(stray_result) == [("po_not_found", "high"), ("unknown_vendor", "high")]
    assert (reload(strays).vendor_id, reload(strays).purchase_order_id) == (None, None)

    assert_left_alone(foreign)
    assert not MatchRun.objects.for_tenant(other_tenant).exists()
    assert not MatchResult.objects.for_tenant(other_tenant).exists()
    assert not InvoiceLine.objects.for_tenant(other_tenant).filter(matched_po_line__isnull=False).exists()
    assert not AuditEvent.objects.for_tenant(other_tenant).filter(actor_id="matching").exists()
    assert not OutboxMessage.objects.for_tenant(other_tenant).exists()


@pytest.mark.django_db
def test_a_receipt_of_another_tenant_releases_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-8000", lines=[BOLTS])
    held = InvoiceFactory(vendor=acme, invoice_number="INV-8000", po_number="PO-8000", lines=[BOLTS])
    run_matching(tenant)
    assert reload(held).status == "on_hold"

    initech = VendorFactory(tenant=other_tenant, name="Initech Components", tax_id="DE555000555")
    PurchaseOrderFactory(vendor=initech, po_number="PO-8000", lines=[BOLTS])
    goods_receipt_create(
        tenant=other_tenant,
        document=GoodsReceiptDocumentFactory(po_number="PO-8000", receipt_number="GR-8000", quantities={1: "1000"}),
        actor=TEST_ACTOR,
    )

    assert reload(held).status == "on_hold"
    assert [event.after["status"] for event in transitions_of(held)] == ["on_hold"]
