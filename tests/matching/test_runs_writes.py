"""Matching runs against the real PostgreSQL: what a run writes for an invoice (result,
discrepancies, transition, audit, outbox), in the decimals of the invoice's currency.

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import OutboxMessage
from audit.services import outbox_subject
from invoices.services import invoice_create
from matching.engine import ENGINE_VERSION
from matching.models import Discrepancy
from matching.writer import DISCREPANCY_EVENT
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.document_factories import GoodsReceiptDocumentFactory, InvoiceDocumentFactory, PurchaseOrderDocumentFactory
from tests.factories import BOLTS, HOSES, TEST_ACTOR, Line, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import (
    discrepancy_messages,
    matched_po_lines,
    po_line,
    reload,
    results_of,
    run_matching,
    transitions_of,
)
from vendors.services import vendor_alias_add, vendor_create

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- what a run writes -------------------------------------------------------------------


@pytest.mark.django_db
def test_what_a_run_writes_for_one_invoice(tenant: Tenant) -> None:
    # Through the services, as an import would: each writes the audit event whose chain is
    # verified at the end.
    acme = vendor_create(
        tenant=tenant, name="Acme Supplies Ltd", tax_id="DE123456789", currency="EUR", actor=TEST_ACTOR
    )
    purchase_order = purchase_order_create(
        tenant=tenant,
        document=PurchaseOrderDocumentFactory(po_number="PO-2001", vendor_id=acme.pk, lines=[BOLTS, HOSES]),
        actor=TEST_ACTOR,
    )
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(
            po_number="PO-2001", receipt_number="GR-PO-2001", quantities={1: "1000", 2: "50"}
        ),
        actor=TEST_ACTOR,
    )
    # Sent under a trading name nobody knew at ingestion; the alias is taught before the run.
    # Lines 125.00 + 50 × 21.00 = 1050.00 → 1175.00; tax at 19 % would be 223.25, 200.00 is
    # charged; 1175.00 + 200.00 = 1375.00, but the total says 1380.00.
    invoice = invoice_create(
        tenant=tenant,
        document=InvoiceDocumentFactory(
            invoice_number="INV-9001",
            vendor_name="Acme Supply Co",
            po_number="PO-2001",
            lines=[BOLTS, HOSES.at("21.00")],
            tax_amount=Decimal("200.00"),
            tax_rate=Decimal("19"),
            total_amount=Decimal("1380.00"),
        ),
        actor=TEST_ACTOR,
    )
    assert invoice.vendor_id is None
    vendor_alias_add(tenant=tenant, vendor=acme, alias="Acme Supply Co", actor=TEST_ACTOR)
    assert not OutboxMessage.objects.for_tenant(tenant).exists()

    run = run_matching(tenant)

    assert (run.status, run.trigger, run.invoices_matched, run.invoices_failed, run.failures) == (
        "finished",
        "command",
        1,
        0,
        [],
    )
    assert (run.engine_version, run.requested_by_kind, run.requested_by_id) == (ENGINE_VERSION, "system", "test")

    # The result: price_match = (1 + 0) / 2, since 21.00 is 2.60 over 18.40 and the score is
    # already 0 at 10 % of the price beyond the 2 % tolerance; 0.3 + 0.3 + 0.2 + 0.2 × 0.5 = 0.9.
    [result] = results_of(invoice)
    breakdown = {"po_match": "1.0000", "line_match": "1.0000", "receipt_match": "1.0000", "price_match": "0.5000"}
    assert result.run_id == run.pk
    assert result.confidence == Decimal("0.9000")
    assert result.breakdown == breakdown
    assert (result.decision, result.review_queue) == ("pending_review", "escalated")
    assert result.decision_reason == "Escalated: price_mismatch, total_mismatch."
    assert result.engine_version == ENGINE_VERSION
    assert (result.vendor_id, result.purchase_order_id) == (acme.pk, purchase_order.pk)
    assert [(a["invoice_line_number"], a["po_line_number"]) for a in result.line_assignments] == [(1, 1), (2, 2)]

    rows = {
        row["type"]: row
        for row in Discrepancy.objects.for_tenant(tenant)
        .filter(match_result=result, invoice=invoice)
        .values("id", "type", "severity", "message", "invoice_line_number", "po_line_number", "expected", "actual")
    }
    assert {kind: {k: v for k, v in row.items() if k != "id"} for kind, row in rows.items()} == {
        "price_mismatch": {
            "type": "price_mismatch",
            "severity": "high",  # 2.60 over, more than 5 × the tolerance of 0.368
            "message": "Line 2: unit price 21.00 is 14.1 % above the PO price 18.40 (tolerance 2 %).",
            "invoice_line_number": 2,
            "po_line_number": 2,
            "expected": "18.40",
            "actual": "21.00",
        },
        "total_mismatch": {
            "type": "total_mismatch",
            "severity": "high",
            "message": "The total 1380.00 EUR is not lines 1175.00 + tax 200.00 + shipping 0.00 = 1375.00.",
            "invoice_line_number": None,
            "po_line_number": None,
            "expected": "1375.00",
            "actual": "1380.00",
        },
        "tax_mismatch": {
            "type": "tax_mismatch",
            "severity": "medium",
            "message": "Tax at 19 % of 1175.00 is 223.25, but the invoice charges 200.00.",
            "invoice_line_number": None,
            "po_line_number": None,
            "expected": "223.25",
            "actual": "200.00",
        },
    }

    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "escalated")
    assert (invoice.latest_match_id, invoice.vendor_id, invoice.purchase_order_id) == (
        result.pk,
        acme.pk,
        purchase_order.pk,
    )
    assert matched_po_lines(invoice) == [po_line(purchase_order, 1).pk, po_line(purchase_order, 2).pk]

    [event] = transitions_of(invoice)
    assert (event.actor_kind, event.actor_id) == ("system", "matching")
    assert event.before == {"status": "received", "review_queue": None}
    assert event.after == {
        "status": "pending_review",
        "review_queue": "escalated",
        "reason": "Escalated: price_mismatch, total_mismatch.",
        "match": {
            "match_result_id": str(result.pk),
            "run_id": str(run.pk),
            "confidence": "0.9000",
            "breakdown": breakdown,
            "vendor_id": str(acme.pk),
            "purchase_order_id": str(purchase_order.pk),
            "discrepancies": [
                {"type": "price_mismatch", "severity": "high"},
                {"type": "total_mismatch", "severity": "high"},
                {"type": "tax_mismatch", "severity": "medium"},
            ],
            "engine_version": ENGINE_VERSION,
        },
    }

    # The two high discrepancies are published, the medium one is not; nothing else is queued
    # (pending_review is no published transition).
    messages = OutboxMessage.objects.for_tenant(tenant).order_by("created_at")
    assert sorted(m.payload["payload"]["discrepancy_type"] for m in messages) == ["price_mismatch", "total_mismatch"]
    metadata = {
        "invoice_id": str(invoice.pk),
        "invoice_number": "INV-9001",
        "vendor": "Acme Supplies Ltd",
        "po_number": "PO-2001",
        "confidence": 0.9,
    }
    expected_payloads = {
        "price_mismatch": {
            "external_id": str(rows["price_mismatch"]["id"]),
            "source_system": "recon",
            "discrepancy_type": "price_mismatch",
            "severity": "high",
            "title": "Price mismatch on invoice INV-9001",
            "description": "Line 2: unit price 21.00 is 14.1 % above the PO price 18.40 (tolerance 2 %).",
            "amount_expected": 18.4,
            "amount_actual": 21.0,
            "currency": "EUR",
            "metadata": metadata,
        },
        "total_mismatch": {
            "external_id": str(rows["total_mismatch"]["id"]),
            "source_system": "recon",
            "discrepancy_type": "total_mismatch",
            "severity": "high",
            "title": "Total mismatch on invoice INV-9001",
            "description": "The total 1380.00 EUR is not lines 1175.00 + tax 200.00 + shipping 0.00 = 1375.00.",
            "amount_expected": 1375.0,
            "amount_actual": 1380.0,
            "currency": "EUR",
            "metadata": metadata,
        },
    }
    for message in messages:
        envelope = dict(message.payload)
        timestamp = dt.datetime.fromisoformat(envelope.pop("timestamp"))
        assert run.started_at <= timestamp <= run.finished_at
        assert message.subject == outbox_subject(DISCREPANCY_EVENT) == "recon.discrepancy.detected"
        assert message.published_at is None
        kind = envelope["payload"]["discrepancy_type"]
        assert envelope == {
            "event_type": "invoice.discrepancy.detected",
            "source": "recon",
            "tenant_id": str(tenant.pk),
            "payload": expected_payloads[kind],
        }
        assert isinstance(envelope["payload"]["amount_actual"], float)  # a JSON number, not a string

    # vendor, alias, PO, receipt, invoice: one event each; the run: one more.
    out = StringIO()
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=out)
    assert f"{tenant.slug}: 6 events, chain intact" in out.getvalue()


# --- currencies with 0 and 3 decimals ----------------------------------------------------


@pytest.mark.django_db
def test_yen_and_dinar_invoices_keep_their_decimals_through_a_run(tenant: Tenant) -> None:
    nippon = VendorFactory(tenant=tenant, name="Nippon Fasteners KK", tax_id="JP1234567890", default_currency="JPY")
    gulf = VendorFactory(tenant=tenant, name="Gulf Trading WLL", tax_id="BH200300400", default_currency="BHD")
    ties = Line("CT-200", "Cable tie 200 mm", "1000", "12")
    valves = Line("VL-1", "Valve 1 inch", "10", "1.250")
    PurchaseOrderFactory(vendor=nippon, po_number="PO-J1", lines=[ties], currency="JPY", received=True)
    PurchaseOrderFactory(vendor=gulf, po_number="PO-B1", lines=[valves], currency="BHD", received=True)
    # Through the invoice door, which turns the stated amounts into minor units of each currency.
    # 1000 × 12 = 12000 yen, the total says 12500. 10 × 1.250 = 12.500 dinar, tax stated 1.300
    # where 10 % is 1.250; total 13.800.
    yen = invoice_create(
        tenant=tenant,
        document=InvoiceDocumentFactory(
            invoice_number="JP-77",
            vendor_id=nippon.pk,
            po_number="PO-J1",
            lines=[ties],
            currency="JPY",
            total_amount=Decimal("12500"),
        ),
        actor=TEST_ACTOR,
    )
    dinar = invoice_create(
        tenant=tenant,
        document=InvoiceDocumentFactory(
            invoice_number="BH-5",
            vendor_id=gulf.pk,
            po_number="PO-B1",
            lines=[valves],
            currency="BHD",
            tax_amount=Decimal("1.300"),
            tax_rate=Decimal("10"),
        ),
        actor=TEST_ACTOR,
    )
    assert (yen.subtotal_amount, yen.total_amount) == (12000, 12500)
    assert (dinar.subtotal_amount, dinar.tax_amount, dinar.total_amount) == (12500, 1300, 13800)

    run_matching(tenant)

    [yen_result] = results_of(yen)
    [mismatch] = Discrepancy.objects.for_tenant(tenant).filter(match_result=yen_result)
    assert (mismatch.type, mismatch.severity, mismatch.expected, mismatch.actual) == (
        "total_mismatch",
        "high",
        "12000",
        "12500",
    )
    assert mismatch.message == "The total 12500 JPY is not lines 12000 + tax 0 + shipping 0 = 12000."
    assert (reload(yen).status, reload(yen).review_queue) == ("pending_review", "escalated")
    [message] = discrepancy_messages(tenant)
    payload = message.payload["payload"]
    assert (payload["currency"], payload["amount_expected"], payload["amount_actual"]) == ("JPY", 12000, 12500)
    assert payload["external_id"] == str(mismatch.pk)

    [dinar_result] = results_of(dinar)
    [tax] = Discrepancy.objects.for_tenant(tenant).filter(match_result=dinar_result)
    assert (tax.type, tax.severity, tax.expected, tax.actual) == ("tax_mismatch", "medium", "1.250", "1.300")
    assert tax.message == "Tax at 10 % of 12.500 is 1.250, but the invoice charges 1.300."
    # The auto-approve limit 100.00 is in the invoice's own currency: 100.000 dinar.
    assert reload(dinar).status == "approved"
    assert dinar_result.decision_reason == "Auto-approved: total 13.800 BHD is below the auto-approve limit 100.000."
