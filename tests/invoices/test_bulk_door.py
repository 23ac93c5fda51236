"""The many-documents form of the door (invoices.services.invoice_create_many): the same invoices,
lines and audit events as the documents sent one at a time, in a fixed number of statements."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from audit.services import document_snapshot
from audit.verify import audit_chain_verify
from core.exceptions import DocumentInvalid
from invoices.bulk import DocumentStored, InvoiceBatchInvalid, invoice_document_snapshot
from invoices.checks import INVOICE_UNKNOWN_VENDOR_ID
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource, InvoiceStatus
from invoices.services import ONE_STATEMENT_AT_MOST, invoice_create, invoice_create_many
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, VendorAliasFactory, VendorFactory

# What differs between two rows written the same way at different moments.
_NOT_CONTENT = {"id", "created_at", "updated_at", "invoice_id", "credited_invoice_id", "payee_account_encrypted"}


def document(number: str, **changes: Any) -> InvoiceDocument:
    base = InvoiceDocument(
        invoice_number=number,
        currency="EUR",
        invoice_date=dt.date(2026, 10, 1),
        total_amount=Decimal("119.00"),
        tax_amount=Decimal("19.00"),
        vendor_name="Nordic Fasteners AB",
        po_number="PO-1",
        lines=[
            InvoiceLineDocument(description="Bolts", quantity=Decimal("40"), unit_price=Decimal("1.5"), sku="B-1"),
            InvoiceLineDocument(description="Nuts", quantity=Decimal("100"), unit_price=Decimal("0.4")),
        ],
    )
    return replace(base, **changes)


def varied_documents(tenant: Tenant) -> list[InvoiceDocument]:
    """Every way a document names its vendor, and what the door turns: terms, prepaid, a payee
    account, a negative total stored as a credit note, an unknown sender kept raw."""
    by_id = VendorFactory(tenant=tenant, name="Initech GmbH", payment_net_days=30)
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    VendorAliasFactory(vendor=by_id, alias="Initech Deutschland", normalized_alias="initech deutschland")
    return [
        document("N-1"),
        document("N-2", vendor_name="", vendor_id=by_id.pk, prepaid_amount=Decimal("19.00")),
        document("N-3", vendor_name="", vendor_tax_id="se 556677889901", payee_account="DE89 3704 0044 0532 0130 00"),
        document("N-4", vendor_name="Initech Deutschland", discount_pct=Decimal("2"), discount_days=10),
        document("N-5", vendor_name="Unknown Sender Ltd", vendor_tax_id="XX1"),
        document(
            "N-6",
            total_amount=Decimal("-119.00"),
            tax_amount=Decimal("-19.00"),
            lines=[
                InvoiceLineDocument(description="Return", quantity=Decimal("-40"), unit_price=Decimal("2.5")),
            ],
            credited_invoice_number="N-404",
            document_type=DocumentType.INVOICE,
        ),
    ]


def stored(invoice: Invoice) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """An invoice as stored (row, lines, its creation event's content), less what differs by moment."""
    row = Invoice.objects.for_tenant(invoice.tenant_id).filter(pk=invoice.pk).values()[0]
    lines = [
        {k: v for k, v in line.items() if k not in _NOT_CONTENT}
        for line in InvoiceLine.objects.for_tenant(invoice.tenant_id)
        .filter(invoice=invoice)
        .values()
        .order_by("line_number")
    ]
    event = AuditEvent.objects.for_tenant(invoice.tenant_id).get(entity_id=str(invoice.pk), action="created")
    content = {
        "actor": (event.actor_kind, event.actor_id, event.actor_label),
        "entity_type": event.entity_type,
        "before": event.before,
        "after": event.after,
    }
    return {k: v for k, v in row.items() if k not in _NOT_CONTENT}, lines, content


def test_a_batch_stores_what_the_documents_sent_one_at_a_time_store(tenant: Tenant, settings: Any) -> None:
    """Same rows, same lines, same audit event content; the chain verifies."""
    settings.MATCH_ON_INGEST = False
    documents = varied_documents(tenant)
    singles = [
        invoice_create(tenant=tenant, document=doc, actor=TEST_ACTOR, source=InvoiceSource.CSV) for doc in documents
    ]
    outcomes = invoice_create_many(tenant=tenant, documents=documents, actor=TEST_ACTOR, source=InvoiceSource.CSV)
    assert all(isinstance(outcome, DocumentStored) and outcome.created for outcome in outcomes)
    batch = [outcome.invoice for outcome in outcomes if isinstance(outcome, DocumentStored)]
    for single, many in zip(singles, batch, strict=True):
        assert stored(many) == stored(single)
    assert stored(batch[5])[0]["document_type"] == DocumentType.CREDIT_NOTE  # the negative invoice, turned
    assert stored(batch[1])[0]["vendor_id"] is not None and stored(batch[4])[0]["vendor_id"] is None
    assert Invoice.objects.for_tenant(tenant).get(pk=batch[1].pk).amount_due == 10000  # generated: 119.00 − 19.00
    assert seal(tenant).unsealed == 0
    report = audit_chain_verify(tenant=tenant)
    assert report.intact and report.count == AuditEvent.objects.for_tenant(tenant).count()


def test_a_bad_document_writes_nothing_and_is_named_by_index_and_field(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    events_before = AuditEvent.objects.for_tenant(tenant).count()
    bad_line = InvoiceLineDocument(description="Bolts", quantity=Decimal("0"), unit_price=Decimal("1"))
    documents = [
        document("OK-1"),
        document("BAD-1", lines=[bad_line]),
        document("BAD-2", vendor_name="", vendor_id=uuid.uuid4()),
    ]
    with pytest.raises(InvoiceBatchInvalid) as raised:
        invoice_create_many(tenant=tenant, documents=documents, actor=TEST_ACTOR)
    assert set(raised.value.refused) == {1, 2}
    assert "documents[1].lines[0].quantity" in raised.value.details
    assert raised.value.details["documents[2].vendor_id"] == [INVOICE_UNKNOWN_VENDOR_ID]
    assert not Invoice.objects.for_tenant(tenant).exists()
    assert AuditEvent.objects.for_tenant(tenant).count() == events_before


def test_per_document_stores_the_valid_and_answers_each_refusal_in_its_place(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    bad = document("BAD", currency="XXX1")
    outcomes = invoice_create_many(
        tenant=tenant, documents=[document("A"), bad, document("B")], actor=TEST_ACTOR, all_or_nothing=False
    )
    assert isinstance(outcomes[1], DocumentInvalid) and "currency" in outcomes[1].details
    assert [o.invoice.invoice_number for o in outcomes if isinstance(o, DocumentStored)] == ["A", "B"]
    assert sorted(Invoice.objects.for_tenant(tenant).values_list("invoice_number", flat=True)) == ["A", "B"]


def test_credit_notes_in_a_batch_credit_and_void_an_invoice_of_the_same_batch(tenant: Tenant) -> None:
    """In order, as sent one after the other: the credit note finds the invoice before it."""
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    full = document("CN-1", document_type=DocumentType.CREDIT_NOTE, credited_invoice_number="inv-100")
    partial = document(
        "CN-2",
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice_number="INV-101",
        total_amount=Decimal("11.90"),
        tax_amount=Decimal("1.90"),
        lines=[InvoiceLineDocument(description="Bolts", quantity=Decimal("4"), unit_price=Decimal("2.5"))],
    )
    outcomes = invoice_create_many(
        tenant=tenant,
        documents=[document("INV-100"), document("INV-101"), full, document("INV-102"), partial],
        actor=TEST_ACTOR,
    )
    invoices = [outcome.invoice for outcome in outcomes if isinstance(outcome, DocumentStored)]
    by_number = {invoice.invoice_number: invoice for invoice in Invoice.objects.for_tenant(tenant)}
    assert by_number["CN-1"].credited_invoice_id == invoices[0].pk
    assert by_number["INV-100"].status == InvoiceStatus.VOID  # credited in full
    assert by_number["CN-2"].credited_invoice_id == invoices[1].pk
    assert by_number["INV-101"].status == InvoiceStatus.RECEIVED  # a partial credit changes no state
    actions = list(
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice")
        .order_by("xid", "append_seq")
        .values_list("entity_id", "action")
    )
    ids = [str(invoice.pk) for invoice in invoices]
    assert actions[:5] == [
        (ids[0], "created"),
        (ids[1], "created"),
        (ids[2], "created"),
        (ids[0], "transition"),
        (ids[3], "created"),
    ]
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_resends_within_the_batch_and_against_stored_invoices_are_answered_not_stored(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    earlier = invoice_create(tenant=tenant, document=document("R-1"), actor=TEST_ACTOR)
    renamed = document("r 1", lines=list(reversed(document("R-1").lines)))  # same number and content, re-worded
    other_content = document("R-1", total_amount=Decimal("120.00"), tax_amount=Decimal("20.00"))
    outcomes = invoice_create_many(
        tenant=tenant,
        documents=[renamed, document("R-2"), document("R-2"), other_content],
        actor=TEST_ACTOR,
        resends_skipped=True,
    )
    assert all(isinstance(outcome, DocumentStored) for outcome in outcomes)
    answers = [(o.invoice.pk, o.created) for o in outcomes if isinstance(o, DocumentStored)]
    assert answers[0] == (earlier.pk, False)
    assert answers[1][1] is True and answers[2] == (answers[1][0], False)
    assert answers[3][1] is True  # the same number with other content: stored, for matching to flag
    assert Invoice.objects.for_tenant(tenant).count() == 3


def test_a_resend_within_the_batch_is_told_from_another_content_under_the_same_number(tenant: Tenant) -> None:
    """Three documents R-3: the second has other content (stored), the third repeats the second."""
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    other_content = document("R-3", total_amount=Decimal("120.00"), tax_amount=Decimal("20.00"))
    outcomes = invoice_create_many(
        tenant=tenant,
        documents=[document("R-3"), other_content, replace(other_content, invoice_number="r-3")],
        actor=TEST_ACTOR,
        resends_skipped=True,
    )
    answers = [(o.invoice.pk, o.created) for o in outcomes if isinstance(o, DocumentStored)]
    assert [created for _, created in answers] == [True, True, False]
    assert answers[0][0] != answers[1][0] and answers[2][0] == answers[1][0]
    assert Invoice.objects.for_tenant(tenant).count() == 2


def test_a_batch_costs_the_same_statements_whatever_its_size(tenant: Tenant, settings: Any) -> None:
    """Writes are one statement per table per batch (or one for all three), look-ups one per kind:
    never one per document."""
    settings.MATCH_ON_INGEST = False
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    VendorFactory(tenant=tenant, name="Initech GmbH")

    def statements(count: int) -> int:
        documents = [
            document(f"Q{count}-{n}", vendor_name=("Nordic Fasteners AB", "Initech GmbH", f"Stranger {n}")[n % 3])
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            invoice_create_many(tenant=tenant, documents=documents, actor=TEST_ACTOR, resends_skipped=True)
        return len(queries)

    few, many, more = statements(3), statements(30), statements(60)
    assert many == more
    # Up to ONE_STATEMENT_AT_MOST documents (a single create), invoices, lines and events go in one
    # statement; a bulk chunk sends the invoices' and the events' INSERTs, pipelined, then its lines
    # by COPY into a staging table (its CREATE … IF NOT EXISTS; the COPY itself, not an `execute`,
    # is not among the queries captured here) and one INSERT that moves them.
    assert few == many - 3 and 3 <= ONE_STATEMENT_AT_MOST < 30
    assert Invoice.objects.for_tenant(tenant).count() == 93


def test_the_batch_snapshot_is_the_audit_snapshot(tenant: Tenant) -> None:
    """invoices.bulk.invoice_document_snapshot is audit.services.document_snapshot, faster."""
    documents = [
        *varied_documents(tenant),
        document("S-1", vendor_id=uuid.uuid4(), due_date=dt.date(2026, 11, 1), tax_rate=Decimal("19.000"),
                 discount_due_date=dt.date(2026, 10, 10), discount_amount=Decimal("2.38"), amount_due=Decimal("119.0"),
                 external_id="ERP-9", type_code="380", payment_terms_note="2 % 10, net 30 — «Zahlbar»"),
        document("S-2", invoice_date=None, lines=[]),
    ]  # fmt: skip
    for doc in documents:
        assert invoice_document_snapshot(doc) == document_snapshot(doc)


def test_a_nul_anywhere_is_refused_by_field_and_its_escape_written_out_is_not(tenant: Tenant) -> None:
    """The door's NUL check looks at a document's values at once first (invoices.checks): a NUL in
    a header field or a line is still named by its field; text holding the four characters of its
    escape is ordinary text, stored as written."""
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    with_nul = [
        document("NUL-1", po_number="PO\x00-1"),
        document("NUL-2", lines=[replace(document("x").lines[0], sku="B\x00"), document("x").lines[1]]),
    ]
    escape_written = document("ESC-1", lines=[replace(document("x").lines[0], description="Bolts \\x00 grade")])
    outcomes = invoice_create_many(
        tenant=tenant, documents=[*with_nul, escape_written], actor=TEST_ACTOR, all_or_nothing=False
    )
    assert isinstance(outcomes[0], DocumentInvalid) and set(outcomes[0].details) == {"po_number"}
    assert isinstance(outcomes[1], DocumentInvalid) and set(outcomes[1].details) == {"lines[0].sku"}
    assert isinstance(outcomes[2], DocumentStored)
    stored_line = InvoiceLine.objects.for_tenant(tenant).get(invoice=outcomes[2].invoice, line_number=1)
    assert stored_line.description == "Bolts \\x00 grade"
