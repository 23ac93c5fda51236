"""The 3-way comparison an invoice's page shows: each invoice line beside its PO line and what
was received, with the differences the reviewer must look at marked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum

from audit.models import CHAIN_ORDER, AuditEvent
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceStatus
from learning.selectors import lines_assigned_by_hand
from matching.models import Discrepancy
from payments.reconciliation.loading import open_balances
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrderLine
from tenants.models import Tenant

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


@dataclass
class ComparisonRow:
    invoice_line: InvoiceLine
    po_line: PurchaseOrderLine | None
    received_quantity: Decimal | None
    discrepancies: list[Discrepancy] = field(default_factory=list)
    # "assigned by anna on 2026-12-07": the line's PO line (or none) was chosen by a person.
    assigned_by_hand: str = ""

    @property
    def price_differs(self) -> bool:
        return self.po_line is not None and self.invoice_line.unit_price != self.po_line.unit_price

    @property
    def price_difference(self) -> Decimal | None:
        if self.po_line is None:
            return None
        return self.invoice_line.unit_price - self.po_line.unit_price

    @property
    def over_ordered(self) -> bool:
        return self.po_line is not None and self.invoice_line.quantity > self.po_line.quantity

    @property
    def over_received(self) -> bool:
        return self.received_quantity is not None and self.invoice_line.quantity > self.received_quantity

    @property
    def severity(self) -> str:
        """The worst severity found on this line, or "" when the engine found nothing."""
        if not self.discrepancies:
            return ""
        return min((d.severity for d in self.discrepancies), key=lambda s: _SEVERITY_RANK.get(s, 9))

    @property
    def flagged(self) -> bool:
        # A line that matched no PO line is never shown as fine, even when the engine reported
        # the problem on the invoice (missing_po) rather than on the line.
        return (
            bool(self.discrepancies)
            or self.po_line is None
            or self.price_differs
            or self.over_ordered
            or self.over_received
        )


@dataclass
class InvoiceDetail:
    invoice: Invoice
    rows: list[ComparisonRow]
    discrepancies: list[Discrepancy]
    breakdown: list[tuple[str, Decimal]]
    timeline: list[AuditEvent]
    receipts: list[GoodsReceipt]
    # What is still owed on it after credit notes and payments (payments' open balance), when
    # that is less than its amount due; None when nothing was taken off (or it is no invoice).
    still_owed: int | None = None


def received_by_po_line(*, tenant: Tenant, po_line_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    return dict(
        GoodsReceiptLine.objects.for_tenant(tenant)
        .filter(purchase_order_line_id__in=po_line_ids)
        .values_list("purchase_order_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )


def invoice_timeline(*, tenant: Tenant, invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk))
        .order_by(*CHAIN_ORDER)
    )


def invoice_detail(*, tenant: Tenant, invoice_id: uuid.UUID) -> InvoiceDetail:
    """Everything the invoice page shows; `Invoice.DoesNotExist` for another tenant's id."""
    invoice = (
        Invoice.objects.for_tenant(tenant)
        .select_related("vendor", "purchase_order", "latest_match", "latest_match__run", "assigned_to")
        .get(pk=invoice_id)
    )
    lines = list(
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice=invoice)
        .select_related("matched_po_line")
        .order_by("line_number")
    )
    discrepancies: list[Discrepancy] = []
    breakdown: list[tuple[str, Decimal]] = []
    if invoice.latest_match_id is not None:
        discrepancies = sorted(
            Discrepancy.objects.for_tenant(tenant).filter(match_result_id=invoice.latest_match_id),
            key=lambda d: (_SEVERITY_RANK.get(d.severity, 9), d.invoice_line_number or 0, d.type),
        )
        breakdown = [(name, Decimal(value)) for name, value in invoice.latest_match.breakdown.items()]
    po_line_ids = [line.matched_po_line_id for line in lines if line.matched_po_line_id]
    received = received_by_po_line(tenant=tenant, po_line_ids=po_line_ids)
    by_hand = lines_assigned_by_hand(tenant=tenant, invoice_id=invoice.pk)
    rows = []
    for line in lines:
        rows.append(
            ComparisonRow(
                invoice_line=line,
                po_line=line.matched_po_line,
                received_quantity=received.get(line.matched_po_line_id, Decimal(0))
                if line.matched_po_line_id
                else None,
                discrepancies=[d for d in discrepancies if d.invoice_line_number == line.line_number],
                assigned_by_hand=(
                    f"assigned by {choice.chosen_by_label} on {choice.created_at.date().isoformat()}"
                    if (choice := by_hand.get(line.pk)) is not None and choice.po_line_id == line.matched_po_line_id
                    else ""
                ),
            )
        )
    receipts: list[GoodsReceipt] = []
    if invoice.purchase_order_id is not None:
        receipts = list(
            GoodsReceipt.objects.for_tenant(tenant)
            .filter(purchase_order_id=invoice.purchase_order_id)
            .order_by("received_date")
        )
    return InvoiceDetail(
        invoice=invoice,
        rows=rows,
        discrepancies=discrepancies,
        breakdown=breakdown,
        timeline=invoice_timeline(tenant=tenant, invoice=invoice),
        receipts=receipts,
        still_owed=_still_owed(tenant, invoice),
    )


def _still_owed(tenant: Tenant, invoice: Invoice) -> int | None:
    """The open balance payments work on (a partial credit note or payment taken off), when it is
    not simply the amount due: the reviewer approving a partly credited invoice sees what is left."""
    if invoice.document_type != DocumentType.INVOICE or invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return None
    owed = open_balances(tenant=tenant, invoices=[invoice])[invoice.pk]
    return owed if owed != invoice.amount_due else None
