"""Invoices in from everywhere: CSV files, UBL / Peppol e-invoices, accounting-platform webhooks.

Every source here only *normalizes*: it turns its format into the documents of
`invoices.documents` / `purchasing.documents` and hands them to the one door
(`invoices.services.invoice_create`, `purchasing.services.purchase_order_create`,
`goods_receipt_create`), which validates, resolves the vendor, normalizes the number and writes
the audit event the same way for every source. Nothing in this package re-checks what the door
checks; it only checks what the door cannot see (a CSV cell that is not a number, an XML
document that is not UBL, a webhook whose signature is wrong).

This module holds what the sources share: the field limits read from the models, and the
identity of "the same invoice again" (same vendor, number and content) used to make re-imports
safe. A file's size limit is core.http.uploads; the vendor a document names, vendors.ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from invoices.documents import InvoiceDocument, document_content, document_with_positive_total
from invoices.models import Invoice
from invoices.numbers import normalize_invoice_number
from invoices.selectors import invoice_of_document_vendor, invoice_stored_content
from tenants.models import Tenant
from vendors.ingest import VendorCache
from vendors.models import Vendor
from vendors.selectors import VendorReference


def invoice_already_present(*, tenant: Tenant, document: InvoiceDocument, vendors: VendorCache) -> Invoice | None:
    """The stored invoice that `document` repeats, if any: same tenant, kind, vendor, number and content.

    "Same vendor" is the vendor `invoice_create` would resolve; when none resolves, the raw tax id
    and name the earlier invoice was stored with, compared normalized. "Same number" is the
    normalized invoice number (the key duplicate detection uses). "Same content" is
    invoices.documents.InvoiceContent: amounts, currency, dates and lines as they would be stored.
    All four make a re-send, answered with the stored invoice, so re-importing a file or
    re-delivering a webhook is safe. A *different* document with a known number is not a re-send:
    it goes through the door and is stored, and matching reports it as `duplicate_invoice`, so a
    clerk sees it instead of it being lost. The kind matters: a credit note may carry the number
    of the invoice it credits, and is not that invoice again. Every source asks this one function
    (or its many-documents form below, which it is).
    """
    return invoices_already_present(tenant=tenant, documents=[document], vendors=vendors)[0]


def invoices_already_present(
    *, tenant: Tenant, documents: Sequence[InvoiceDocument], vendors: VendorCache
) -> list[Invoice | None]:
    """`invoice_already_present` for each of `documents`, in a fixed number of queries (the
    vendors they name, the stored invoices with their numbers, and those invoices' lines)."""
    vendors.preload(document_vendor_references(documents))
    identities: list[tuple[str, str, Vendor | None] | None] = []
    for document in documents:
        number = normalize_invoice_number(document.invoice_number)
        vendor = vendors.resolve(vendor_id=document.vendor_id, tax_id=document.vendor_tax_id, name=document.vendor_name)
        if not number or (vendor is None and document.vendor_id is not None):
            # The door refuses it, or it cannot be compared (an unknown vendor id): never a re-send.
            identities.append(None)
            continue
        identities.append((number, document_with_positive_total(document).document_type, vendor))
    numbers = {identity[0] for identity in identities if identity is not None}
    if not numbers:
        return [None] * len(documents)
    candidates: dict[tuple[str, str], list[Invoice]] = {}
    for invoice in (
        Invoice.objects.for_tenant(tenant)
        .filter(invoice_number_normalized__in=numbers)
        .prefetch_related("lines")
        .order_by("created_at", "id")
    ):
        candidates.setdefault((invoice.invoice_number_normalized, invoice.document_type), []).append(invoice)
    present: list[Invoice | None] = []
    for document, identity in zip(documents, identities, strict=True):
        if identity is None:
            present.append(None)
            continue
        number, kind, vendor = identity
        stored = candidates.get((number, kind))
        # The content (every line's amount in minor units) only for a document whose number is
        # stored already: in a file of new invoices, none. Without content (the door refuses the
        # document), never a re-send.
        content = document_content(document) if stored else None
        present.append(
            next(
                (
                    invoice
                    for invoice in stored or ()
                    if content is not None
                    and invoice_of_document_vendor(invoice, vendor=vendor, document=document)
                    and invoice_stored_content(invoice) == content
                ),
                None,
            )
        )
    return present


def document_vendor_references(documents: Iterable[InvoiceDocument]) -> list[VendorReference]:
    """The vendor each document names, as vendors.ingest.VendorCache.preload takes them."""
    return [(document.vendor_id, document.vendor_tax_id, document.vendor_name) for document in documents]
