"""The dashboard's numbers: states, queues, discrepancies, auto-approval, money, runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from invoices.models import InvoiceStatus
from matching.models import MatchRun
from tests.factories import InvoiceFactory, MatchRunFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def test_dashboard_counts_and_money(clerk: Client, scenario: Scenario, foreign_scenario: Scenario) -> None:
    html = clerk.get("/").content.decode()
    summary = clerk.get("/").context["summary"]
    counts = dict(summary.by_status)
    assert (counts["pending_review"], counts["approved"], counts["received"]) == (2, 1, 0)
    assert [(q.queue, q.count) for q in summary.queues] == [("standard", 1), ("escalated", 1)]
    # 1,075.00 (price mismatch) + 1,045.00 (duplicate), exact, per currency; none of the other tenant's.
    assert [(m.currency, m.total_minor, m.count) for m in summary.money_awaiting] == [("EUR", 212000, 2)]
    assert "2,120.00" in html
    # One of three matched invoices was approved by the engine.
    assert (summary.auto_approved, summary.auto_decided) == (1, 3)
    assert "33.3 %" in html
    assert dict(summary.discrepancies_by_type)["price_mismatch"] == 1
    assert dict(summary.discrepancies_by_type)["possible_duplicate"] == 1
    # The charts are server-drawn SVG.
    assert html.count("<svg") >= 2 and "Discrepancies by type" in html


def test_dashboard_lists_runs_with_their_failures(clerk: Client, scenario: Scenario) -> None:
    MatchRunFactory(
        tenant=scenario.tenant,
        trigger=MatchRun.Trigger.API,
        status=MatchRun.Status.FINISHED,
        invoices_matched=4,
        invoices_failed=1,
        failures=[{"invoice_id": str(scenario.price_mismatch.pk), "error": "ValueError: broken line"}],
    )
    html = clerk.get("/").content.decode()
    assert "ValueError: broken line" in html
    assert len(clerk.get("/").context["summary"].recent_runs) == 3


def test_dashboard_charts_the_cash_forecast_of_its_own_tenant_only(
    clerk: Client, scenario: Scenario, foreign_scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("recon_site.dashboard.timezone.localdate", lambda: dt.date(2026, 11, 18))  # ISO week 47
    # Due Friday 27 Nov, no payment history for the vendor: expected in 2026-W48.
    InvoiceFactory(
        tenant=scenario.tenant,
        vendor=scenario.original.vendor,
        invoice_number="INV-CASH-1",
        invoice_date=dt.date(2026, 10, 28),
        due_date=dt.date(2026, 11, 27),
        total_amount=4321_00,
        subtotal_amount=4321_00,
        status=InvoiceStatus.APPROVED,
    )
    response = clerk.get("/")
    html = response.content.decode()

    [eur] = response.context["summary"].cash_forecast
    weeks = {bar.label: bar.amount_minor for bar in eur.bars}
    assert len(weeks) == 8
    assert weeks["2026-W48 · 23 Nov"] == 4321_00
    # The engine-approved invoice of the scenario (no due date, older than 30 days) is overdue: this week.
    assert weeks["2026-W47 · 16 Nov"] == scenario.original.total_amount
    # Exactly these two: the other tenant's approved invoice (same total) counts nowhere.
    assert eur.total_minor == 4321_00 + scenario.original.total_amount
    assert 'data-testid="cash-forecast-EUR"' in html
    assert "Expected outgoing cash by week, EUR" in html and "4,321.00" in html
