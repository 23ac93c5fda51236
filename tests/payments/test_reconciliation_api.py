"""The reconciliation endpoints: reconcile, allocate, accept-suggestion, allocations and reverse."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from invoices.models import Invoice, InvoiceStatus
from payments.models import PaymentAllocation, PaymentStatus
from payments.reconciliation.writing import EXCEEDS_INVOICE
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PaymentFactory, VendorFactory


def approved(tenant: Tenant, number: str, total: int, vendor_name: str = "Acme Supplies Ltd") -> Invoice:
    vendor = VendorFactory(tenant=tenant, name=vendor_name)
    return InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number=number,
        total_amount=total,
        subtotal_amount=total,
        status=InvoiceStatus.APPROVED,
    )


def reload(row: Any) -> Any:
    return type(row).objects.for_tenant(row.tenant_id).get(pk=row.pk)


def test_reconcile_touches_only_the_callers_tenant(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    mine = approved(tenant, "INV-1001", 250_00)
    theirs = approved(other_tenant, "INV-1001", 250_00)
    my_payment = PaymentFactory(tenant=tenant, amount=250_00, remittance_text="INV 1001")
    their_payment = PaymentFactory(tenant=other_tenant, amount=250_00, remittance_text="INV 1001")

    response = api.post("/api/payments/reconcile")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["payments_matched"], body["invoices_reconciled"]) == ("finished", 1, 1)
    assert (reload(mine).status, reload(my_payment).status) == (InvoiceStatus.RECONCILED, PaymentStatus.MATCHED)
    assert (reload(theirs).status, reload(their_payment).status) == (InvoiceStatus.APPROVED, PaymentStatus.UNMATCHED)
    assert foreign_api.post("/api/payments/reconcile").json()["payments_matched"] == 1


def test_allocate_splits_a_payment_and_reverse_undoes_one_part(api: APIClient, tenant: Tenant) -> None:
    first, second = approved(tenant, "INV-2001", 100_00), approved(tenant, "INV-2002", 80_00, "Other Ltd")
    payment = PaymentFactory(tenant=tenant, amount=150_00)

    response = api.post(
        f"/api/payments/{payment.pk}/allocate",
        {
            "allocations": [
                {"invoice_id": str(first.pk), "amount": "100.00"},
                {"invoice_id": str(second.pk), "amount": "50"},
            ],
            "note": "per phone call",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    allocations = response.json()
    assert sorted(item["amount"] for item in allocations) == ["100.00", "50.00"]
    assert {item["explanation"] for item in allocations} == {"per phone call"}
    assert reload(payment).status == PaymentStatus.MATCHED
    assert (reload(first).status, reload(second).status) == (InvoiceStatus.RECONCILED, InvoiceStatus.PARTIALLY_PAID)

    listed = api.get("/api/payment-allocations").json()["results"]
    assert {item["id"] for item in listed} == {item["id"] for item in allocations}

    part = next(item for item in allocations if item["invoice_id"] == str(first.pk))
    reversed_response = api.post(f"/api/payment-allocations/{part['id']}/reverse", {"reason": "typo"}, format="json")
    assert reversed_response.status_code == 201, reversed_response.content
    [reversal] = reversed_response.json()
    assert (reversal["reversal_of_id"], reversal["amount"], reversal["explanation"]) == (part["id"], "100.00", "typo")
    assert reload(first).status == InvoiceStatus.APPROVED
    assert reload(payment).status == PaymentStatus.PARTIALLY_MATCHED

    again = api.post(f"/api/payment-allocations/{part['id']}/reverse", {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "allocation_conflict"


def test_allocate_refuses_more_than_the_open_balance_with_the_envelope(api: APIClient, tenant: Tenant) -> None:
    invoice = approved(tenant, "INV-3001", 100_00)
    payment = PaymentFactory(tenant=tenant, amount=500_00)
    response = api.post(
        f"/api/payments/{payment.pk}/allocate",
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": "100.01"}]},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == EXCEEDS_INVOICE.format(
        amount="100.01 EUR", number="INV-3001", balance="100.00 EUR"
    )
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()


def test_allocate_to_another_tenants_invoice_is_a_404(api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = approved(other_tenant, "INV-4001", 100_00)
    payment = PaymentFactory(tenant=tenant, amount=100_00)
    response = api.post(
        f"/api/payments/{payment.pk}/allocate",
        {"allocations": [{"invoice_id": str(theirs.pk), "amount": "100.00"}]},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert reload(theirs).status == InvoiceStatus.APPROVED


def test_allocate_with_excess_precision_is_a_400(api: APIClient, tenant: Tenant) -> None:
    invoice = approved(tenant, "INV-5001", 100_00)
    payment = PaymentFactory(tenant=tenant, amount=100_00)
    response = api.post(
        f"/api/payments/{payment.pk}/allocate",
        {"allocations": [{"invoice_id": str(invoice.pk), "amount": "10.001"}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_accept_suggestion(api: APIClient, tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Landlord Ltd")
    months = [
        InvoiceFactory(
            tenant=tenant,
            vendor=vendor,
            invoice_number=f"RENT-{month}",
            total_amount=900_00,
            subtotal_amount=900_00,
            status=InvoiceStatus.APPROVED,
        )
        for month in (1, 2)
    ]
    payment = PaymentFactory(tenant=tenant, amount=900_00, counterparty_name="Landlord", remittance_text="rent")
    assert api.post(f"/api/payments/{payment.pk}/accept-suggestion").status_code == 409  # nothing suggested yet
    assert api.post("/api/payments/reconcile").json()["payments_suggested"] == 1
    shown = api.get(f"/api/payments/{payment.pk}").json()
    assert (shown["status"], shown["suggestion"]["tier"]) == ("suggested", 2)
    assert set(shown["suggestion"]["candidate_invoice_ids"]) == {str(month.pk) for month in months}
    response = api.post(f"/api/payments/{payment.pk}/accept-suggestion")
    assert response.status_code == 201, response.content
    [allocation] = response.json()
    assert allocation["invoice_id"] in {str(month.pk) for month in months}
    assert allocation["tier"] == 2
    assert reload(payment).status == PaymentStatus.MATCHED
    assert api.get(f"/api/payments/{payment.pk}").json()["suggestion"] is None
