"""What the matching-run tests (test_runs_*.py) share: the Acme vendor, a PO received in full,
and readers of what a run wrote on invoice lines and PO lines."""

from __future__ import annotations

import uuid

from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.factories import Line
from tests.matching.db_builders import make_purchase_order, make_vendor, receive, reload, results_of, transitions_of
from vendors.models import Vendor


def acme_vendor(tenant: Tenant) -> Vendor:
    return make_vendor(tenant, "Acme Supplies Ltd", tax_id="DE123456789")


def received_po(tenant: Tenant, vendor: Vendor, po_number: str, *lines: Line, currency: str = "EUR") -> PurchaseOrder:
    """A PO whose lines have all arrived, in one receipt."""
    purchase_order = make_purchase_order(tenant, vendor=vendor, po_number=po_number, lines=lines, currency=currency)
    receive(
        tenant,
        po_number=po_number,
        receipt_number=f"GR-{po_number}",
        quantities={number: line.quantity for number, line in enumerate(lines, start=1)},
    )
    return purchase_order


def po_line(purchase_order: PurchaseOrder, number: int) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.for_tenant(purchase_order.tenant_id).get(
        purchase_order=purchase_order, line_number=number
    )


def matched_po_lines(invoice: Invoice) -> list[uuid.UUID | None]:
    return list(
        InvoiceLine.objects.for_tenant(invoice.tenant_id)
        .filter(invoice=invoice)
        .order_by("line_number")
        .values_list("matched_po_line_id", flat=True)
    )


def assert_left_alone(invoice: Invoice, status: str = InvoiceStatus.RECEIVED) -> None:
    assert reload(invoice).status == status
    assert results_of(invoice) == []
    assert all(event.actor_id != "matching" for event in transitions_of(invoice))
