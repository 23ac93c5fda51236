"""Payments and the cash forecast work on the amount due (DESIGN.md §4), matching on the total.

Amount due = total − prepaid (EN 16931 BT-113 / BT-115); the open balance then subtracts what live
credit notes take off and what was paid. The e-invoice ubl-tc434-example2.xml bills 1801.78 NOK of
which 1000.00 was prepaid: paying its PayableAmount, 801.78, settles it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from rest_framework.test import APIClient

from core.actors import system_actor
from invoices.lifecycle import invoice_transition
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.reconciliation.loading import open_balances
from payments.reconciliation.services import reconciliation_run_for_tenant
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PaymentAllocationFactory, PaymentFactory, VendorFactory

UBL = Path(__file__).resolve().parents[1] / "invoices" / "testdata" / "ubl"
SYSTEM = system_actor("test")


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def approve(invoice: Invoice) -> Invoice:
    return invoice_transition(
        tenant=invoice.tenant, invoice=invoice, to_status=InvoiceStatus.APPROVED, actor=SYSTEM, reason="approved"
    )


def balance(invoice: Invoice) -> int:
    fresh = Invoice.objects.for_tenant(invoice.tenant_id).get(pk=invoice.pk)
    return open_balances(tenant=invoice.tenant, invoices=[fresh])[invoice.pk]


def forecast_nok(api: APIClient) -> list[dict[str, Any]]:
    response = api.get("/api/cash/forecast?weeks=4")
    assert response.status_code == 200, response.content
    return [currency for currency in response.json()["currencies"] if currency["currency"] == "NOK"]


def test_paying_the_amount_due_of_a_prepaid_invoice_reconciles_it_and_nothing_is_owed(
    api: APIClient, tenant: Tenant
) -> None:
    VendorFactory(tenant=tenant, name="Salescompany ltd.", tax_id="NO123456789MVA")
    response = api.generic(
        "POST",
        "/api/invoices/import/xml",
        (UBL / "ubl-tc434-example2.xml").read_bytes(),
        content_type="application/xml",
    )
    assert response.status_code == 201, response.content
    invoice = approve(Invoice.objects.for_tenant(tenant).get(pk=response.json()["id"]))
    assert balance(invoice) == 801_78
    # Overdue since 2013: all of what is due, and only that, is expected this week.
    [nok] = forecast_nok(api)
    assert nok["total"] == "801.78"

    PaymentFactory(
        tenant=tenant,
        amount=801_78,
        currency="NOK",
        counterparty_name="Salescompany ltd.",
        remittance_text="Invoice TOSL108",
    )
    report = reconciliation_run_for_tenant(tenant=tenant, actor=SYSTEM)

    assert report.invoices_reconciled == 1
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status == InvoiceStatus.RECONCILED
    assert balance(invoice) == 0
    assert forecast_nok(api) == []
    # Matching still saw the whole bill: the stored total is the document's 1801.78.
    assert api.get(f"/api/invoices/{invoice.pk}").json()["total_amount"] == "1801.78"


def test_the_open_balance_is_the_amount_due_less_credit_notes_and_payments(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    invoice = approve(
        InvoiceFactory(
            tenant=tenant,
            vendor=vendor,
            invoice_number="INV-77",
            total_amount=1000_00,
            subtotal_amount=1000_00,
            prepaid_amount=200_00,
        )
    )
    assert balance(invoice) == 800_00
    # A partial credit note takes off what it still credits (its own amount due).
    InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number="CN-77",
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice=invoice,
        credited_invoice_number="INV-77",
        total_amount=300_00,
        subtotal_amount=300_00,
    )
    assert balance(invoice) == 500_00

    PaymentFactory(tenant=tenant, amount=500_00, counterparty_name="Acme Supplies Ltd", remittance_text="INV-77")
    assert reconciliation_run_for_tenant(tenant=tenant, actor=SYSTEM).invoices_reconciled == 1
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status == InvoiceStatus.RECONCILED


def test_the_database_refuses_an_allocation_of_the_prepaid_part(tenant: Tenant) -> None:
    """The allocation trigger, the second line, caps allocations at the amount due as the services do."""
    invoice = approve(
        InvoiceFactory(tenant=tenant, total_amount=1000_00, subtotal_amount=1000_00, prepaid_amount=400_00)
    )
    payment = PaymentFactory(tenant=tenant, amount=1000_00)
    with pytest.raises(IntegrityError, match="exceed its open amount"), transaction.atomic():
        PaymentAllocationFactory(payment=payment, invoice=invoice, amount=600_01)
    PaymentAllocationFactory(payment=payment, invoice=invoice, amount=600_00)
