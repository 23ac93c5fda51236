"""Writes of invoices. `invoice_create` is the one door every source comes through; a draft typed
in by hand goes through the same rules (invoices.checks) when it is kept and when it is submitted.

Drafts (DESIGN.md §4: draft → received / void): a clerk enters an invoice or credit note by hand,
or a PDF with no e-invoice inside waits to be typed in. `invoice_draft_save` keeps what has been
typed so far — held to the door's shape rules, but not yet complete; `invoice_draft_submit` checks
it complete, writes it and moves it to `received`, from where matching takes it like any other
invoice; `invoice_draft_discard` voids it. Each writes its audit event in its transaction: the
draft's creation, each change (before and after), and the transitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import to_json_safe
from audit.services import AuditEntry, audit_insert_part, audit_record, document_snapshot
from core.actors import Actor
from core.exceptions import DocumentInvalid
from core.ids import uuid7_many
from core.state_machine import StaleState
from core.tenancy.scoping import (
    InsertPart,
    rows_insert_part,
    tenant_copy_insert,
    tenant_inserts,
    values_insert_part,
)
from invoices.billing import NOT_BILLING
from invoices.bulk import (
    BatchResends,
    DocumentStored,
    InvoiceBatchInvalid,
    invoice_document_snapshot,
    invoice_documents_check,
)
from invoices.checks import CheckedInvoice, invoice_document_check
from invoices.documents import InvoiceDocument
from invoices.ingest import invoices_already_present
from invoices.lifecycle import INVOICE_LIFECYCLE, invoice_transition
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceSource, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from invoices.selectors import invoices_of_document_vendor
from matching.models import MatchRun
from matching.services import matching_enqueue
from tenants.models import Tenant
from vendors.ingest import VendorCache
from vendors.models import Vendor

CREDITED_IN_FULL = "Credited in full by credit note {number}."
NO_LONGER_A_DRAFT = "This invoice is no longer a draft (it is {status}); nothing was changed."
DRAFT_SUBMITTED = "Entered by hand and submitted for matching."
DRAFT_DISCARDED = "Draft discarded."


def invoice_create(
    *, tenant: Tenant, document: InvoiceDocument, actor: Actor, source: str = InvoiceSource.API
) -> Invoice:
    """Validate and store an incoming invoice with its lines, all or nothing, in `received`.

    The rules are invoices.checks.invoice_document_check's. Duplicates are accepted: detecting and
    explaining them is matching's job (`duplicate_invoice`). A credit note names the invoice it
    credits by number; that invoice is looked up among the tenant's invoices of the same vendor
    (`credited_invoice`, else only the number is kept). A credit note for the credited invoice's
    full total, in its currency, voids it when it is not final (DESIGN.md §4), in the same
    transaction and through the lifecycle's one function.

    The many-documents form with one document (`invoice_create_many`): the same writes, one
    statement per table.
    """
    checked = invoice_document_check(tenant=tenant, document=document, source=source)
    return _checked_write(tenant=tenant, checked=[checked], actor=actor, source=source)[0]


def invoice_create_many(
    *,
    tenant: Tenant,
    documents: Sequence[InvoiceDocument],
    actor: Actor,
    source: str = InvoiceSource.API,
    vendors: VendorCache | None = None,
    all_or_nothing: bool = True,
    resends_skipped: bool = False,
    with_lines: bool = False,
) -> list[DocumentStored | DocumentInvalid]:
    """`invoice_create` for many documents: each checked in Python first (invoices.bulk), then
        every table written with one statement per batch and every audit event in one append — the
        same rows and the same events as the documents sent one after the other, in their order.

        `all_or_nothing`: any refused document raises `InvoiceBatchInvalid` (each refusal by index)
        and nothing is written; otherwise the valid documents are stored and each refused one answers
        with its own `DocumentInvalid`, in its place. `with_lines`: each invoice created holds its lines
    (`invoice.lines.all()` reads nothing), for an answer that shows them. `resends_skipped`: a document repeating an
        invoice already stored, or an earlier document of the batch, is not stored again but answered
        with that invoice (`created=False`; invoices.ingest.invoice_already_present). `vendors` may be
        shared by the batches of one import, so a vendor is resolved once per import.

        Credit notes go through the single door's steps (the credited invoice looked up and locked,
        voided when credited in full), in their place in the batch: after the documents before them
        are written, so a credit note finds an invoice of the same batch as it would sent after it.
    """
    vendors = vendors if vendors is not None else VendorCache(tenant)
    present: list[Invoice | None] = [None] * len(documents)
    if resends_skipped:
        present = invoices_already_present(tenant=tenant, documents=documents, vendors=vendors)
    unseen = [index for index, invoice in enumerate(present) if invoice is None]
    checked = invoice_documents_check(
        tenant=tenant, documents=[documents[index] for index in unseen], source=source, vendors=vendors
    )
    refused = {
        index: outcome for index, outcome in zip(unseen, checked, strict=True) if isinstance(outcome, DocumentInvalid)
    }
    if refused and all_or_nothing:
        raise InvoiceBatchInvalid(refused, total=len(documents))
    outcomes: list[DocumentStored | DocumentInvalid | None] = [
        DocumentStored(invoice, created=False) if invoice is not None else refused.get(index)
        for index, invoice in enumerate(present)
    ]
    writes: list[tuple[int, CheckedInvoice]] = []
    resends = BatchResends(documents)
    repeats: dict[int, int] = {}  # a re-send within the batch → the document it repeats
    for index, outcome in zip(unseen, checked, strict=True):
        if isinstance(outcome, DocumentInvalid):
            continue
        if resends_skipped and (first := resends.repeated(index, outcome)) is not None:
            repeats[index] = first
            continue
        writes.append((index, outcome))
    invoices = _checked_write(
        tenant=tenant, checked=[outcome for _, outcome in writes], actor=actor, source=source, with_lines=with_lines
    )
    for (index, _), invoice in zip(writes, invoices, strict=True):
        outcomes[index] = DocumentStored(invoice, created=True)
    for index, first in repeats.items():
        first_outcome = outcomes[first]
        assert isinstance(first_outcome, DocumentStored)
        outcomes[index] = DocumentStored(first_outcome.invoice, created=False)
    assert all(outcome is not None for outcome in outcomes)
    return cast(list[DocumentStored | DocumentInvalid], outcomes)


def _checked_write(
    *, tenant: Tenant, checked: list[CheckedInvoice], actor: Actor, source: str, with_lines: bool = False
) -> list[Invoice]:
    """Store checked documents in their order, with their lines and audit events, in one transaction.

    Invoices are written together (one INSERT per chunk, their lines and audit events with it);
    each credit note on its own, in its place (`_credit_note_write`). Events are appended as their
    rows are written: an append inserts unsealed events and takes no lock (core/locks.py), so a
    credit note may lock the invoice it credits after earlier documents' events.

    Inside a caller's transaction (a keyed request, an import) no savepoint of its own: should a
    write fail, the caller's transaction is rolled back whole (Django marks it so), which is all
    or nothing as well, and a create costs two statements fewer. (Under a test case, whose
    transaction holds everything, the block that is a transaction in production stays a
    savepoint: core.tenancy.db_backend's application transaction.)
    """
    if not checked:
        return []
    invoices: list[Invoice] = []
    with transaction.atomic(savepoint=not connection.in_app_transaction()):  # type: ignore[attr-defined]
        waiting: list[CheckedInvoice] = []
        for document in checked:
            if document.document.document_type != DocumentType.CREDIT_NOTE:
                waiting.append(document)
                continue
            invoices += _invoices_insert(
                tenant=tenant, checked=waiting, actor=actor, source=source, with_lines=with_lines
            )
            waiting = []
            invoices.append(
                _credit_note_write(tenant=tenant, checked=document, actor=actor, source=source, with_lines=with_lines)
            )
        invoices += _invoices_insert(tenant=tenant, checked=waiting, actor=actor, source=source, with_lines=with_lines)
        _ask_for_matching(tenant)
    return invoices


def _credit_note_write(
    *, tenant: Tenant, checked: CheckedInvoice, actor: Actor, source: str, with_lines: bool = False
) -> Invoice:
    # Locked (FOR NO KEY UPDATE, core/locks.py) before its transition writes, as a reviewer's
    # transition locks it.
    credited = _credited_of(tenant=tenant, checked=checked)
    [invoice] = _invoices_insert(
        tenant=tenant, checked=[checked], actor=actor, source=source, credited=credited, with_lines=with_lines
    )
    if credited is not None:
        _void_if_credited_in_full(tenant=tenant, credit_note=invoice, credited=credited, actor=actor)
    return invoice


# Invoices per INSERT (and lines: a chunk closes at this many of either): invoices and events
# travel as one JSON document per table (core.tenancy.scoping.tenant_inserts), lines by COPY;
# bounded, a statement's parameters stay a few megabytes and the staging table a chunk's lines.
INSERT_CHUNK = 5000
# Documents written with one statement for invoices, lines and events (`_chunk_insert`).
ONE_STATEMENT_AT_MOST = 10


def _invoices_insert(
    *,
    tenant: Tenant,
    checked: list[CheckedInvoice],
    actor: Actor,
    source: str,
    credited: Invoice | None = None,
    with_lines: bool = False,
) -> list[Invoice]:
    """The invoices, their lines and their `created` audit events, a chunk at a time
    (`_chunk_insert`: one statement for a few documents, a statement per table for more, the
    lines by COPY). `with_lines`:
    each invoice then holds what was stored (its amount due from the INSERT's RETURNING) and its
    lines (`invoice.lines.all()` without a query): what an answer shows, not read again."""
    if not checked:
        return []
    invoices = [
        Invoice(tenant=tenant, source=source, credited_invoice=credited, **document.columns()) for document in checked
    ]
    start = 0
    while start < len(invoices):
        end, line_count = start, 0
        while end < len(invoices) and end - start < INSERT_CHUNK and line_count < INSERT_CHUNK:
            line_count += len(checked[end].document.lines)
            end += 1
        _chunk_insert(
            tenant=tenant,
            invoices=invoices[start:end],
            checked=checked[start:end],
            actor=actor,
            source=source,
            credited=credited,
            with_lines=with_lines,
        )
        start = end
    return invoices


# An invoice line's columns as `_chunk_insert` writes them, in the order of its tuples.
_LINE_FIELDS = (
    "id", "invoice_id", "line_number", "sku", "description", "quantity", "unit_price", "amount", "po_line_number",
    "matched_po_line_id",
)  # fmt: skip


def _chunk_insert(
    *,
    tenant: Tenant,
    invoices: list[Invoice],
    checked: list[CheckedInvoice],
    actor: Actor,
    source: str,
    credited: Invoice | None,
    with_lines: bool,
) -> None:
    def created_events() -> InsertPart | None:
        return _created_events(
            tenant=tenant, invoices=invoices, checked=checked, actor=actor, source=source, credited=credited
        )

    if len(invoices) <= ONE_STATEMENT_AT_MOST:
        # A few documents (a single create): one statement for the three tables.
        events = created_events()
        created_at = timezone.now()
        lines = _line_rows_of(invoices, checked)
        parts = [
            rows_insert_part(tenant=tenant, rows=invoices),
            values_insert_part(
                tenant=tenant,
                model=InvoiceLine,
                rows=[{**dict(zip(_LINE_FIELDS, line, strict=True)), "created_at": created_at} for line in lines],
            ),
        ]
        if events is not None:
            parts.append(events)
        tenant_inserts(tenant=tenant, parts=parts, generated_read=with_lines)
    else:
        # A bulk chunk: a statement per table, each sent as soon as it is built, so that in the
        # pipeline PostgreSQL writes the invoices while Python builds their events, and the events
        # while it builds the lines (as one statement PostgreSQL would start only once all were
        # built: a CSV import took 30 % longer so). The lines then go in by COPY
        # (core.tenancy.scoping.tenant_copy_insert), which a pipeline cannot carry.
        with connection.pipelined():  # type: ignore[attr-defined]  # core.tenancy.db_backend's
            tenant_inserts(
                tenant=tenant, parts=[rows_insert_part(tenant=tenant, rows=invoices)], generated_read=with_lines
            )
            if (events := created_events()) is not None:
                tenant_inserts(tenant=tenant, parts=[events])
            lines = _line_rows_of(invoices, checked)
        created_at = tenant_copy_insert(tenant=tenant, model=InvoiceLine, fields=_LINE_FIELDS, rows=lines)
    if with_lines:
        _lines_held(tenant=tenant, invoices=invoices, lines=lines, created_at=created_at)


def _line_rows_of(invoices: list[Invoice], checked: list[CheckedInvoice]) -> list[tuple[Any, ...]]:
    """The invoices' lines as tuples of `_LINE_FIELDS`: a model instance, or even a dictionary, per
    line cost more than its insert."""
    ids = iter(uuid7_many(sum(len(document.document.lines) for document in checked)))
    return [
        (
            next(ids),
            invoice.pk,
            document.line_numbers[index],
            line.sku,
            line.description,
            line.quantity,
            line.unit_price,
            document.line_amounts[index],
            line.po_line_number,
            None,
        )
        for invoice, document in zip(invoices, checked, strict=True)
        for index, line in enumerate(document.document.lines)
    ]


def _created_events(
    *,
    tenant: Tenant,
    invoices: list[Invoice],
    checked: list[CheckedInvoice],
    actor: Actor,
    source: str,
    credited: Invoice | None,
) -> InsertPart | None:
    return audit_insert_part(
        tenant=tenant,
        actor=actor,
        entries=[
            AuditEntry(
                entity_type="invoice",
                entity_id=str(invoice.pk),
                action="created",
                after={
                    **invoice_document_snapshot(document.document),
                    "source": source,
                    "vendor_id": _id_or_none(document.vendor),
                    "credited_invoice_id": _id_or_none(credited),
                    "status": invoice.status,
                },
                json_ready=True,
            )
            for invoice, document in zip(invoices, checked, strict=True)
        ],
    )


def _lines_held(*, tenant: Tenant, invoices: list[Invoice], lines: list[tuple[Any, ...]], created_at: Any) -> None:
    """Each invoice holds the lines stored for it (`invoice.lines.all()` reads nothing)."""
    by_invoice: dict[Any, list[InvoiceLine]] = {invoice.pk: [] for invoice in invoices}
    of_invoice = {invoice.pk: invoice for invoice in invoices}
    for values in lines:
        line = InvoiceLine(tenant=tenant, created_at=created_at, **dict(zip(_LINE_FIELDS, values, strict=True)))
        line.invoice = of_invoice[line.invoice_id]
        line._state.adding, line._state.db = False, connection.alias
        by_invoice[line.invoice_id].append(line)
    for invoice in invoices:
        # In the order a read gives them (InvoiceLine.Meta.ordering).
        stored = sorted(by_invoice[invoice.pk], key=lambda line: line.line_number)
        invoice._prefetched_objects_cache = {"lines": stored}  # type: ignore[attr-defined]


def invoice_draft_save(
    *, tenant: Tenant, document: InvoiceDocument, actor: Actor, draft: Invoice | None = None
) -> Invoice:
    """Keep what has been typed so far: a new draft, or `draft` changed (all or nothing).

    Held to the door's shape rules (a bad quantity or an unknown vendor id is refused by field) but
    not to completeness: number, date, vendor, currency and lines may still be missing. The change
    is audited with what the draft held before. A draft submitted or discarded meanwhile (by
    someone else, in another tab) is not changed: `StaleState`.
    """
    checked = invoice_document_check(tenant=tenant, document=document, source=InvoiceSource.MANUAL, complete=False)
    with transaction.atomic():
        if draft is None:
            invoice = Invoice.objects.create(
                tenant=tenant, status=InvoiceStatus.DRAFT, source=InvoiceSource.MANUAL, **checked.columns()
            )
            _lines_write(tenant=tenant, invoice=invoice, checked=checked)
            after = {**document_snapshot(checked.document), "status": invoice.status, "source": invoice.source}
            audit_record(
                tenant=tenant, actor=actor, entity_type="invoice", entity_id=invoice.pk, action="created", after=after
            )
            return invoice
        invoice = _draft_locked(tenant=tenant, draft=draft)
        _draft_rewrite(tenant=tenant, invoice=invoice, checked=checked, actor=actor)
    return invoice


def invoice_draft_submit(*, tenant: Tenant, draft: Invoice, document: InvoiceDocument, actor: Actor) -> Invoice:
    """Check the draft complete by the door's rules, store it as typed and move it to `received`.

    From there it is an invoice like any other: matching takes it (and a credit note credits the
    invoice it names, voiding it when it credits it in full, as at the door). All or nothing: a
    refused document leaves the draft as it was.
    """
    checked = invoice_document_check(tenant=tenant, document=document, source=InvoiceSource.MANUAL)
    with transaction.atomic():
        invoice = _draft_locked(tenant=tenant, draft=draft)
        credited = _credited_of(tenant=tenant, checked=checked)
        _draft_rewrite(tenant=tenant, invoice=invoice, checked=checked, actor=actor)
        invoice_transition(
            tenant=tenant,
            invoice=invoice,
            to_status=InvoiceStatus.RECEIVED,
            actor=actor,
            reason=DRAFT_SUBMITTED,
            expected_status=InvoiceStatus.DRAFT,
            context={"credited_invoice_id": _id_or_none(credited)},
        )
        if credited is not None:
            # Only now: a draft credits nothing (constraint invoice_draft_credits_nothing).
            invoice.credited_invoice = credited
            invoice.save(update_fields=["credited_invoice", "updated_at"])
            _void_if_credited_in_full(tenant=tenant, credit_note=invoice, credited=credited, actor=actor)
        _ask_for_matching(tenant)
    return invoice


def invoice_draft_discard(*, tenant: Tenant, draft: Invoice, actor: Actor, reason: str = "") -> Invoice:
    """Void a draft (nothing else: a received invoice is voided by a credit note or an administrator)."""
    return invoice_transition(
        tenant=tenant,
        invoice=draft,
        to_status=InvoiceStatus.VOID,
        actor=actor,
        reason=reason.strip() or DRAFT_DISCARDED,
        expected_status=InvoiceStatus.DRAFT,
    )


def draft_snapshot(invoice: Invoice) -> dict[str, Any]:
    """What a draft holds, as JSON-safe values: the `before` of its change's audit event."""
    # The payee account only masked: its ciphertext and keyed hash say nothing to a reader.
    hidden = {"vendor", "payee_account_encrypted", "payee_account_hash"}
    columns = {name: getattr(invoice, name) for name in CheckedInvoice.COLUMNS if name not in hidden}
    columns["vendor_id"] = invoice.vendor_id
    columns["lines"] = list(
        InvoiceLine.objects.for_tenant(invoice.tenant_id)
        .filter(invoice=invoice)
        .order_by("line_number")
        .values("line_number", "sku", "description", "quantity", "unit_price", "amount", "po_line_number")
    )
    return to_json_safe(columns)


def _draft_locked(*, tenant: Tenant, draft: Invoice) -> Invoice:
    invoice = Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=draft.pk)
    if invoice.status != InvoiceStatus.DRAFT:
        status = InvoiceStatus(invoice.status).label
        raise StaleState(NO_LONGER_A_DRAFT.format(status=status), details={"status": invoice.status})
    return invoice


def _draft_rewrite(*, tenant: Tenant, invoice: Invoice, checked: CheckedInvoice, actor: Actor) -> None:
    """Replace the locked draft's content with `checked`'s and audit the change."""
    before = draft_snapshot(invoice)
    columns = checked.columns()
    for name, value in columns.items():
        setattr(invoice, name, value)
    invoice.save(update_fields=[*columns, "updated_at"])
    InvoiceLine.objects.for_tenant(tenant).filter(invoice=invoice).delete()
    _lines_write(tenant=tenant, invoice=invoice, checked=checked)
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice.pk,
        action="updated",
        before=before,
        after=draft_snapshot(invoice),
    )


def _lines_write(*, tenant: Tenant, invoice: Invoice, checked: CheckedInvoice) -> None:
    InvoiceLine.objects.bulk_create(_line_rows(tenant, invoice, checked))


def _line_rows(tenant: Tenant, invoice: Invoice, checked: CheckedInvoice) -> list[InvoiceLine]:
    return [
        InvoiceLine(
            tenant=tenant,
            invoice=invoice,
            line_number=checked.line_numbers[index],
            sku=line.sku,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=checked.line_amounts[index],
            po_line_number=line.po_line_number,
        )
        for index, line in enumerate(checked.document.lines)
    ]


def _ask_for_matching(tenant: Tenant) -> None:
    if settings.MATCH_ON_INGEST:
        matching_enqueue(tenant=tenant, trigger=MatchRun.Trigger.INGEST)


def _id_or_none(row: Any) -> str | None:
    return str(row.pk) if row is not None else None


def _credited_of(*, tenant: Tenant, checked: CheckedInvoice) -> Invoice | None:
    if checked.document.document_type != DocumentType.CREDIT_NOTE:
        return None
    return _credited_invoice_locked(tenant=tenant, vendor=checked.vendor, document=checked.document)


def _credited_invoice_locked(*, tenant: Tenant, vendor: Vendor | None, document: InvoiceDocument) -> Invoice | None:
    """The invoice a credit note credits, locked (`SELECT … FOR NO KEY UPDATE`), or None.

    The same vendor (the resolved one; without one, the same raw tax id and name) and the same
    normalized number, within the tenant. When the number was billed more than once (a duplicate
    that matching rejected, say), the credit is for the one that still bills, else the oldest.
    """
    number = normalize_invoice_number(document.credited_invoice_number)
    if not number:
        return None
    candidates = (
        Invoice.objects.for_tenant(tenant)
        .filter(document_type=DocumentType.INVOICE, invoice_number_normalized=number)
        .exclude(status=InvoiceStatus.DRAFT)  # not yet a document: nothing to credit
        .order_by("created_at", "id")
    )
    found = invoices_of_document_vendor(
        candidates.only("id", "status", "vendor_tax_id_raw", "vendor_name_raw"), vendor=vendor, document=document
    )
    if not found:
        return None
    chosen = next((candidate for candidate in found if candidate.status not in NOT_BILLING), found[0])
    return Invoice.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=chosen.pk)


def _void_if_credited_in_full(*, tenant: Tenant, credit_note: Invoice, credited: Invoice, actor: Actor) -> None:
    """DESIGN.md §4: "any non-final → void: credit note for the full amount".

    Full = the credited invoice's total, in its currency. A partial credit changes no state: what
    is still owed is the difference, for review and payment matching to see. An invoice already
    final (rejected, reconciled, void) is left alone; the credit note is stored all the same.

    Nor is an open credited invoice (in review, on hold) re-matched here: the next matching run
    (the one `_ask_for_matching` asks for, or the schedule's) finds the credit note newer than the
    invoice's latest match and matches it again under the tenant's matching lock
    (matching.rematch.matching_rematch_for_credit_notes) — this door would have to take that lock
    before its first write, and call up past matching.services.
    """
    if InvoiceStatus.VOID not in INVOICE_LIFECYCLE.allowed_from(credited.status):
        return  # final, or reconciled (closed to everything but a payment reversal)
    if (credit_note.currency, credit_note.total_amount) != (credited.currency, credited.total_amount):
        return
    invoice_transition(
        tenant=tenant,
        invoice=credited,
        to_status=InvoiceStatus.VOID,
        actor=actor,
        reason=CREDITED_IN_FULL.format(number=credit_note.invoice_number),
        context={"credit_note_id": str(credit_note.pk), "credit_note_number": credit_note.invoice_number},
    )
