"""The admin of history and bank rows (matching runs, results, discrepancies; payments): every
tenant's rows listed and searchable, each page renders, nothing can be added, changed or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import reverse

from matching.models import Discrepancy, MatchResult, MatchRun
from payments.models import Payment
from tenants.models import Tenant
from tests.factories import BOLTS, InvoiceFactory, PaymentFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import run_matching


def _history_for(tenant: Tenant, token: str) -> dict[str, models.Model]:
    vendor = VendorFactory(tenant=tenant, name=f"{token} Supplies", tax_id=f"{token}TAX")
    PurchaseOrderFactory(vendor=vendor, po_number=f"{token}-PO", lines=[BOLTS])
    # Nothing received: receipt_missing, so the result has a discrepancy.
    invoice = InvoiceFactory(vendor=vendor, invoice_number=f"{token}-INV", po_number=f"{token}-PO", lines=[BOLTS])
    run = run_matching(tenant)
    result = MatchResult.objects.for_tenant(tenant).get(invoice=invoice)
    return {
        "run": run,
        "result": result,
        "discrepancy": Discrepancy.objects.for_tenant(tenant).filter(match_result=result).first(),
        "payment": PaymentFactory(tenant=tenant, counterparty_name=f"{token} Supplies", remittance_text=f"{token}-INV"),
    }


CASES: dict[str, tuple[type[models.Model], str | None]] = {
    "run": (MatchRun, None),
    "result": (MatchResult, "-INV"),
    "discrepancy": (Discrepancy, "-INV"),
    "payment": (Payment, " Supplies"),
}


def admin_url(model: type[models.Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("case", CASES)
def test_history_rows_are_listed_searchable_and_read_only(
    admin_client: Client, tenant: Tenant, other_tenant: Tenant, case: str, settings: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    ours, theirs = _history_for(tenant, "ACME"), _history_for(other_tenant, "GLOBEX")
    model, search_suffix = CASES[case]
    response = admin_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    listed = {row.pk for row in response.context["cl"].result_list}
    assert {ours[case].pk, theirs[case].pk} <= listed
    if search_suffix is not None:
        response = admin_client.get(admin_url(model, "changelist"), {"q": f"GLOBEX{search_suffix}"})
        assert {row.pk for row in response.context["cl"].result_list} == {theirs[case].pk}

    assert admin_client.get(admin_url(model, "change", theirs[case].pk)).status_code == 200
    assert admin_client.get(admin_url(model, "add")).status_code == 403
    assert admin_client.post(admin_url(model, "change", theirs[case].pk), {}).status_code == 403
    assert admin_client.post(admin_url(model, "delete", theirs[case].pk), {"post": "yes"}).status_code == 403
    assert model.objects.unscoped().filter(pk=theirs[case].pk).exists()


def test_payment_pages_never_show_account_numbers(admin_client: Client, tenant: Tenant) -> None:
    payment = PaymentFactory(tenant=tenant)
    page = admin_client.get(admin_url(Payment, "change", payment.pk)).content.decode()
    assert "DE89370400440532013000" not in page and "NL91ABNA0417164300" not in page
    assert payment.counterparty_account_encrypted not in page
