"""Per PO line: ordered, received and billed, as the purchase order page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from invoices.billing import NOT_BILLING
from invoices.models import InvoiceLine
from purchasing.models import GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant


@dataclass(frozen=True)
class PurchaseOrderLineTotals:
    line: PurchaseOrderLine
    ordered: Decimal
    received: Decimal
    billed: Decimal

    @property
    def over_billed(self) -> bool:
        return self.billed > self.ordered or self.billed > self.received


def purchase_order_line_totals(*, tenant: Tenant, purchase_order: PurchaseOrder) -> list[PurchaseOrderLineTotals]:
    lines = list(PurchaseOrderLine.objects.for_tenant(tenant).filter(purchase_order=purchase_order))
    ids = [line.pk for line in lines]
    received = dict(
        GoodsReceiptLine.objects.for_tenant(tenant)
        .filter(purchase_order_line_id__in=ids)
        .values_list("purchase_order_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    billed = dict(
        InvoiceLine.objects.for_tenant(tenant)
        .filter(matched_po_line_id__in=ids)
        .exclude(invoice__status__in=NOT_BILLING)
        .values_list("matched_po_line_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return [
        PurchaseOrderLineTotals(
            line=line,
            ordered=line.quantity,
            received=received.get(line.pk, Decimal(0)),
            billed=billed.get(line.pk, Decimal(0)),
        )
        for line in sorted(lines, key=lambda line: line.line_number)
    ]
