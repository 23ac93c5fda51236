"""Database set-up for the matching-run tests, through the real services (the same doors the API
and the importers use), with values written out by hand in the tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from audit.models import AuditEvent, OutboxMessage
from core.money import from_minor, round_to_minor
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice
from invoices.services import invoice_create
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_run_for_tenant
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.models import GoodsReceipt, PurchaseOrder
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import Tenant, TenantSettings
from tests.factories import TEST_ACTOR, Line
from vendors.models import Vendor
from vendors.services import vendor_create

DAY = dt.date(2026, 10, 10)


def make_vendor(tenant: Tenant, name: str, tax_id: str = "", currency: str = "EUR") -> Vendor:
    return vendor_create(tenant=tenant, name=name, tax_id=tax_id, currency=currency, actor=TEST_ACTOR)


def make_purchase_order(
    tenant: Tenant, *, vendor: Vendor, po_number: str, lines: Sequence[Line], currency: str = "EUR"
) -> PurchaseOrder:
    """A PO whose lines are numbered 1, 2, … in the order given."""
    return purchase_order_create(
        tenant=tenant,
        document=PurchaseOrderDocument(
            po_number=po_number,
            vendor_id=vendor.pk,
            currency=currency,
            order_date=DAY - dt.timedelta(days=20),
            lines=[
                PurchaseOrderLineDocument(
                    line_number=number,
                    sku=line.sku,
                    description=line.description,
                    quantity=Decimal(line.quantity),
                    unit_price=Decimal(line.price),
                )
                for number, line in enumerate(lines, start=1)
            ],
        ),
        actor=TEST_ACTOR,
    )


def receive(tenant: Tenant, *, po_number: str, receipt_number: str, quantities: dict[int, str]) -> GoodsReceipt:
    """A goods receipt: `{po line number: quantity received}`."""
    return goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocument(
            receipt_number=receipt_number,
            po_number=po_number,
            received_date=DAY - dt.timedelta(days=5),
            lines=[
                GoodsReceiptLineDocument(po_line_number=number, quantity=Decimal(quantity))
                for number, quantity in quantities.items()
            ],
        ),
        actor=TEST_ACTOR,
    )


def make_invoice(
    tenant: Tenant,
    *,
    number: str,
    lines: Sequence[Line],
    vendor: Vendor | None = None,
    vendor_name: str = "",
    po_number: str = "",
    currency: str = "EUR",
    tax: str = "0",
    tax_rate: str | None = None,
    total: str | None = None,
    date: dt.date = DAY,
) -> Invoice:
    """An invoice through `invoice_create`; the total defaults to lines + tax, as a vendor states it."""
    if total is None:
        lines_minor = sum(round_to_minor(Decimal(line.quantity) * Decimal(line.price), currency) for line in lines)
        total = str(from_minor(lines_minor, currency) + Decimal(tax))
    return invoice_create(
        tenant=tenant,
        document=InvoiceDocument(
            invoice_number=number,
            currency=currency,
            invoice_date=date,
            total_amount=Decimal(total),
            tax_amount=Decimal(tax),
            tax_rate=Decimal(tax_rate) if tax_rate is not None else None,
            vendor_id=vendor.pk if vendor is not None else None,
            vendor_name=vendor_name,
            po_number=po_number,
            lines=[
                InvoiceLineDocument(
                    description=line.description,
                    quantity=Decimal(line.quantity),
                    unit_price=Decimal(line.price),
                    sku=line.sku,
                )
                for line in lines
            ],
        ),
        actor=TEST_ACTOR,
    )


def run_matching(tenant: Tenant) -> MatchRun:
    return matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=TEST_ACTOR)


def set_tenant_settings(tenant: Tenant, **fields: Any) -> None:
    TenantSettings.objects.filter(tenant=tenant).update(**fields)


def reload(invoice: Invoice) -> Invoice:
    return Invoice.objects.for_tenant(invoice.tenant_id).get(pk=invoice.pk)


def results_of(invoice: Invoice) -> list[MatchResult]:
    """The invoice's results, oldest first."""
    return list(MatchResult.objects.for_tenant(invoice.tenant_id).filter(invoice=invoice).order_by("created_at"))


def found(result: MatchResult) -> list[tuple[str, str]]:
    """(type, severity) of a result's discrepancies, sorted."""
    return sorted(
        Discrepancy.objects.for_tenant(result.tenant_id).filter(match_result=result).values_list("type", "severity")
    )


def transitions_of(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .order_by("sequence")
    )


def discrepancy_messages(tenant: Tenant) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.for_tenant(tenant)
        .filter(payload__event_type="invoice.discrepancy.detected")
        .order_by("created_at")
    )
