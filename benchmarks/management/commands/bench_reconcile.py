"""`manage.py bench_reconcile --payments N --invoices M [--per-run R] [--single-vendor-invoices K]`.

How fast payment reconciliation runs. Builds a synthetic tenant, then reconciles all of its
debit payments through the real service (`reconciliation_run_for_tenant`: tenant lock, bulk load,
pure engine, checked allocations under row locks, invoice transitions, audit and outbox), run
after run until a run allocates nothing more, and prints wall time, payments/s, per-run p50/p99,
CPU time (its own and the database server's, see benchmarks.measures.CpuClock),
queries per run, peak RSS and the tier mix of what was allocated or suggested.

`--single-vendor-invoices K` times one payment against a vendor with K open invoices instead
(the subset-sum and per-vendor scans are what grows with K): the payment is the sum of three of
them, and the report says whether that set was found, whether what was allocated or suggested
adds up to the payment, and whether anything was allocated that is not the planted set. With
random amounts, among 1,000 invoices dozens of other sets of three (and thousands of four) add
up to the same payment: the right answer is a suggestion. `--round-decoys` makes the other
invoices whole multiples of 10.00 and the three planted ones end in .01, .02 and .04, so they are
the only set of up to four that adds up: the right answer is their allocation, after the search
has ruled out every other set.

Where it runs: on the configured database, in a fresh tenant (`bench-rec-<time>-<random>`), so
it never touches another tenant's rows; nothing is deleted afterwards (audit events are
append-only), and the tenant is deactivated at the end. Use a scratch database.

The fixture goes in with `bulk_create` (not through ingestion), from `random.Random(--seed)`:
approved invoices with open balances from `--vendors` vendors (default 50), each vendor's bank
account learned (`CounterpartyAccount`), and debit payments in this mix (each kind at least once
as soon as there are 20 payments); invoices no payment is meant for stay open as the haystack:

| share | kind       | how it is built                                              | expected tier       |
|-------|------------|--------------------------------------------------------------|---------------------|
| 30 %  | reference  | remittance names the invoice number, amount = its balance    | 1, applied          |
| 15 %  | account    | known counterparty account, amount = one open balance        | 2, applied          |
| 8 %   | recurring  | known account, two open invoices of the vendor with the same | 2, suggestion       |
|       |            | amount (rent, subscription)                                  |                     |
| 12 %  | sum        | vendor's name, amount = sum of 2-3 of its open invoices      | 3, applied          |
| 8 %   | short      | reference, 0.01-1.00 less than the balance                   | 4, applied          |
| 10 %  | partial    | reference, 20-80 % of the balance                            | 5, applied          |
| 17 %  | noise      | unknown counterparty, no reference, random amount            | none                |

A kind that needs more invoices than `--invoices` has left becomes noise (with M = N about 28 %
of the payments are noise). The rows' ids come from the seed too (`FixtureIds`): time-ordered as
every id, all of one fixture with the same time, the rest from a generator of their own, so the
order of same-day payments and the engine's ties by id, and with them every allocation and
suggestion, are the same in every run of one seed (two versions of the code compare row by row).
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from benchmarks.measures import CpuClock, peak_rss_mb, percentile
from benchmarks.scratch import bench_tenant_deactivate, database_describe, fixture_tables_analyze
from core.actors import system_actor
from invoices.models import Invoice, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from payments.accounts import account_hash, encrypt_account
from payments.models import (
    CounterpartyAccount,
    Payment,
    PaymentAllocation,
    PaymentDirection,
    PaymentStatus,
    PaymentSuggestion,
)
from payments.reconciliation.engine import reconcile_batch
from payments.reconciliation.loading import RECONCILABLE_PAYMENT_STATUSES, load_reconciliation
from payments.reconciliation.services import ReconciliationReport, reconciliation_run_for_tenant
from tenants.models import Tenant
from tenants.services import tenant_create
from vendors.models import Vendor
from vendors.names import normalize_vendor_name

BENCH_ACTOR = system_actor("bench_reconcile")
BASE_DATE = dt.date(2026, 3, 2)  # a fixed calendar: the same seed builds the same documents
INSERT_BATCH = 2000
OWN_ACCOUNT = "NL91ABNA0417164300"
FIXTURE_MODELS = (Vendor, CounterpartyAccount, Invoice, Payment)
MIN_PAYMENTS_FOR_EVERY_KIND = 20

REFERENCE, ACCOUNT, RECURRING, SUM, SHORT, PARTIAL, NOISE = (
    "reference",
    "account",
    "recurring",
    "sum",
    "short",
    "partial",
    "noise",
)
KIND_SHARES = {REFERENCE: 0.30, ACCOUNT: 0.15, RECURRING: 0.08, SUM: 0.12, SHORT: 0.08, PARTIAL: 0.10, NOISE: 0.17}
# Invoices each kind takes out of the haystack.
INVOICES_PER_KIND = {REFERENCE: 1, ACCOUNT: 1, RECURRING: 2, SUM: 3, SHORT: 1, PARTIAL: 1, NOISE: 0}

INVALID_SIZE = "--payments and --invoices must be ≥ 1 (or give --single-vendor-invoices ≥ 1)."


@dataclass
class InvoicePlan:
    vendor_index: int
    number: str
    amount: int
    invoice_date: dt.date
    due_date: dt.date


@dataclass
class PaymentPlan:
    kind: str
    amount: int
    vendor_index: int | None
    by_account: bool
    remittance: str
    booking_date: dt.date


@dataclass
class Fixture:
    tenant: Tenant
    kinds: Counter[str] = field(default_factory=Counter)
    invoices: int = 0
    payments: int = 0
    seconds: float = 0.0


class FixtureIds:
    """Ids for the fixture's rows, the same order for the same seed (see the module docstring).

    A version 7 UUID as core.ids.uuid7 makes one, but with one millisecond stamp for the whole
    fixture (so two fixtures in one database never collide) and the 74 other bits from their own
    generator (so the fixture's amounts and texts are those the main generator gives).
    """

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"ids-{seed}")  # noqa: S311 (a reproducible fixture, not a secret)
        self.stamp = (time.time_ns() // 1_000_000) << 80

    def __call__(self) -> uuid.UUID:
        value = self.stamp | self.rng.getrandbits(80)
        # Version 7 and the RFC 9562 variant, as core.ids.uuid7 sets them.
        return uuid.UUID(int=(value & ~((0xF << 76) | (0x3 << 62))) | (0x7 << 76) | (0x2 << 62))


def vendor_name(index: int) -> str:
    return f"Bench Supplier {index:03d} GmbH"


def vendor_account(index: int) -> str:
    return f"DE89370400440{index:09d}"


class FixturePlanner:
    """Plans invoices and payments in memory, from one seeded generator (no database)."""

    def __init__(self, *, rng: random.Random, vendors: int) -> None:
        self.rng = rng
        self.vendors = vendors
        self.invoices: list[InvoicePlan] = []
        self.payments: list[PaymentPlan] = []
        self._numbers = 0

    def invoice(self, vendor_index: int, amount: int | None = None) -> InvoicePlan:
        self._numbers += 1
        invoice_date = BASE_DATE + dt.timedelta(days=self.rng.randrange(0, 60))
        plan = InvoicePlan(
            vendor_index=vendor_index,
            number=f"INV-{vendor_index:03d}-{self._numbers:06d}",
            amount=amount if amount is not None else self.rng.randrange(5_000, 2_000_000),
            invoice_date=invoice_date,
            due_date=invoice_date + dt.timedelta(days=30),
        )
        self.invoices.append(plan)
        return plan

    def kinds(self, count: int) -> list[str]:
        kinds = [kind for kind in KIND_SHARES for _ in range(math.floor(KIND_SHARES[kind] * count))]
        if count >= MIN_PAYMENTS_FOR_EVERY_KIND:
            kinds += [kind for kind in KIND_SHARES if kind not in kinds]
        kinds = kinds[:count]
        kinds += [NOISE] * (count - len(kinds))
        self.rng.shuffle(kinds)
        return kinds

    def plan(self, *, payments: int, invoices: int) -> None:
        budget = invoices
        for kind in self.kinds(payments):
            if INVOICES_PER_KIND[kind] > budget:
                kind = NOISE
            budget -= INVOICES_PER_KIND[kind]
            self.payments.append(self._payment(kind))
        while len(self.invoices) < invoices:
            self.invoice(self.rng.randrange(self.vendors))

    def _payment(self, kind: str) -> PaymentPlan:
        rng = self.rng
        vendor = rng.randrange(self.vendors)
        booking = BASE_DATE + dt.timedelta(days=rng.randrange(30, 90))
        if kind == NOISE:
            return PaymentPlan(
                kind, rng.randrange(1_000, 500_000), None, False, f"Card {rng.randrange(10**6)}", booking
            )
        if kind == RECURRING:
            # Amounts no random invoice has (they end in 99 cents of a round 100.00).
            amount = rng.randrange(10, 500) * 10_000 + 9_999
            self.invoice(vendor, amount)
            self.invoice(vendor, amount)
            return PaymentPlan(kind, amount, vendor, True, "Monthly fee", booking)
        if kind == SUM:
            parts = [self.invoice(vendor) for _ in range(rng.choice((2, 3)))]
            return PaymentPlan(kind, sum(part.amount for part in parts), vendor, False, "Payment run", booking)
        invoice = self.invoice(vendor)
        if kind == ACCOUNT:
            return PaymentPlan(kind, invoice.amount, vendor, True, "Payment run", booking)
        remittance = f"Payment {invoice.number} thank you"
        if kind == SHORT:
            amount = invoice.amount - rng.randrange(1, min(100, invoice.amount // 200) + 1)
        elif kind == PARTIAL:
            amount = invoice.amount * rng.randrange(20, 81) // 100
        else:
            amount = invoice.amount
        return PaymentPlan(kind, amount, vendor, rng.random() < 0.5, remittance, booking)


class Command(BaseCommand):
    help = "Benchmark payment reconciliation on a synthetic tenant (see the module docstring: use a scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--payments", type=int, default=0, help="Debit payments to reconcile.")
        parser.add_argument("--invoices", type=int, default=0, help="Open invoices (at least what the payments pay).")
        parser.add_argument("--vendors", type=int, default=50, help="Vendors of the bench tenant (default 50).")
        parser.add_argument(
            "--per-run", type=int, default=None, help="Payments per run (default: RECONCILE_MAX_PAYMENTS_PER_RUN)."
        )
        parser.add_argument(
            "--single-vendor-invoices",
            type=int,
            default=0,
            help="Instead: time one payment against a vendor with this many open invoices.",
        )
        parser.add_argument(
            "--round-decoys",
            action="store_true",
            help="With --single-vendor-invoices: the other invoices in whole 10.00, so the planted set is unique.",
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed of the fixture's generator (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        single = options["single_vendor_invoices"]
        payments, invoices = options["payments"], options["invoices"]
        if single < 0 or (not single and (payments < 1 or invoices < 1)):
            raise CommandError(INVALID_SIZE)
        self.stdout.write(database_describe())
        rng = random.Random(options["seed"])  # noqa: S311 (a reproducible fixture, not a secret)
        planted: list[str] = []
        if single:
            planner = FixturePlanner(rng=rng, vendors=1)
            for _ in range(single):
                planner.invoice(0, rng.randrange(5, 2_000) * 1_000 if options["round_decoys"] else None)
            # Pays the sum of three of the vendor's invoices, named by account: tiers 2 and 3 scan
            # every one of the K balances, and the subset-sum search runs on them.
            parts = [planner.invoices[index] for index in (single // 3, single // 2, single - 1)][: min(3, single)]
            if options["round_decoys"]:
                for cents, part in zip((1, 2, 4), parts, strict=False):
                    part.amount += cents
            planted = sorted(part.number for part in parts)
            amount = sum(part.amount for part in parts) if len(parts) > 1 else parts[0].amount
            planner.payments.append(PaymentPlan(SUM, amount, 0, True, "Payment run", BASE_DATE + dt.timedelta(90)))
        else:
            planner = FixturePlanner(rng=rng, vendors=options["vendors"])
            planner.plan(payments=payments, invoices=invoices)
        fixture = self._build(planner, ids=FixtureIds(options["seed"]))
        if planted:
            self._time_engine(fixture.tenant)
        per_run = options["per_run"] or None
        clock = CpuClock()
        reports, queries, wall = self._reconcile(fixture.tenant, per_run=per_run, progress=self.stdout.write)
        cpu = clock.describe()
        self._report(fixture=fixture, reports=reports, queries=queries, wall=wall)
        self.stdout.write(cpu)
        if planted:
            self._report_subset(fixture.tenant, planted=planted, wall=wall)
        bench_tenant_deactivate(tenant=fixture.tenant, actor=BENCH_ACTOR)

    def _build(self, planner: FixturePlanner, *, ids: FixtureIds) -> Fixture:
        started = time.perf_counter()
        slug = f"bench-rec-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        tenant, _ = tenant_create(name=f"Reconciliation bench {slug[10:]}", slug=slug, actor=BENCH_ACTOR)
        with transaction.atomic():
            vendors = Vendor.objects.bulk_create(
                [
                    Vendor(
                        id=ids(),
                        tenant=tenant,
                        name=vendor_name(index),
                        normalized_name=normalize_vendor_name(vendor_name(index)),
                        tax_id=f"DE{900000000 + index}",
                        default_currency="EUR",
                    )
                    for index in range(planner.vendors)
                ]
            )
            hashes = [account_hash(vendor_account(index)) for index in range(planner.vendors)]
            encrypted = [encrypt_account(vendor_account(index)) for index in range(planner.vendors)]
            CounterpartyAccount.objects.bulk_create(
                [
                    CounterpartyAccount(tenant=tenant, account_hash=hashes[index], vendor=vendor)
                    for index, vendor in enumerate(vendors)
                ]
            )
            Invoice.objects.bulk_create(
                (
                    Invoice(
                        id=ids(),
                        tenant=tenant,
                        vendor=vendors[plan.vendor_index],
                        vendor_name_raw=vendors[plan.vendor_index].name,
                        invoice_number=plan.number,
                        invoice_number_normalized=normalize_invoice_number(plan.number),
                        currency="EUR",
                        invoice_date=plan.invoice_date,
                        due_date=plan.due_date,
                        subtotal_amount=plan.amount,
                        total_amount=plan.amount,
                        status=InvoiceStatus.APPROVED,
                    )
                    for plan in planner.invoices
                ),
                batch_size=INSERT_BATCH,
            )
            own_hash, own_encrypted = account_hash(OWN_ACCOUNT), encrypt_account(OWN_ACCOUNT)
            Payment.objects.bulk_create(
                (
                    Payment(
                        id=ids(),
                        tenant=tenant,
                        bank_account_encrypted=own_encrypted,
                        bank_account_hash=own_hash,
                        booking_date=plan.booking_date,
                        value_date=plan.booking_date,
                        amount=plan.amount,
                        currency="EUR",
                        direction=PaymentDirection.DEBIT,
                        counterparty_name=(
                            vendor_name(plan.vendor_index) if plan.vendor_index is not None else f"Shop {number % 997}"
                        ),
                        counterparty_account_encrypted=(
                            encrypted[plan.vendor_index] if plan.by_account and plan.vendor_index is not None else ""
                        ),
                        counterparty_account_hash=(
                            hashes[plan.vendor_index] if plan.by_account and plan.vendor_index is not None else ""
                        ),
                        remittance_text=plan.remittance,
                        bank_transaction_id=f"BENCH-{number:07d}",
                    )
                    for number, plan in enumerate(planner.payments)
                ),
                batch_size=INSERT_BATCH,
            )
        fixture_tables_analyze(models=FIXTURE_MODELS)
        fixture = Fixture(
            tenant=tenant,
            kinds=Counter(plan.kind for plan in planner.payments),
            invoices=len(planner.invoices),
            payments=len(planner.payments),
            seconds=time.perf_counter() - started,
        )
        self.stdout.write(f"Tenant: {tenant.slug}")
        self.stdout.write(
            f"Fixture: {fixture.payments} payments, {fixture.invoices} open invoices, {planner.vendors} vendors; "
            f"built in {fixture.seconds:.2f} s (not counted)"
        )
        self.stdout.write("Mix: " + ", ".join(f"{kind} {fixture.kinds[kind]}" for kind in KIND_SHARES))
        return fixture

    def _reconcile(
        self, tenant: Tenant, *, per_run: int | None, progress: Callable[[str], None]
    ) -> tuple[list[ReconciliationReport], list[int], float]:
        reports: list[ReconciliationReport] = []
        queries: list[int] = []
        started = time.perf_counter()
        while True:
            with CaptureQueriesContext(connection) as captured:
                report = reconciliation_run_for_tenant(tenant=tenant, actor=BENCH_ACTOR, limit=per_run)
            reports.append(report)
            queries.append(len(captured))
            if report.status != "finished":
                break
            # Runs rotate through the payments least recently considered; done once every payment
            # has been considered and a run allocates nothing more.
            never_considered = (
                Payment.objects.for_tenant(tenant)
                .filter(reconcile_considered_at__isnull=True, status__in=RECONCILABLE_PAYMENT_STATUSES)
                .exists()
            )
            if not report.allocations_created and not never_considered:
                break
        return reports, queries, time.perf_counter() - started

    def _report(
        self, *, fixture: Fixture, reports: list[ReconciliationReport], queries: list[int], wall: float
    ) -> None:
        tenant = fixture.tenant
        write = self.stdout.write
        durations = [report.duration_ms for report in reports]
        write(f"Reconciled: {fixture.payments} payments in {len(reports)} runs in {wall:.3f} s")
        write(
            f"Throughput: {fixture.payments / wall:.1f} payments/s, {wall * 1000 / fixture.payments:.3f} ms per payment"
        )
        write(
            f"Per run (ms): p50 {percentile(durations, 0.5)}, p99 {percentile(durations, 0.99)}, max {max(durations)}"
        )
        write(f"SQL queries per run: min {min(queries)}, max {max(queries)}")
        write(f"Peak RSS: {peak_rss_mb():.1f} MB (whole process, fixture included)")
        statuses = dict(
            Payment.objects.for_tenant(tenant)
            .values("status")
            .annotate(count=Count("id"))
            .values_list("status", "count")
        )
        write("Payments: " + ", ".join(f"{status} {statuses.get(status, 0)}" for status in PaymentStatus.values))
        applied = Counter(
            dict(
                PaymentAllocation.objects.for_tenant(tenant)
                .filter(kind="payment", reversal_of__isnull=True)
                .values("tier")
                .annotate(count=Count("payment_id", distinct=True))
                .values_list("tier", "count")
            )
        )
        suggested = Counter(
            dict(
                PaymentSuggestion.objects.for_tenant(tenant)
                .values("tier")
                .annotate(count=Count("id"))
                .values_list("tier", "count")
            )
        )
        write(
            "Tiers (payments): "
            + ", ".join(f"tier {tier} applied {applied[tier]} suggested {suggested[tier]}" for tier in range(1, 6))
        )
        left = statuses.get(PaymentStatus.UNMATCHED, 0) + statuses.get(PaymentStatus.SUGGESTED, 0)
        write(f"Left for a clerk: {left} (unmatched or suggested)")
        never = (
            Payment.objects.for_tenant(tenant)
            .filter(reconcile_considered_at__isnull=True, status__in=RECONCILABLE_PAYMENT_STATUSES)
            .count()
        )
        if never:
            # Would mean the runs' rotation (Payment.reconcile_considered_at) failed to reach them.
            write(f"Stalled: {never} payments were never considered by a run.")

    def _time_engine(self, tenant: Tenant) -> None:
        """The pure engine alone on the single-vendor case (what the subset-sum costs), before the run."""
        started = time.perf_counter()
        loaded = load_reconciliation(tenant=tenant, limit=1)
        loaded_at = time.perf_counter()
        reconcile_batch(loaded.payments, loaded.invoices, loaded.vendors, loaded.settings)
        self.stdout.write(
            f"Engine: {(time.perf_counter() - loaded_at) * 1000:.0f} ms for the payment "
            f"(loading {len(loaded.invoices)} open invoices: {(loaded_at - started) * 1000:.0f} ms, not counted)"
        )

    def _report_subset(self, tenant: Tenant, *, planted: list[str], wall: float) -> None:
        """Found? Correct? For the one payment of the single-vendor case, against the set planted."""
        payment = Payment.objects.for_tenant(tenant).get()
        numbers = dict(Invoice.objects.for_tenant(tenant).values_list("id", "invoice_number"))
        amounts = dict(Invoice.objects.for_tenant(tenant).values_list("id", "total_amount"))
        allocated = list(
            PaymentAllocation.objects.for_tenant(tenant)
            .filter(kind="payment", reversal_of__isnull=True)
            .values_list("invoice_id", flat=True)
        )
        suggestion = PaymentSuggestion.objects.for_tenant(tenant).first()
        suggested = [uuid.UUID(item["invoice_id"]) for item in suggestion.allocations] if suggestion else []
        proposed = allocated or suggested
        outcome = "allocated" if allocated else ("suggested" if suggestion else "nothing")
        found = sorted(numbers[invoice_id] for invoice_id in proposed) == planted
        adds_up = sum(amounts[invoice_id] for invoice_id in proposed) == payment.amount if proposed else None
        wrong = bool(allocated) and not found
        self.stdout.write(
            f"Subset sum: {outcome} in {wall * 1000:.0f} ms; planted set proposed: {'yes' if found else 'no'}; "
            f"proposal adds up: {'-' if adds_up is None else 'yes' if adds_up else 'no'}; "
            f"wrong allocation: {'YES' if wrong else 'no'}" + (f"; reason: {suggestion.reason}" if suggestion else "")
        )
