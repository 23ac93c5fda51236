"""The loader's earlier invoices: those a batch's invoices could duplicate."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from core.tenancy.scoping import id_array, tenant_cursor
from invoices.billing import NOT_BILLING
from invoices.models import DocumentType, InvoiceSource
from invoices.numbers import lookalike_of_normalized, normalize_invoice_number
from matching.engine import InvoiceRecord, PriorInvoiceRecord, VendorRecord
from matching.engine.duplicates import SAME_TOTAL_DAYS
from tenants.models import Tenant

# The earlier invoices each batch invoice could duplicate, per (resolved vendor, invoice): the
# same normalized number, the same lookalike number (OCR and typing confusions allowed for), or
# the same total dated within the widest window. Each branch is one probe of an index
# (invoice_tenant_vendor_number, invoice_tenant_vendor_alike, invoice_tenant_vendor_total),
# forced by the LATERAL join: as one OR over the batch's vendors, numbers and totals, PostgreSQL
# walked the created_at index of every invoice received before the batch. Numbers one edit apart
# need no branch of their own: the engine looks for them among the same-total rows only, so what
# it compares is bounded by one vendor's invoices of one amount in ±30 days.
_PRIOR_INVOICES_SQL = """
SELECT DISTINCT earlier.id, earlier.vendor_id, earlier.invoice_number, earlier.invoice_number_normalized,
       earlier.total_amount, earlier.currency, earlier.invoice_date, earlier.status, earlier.created_at,
       earlier.source
FROM unnest(%(vendor_ids)s::uuid[], %(numbers)s::varchar[], %(lookalikes)s::text[], %(totals)s::bigint[],
            %(dates)s::date[])
    AS wanted(vendor_id, number, lookalike, total, invoice_date)
JOIN LATERAL (
    SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
           status, created_at, document_type, source
    FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND invoice_number_normalized = wanted.number
    UNION ALL
    SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
           status, created_at, document_type, source
    FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id
      AND invoice_number_lookalike = wanted.lookalike AND invoice_number_normalized <> wanted.number
    UNION ALL
    SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
           status, created_at, document_type, source
    FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND total_amount = wanted.total
      AND invoice_date BETWEEN wanted.invoice_date - %(days)s AND wanted.invoice_date + %(days)s
    -- A fence: without it the filters below are pushed into both branches, and on a table without
    -- statistics yet (a new tenant's first large import, the demo seed's one transaction) the
    -- planner walks (tenant, created_at) instead, ~1,250 rows thrown away per probe.
    OFFSET 0
) AS earlier ON TRUE
WHERE earlier.created_at < %(newest)s
  AND earlier.status <> ALL(%(not_counted)s::varchar[])
  AND earlier.document_type = %(invoice)s
  -- An anti-join, not `id <> ALL(…)`: the planner estimated that one element by element, 3 ms of
  -- planning for a batch of 100 (more than running the query).
  AND NOT EXISTS (SELECT FROM unnest(%(batch_ids)s::uuid[]) AS batch(id) WHERE batch.id = earlier.id)
ORDER BY earlier.invoice_date, earlier.id
"""


def batch_prior_invoices(
    tenant: Tenant,
    invoices: list[InvoiceRecord],
    resolved: dict[uuid.UUID, VendorRecord | None],
    batch_ids: list[uuid.UUID],
    newest: dt.datetime,
) -> dict[uuid.UUID, list[PriorInvoiceRecord]]:
    """The earlier invoices that could be one of the batch's invoices again, by vendor.

    Only those the engine could flag, looked up per invoice with the vendor it will be matched
    as: the same normalized number, the same lookalike number (OCR and typing confusions allowed
    for, invoices.numbers), or the same total dated within the widest window (30 days), among
    which the engine finds the near duplicates and the numbers one edit apart; the engine does
    the exact comparisons (and the currency). Indexed, so the cost does not grow with the
    tenant's history. "Earlier" =
    received before the batch's newest invoice: an invoice that arrived later is compared when
    its own turn comes, so the original is never flagged as the copy of its duplicate. Credit
    notes repeat their invoice's number and total on purpose: they are no duplicates.
    """
    wanted = []
    for invoice in invoices:
        if (vendor := resolved[invoice.id]) is not None:
            number = invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number)
            wanted.append(
                (vendor.id, number, lookalike_of_normalized(number), invoice.total_amount, invoice.invoice_date)
            )
    if not wanted:
        return {}
    vendor_ids, numbers, lookalikes, totals, dates = (list(column) for column in zip(*wanted, strict=True))
    prior: dict[uuid.UUID, list[PriorInvoiceRecord]] = defaultdict(list)
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            _PRIOR_INVOICES_SQL,
            {
                "vendor_ids": id_array(vendor_ids),
                "numbers": numbers,
                "lookalikes": lookalikes,
                "totals": totals,
                "dates": dates,
                "tenant_id": tenant.pk,
                "days": SAME_TOTAL_DAYS,
                "newest": newest,
                "not_counted": sorted(NOT_BILLING),
                "invoice": DocumentType.INVOICE,
                "batch_ids": id_array(batch_ids),
            },
        )
        # In _PRIOR_INVOICES_SQL's column order, each handed to the record by name.
        for (
            invoice_id,
            vendor_id,
            invoice_number,
            invoice_number_normalized,
            total_amount,
            currency,
            invoice_date,
            status,
            created_at,
            source,
        ) in cursor.fetchall():
            prior[vendor_id].append(
                PriorInvoiceRecord(
                    id=invoice_id,
                    vendor_id=vendor_id,
                    invoice_number=invoice_number,
                    invoice_number_normalized=invoice_number_normalized,
                    total_amount=total_amount,
                    currency=currency,
                    invoice_date=invoice_date,
                    status=status,
                    received_at=created_at,
                    source=_source_label(source),
                )
            )
    return dict(prior)


def _source_label(source: str) -> str:
    """How the invoice arrived, as the clerk reads it ("CSV import"); the code if unknown."""
    return str(InvoiceSource(source).label) if source in InvoiceSource.values else source
