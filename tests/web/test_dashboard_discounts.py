"""The dashboard's cash forecast names the discounts still to take and what payment runs pay."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from invoices.models import InvoiceStatus
from tests.factories import InvoiceFactory
from tests.web.conftest import Scenario


def test_the_forecast_lists_the_discounts_still_open_by_the_week_of_their_deadline(
    clerk: Client, scenario: Scenario, foreign_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("recon_site.dashboard.timezone.localdate", lambda: dt.date(2026, 11, 18))  # ISO week 47
    # 2/10 net 30 on 1,500.00: 30.00 saved if paid by Friday 27 November (2026-W48).
    InvoiceFactory(
        tenant=scenario.tenant,
        vendor=scenario.original.vendor,
        invoice_number="INV-DISC-1",
        invoice_date=dt.date(2026, 11, 17),
        due_date=dt.date(2026, 12, 17),
        total_amount=1500_00,
        subtotal_amount=1500_00,
        discount_amount=30_00,
        discount_due_date=dt.date(2026, 11, 27),
        status=InvoiceStatus.APPROVED,
    )
    response = clerk.get("/")
    html = response.content.decode()

    [eur] = response.context["summary"].cash_forecast
    assert [(row.label, row.amount_minor, row.invoices) for row in eur.discounts] == [("2026-W48 · 23 Nov", 30_00, 1)]
    assert eur.discounts_minor == 30_00
    assert 'data-testid="cash-discounts-EUR"' in html
    assert "Discounts available" in html and "Mon 23 Nov – Sun 29 Nov" in html and "30.00" in html
