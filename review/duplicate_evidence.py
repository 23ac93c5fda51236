"""The evidence of a duplicate finding, for the invoice page: this invoice and the one the
finding compares it with (matching.engine.duplicates keeps its id on the discrepancy), side by
side — number, vendor, dates, total, how and when each arrived, where each stands now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from invoices.models import Invoice
from matching.models import Discrepancy
from tenants.models import Tenant


@dataclass(frozen=True)
class DuplicateEvidence:
    discrepancy: Discrepancy
    invoice: Invoice
    other: Invoice

    @property
    def same_total(self) -> bool:
        return (self.invoice.total_amount, self.invoice.currency) == (self.other.total_amount, self.other.currency)

    @property
    def same_date(self) -> bool:
        return self.invoice.invoice_date == self.other.invoice_date

    @property
    def same_number(self) -> bool:
        return self.invoice.invoice_number == self.other.invoice_number


def duplicate_evidence_read(
    *, tenant: Tenant, invoice: Invoice, discrepancies: list[Discrepancy]
) -> list[DuplicateEvidence]:
    """One side-by-side per finding that names another invoice of the tenant (one query)."""
    wanted: set[uuid.UUID] = {d.related_invoice_id for d in discrepancies if d.related_invoice_id is not None}
    if not wanted:
        return []
    others = Invoice.objects.for_tenant(tenant).select_related("vendor").in_bulk(wanted)
    return [
        DuplicateEvidence(discrepancy=d, invoice=invoice, other=others[d.related_invoice_id])
        for d in discrepancies
        if d.related_invoice_id in others
    ]
