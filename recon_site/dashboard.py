"""The web app's dashboard: its numbers, read in a fixed handful of queries per tenant, and its page.

In the site because it reads every app (queues, discrepancies, runs, the cash forecast).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Min, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.money import from_minor
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.models import Discrepancy, MatchRun
from payments.cash import CurrencyForecast
from payments.selectors import cash_forecast_for_tenant
from tenants.http.web import tenant_view, web_of
from tenants.models import Tenant

# "This week" as a rolling window: on a Monday morning a calendar week would show nothing.
DISCREPANCY_WINDOW = dt.timedelta(days=7)
# The auto-approval rate is over invoices received in this window.
AUTO_APPROVAL_WINDOW = dt.timedelta(days=30)
RECENT_RUNS = 8
# Outgoing cash on the dashboard: the next weeks, from the current ISO week (payments.cash).
CASH_FORECAST_WEEKS = 8
# Geometry of the forecast chart (SVG user units, as recon_web.bar_chart's); the SVG scales.
_CHART_LABEL_WIDTH = 170
_CHART_BAR_AREA = 300
_CHART_ROW = 28


@dataclass(frozen=True)
class QueueSummary:
    queue: str
    count: int
    oldest_at: dt.datetime | None


@dataclass(frozen=True)
class MoneyAwaiting:
    currency: str
    total_minor: int
    count: int


@dataclass(frozen=True)
class ForecastBar:
    label: str
    amount_minor: int
    display: str
    y: int
    width: Decimal


@dataclass(frozen=True)
class DiscountWeek:
    """Early-payment discounts whose deadline falls in one week: what paying by then saves."""

    label: str
    # The week (or what is left of it): each discount is open until its own deadline in it.
    first_day: dt.date
    last_day: dt.date
    amount_minor: int
    invoices: int


@dataclass(frozen=True)
class ForecastChart:
    """One currency's expected outgoing cash per ISO week, laid out as a horizontal bar chart."""

    currency: str
    total_minor: int
    bars: list[ForecastBar]
    title: str
    height: int
    label_width: int = _CHART_LABEL_WIDTH
    bar_x: int = _CHART_LABEL_WIDTH + 6
    value_x: int = _CHART_LABEL_WIDTH + 12
    total_width: int = _CHART_LABEL_WIDTH + _CHART_BAR_AREA + 90
    scheduled_minor: int = 0  # of the total, what approved payment runs pay
    discounts: tuple[DiscountWeek, ...] = ()
    discounts_minor: int = 0


def forecast_chart(forecast: CurrencyForecast, *, today: dt.date) -> ForecastChart:
    largest = max((week.amount for week in forecast.weeks), default=0) or 1
    bars = [
        ForecastBar(
            label=f"{week.label} · {week.week_start:%d %b}",
            amount_minor=week.amount,
            display=f"{from_minor(week.amount, forecast.currency):,}",
            y=index * _CHART_ROW,
            # Widths only: the amounts themselves stay exact integers.
            width=(Decimal(week.amount) / Decimal(largest) * _CHART_BAR_AREA).quantize(Decimal("0.1")),
        )
        for index, week in enumerate(forecast.weeks)
    ]
    return ForecastChart(
        currency=forecast.currency,
        total_minor=forecast.total,
        bars=bars,
        title=f"Expected outgoing cash by week, {forecast.currency}",
        height=max(len(bars), 1) * _CHART_ROW,
        scheduled_minor=sum(week.scheduled for week in forecast.weeks),
        discounts=tuple(
            DiscountWeek(
                label=f"{week.label} · {week.week_start:%d %b}",
                first_day=max(week.week_start, today),
                last_day=week.week_start + dt.timedelta(days=6),
                amount_minor=week.discounts,
                invoices=week.discount_invoices,
            )
            for week in forecast.weeks
            if week.discounts
        ),
        discounts_minor=forecast.discounts,
    )


@dataclass(frozen=True)
class DashboardSummary:
    by_status: list[tuple[str, int]]
    queues: list[QueueSummary]
    discrepancies_by_type: list[tuple[str, int]]
    auto_approved: int
    auto_decided: int
    money_awaiting: list[MoneyAwaiting]
    recent_runs: list[MatchRun]
    cash_forecast: list[ForecastChart]
    cash_forecast_weeks: int = CASH_FORECAST_WEEKS

    @property
    def auto_approval_rate(self) -> Decimal | None:
        """Share of matched invoices the engine approved on its own; None before any match."""
        if not self.auto_decided:
            return None
        return (Decimal(self.auto_approved) / Decimal(self.auto_decided) * 100).quantize(Decimal("0.1"))


def dashboard_summary(*, tenant: Tenant) -> DashboardSummary:
    now = timezone.now()
    today = timezone.localdate()
    invoices = Invoice.objects.for_tenant(tenant)
    counts = dict(invoices.values_list("status").annotate(n=Count("id")).order_by())
    by_status = [(status, counts.get(status, 0)) for status in InvoiceStatus.values]

    waiting = invoices.filter(status=InvoiceStatus.PENDING_REVIEW)
    queue_rows = {
        row["review_queue"]: row
        for row in waiting.values("review_queue").annotate(n=Count("id"), oldest=Min("created_at")).order_by()
    }
    queues = [
        QueueSummary(queue, queue_rows.get(queue, {}).get("n", 0), queue_rows.get(queue, {}).get("oldest"))
        for queue in ReviewQueue.values
    ]

    discrepancies_by_type = list(
        Discrepancy.objects.for_tenant(tenant)
        .filter(created_at__gte=now - DISCREPANCY_WINDOW)
        .values_list("type")
        .annotate(n=Count("id"))
        .order_by("-n", "type")
    )

    decided = invoices.filter(created_at__gte=now - AUTO_APPROVAL_WINDOW, latest_match__isnull=False)
    # The latest match's decision is the engine's; a reviewer's later approval does not change it.
    auto_approved = decided.filter(latest_match__decision=InvoiceStatus.APPROVED).count()

    money_awaiting = [
        MoneyAwaiting(row["currency"], row["total"], row["n"])
        for row in waiting.values("currency").annotate(total=Sum("total_amount"), n=Count("id")).order_by("currency")
    ]
    return DashboardSummary(
        by_status=by_status,
        queues=queues,
        discrepancies_by_type=discrepancies_by_type,
        auto_approved=auto_approved,
        auto_decided=decided.count(),
        money_awaiting=money_awaiting,
        recent_runs=list(MatchRun.objects.for_tenant(tenant).order_by("-created_at")[:RECENT_RUNS]),
        cash_forecast=[
            forecast_chart(forecast, today=today)
            for forecast in cash_forecast_for_tenant(tenant=tenant, today=today, weeks=CASH_FORECAST_WEEKS)
        ],
    )


@tenant_view
def dashboard(request: HttpRequest) -> HttpResponse:
    summary = dashboard_summary(tenant=web_of(request).tenant)
    return render(request, "invoices/dashboard.html", {"summary": summary, "nav": "dashboard"})
