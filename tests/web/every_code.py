"""A tenant whose screens show every code family: invoices of every status, source and document
type, discrepancies of every type and severity, audit events of every action and actor kind,
match runs of every status and trigger, POs of every status, payments of every status and
direction with allocations and proposals of every kind. For the tests that read every page as a
clerk would (tests/web/test_labels.py, tests/web/test_narrow_screens.py)."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from audit.labels import AUDIT_ACTION_LABELS
from audit.services import audit_record
from core.actors import ACTOR_KIND_LABELS, Actor
from invoices.models import DocumentType, Invoice, InvoiceSource, InvoiceStatus
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS, PO_CLOSED, VENDOR_MISMATCH
from matching.models import Discrepancy, MatchRun
from payments.models import AllocationKind, Payment, PaymentDirection, PaymentStatus
from purchasing.models import PurchaseOrder
from review.decisions import REVIEW_ACTION_LABELS
from tenants.models import Tenant
from tests.factories import (
    InvoiceFactory,
    Line,
    MatchRunFactory,
    PaymentAllocationFactory,
    PaymentFactory,
    PaymentSuggestionFactory,
    PurchaseOrderFactory,
)
from tests.web.conftest import Scenario, build_scenario

# Unit prices as invoices print them: 4.20 (not 4.2) beside 10.345 (kept), and a long description.
ODD_PRICES = [
    Line("SKU-42", "Cable ties, black, 300 mm, bag of one hundred", "3", "4.2"),
    Line("SKU-10", "Grease cartridge", "2", "10.345"),
]
FIGURES = {PO_CLOSED: ("open", "closed"), VENDOR_MISMATCH: (str(uuid.uuid4()), str(uuid.uuid4()))}
SEVERITIES = [choice.value for choice in Discrepancy.Severity]


@dataclass(frozen=True)
class EveryCode:
    scenario: Scenario
    invoices: list[Invoice]  # every status, source and document type
    purchase_orders: list[PurchaseOrder]
    payments: list[Payment]  # every status and direction; the first has allocations of every kind


def every_code_books(tenant: Tenant) -> EveryCode:
    scenario = build_scenario(tenant)
    invoice = scenario.price_mismatch
    vendor = invoice.vendor
    for number, code in enumerate(DISCREPANCY_TYPE_LABELS):
        expected, actual = FIGURES.get(code, ("18.40", "19.00"))
        Discrepancy.objects.create(
            tenant=tenant,
            match_result_id=invoice.latest_match_id,
            invoice=invoice,
            type=code,
            severity=SEVERITIES[number % len(SEVERITIES)],
            message="Something for the reviewer to check.",
            invoice_line_number=2,
            expected=expected,
            actual=actual,
        )
    kinds = itertools.cycle([(source, kind) for source in InvoiceSource for kind in DocumentType])
    invoices = [
        InvoiceFactory(
            tenant=tenant,
            vendor=vendor,
            invoice_number=f"ALL-{number}",
            status=status,
            source=source,
            document_type=kind,
            lines=ODD_PRICES,
            review_queue="standard" if status == InvoiceStatus.PENDING_REVIEW else None,
        )
        for number, (status, (source, kind)) in enumerate(zip(InvoiceStatus, kinds, strict=False))
    ]
    invoices += [
        InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number=f"SRC-{number}", source=source, document_type=kind)
        for number, (source, kind) in enumerate(itertools.product(InvoiceSource, DocumentType))
    ]
    actors = itertools.cycle(Actor(kind=kind, id=str(n), label="") for n, kind in enumerate(ACTOR_KIND_LABELS))
    with transaction.atomic():
        for action in AUDIT_ACTION_LABELS:
            audit_record(tenant=tenant, actor=next(actors), entity_type="invoice", entity_id=invoice.pk, action=action)
        for review_action in REVIEW_ACTION_LABELS:
            audit_record(
                tenant=tenant,
                actor=next(actors),
                entity_type="invoice",
                entity_id=invoice.pk,
                action="transition",
                before={"status": "pending_review"},
                after={"status": "on_hold", "review_queue": "escalated", "review_action": review_action},
            )
        audit_record(
            tenant=tenant,
            actor=next(actors),
            entity_type="invoice",
            entity_id=invoice.pk,
            action="transition",
            before={"status": "received"},
            after={"status": "partially_paid", "review_queue": "standard", "confidence": "0.8535"},
        )
    for status, trigger, kind in zip(
        itertools.cycle(MatchRun.Status), MatchRun.Trigger, itertools.cycle(ACTOR_KIND_LABELS), strict=False
    ):
        MatchRunFactory(tenant=tenant, status=status, trigger=trigger, requested_by_kind=kind)
    for status in MatchRun.Status:
        MatchRunFactory(tenant=tenant, status=status, finished_at=dt.datetime.now(dt.UTC), duration_ms=1234)
    purchase_orders = [
        PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number=f"PO-ALL-{n}", status=status, lines=ODD_PRICES)
        for n, status in enumerate(PurchaseOrder.Status)
    ]
    payments = [
        PaymentFactory(tenant=tenant, status=status, direction=direction, amount=123456)
        for status, direction in zip(PaymentStatus, itertools.cycle(PaymentDirection), strict=False)
    ]
    payments += [
        PaymentFactory(tenant=tenant, remittance_text=f"Payment for ALL-{n}, thank you, see attached advice")
        for n in range(3)
    ]
    for kind in AllocationKind:
        PaymentAllocationFactory(
            tenant=tenant, payment=payments[0], invoice=invoices[0], kind=kind, tier=3, confidence=Decimal("0.85")
        )
    PaymentSuggestionFactory(
        tenant=tenant,
        payment=payments[1],
        allocations=[
            {"invoice_id": str(invoices[index].pk), "amount": 1000, "kind": kind}
            for index, kind in enumerate(AllocationKind)
        ],
        candidate_invoice_ids=[str(invoices[3].pk)],
    )
    return EveryCode(scenario, invoices, purchase_orders, payments)
