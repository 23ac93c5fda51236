"""Drafts (DESIGN.md §4: draft → received / void): an invoice or credit note typed in by hand is kept
as it is typed, held to the door's shape rules but not yet complete; submitting checks it complete
by the same rules as every other source, and only then does it bill, get matched, or credit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from audit.models import AuditEvent
from core.exceptions import DocumentInvalid
from core.state_machine import StaleState
from invoices.checks import CURRENCY_BEFORE_AMOUNTS, INVOICE_DATE_REQUIRED, INVOICE_NO_LINES, INVOICE_NO_VENDOR
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource, InvoiceStatus
from invoices.services import (
    DRAFT_SUBMITTED,
    invoice_create,
    invoice_draft_discard,
    invoice_draft_save,
    invoice_draft_submit,
)
from matching.models import Discrepancy
from tenants.models import Tenant
from tests.factories import BOLTS, TEST_ACTOR, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import reload, run_matching

pytestmark = pytest.mark.django_db

S = InvoiceStatus
EMPTY = InvoiceDocument(invoice_number="", currency="", invoice_date=None, total_amount=Decimal(0))


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def _events(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id).filter(entity_id=str(invoice.pk)).order_by("xid", "append_seq")
    )


def _bolts_document(purchase_order: Any, **changes: Any) -> InvoiceDocument:
    document = InvoiceDocument(
        invoice_number="INV-7790",
        currency="EUR",
        invoice_date=dt.date(2026, 11, 3),
        total_amount=Decimal("125.00"),
        vendor_id=purchase_order.vendor_id,
        po_number=purchase_order.po_number,
        lines=[InvoiceLineDocument(description=BOLTS.description, sku=BOLTS.sku, quantity=Decimal(1000),
                                   unit_price=Decimal("0.125"), po_line_number=1)],
    )  # fmt: skip
    return dataclasses.replace(document, **changes)


def test_an_empty_draft_is_kept_and_audited(tenant: Tenant) -> None:
    draft = invoice_draft_save(tenant=tenant, document=EMPTY, actor=TEST_ACTOR)
    draft.refresh_from_db()
    assert (draft.status, draft.source, draft.invoice_number, draft.invoice_date) == (
        S.DRAFT,
        InvoiceSource.MANUAL,
        "",
        None,
    )
    [created] = _events(draft)
    assert (created.action, created.after["status"]) == ("created", "draft")


def test_a_draft_is_held_to_the_shape_rules_and_nothing_is_written(tenant: Tenant) -> None:
    bad = dataclasses.replace(
        EMPTY,
        currency="EUR",
        tax_amount=Decimal("1.234"),
        lines=[InvoiceLineDocument(description="x", quantity=Decimal("0"), unit_price=Decimal(1))],
    )
    with pytest.raises(DocumentInvalid) as refused:
        invoice_draft_save(tenant=tenant, document=bad, actor=TEST_ACTOR)
    assert set(refused.value.details) == {"tax_amount", "lines[0].quantity"}
    no_currency = dataclasses.replace(EMPTY, lines=[dataclasses.replace(bad.lines[0], quantity=Decimal(1))])
    with pytest.raises(DocumentInvalid) as refused:
        invoice_draft_save(tenant=tenant, document=no_currency, actor=TEST_ACTOR)
    assert refused.value.details == {"currency": [CURRENCY_BEFORE_AMOUNTS]}
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_a_change_is_audited_with_what_the_draft_held_before(tenant: Tenant) -> None:
    draft = invoice_draft_save(
        tenant=tenant, document=dataclasses.replace(EMPTY, invoice_number="A-1"), actor=TEST_ACTOR
    )
    changed = dataclasses.replace(
        EMPTY,
        invoice_number="A-2",
        currency="eur",
        lines=[InvoiceLineDocument(description="Tape", quantity=Decimal(3), unit_price=Decimal("0.335"))],
    )
    invoice_draft_save(tenant=tenant, document=changed, actor=TEST_ACTOR, draft=draft)
    draft.refresh_from_db()
    assert (draft.invoice_number, draft.currency, draft.subtotal_amount) == ("A-2", "EUR", 101)
    [line] = InvoiceLine.objects.for_tenant(tenant).filter(invoice=draft)
    assert line.amount == 101  # 1.005 rounded once, half up, like the door
    updated = _events(draft)[-1]
    assert updated.action == "updated"
    assert (updated.before["invoice_number"], updated.after["invoice_number"]) == ("A-1", "A-2")
    assert updated.before["lines"] == [] and updated.after["lines"][0]["amount"] == 101


def test_submitting_checks_it_complete_and_leaves_a_refused_draft_as_it_was(tenant: Tenant) -> None:
    draft = invoice_draft_save(
        tenant=tenant, document=dataclasses.replace(EMPTY, invoice_number="A-1"), actor=TEST_ACTOR
    )
    with pytest.raises(DocumentInvalid) as refused:
        invoice_draft_submit(tenant=tenant, draft=draft, document=dataclasses.replace(EMPTY, currency="EUR",
                             invoice_number="A-9"), actor=TEST_ACTOR)  # fmt: skip
    assert refused.value.details == {
        "invoice_date": [INVOICE_DATE_REQUIRED],
        "vendor": [INVOICE_NO_VENDOR],
        "lines": [INVOICE_NO_LINES],
    }
    draft.refresh_from_db()
    assert (draft.status, draft.invoice_number, len(_events(draft))) == (S.DRAFT, "A-1", 1)


def test_a_submitted_draft_is_matched_like_any_invoice(tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS], received=True)
    draft = invoice_draft_save(tenant=tenant, document=EMPTY, actor=TEST_ACTOR)
    invoice_draft_submit(tenant=tenant, draft=draft, document=_bolts_document(purchase_order), actor=TEST_ACTOR)
    draft.refresh_from_db()
    assert draft.status == S.RECEIVED
    transition = _events(draft)[-1]
    assert (transition.action, transition.before["status"], transition.after["status"]) == (
        "transition",
        "draft",
        "received",
    )
    assert transition.after["reason"] == DRAFT_SUBMITTED
    run_matching(tenant)
    assert reload(draft).status == S.APPROVED


def test_a_draft_is_nobodys_original_and_claims_no_po_line(tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS], received=True)
    document = _bolts_document(purchase_order)
    invoice_draft_save(tenant=tenant, document=document, actor=TEST_ACTOR)
    arrived = invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    run_matching(tenant)
    assert reload(arrived).status == S.APPROVED
    assert not Discrepancy.objects.for_tenant(tenant).exists()


def test_a_draft_credit_note_credits_only_once_submitted(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    credited = InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number="INV-1", total_amount=12500,
                              subtotal_amount=12500, status=S.APPROVED)  # fmt: skip
    credit = InvoiceDocument(
        invoice_number="CN-1",
        currency="EUR",
        invoice_date=dt.date(2026, 11, 4),
        total_amount=Decimal("125.00"),
        vendor_id=vendor.pk,
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice_number="INV-1",
        lines=[InvoiceLineDocument(description="Returned", quantity=Decimal(1), unit_price=Decimal("125.00"))],
    )
    draft = invoice_draft_save(tenant=tenant, document=credit, actor=TEST_ACTOR)
    draft.refresh_from_db()
    assert draft.credited_invoice_id is None and reload(credited).status == S.APPROVED
    invoice_draft_submit(tenant=tenant, draft=draft, document=credit, actor=TEST_ACTOR)
    draft.refresh_from_db()
    assert draft.credited_invoice_id == credited.pk
    assert reload(credited).status == S.VOID


def test_discarded_or_submitted_drafts_are_changed_no_more(tenant: Tenant) -> None:
    draft = invoice_draft_save(tenant=tenant, document=EMPTY, actor=TEST_ACTOR)
    invoice_draft_discard(tenant=tenant, draft=draft, actor=TEST_ACTOR)
    assert reload(draft).status == S.VOID
    with pytest.raises(StaleState):
        invoice_draft_save(tenant=tenant, document=EMPTY, actor=TEST_ACTOR, draft=draft)
    with pytest.raises(StaleState):
        invoice_draft_discard(tenant=tenant, draft=draft, actor=TEST_ACTOR)
    received = InvoiceFactory(tenant=tenant)
    with pytest.raises(StaleState):
        invoice_draft_discard(tenant=tenant, draft=received, actor=TEST_ACTOR)
    assert reload(received).status == S.RECEIVED


def test_another_tenants_draft_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    draft = invoice_draft_save(tenant=other_tenant, document=EMPTY, actor=TEST_ACTOR)
    with pytest.raises(Invoice.DoesNotExist):
        invoice_draft_save(tenant=tenant, document=EMPTY, actor=TEST_ACTOR, draft=draft)
