"""The demo month `make run` loads (recon_site.demo): what it promises a first-time visitor.

Every invoice state and every discrepancy type the engine knows, counts in the stated ranges,
the same data on every run, an audit chain that verifies, and a dashboard whose cash forecast
has rows. The demo is seeded twice (by the command, and into a twin tenant) inside one rolled-back
transaction, so the module costs two seeds, not one per test.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from core.tenancy.rls import tenant_scope
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.engine.vocabulary import DISCREPANCY_TYPES
from matching.models import Discrepancy
from payments.models import Payment, PaymentStatus
from purchasing.models import GoodsReceipt, PurchaseOrder
from recon_site.dashboard import dashboard_summary
from recon_site.demo.people import DEMO_USERS
from recon_site.demo.timeline import DemoSummary, demo_summary
from recon_site.management.commands.seed_demo import DEMO_SLUG, demo_tenant_create, demo_transaction
from tenants.models import Membership, Tenant

TWIN_SLUG = "demo-twin"

# The tests read facts gathered once (the `demo` fixture); the mark is what has pytest-django
# set up the test database for this module at all.
pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class DemoFacts:
    """What the tests read, gathered while the seeded transaction was open."""

    first_output: str
    second_output: str
    summary: DemoSummary
    summary_after_second_run: DemoSummary
    statuses: Counter[tuple[str, str]]  # (status, review queue or "")
    discrepancy_types: set[str]
    payment_statuses: set[str]
    purchase_order_statuses: set[str]
    late_receipts: int
    prepaid_invoices: int
    roles: dict[str, str]
    audit_output: str
    forecast_weeks_with_cash: dict[str, int]
    documents: list[tuple[str, str, int, str, str]]  # number, currency, total, status, date
    assignees: Counter[str]  # who has the open invoices: My work is not empty for the demo's users
    twin_documents: list[tuple[str, str, int, str, str]]


def _documents(tenant: Tenant) -> list[tuple[str, str, int, str, str]]:
    """Each document as a clerk would compare two exports: number, money, state, date (ids differ)."""
    rows = Invoice.objects.for_tenant(tenant).values_list(
        "invoice_number", "currency", "total_amount", "status", "invoice_date"
    )
    return sorted((number, currency, total, status, date.isoformat()) for number, currency, total, status, date in rows)


def _facts(tenant: Tenant, **outputs: Any) -> dict[str, Any]:
    invoices = Invoice.objects.for_tenant(tenant)
    receipts = GoodsReceipt.objects.for_tenant(tenant).select_related("purchase_order")
    audit = StringIO()
    call_command("verify_audit", "--tenant", tenant.slug, stdout=audit)
    with tenant_scope(tenant):
        summary = dashboard_summary(tenant=tenant)
    return {
        "summary": demo_summary(tenant=tenant),
        "statuses": Counter((status, queue or "") for status, queue in invoices.values_list("status", "review_queue")),
        "discrepancy_types": set(Discrepancy.objects.for_tenant(tenant).values_list("type", flat=True)),
        "payment_statuses": set(Payment.objects.for_tenant(tenant).values_list("status", flat=True)),
        "purchase_order_statuses": set(PurchaseOrder.objects.for_tenant(tenant).values_list("status", flat=True)),
        "late_receipts": sum(
            1
            for receipt in receipts
            if receipt.purchase_order.expected_date and receipt.received_date > receipt.purchase_order.expected_date
        ),
        "prepaid_invoices": invoices.filter(prepaid_amount__gt=0).count(),
        "roles": dict(Membership.objects.for_tenant(tenant).values_list("user__username", "role")),
        "assignees": Counter(
            invoices.filter(assigned_to__isnull=False).values_list("assigned_to__username", flat=True)
        ),
        "audit_output": audit.getvalue(),
        "forecast_weeks_with_cash": {
            chart.currency: sum(1 for bar in chart.bars if bar.amount_minor > 0) for chart in summary.cash_forecast
        },
        "documents": _documents(tenant),
        **outputs,
    }


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[DemoFacts]:
    """The demo seeded by the command (twice: the second run must reuse it) and into a twin tenant.

    All inside one transaction that is rolled back at the end, run as the app's runtime role so
    row-level security binds the seed as in production. The outer block is marked as a test
    case's own, as Django's TestCase marks its blocks, so each seed is an application
    transaction of its own for the lock-order check (core.locks) and the backend's bookkeeping.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer._from_testcase = True  # type: ignore[attr-defined]
        with outer:
            with connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{settings.DB_RUNTIME_ROLE}"')
            first, second = StringIO(), StringIO()
            call_command("seed_demo", stdout=first)
            tenant = Tenant.objects.get(slug=DEMO_SLUG)
            loaded = demo_summary(tenant=tenant)
            call_command("seed_demo", stdout=second)
            with demo_transaction() as scope:
                twin = demo_tenant_create(
                    slug=TWIN_SLUG, name="Demo Twin GmbH", today=timezone.localdate(), scope=scope
                )
            facts = _facts(
                tenant,
                first_output=first.getvalue(),
                second_output=second.getvalue(),
                summary_after_second_run=demo_summary(tenant=tenant),
                twin_documents=_documents(twin),
            )
            assert facts["summary_after_second_run"] == loaded
            transaction.set_rollback(True)
    yield DemoFacts(**facts)


def test_every_invoice_state_is_in_the_demo(demo: DemoFacts) -> None:
    present = {status for status, _ in demo.statuses}
    assert present == set(InvoiceStatus.values)
    queues = {queue for status, queue in demo.statuses if status == InvoiceStatus.PENDING_REVIEW}
    assert queues == set(ReviewQueue.values)


def test_every_discrepancy_type_the_engine_produces_is_in_the_demo(demo: DemoFacts) -> None:
    assert demo.discrepancy_types == set(DISCREPANCY_TYPES)


def test_payments_purchase_orders_and_receipts_cover_their_cases(demo: DemoFacts) -> None:
    assert demo.payment_statuses == set(PaymentStatus.values)
    assert demo.purchase_order_statuses == set(PurchaseOrder.Status.values)
    assert demo.late_receipts >= 20
    assert demo.prepaid_invoices >= 3


def test_the_counts_are_those_the_readme_states(demo: DemoFacts) -> None:
    summary = demo.summary
    assert 35 <= summary.vendors <= 45
    assert 550 <= summary.purchase_orders <= 650
    assert summary.goods_receipts >= summary.purchase_orders
    assert 1300 <= summary.invoices + summary.credit_notes <= 1700
    assert 20 <= summary.credit_notes <= 80
    assert 10 <= summary.statements <= 15
    assert 300 <= summary.payments <= 800
    # Something waits in every queue a clerk opens on day one.
    assert demo.statuses[(InvoiceStatus.PENDING_REVIEW, ReviewQueue.STANDARD)] >= 5
    assert demo.statuses[(InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)] >= 10
    assert demo.statuses[(InvoiceStatus.ON_HOLD, "")] >= 3
    assert demo.statuses[(InvoiceStatus.DISPUTED, "")] >= 3


def test_the_demo_is_the_same_on_every_run(demo: DemoFacts) -> None:
    """Two seeds into two fresh tenants: the same documents, amounts and outcomes."""
    assert demo.documents == demo.twin_documents
    assert len(demo.documents) == demo.summary.invoices + demo.summary.credit_notes


def test_the_demo_dates_end_today(demo: DemoFacts) -> None:
    dates = [dt.date.fromisoformat(date) for *_, date in demo.documents]
    today = timezone.localdate()
    assert max(dates) <= today
    assert today - max(dates) <= dt.timedelta(days=2)
    assert today - min(dates) >= dt.timedelta(days=85)


def test_the_open_work_is_shared_out(demo: DemoFacts) -> None:
    open_work = sum(
        count for (status, _queue), count in demo.statuses.items() if status in ("on_hold", "pending_review")
    )
    assert {"clerk", "clerk2"} <= set(demo.assignees)
    assert 0 < sum(demo.assignees.values()) < open_work  # some left for whoever takes them


def test_the_demo_users_have_their_roles_and_are_printed(demo: DemoFacts) -> None:
    assert demo.roles == {user.username: user.role for user in DEMO_USERS}
    for user in DEMO_USERS:
        assert f"Web login: {user.username} / recon-demo" in demo.first_output


def test_a_second_run_reuses_the_demo(demo: DemoFacts) -> None:
    assert "Loaded the demo tenant" in demo.first_output
    assert "reusing its data" in demo.second_output
    assert demo.summary_after_second_run == demo.summary


def test_the_demo_audit_trail_verifies(demo: DemoFacts) -> None:
    assert f"{DEMO_SLUG}: " in demo.audit_output
    assert "chain intact" in demo.audit_output
    assert "OK: 1 chains intact." in demo.audit_output


def test_the_dashboard_forecast_has_cash_in_most_weeks(demo: DemoFacts) -> None:
    assert demo.forecast_weeks_with_cash.get("EUR", 0) >= 5
    assert len(demo.forecast_weeks_with_cash) >= 3  # other currencies than euros are due too


def test_credit_notes_are_stored_received_and_never_matched(demo: DemoFacts) -> None:
    """Credit notes answer to invoices, not POs: matching leaves them `received` (the demo's CN- numbers)."""
    credit_notes = [status for number, _, _, status, _ in demo.documents if number.startswith("CN-")]
    assert len(credit_notes) == demo.summary.credit_notes
    assert set(credit_notes) == {InvoiceStatus.RECEIVED}
