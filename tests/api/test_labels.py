"""The API's `*_label` fields: beside each code, the label a person reads (the same mapping the
web app's screens use, core.labels); additive, the codes unchanged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from invoices.models import InvoiceStatus
from invoices.services import invoice_create
from matching.models import MatchRun
from payments.models import PaymentStatus
from tenants.models import Tenant
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import (
    HOSES,
    TEST_ACTOR,
    GoodsReceiptFactory,
    InvoiceFactory,
    MatchRunFactory,
    PaymentAllocationFactory,
    PaymentFactory,
    PurchaseOrderFactory,
    VendorFactory,
)
from tests.matching.runs import run_matching

pytestmark = pytest.mark.django_db


def test_an_invoice_its_match_and_discrepancies_carry_their_labels(api: APIClient, tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Industrial Supplies")
    purchase_order = PurchaseOrderFactory(vendor=vendor, po_number="PO-1", lines=[HOSES])
    GoodsReceiptFactory(purchase_order=purchase_order, quantities={1: "50"})
    document = InvoiceDocumentFactory(
        invoice_number="INV-1", vendor_id=vendor.pk, po_number="PO-1", lines=[HOSES.at("19.00")]
    )
    invoice = invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    run_matching(tenant)

    body = api.get(f"/api/invoices/{invoice.pk}").json()
    assert (body["status"], body["status_label"]) == ("pending_review", "Pending review")
    assert (body["review_queue"], body["review_queue_label"]) == ("standard", "Standard")
    assert (body["source"], body["source_label"]) == ("api", "API")
    assert (body["document_type"], body["document_type_label"]) == ("invoice", "Invoice")
    match = body["match"]
    assert (match["decision"], match["decision_label"]) == ("pending_review", "Pending review")
    assert match["review_queue_label"] == "Standard"
    [discrepancy] = match["discrepancies"]
    assert (discrepancy["type"], discrepancy["type_label"]) == ("price_mismatch", "Price differs from PO")
    assert (discrepancy["severity"], discrepancy["severity_label"]) == ("medium", "Medium")
    [listed] = api.get("/api/discrepancies", {"invoice_id": str(invoice.pk)}).json()["results"]
    assert (listed["type_label"], listed["severity_label"]) == ("Price differs from PO", "Medium")


def test_a_code_without_a_value_has_no_label(api: APIClient, tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.APPROVED, source="xml", document_type="credit_note")
    body = api.get(f"/api/invoices/{invoice.pk}").json()
    assert (body["review_queue"], body["review_queue_label"]) == (None, None)
    assert (body["status_label"], body["source_label"], body["document_type_label"]) == (
        "Approved",
        "E-invoice (XML)",
        "Credit note",
    )


def test_runs_payments_and_allocations_carry_their_labels(api: APIClient, tenant: Tenant) -> None:
    run = MatchRunFactory(tenant=tenant, status=MatchRun.Status.FINISHED, trigger=MatchRun.Trigger.INGEST)
    body = api.get(f"/api/matching/runs/{run.pk}").json()
    assert (body["status_label"], body["trigger_label"]) == ("Finished", "New invoices")

    payment = PaymentFactory(tenant=tenant, status=PaymentStatus.PARTIALLY_MATCHED)
    body = api.get(f"/api/payments/{payment.pk}").json()
    assert (body["status"], body["status_label"]) == ("partially_matched", "Partially matched")
    assert (body["direction"], body["direction_label"]) == ("debit", "Outgoing (debit)")

    allocation = PaymentAllocationFactory(tenant=tenant, payment=payment, kind="write_off", confidence=Decimal("0.9"))
    body = api.get(f"/api/payment-allocations/{allocation.pk}").json()
    assert (body["kind"], body["kind_label"]) == ("write_off", "Write-off")
