"""Reads of the Import page: the tenant's uploads, one upload's files (never their bytes), and the
documents each file created or found already stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from core.money import from_minor
from invoices.models import Invoice
from payments.models import Payment
from purchasing.models import GoodsReceipt, PurchaseOrder
from review.models import ImportBatch, ImportJob, ImportKind
from tenants.models import Tenant

DOCUMENTS_SHOWN = 100

# Per kind: the model its documents are, the field that names one, the page that shows one.
_DOCUMENT_PAGES = {
    ImportKind.INVOICES: (Invoice, "invoice_number", "web:invoice-detail"),
    ImportKind.E_INVOICE: (Invoice, "invoice_number", "web:invoice-detail"),
    ImportKind.PURCHASE_ORDERS: (PurchaseOrder, "po_number", "web:purchase-order-detail"),
    ImportKind.GOODS_RECEIPTS: (GoodsReceipt, "receipt_number", "web:receipt-detail"),
}


# A draft waiting to be typed in (a PDF with no e-invoice inside) has no number yet.
NO_NUMBER_YET = "Draft to type in (no number yet)"


@dataclass(frozen=True)
class DocumentLink:
    url_name: str
    pk: uuid.UUID
    label: str


@dataclass(frozen=True)
class JobDocuments:
    """What a file created and what it found already stored: the first `DOCUMENTS_SHOWN` of each."""

    created: list[DocumentLink]
    created_count: int
    duplicates: list[DocumentLink]
    duplicates_count: int


def _jobs(tenant: Tenant) -> QuerySet[ImportJob]:
    # The bytes stay in the database: a page never needs them.
    return ImportJob.objects.for_tenant(tenant).defer("content")


def import_batch_list(*, tenant: Tenant) -> QuerySet[ImportBatch]:
    """The tenant's uploads, newest first, each with its files."""
    return (
        ImportBatch.objects.for_tenant(tenant)
        .prefetch_related(Prefetch("jobs", queryset=_jobs(tenant)))
        .order_by("-created_at", "-id")
    )


def import_batch_get(*, tenant: Tenant, batch_id: uuid.UUID) -> ImportBatch | None:
    """One of the tenant's uploads with its files in upload order; None for another tenant's or none."""
    return import_batch_list(tenant=tenant).filter(pk=batch_id).first()


def _links(tenant: Tenant, kind: str, ids: list[str]) -> list[DocumentLink]:
    model, name_field, url_name = _DOCUMENT_PAGES[ImportKind(kind)]
    rows = model.objects.for_tenant(tenant).filter(pk__in=ids[:DOCUMENTS_SHOWN]).values_list("pk", name_field)
    names = dict(rows)
    ordered = [uuid.UUID(pk) for pk in ids[:DOCUMENTS_SHOWN]]  # in the file's order
    return [DocumentLink(url_name, pk, names[pk] or NO_NUMBER_YET) for pk in ordered if pk in names]


def import_job_documents(*, tenant: Tenant, job: ImportJob) -> JobDocuments:
    """The documents `job`'s import created and those it found already stored (duplicates)."""
    outcome = job.outcome or {}
    if job.kind == ImportKind.BANK_STATEMENT:
        if not outcome.get("import_id"):
            return JobDocuments([], 0, [], 0)
        payments = Payment.objects.for_tenant(tenant).filter(statement_import_id=outcome["import_id"])
        shown = payments.order_by("booking_date", "id")[:DOCUMENTS_SHOWN]
        created = [
            DocumentLink(
                "web:payment-detail",
                payment.pk,
                f"{payment.booking_date:%Y-%m-%d} · {from_minor(payment.amount, payment.currency):,} "
                f"{payment.currency} · {payment.counterparty_name or payment.remittance_text[:40]}",
            )
            for payment in shown
        ]
        return JobDocuments(created, outcome.get("new", 0), [], outcome.get("duplicates", 0))
    if job.kind not in _DOCUMENT_PAGES:
        return JobDocuments([], 0, [], 0)
    created_ids = outcome.get("created_ids", [])
    duplicate_ids = outcome.get("duplicate_ids", [])
    return JobDocuments(
        _links(tenant, job.kind, created_ids),
        len(created_ids),
        _links(tenant, job.kind, duplicate_ids),
        len(duplicate_ids),
    )
