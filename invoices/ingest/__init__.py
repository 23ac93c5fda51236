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

from invoices.documents import InvoiceDocument, document_content, document_with_positive_total
from invoices.models import Invoice
from invoices.numbers import normalize_invoice_number
from invoices.selectors import invoice_stored_content, invoices_of_document_vendor
from tenants.models import Tenant
from vendors.ingest import VendorCache


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
    of the invoice it credits, and is not that invoice again. Every source asks this one function.
    """
    number = normalize_invoice_number(document.invoice_number)
    content = document_content(document)
    if not number or content is None:
        return None  # the door refuses it (or it cannot be compared): never a re-send
    stored_kind = document_with_positive_total(document).document_type
    vendor = vendors.resolve(vendor_id=document.vendor_id, tax_id=document.vendor_tax_id, name=document.vendor_name)
    if vendor is None and document.vendor_id is not None:
        return None  # an unknown vendor id: the door refuses it
    candidates = (
        Invoice.objects.for_tenant(tenant)
        .filter(invoice_number_normalized=number, document_type=stored_kind)
        .prefetch_related("lines")
        .order_by("created_at", "id")
    )
    found = invoices_of_document_vendor(candidates, vendor=vendor, document=document)
    return next((invoice for invoice in found if invoice_stored_content(invoice) == content), None)
