"""The demo's three months, day by day: `demo_tenant_load` plays them into a tenant.

Each day, in the order an AP department lives it: purchase orders are placed, goods arrive
(releasing the invoices on hold for them), the buyer closes or cancels orders, the day's
documents come in and matching runs over what arrived; on weekdays the reviewers work the
queues; on Thursdays the transfers go out, and on Mondays the bank statement is imported and
reconciled. The vendors' bank accounts are entered and approved on the first day; in the last
week bank details change; the Thursday before, and the last working day, the euro invoices due
soon go out in a payment run through Recon, the first coming back on Monday's statement, one
transfer of it returned by the bank (`paying`). In the last days come the bills the risk signals
catch, and a new vendor is set up for one of them (`risks`). On the last working day a clerk
also leaves a paper bill typed in but not submitted (the demo's draft).

Runs inside the caller's transaction, with the audit events held back by the caller
(`audit_deferred`): a failure anywhere leaves nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from core.actors import Actor
from core.tenancy.rls import tenant_owned_tables
from core.tenancy.statistics import tenant_tables_analyze
from invoices.models import DocumentType, Invoice
from matching.loading import matchable_invoices
from matching.models import MatchRun
from matching.services import matching_drain_tenant
from payments.models import Payment, StatementImport
from purchasing.models import GoodsReceipt, PurchaseOrder
from recon_site.demo.bank import BankDesk, is_payment_run, is_statement_day, payment_run, statement_day
from recon_site.demo.decisions import ReviewDesk, open_work_assign, reviews_work
from recon_site.demo.invoices import (
    delivery_invoices,
    invoices_arrive,
    invoices_numbered,
    one_off_invoices,
    paper_draft_save,
    service_invoices,
)
from recon_site.demo.paying import (
    PayingDesk,
    bank_accounts_take_over,
    paying_day,
    paying_thursday,
    run_transfers_import,
)
from recon_site.demo.people import demo_users_ensure
from recon_site.demo.plan import FIRST_DAY, DemoCalendar, InvoicePlan
from recon_site.demo.risks import risk_invoices, risks_day
from recon_site.demo.vendors_and_pos import (
    goods_receipts_book,
    purchase_order_action_take,
    purchase_order_plans,
    purchase_orders_place,
    purchasing_by_day,
    vendor_plans,
    vendors_create,
)
from tenants.models import Tenant
from tenants.services import currency_limit_save
from vendors.models import Vendor

# What the demo's administrator set where DESIGN.md's defaults (100 and 10,000 of the currency's
# units) make no sense: in yen they are less than a euro and some 60 euros, in dinar some 240 and
# 24,000 euros. Minor units of each currency.
CURRENCY_LIMITS: dict[str, dict[str, int]] = {
    "JPY": {"auto_approve_below": 16_000, "escalate_from": 1_600_000, "write_off_max": 800},
    "BHD": {"auto_approve_below": 40_000, "escalate_from": 4_000_000, "write_off_max": 2_000},
}
# A day's documents fit one batch or a few; a drain that needs more is a bug worth stopping on.
MAX_BATCHES_PER_DAY = 20
# The days (counted from the first) before which the tables' statistics are refreshed: each time
# the tenant's rows have about doubled. The seed is one transaction, so autovacuum never sees
# its rows, and without statistics matching's look-ups walk the tenant's whole index per probe
# (core.tenancy.statistics). Statistics a few weeks old still plan well: PostgreSQL scales their
# row counts by the table's current size.
STATISTICS_DAYS = frozenset({3, 7, 14, 28, 56})
RUN_NOT_CLEAN = "The demo's matching run {run_id} ended {status} with {failed} failed invoices: {failures}"


@dataclass(frozen=True)
class DemoSummary:
    vendors: int
    purchase_orders: int
    goods_receipts: int
    invoices: int
    credit_notes: int
    statements: int
    payments: int

    def as_text(self) -> str:
        return (
            f"{self.vendors} vendors, {self.purchase_orders} purchase orders, {self.goods_receipts} goods receipts, "
            f"{self.invoices} invoices and {self.credit_notes} credit notes, {self.statements} bank statements "
            f"with {self.payments} payments"
        )


def demo_summary(*, tenant: Tenant) -> DemoSummary:
    invoices = Invoice.objects.for_tenant(tenant)
    return DemoSummary(
        vendors=Vendor.objects.for_tenant(tenant).count(),
        purchase_orders=PurchaseOrder.objects.for_tenant(tenant).count(),
        goods_receipts=GoodsReceipt.objects.for_tenant(tenant).count(),
        invoices=invoices.filter(document_type=DocumentType.INVOICE).count(),
        credit_notes=invoices.filter(document_type=DocumentType.CREDIT_NOTE).count(),
        statements=StatementImport.objects.for_tenant(tenant).count(),
        payments=Payment.objects.for_tenant(tenant).count(),
    )


def _matching_day(*, tenant: Tenant, actor: Actor) -> None:
    """The day's matching, as the schedule would run it. A run that fails, or fails an invoice,
    stops the demo: everything rolls back rather than a month with holes in it."""
    if not matchable_invoices(tenant=tenant).exists():
        return
    runs = matching_drain_tenant(
        tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=actor, max_batches=MAX_BATCHES_PER_DAY
    )
    for run in runs:
        if run.status != MatchRun.Status.FINISHED or run.invoices_failed:
            raise RuntimeError(
                RUN_NOT_CLEAN.format(
                    run_id=run.pk, status=run.status, failed=run.invoices_failed, failures=run.failures
                )
            )


def demo_tenant_load(*, tenant: Tenant, today: dt.date, actor: Actor) -> DemoSummary:
    """Play the demo's history into `tenant` (new and empty), up to and including `today`.

    `actor` writes what systems write (documents from vendors, matching runs, statement
    imports); the demo users act as themselves. Call inside `transaction.atomic()` and
    `audit_deferred()`, after taking the tenant's matching and statement-import locks (the
    command does), so the many services here take them in the documented order.
    """
    calendar = DemoCalendar(today=today)
    people = demo_users_ensure(tenant=tenant, actor=actor)
    planned_vendors = vendor_plans()
    vendors = vendors_create(tenant=tenant, plans=planned_vendors, actor=actor)
    orders = purchase_order_plans(vendors=planned_vendors, calendar=calendar)
    placed, booked, acted = purchasing_by_day(orders)
    documents = invoices_numbered(
        [
            *delivery_invoices(orders),
            *service_invoices(planned_vendors, calendar),
            *one_off_invoices(),
            *risk_invoices(planned_vendors, calendar),
        ],
        calendar,
    )
    arrivals: dict[int, list[InvoicePlan]] = defaultdict(list)
    for document in documents:
        arrivals[document.arrival_day].append(document)
    plans: dict[uuid.UUID, InvoicePlan] = {}
    review = ReviewDesk(
        tenant=tenant, calendar=calendar, people=people, vendors=vendors, actor=actor, plans=plans, arrivals=arrivals
    )
    bank = BankDesk(tenant=tenant, calendar=calendar, people=people, actor=actor, plans=plans)
    paying = PayingDesk.open(bank=bank, plans=planned_vendors, vendors=vendors)
    purchase_orders: dict[str, PurchaseOrder] = {}
    buyer = people.actors["admin"]
    for currency, limits in CURRENCY_LIMITS.items():
        currency_limit_save(tenant=tenant, actor=buyer, currency=currency, price_tolerance_floor=Decimal(0), **limits)
    last_workday = max(day for day in range(FIRST_DAY, 1) if calendar.weekday(day) < 5)
    bank_accounts_take_over(desk=paying)
    for day in range(FIRST_DAY, 1):
        if day - FIRST_DAY in STATISTICS_DAYS:
            tenant_tables_analyze(tenant_owned_tables())
        ordered = placed.get(day, [])
        created = purchase_orders_place(tenant=tenant, orders=ordered, vendors=vendors, calendar=calendar, actor=actor)
        purchase_orders.update(
            (order.number, purchase_order) for order, purchase_order in zip(ordered, created, strict=True)
        )
        goods_receipts_book(tenant=tenant, bookings=booked.get(day, []), calendar=calendar, actor=actor)
        for order in acted.get(day, []):
            assert order.action is not None
            purchase_order_action_take(
                tenant=tenant, purchase_order=purchase_orders[order.number], action=order.action, actor=buyer
            )
        arrived = arrivals.pop(day, [])
        invoices = invoices_arrive(tenant=tenant, plans=arrived, vendors=vendors, calendar=calendar, actor=actor)
        plans.update((invoice.pk, document) for invoice, document in zip(invoices, arrived, strict=True))
        _matching_day(tenant=tenant, actor=actor)
        if calendar.weekday(day) < 5:  # people work on weekdays; matching runs every day
            reviews_work(desk=review, day=day)
        if day == last_workday:
            paper_draft_save(tenant=tenant, clerk=people.actors["clerk"], calendar=calendar, day=day)
        if is_payment_run(calendar, day):
            paying_thursday(desk=paying, day=day)
            payment_run(desk=bank, day=day)
        if is_statement_day(calendar, day):
            run_transfers_import(desk=paying, day=day)
            statement_day(desk=bank, day=day)
        paying_day(desk=paying, day=day)
        risks_day(desk=paying, day=day)
    open_work_assign(desk=review)
    return demo_summary(tenant=tenant)
