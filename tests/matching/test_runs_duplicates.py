"""Duplicates across channels through the database (issue #20 item 4): the same bill sent by CSV,
as a UBL e-invoice and by a Xero webhook — once with its number read as the e-invoice states it,
once misread by a scanner (`NF-1O288`) — ends as one invoice that bills; the copy is rejected (or
asked about, when its total differs), and each finding keeps the earlier invoice it names, whose
channel its message gives. The senders are the ingest endpoints' own (tests/invoices/test_one_door.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rest_framework.test import APIClient

from core.actors import system_actor
from invoices.models import Invoice, InvoiceSource, InvoiceStatus
from matching.models import Discrepancy, MatchRun
from matching.services import matching_run_for_tenant
from tenants.models import Tenant
from tests.factories import InvoiceFactory, VendorFactory
from tests.invoices import test_one_door as one_door
from vendors.models import Vendor

pytestmark = pytest.mark.django_db


@pytest.fixture
def nordic(tenant: Tenant, settings: Any) -> Vendor:
    settings.MATCH_ON_INGEST = False
    return VendorFactory(tenant=tenant, name=one_door.VENDOR_NAME, tax_id=one_door.VAT_ID)


def run(tenant: Tenant) -> None:
    matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor("test"))


def send(sender: Any, api: APIClient, tenant: Tenant, number: str, monkeypatch: pytest.MonkeyPatch, **bill: Any) -> Any:
    """One channel's delivery of the bill under `number` (as its sender writes it)."""
    monkeypatch.setattr(one_door, "NUMBER", number)
    response = sender(api, tenant, **bill)
    assert response.status_code in (200, 201), response.content
    return response


def findings(tenant: Tenant) -> list[Discrepancy]:
    return list(
        Discrepancy.objects.for_tenant(tenant)
        .filter(type__in=("duplicate_invoice", "possible_duplicate"))
        .select_related("invoice", "related_invoice")
    )


def test_one_bill_by_csv_ubl_and_a_misread_webhook_is_one_invoice(
    api: APIClient, tenant: Tenant, nordic: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(one_door.csv_file, api, tenant, "NF-10288", monkeypatch)
    run(tenant)
    [original] = Invoice.objects.for_tenant(tenant)
    # The e-invoice writes the number with a space: the same number, the same content — a re-send.
    send(one_door.ubl_e_invoice, api, tenant, "NF 10288", monkeypatch)
    assert Invoice.objects.for_tenant(tenant).count() == 1
    # The accounting system's clerk keyed it from a scan: O for 0. Another number, so it is stored.
    send(one_door.xero_webhook, api, tenant, "NF-1O288", monkeypatch)
    copy = Invoice.objects.for_tenant(tenant).exclude(pk=original.pk).get()
    run(tenant)

    [finding] = findings(tenant)
    assert (finding.invoice_id, finding.type, finding.severity) == (copy.pk, "duplicate_invoice", "critical")
    assert finding.related_invoice_id == original.pk
    received = original.created_at.date()
    assert finding.message == (
        f"NF-1O288 (this) and NF-10288 (received {received.day} {received:%b} {received.year} by CSV import) "
        "read the same once O/0 is allowed for; same total 250.63 EUR and same date 2026-10-16: "
        "this looks like the same invoice again."
    )
    copy.refresh_from_db()
    assert copy.status == InvoiceStatus.REJECTED and copy.source == InvoiceSource.WEBHOOK
    billing = Invoice.objects.for_tenant(tenant).exclude(status=InvoiceStatus.REJECTED)
    assert list(billing.values_list("pk", flat=True)) == [original.pk]
    # API clients see which invoice it repeats.
    listed = api.get("/api/discrepancies").json()["results"]
    related = {item["type"]: item["related_invoice_id"] for item in listed if item["invoice_id"] == str(copy.pk)}
    assert related["duplicate_invoice"] == str(original.pk)
    assert related["po_not_found"] is None  # the bill's PO is not in this tenant: no other invoice to name


def test_a_misread_number_with_another_total_is_asked_about_not_rejected(
    api: APIClient, tenant: Tenant, nordic: Vendor, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(one_door.ubl_e_invoice, api, tenant, "NF-10288", monkeypatch)
    run(tenant)
    send(one_door.xero_webhook, api, tenant, "NF-1O288", monkeypatch, bill=one_door.CHANGED)
    run(tenant)

    [finding] = findings(tenant)
    assert (finding.type, finding.severity, finding.related_invoice.source) == (
        "possible_duplicate",
        "high",
        InvoiceSource.XML,
    )
    assert "but the total differs (237.50 EUR here, 250.63 EUR there)" in finding.message
    assert finding.invoice.status == InvoiceStatus.PENDING_REVIEW


@pytest.mark.parametrize(("days", "flagged"), [(25, True), (40, False)])
def test_a_number_one_edit_away_at_the_same_total(tenant: Tenant, settings: Any, days: int, flagged: bool) -> None:
    """Found by the loader among the vendor's invoices of the same total (no query per invoice)."""
    settings.MATCH_ON_INGEST = False
    vendor = VendorFactory(tenant=tenant)
    earlier = InvoiceFactory(vendor=vendor, invoice_number="INV-7790", total_amount=124000, po_number="")
    run(tenant)
    InvoiceFactory(
        vendor=vendor,
        invoice_number="INV-7709",
        total_amount=124000,
        po_number="",
        invoice_date=earlier.invoice_date + dt.timedelta(days=days),
    )
    run(tenant)
    found = [(f.type, f.related_invoice_id) for f in findings(tenant)]
    assert found == ([("possible_duplicate", earlier.pk)] if flagged else [])


def test_different_invoices_one_digit_apart_are_left_alone(tenant: Tenant, settings: Any) -> None:
    settings.MATCH_ON_INGEST = False
    vendor = VendorFactory(tenant=tenant)
    InvoiceFactory(vendor=vendor, invoice_number="INV-1001", total_amount=98000, po_number="")
    InvoiceFactory(vendor=vendor, invoice_number="INV-1011", total_amount=124000, po_number="")
    run(tenant)
    assert findings(tenant) == []


def test_another_tenants_lookalike_is_never_compared(tenant: Tenant, other_tenant: Tenant, settings: Any) -> None:
    settings.MATCH_ON_INGEST = False
    foreign = VendorFactory(tenant=other_tenant, tax_id="SE1")
    InvoiceFactory(vendor=foreign, invoice_number="INV-7790", total_amount=124000, po_number="")
    run(other_tenant)
    InvoiceFactory(vendor=VendorFactory(tenant=tenant, tax_id="SE1"), invoice_number="lNV-779O", total_amount=124000)
    run(tenant)
    assert findings(tenant) == []
