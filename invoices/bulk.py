"""The many-documents form of the door: what `invoices.services.invoice_create_many` checks before
it writes anything, and what it answers per document.

Every document is checked in Python first, by the one door's rules (invoices.checks), with the
vendors the batch names resolved together beforehand (vendors.ingest.VendorCache.preload: a few
queries for the whole batch, none per document). Only then is anything written: each table with
one statement per batch (invoices.services).

A re-send (the same kind, vendor, number and content as an invoice already stored, or as an
earlier document of the same batch) is answered with that invoice when the caller asks for it
(`resends_skipped`), as the single door's callers do with invoices.ingest.invoice_already_present:
a batch is then exactly its documents sent one after the other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from audit.chain import to_json_safe
from core.exceptions import DocumentInvalid
from invoices.checks import CheckedInvoice, invoice_document_check
from invoices.documents import InvoiceContent, InvoiceDocument, InvoiceLineDocument, document_content
from invoices.ingest import document_vendor_references
from invoices.models import Invoice
from tenants.models import Tenant
from vendors.ingest import VendorCache
from vendors.names import normalize_tax_id, normalize_vendor_name

BATCH_INVALID = "{count} of the {total} documents are invalid; nothing was stored. See details, by document."


class InvoiceBatchInvalid(DocumentInvalid):
    """Some documents of an all-or-nothing batch broke the door's rules: nothing was written.

    `refused` maps each refused document's index to its own `DocumentInvalid`; `details` says the
    same as `documents[3].lines[0].quantity` paths, for a caller that shows one list.
    """

    def __init__(self, refused: dict[int, DocumentInvalid], *, total: int) -> None:
        details = {
            f"documents[{index}].{path}" if path else f"documents[{index}]": messages
            for index, problem in sorted(refused.items())
            for path, messages in (problem.details or {"": [problem.message]}).items()
        }
        super().__init__(BATCH_INVALID.format(count=len(refused), total=total), details=details)
        self.refused = refused


@dataclass(frozen=True)
class DocumentStored:
    """What became of one document of a batch: the invoice it is now, and whether this batch
    created it (False: a re-send of an invoice stored before, or of an earlier document of the batch)."""

    invoice: Invoice
    created: bool


def invoice_documents_check(
    *, tenant: Tenant, documents: Sequence[InvoiceDocument], source: str, vendors: VendorCache
) -> list[CheckedInvoice | DocumentInvalid]:
    """Each document checked by the door's rules (invoices.checks.invoice_document_check), in
    order: what will be stored, or why not. The vendors named are resolved together first."""
    vendors.preload(document_vendor_references(documents))
    checked: list[CheckedInvoice | DocumentInvalid] = []
    for document in documents:
        try:
            checked.append(invoice_document_check(tenant=tenant, document=document, source=source, vendors=vendors))
        except DocumentInvalid as exc:
            checked.append(exc)
    return checked


def resend_identity(checked: CheckedInvoice, stated: InvoiceDocument) -> Hashable:
    """What two documents of one batch share when the later one may be a re-send of the earlier
    (the rule of invoices.ingest.invoice_already_present: kind, vendor, number — and content, which
    `BatchResends` compares only between documents sharing this), for documents not stored yet.
    Without a resolved vendor, the raw tax id and name, normalized."""
    vendor: Hashable = (
        checked.vendor.pk
        if checked.vendor is not None
        else (normalize_tax_id(stated.vendor_tax_id), normalize_vendor_name(stated.vendor_name))
    )
    return (checked.document.document_type, vendor, checked.normalized_number)


class BatchResends:
    """Which document of a batch repeats an earlier one (same `resend_identity` and the same
    content, invoices.documents.document_content). The content, the costly part (every line's
    amount in minor units), is computed only for documents whose identity an earlier one shares:
    in most batches, none."""

    def __init__(self, documents: Sequence[InvoiceDocument]) -> None:
        self.documents = documents
        self.first_of: dict[Hashable, list[int]] = {}  # identity → the documents kept with it
        self.contents: dict[int, InvoiceContent | None] = {}

    def repeated(self, index: int, checked: CheckedInvoice) -> int | None:
        """The earlier document that document `index` repeats, or None (it is then remembered)."""
        earlier = self.first_of.setdefault(resend_identity(checked, self.documents[index]), [])
        content = self._content(index) if earlier else None
        for first in earlier:
            if self._content(first) == content:
                return first
        earlier.append(index)
        return None

    def _content(self, index: int) -> InvoiceContent | None:
        if index not in self.contents:
            self.contents[index] = document_content(self.documents[index])
        return self.contents[index]


def invoice_document_snapshot(document: InvoiceDocument) -> dict[str, Any]:
    """audit.services.document_snapshot of an invoice document — the same JSON, a test ties the two —
    without its deep copy (dataclasses.asdict) and JSON round trip, which cost more than the rest of
    a batch's audit events: the `after` of a batch's creation events."""
    snapshot = _snapshot_fields(document)
    snapshot["lines"] = [_snapshot_fields(line) for line in document.lines]
    return snapshot


_SNAPSHOT_FIELDS: dict[type, tuple[str, ...]] = {}


def _snapshot_fields(document: InvoiceDocument | InvoiceLineDocument) -> dict[str, Any]:
    kind = type(document)
    names = _SNAPSHOT_FIELDS.get(kind)
    if names is None:
        names = _SNAPSHOT_FIELDS[kind] = tuple(
            field.name for field in dataclasses.fields(document) if field.name != "lines"
        )
    # The usual values (text, numbers, None, decimals) inline: a call per value cost more than
    # the rest of the snapshot.
    return {
        name: value
        if (value := getattr(document, name)) is None or (value_type := type(value)) in _PLAIN
        else str(value)
        if value_type is Decimal
        else _json_value(value)
        for name in names
    }


_PLAIN = frozenset({str, int, bool})


def _json_value(value: Any) -> Any:
    """What to_json_safe (DjangoJSONEncoder, then back) makes of one field's value."""
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, (Decimal, uuid.UUID, str)):
        return str(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return to_json_safe(value)
