"""Reads of invoices, always starting from the tenant."""

from __future__ import annotations

from core.tenancy.scoping import TenantQuerySet
from invoices.documents import InvoiceContent, InvoiceDocument, invoice_content
from invoices.models import Invoice
from tenants.models import Tenant
from vendors.models import Vendor
from vendors.names import normalize_tax_id, normalize_vendor_name


def invoice_list(*, tenant: Tenant) -> TenantQuerySet:
    return Invoice.objects.for_tenant(tenant)


def invoices_of_document_vendor(
    candidates: TenantQuerySet, *, vendor: Vendor | None, document: InvoiceDocument
) -> list[Invoice]:
    """Of `candidates` (in their order), those from the vendor `document` names.

    The resolved vendor when there is one; otherwise the invoices stored without a vendor whose
    raw tax id and name, normalized, are the document's: an unknown sender is still one sender.
    """
    if vendor is not None:
        return list(candidates.filter(vendor=vendor))
    return [candidate for candidate in candidates.filter(vendor__isnull=True) if _raw_vendor_is(candidate, document)]


def invoice_of_document_vendor(invoice: Invoice, *, vendor: Vendor | None, document: InvoiceDocument) -> bool:
    """Whether `invoice` is from the vendor `document` names (the rule of invoices_of_document_vendor,
    for invoices already read: a batch's candidates)."""
    if vendor is not None:
        return invoice.vendor_id == vendor.pk
    return invoice.vendor_id is None and _raw_vendor_is(invoice, document)


def _raw_vendor_is(invoice: Invoice, document: InvoiceDocument) -> bool:
    """An invoice stored without a vendor is from the sender whose raw tax id and name, normalized,
    are the document's: an unknown sender is still one sender."""
    return normalize_tax_id(invoice.vendor_tax_id_raw) == normalize_tax_id(
        document.vendor_tax_id
    ) and normalize_vendor_name(invoice.vendor_name_raw) == normalize_vendor_name(document.vendor_name)


def invoice_stored_content(invoice: Invoice) -> InvoiceContent:
    """The content of a stored invoice (invoices.documents.InvoiceContent), its lines read here.

    Prefetch `lines` when reading several invoices; without a prefetch this is one query.
    """
    return invoice_content(
        currency=invoice.currency,
        invoice_date=invoice.invoice_date,
        due_date=invoice.due_date,
        total=invoice.total_amount,
        tax=invoice.tax_amount,
        shipping=invoice.shipping_amount,
        prepaid=invoice.prepaid_amount,
        lines=[(line.quantity, line.unit_price, line.amount) for line in invoice.lines.all()],
    )
