"""What the matching-run tests share: the Acme vendor, a run as the command starts it, and readers
of what a run wrote (results, discrepancies, transitions, outbox messages, matched PO lines)."""

from __future__ import annotations

import uuid
from typing import Any

from audit.models import AuditEvent, OutboxMessage
from invoices.models import Invoice, InvoiceLine, InvoiceStatus
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.services import matching_run_for_tenant
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant, TenantSettings
from tests.factories import TEST_ACTOR, VendorFactory
from vendors.models import Vendor


def acme_vendor(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Acme Supplies Ltd", tax_id="DE123456789")


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
        .order_by("xid", "append_seq")
    )


def discrepancy_messages(tenant: Tenant) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.for_tenant(tenant)
        .filter(payload__event_type="invoice.discrepancy.detected")
        .order_by("created_at")
    )


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
