"""`GET /api/cash/vendors` and `GET /api/cash/forecast`: from reconciled history, one tenant only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.actors import system_actor
from invoices.models import Invoice, InvoiceStatus
from payments.reconciliation.services import reconciliation_run_for_tenant
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, PaymentFactory, VendorFactory
from vendors.models import Vendor

TODAY = dt.date(2026, 11, 18)  # a Wednesday of ISO week 2026-W47


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("payments.apis.timezone.localdate", lambda: TODAY)


def approved(tenant: Tenant, vendor: Vendor, number: str, total: int, **dates: Any) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number=number,
        total_amount=total,
        subtotal_amount=total,
        status=InvoiceStatus.APPROVED,
        **dates,
    )


def history(tenant: Tenant, name: str) -> Vendor:
    """A vendor paid 35 days after the invoice date, 5 days after the due date, and one open invoice."""
    vendor = VendorFactory(tenant=tenant, name=name)
    approved(tenant, vendor, "INV-9001", 1000_00, invoice_date=dt.date(2026, 9, 1), due_date=dt.date(2026, 10, 1))
    PaymentFactory(
        tenant=tenant,
        amount=1000_00,
        booking_date=dt.date(2026, 10, 6),
        remittance_text="INV-9001",
        counterparty_name=name,
    )
    report = reconciliation_run_for_tenant(tenant=tenant, actor=system_actor("test"))
    assert report.invoices_reconciled == 1
    # Due Friday 20 Nov + 5 days late = Wednesday 25 Nov: ISO week 2026-W48.
    approved(tenant, vendor, "INV-9002", 500_00, invoice_date=dt.date(2026, 10, 21), due_date=dt.date(2026, 11, 20))
    return vendor


def test_vendors_reports_days_to_pay_from_reconciled_history(api: APIClient, tenant: Tenant) -> None:
    vendor = history(tenant, "Acme Supplies Ltd")

    response = api.get("/api/cash/vendors")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "vendor_id": str(vendor.pk),
            "vendor_name": "Acme Supplies Ltd",
            "invoices_paid": 1,
            "average_days_to_pay": "35.0",
            "p90_days_to_pay": 35,
            "average_days_late": "5.0",
            "invoices_with_due_date": 1,
        }
    ]


def test_vendors_response_is_the_shape_the_schema_documents(api: APIClient, tenant: Tenant) -> None:
    """The schema said a bare array while the endpoint answers `{"results": [...]}` (found by the fuzzer)."""
    history(tenant, "Acme Supplies Ltd")
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    documented = schema["paths"]["/api/cash/vendors"]["get"]["responses"]["200"]["content"]["application/json"]
    validator = jsonschema.Draft202012Validator({**documented["schema"], "components": schema["components"]})

    body = api.get("/api/cash/vendors").json()

    assert len(body["results"]) == 1
    assert list(validator.iter_errors(body)) == []


def test_forecast_puts_the_open_balance_in_the_week_the_vendor_will_really_be_paid(
    api: APIClient, tenant: Tenant
) -> None:
    history(tenant, "Acme Supplies Ltd")

    response = api.get("/api/cash/forecast?weeks=3")

    assert response.status_code == 200
    body = response.json()
    assert body["weeks"] == 3
    assert body["from"] == "2026-11-16"
    [eur] = body["currencies"]
    assert eur["currency"] == "EUR"
    assert eur["total"] == "500.00"
    nothing_else = {"scheduled": "0.00", "discounts_available": "0.00", "discount_invoices": 0}
    assert eur["weeks"] == [
        {"week": "2026-W47", "week_start": "2026-11-16", "amount": "0.00", "invoices": 0, **nothing_else},
        {"week": "2026-W48", "week_start": "2026-11-23", "amount": "500.00", "invoices": 1, **nothing_else},
        {"week": "2026-W49", "week_start": "2026-11-30", "amount": "0.00", "invoices": 0, **nothing_else},
    ]


@pytest.mark.parametrize("weeks", ["0", "53", "twelve"])
def test_forecast_refuses_a_horizon_outside_1_to_52_weeks(api: APIClient, weeks: str) -> None:
    response = api.get(f"/api/cash/forecast?weeks={weeks}")

    assert response.status_code == 400
    assert "weeks" in response.json()["error"]["details"]


def test_cash_figures_never_include_another_tenants_invoices(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    history(tenant, "Acme Supplies Ltd")

    assert foreign_api.get("/api/cash/vendors").json()["results"] == []
    assert foreign_api.get("/api/cash/forecast").json()["currencies"] == []
    assert len(api.get("/api/cash/vendors").json()["results"]) == 1


def test_cash_needs_an_api_key() -> None:
    assert APIClient().get("/api/cash/vendors").status_code == 401
    assert APIClient().get("/api/cash/forecast").status_code == 401


def test_an_invoice_dated_at_the_end_of_the_calendar_does_not_break_the_forecast_or_the_dashboard(
    api: APIClient, tenant: Tenant
) -> None:
    """Approved, dated 9999-12-20, no due date: + 30 days overflowed, and every user of the tenant got a 500.

    Written directly (the door now refuses such a date): rows stored before that bound exist.
    """
    vendor = VendorFactory(tenant=tenant, name="Far Future Ltd")
    approved(tenant, vendor, "INV-9999", 700_00, invoice_date=dt.date(9999, 12, 20), due_date=None)
    approved(tenant, vendor, "INV-9998", 300_00, invoice_date=dt.date(9999, 12, 30), due_date=dt.date(9999, 12, 31))
    approved(tenant, vendor, "INV-0001", 200_00, invoice_date=dt.date(2026, 11, 1), due_date=dt.date(2026, 11, 20))

    response = api.get("/api/cash/forecast?weeks=52")

    assert response.status_code == 200, response.content
    [eur] = response.json()["currencies"]
    assert eur["total"] == "200.00"  # the far-future balances are past any horizon

    clerk = Client()
    clerk.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    dashboard = clerk.get("/")
    assert dashboard.status_code == 200
    assert 'data-testid="cash-forecast-EUR"' in dashboard.content.decode()
