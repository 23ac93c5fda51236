"""`manage.py bench_matching --invoices N --lines L [--batch-size B] [--keep]`: how fast matching runs.

Builds a synthetic tenant, then matches all of its invoices through the real code path
(`matching_drain_tenant`: tenant lock, bulk load, engine, bulk write of results, discrepancies,
transitions, hash-chained audit events and outbox events, one transaction per batch) and prints
throughput, per-batch latency (from the `MatchRun` rows), queries per batch, peak memory and CPU
time (its own and the database server's, benchmarks.measures.CpuClock).
Exits non-zero if a run failed or an invoice is still in `received` at the end.

Where it runs. On the configured database (it prints which), in a fresh tenant with a unique
slug (`bench-<time>-<random>`), so it never touches another tenant's rows. Nothing is deleted
afterwards, and nothing could be: audit events and match results are append-only (triggers
refuse DELETE), and invoices, POs and vendors are held by them. So point it at a scratch
database (`DATABASE_URL=postgres://…/recon_bench manage.py migrate && … bench_matching …`),
not at one whose audit log people read. When it is done it deactivates the bench tenant
(audited), so the scheduler and `run_matching --all` leave it alone (a failed bench leaves
invoices in `received`, which they would otherwise retry every half hour); `--keep` leaves it
active, to look at the results in the UI or the API.

The fixture (`benchmarks.fixtures`: how it is built, and its mix of clean and faulty invoices)
is built fast and is not timed with the matching; the tables are then analyzed, as autovacuum
would do within a minute of such a load.
"""

from __future__ import annotations

import contextlib
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from benchmarks.fixtures import CLEAN, FAULT_SHARES, FIXTURE_MODELS, FixtureBuilder
from benchmarks.measures import CpuClock, peak_rss_mb, percentile
from benchmarks.scratch import bench_tenant_deactivate, database_describe, fixture_tables_analyze
from core.actors import system_actor
from invoices.models import Invoice, InvoiceStatus
from matching.models import Discrepancy, MatchRun
from matching.services import matching_drain_tenant
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get
from tenants.services import tenant_create, tenant_settings_update

BENCH_ACTOR = system_actor("bench_matching")
MAX_LINES = 200

# The MatchRun timings, in the order a run spends them.
TIMINGS = (("total", "duration_ms"), ("load", "load_ms"), ("engine", "engine_ms"), ("write", "write_ms"))

INVALID_SIZE = "--invoices must be at least 1 and --lines between 1 and {max_lines}; --batch-size at least 1."
UNFINISHED = "{failed_runs} runs failed and {left} invoices are still in `received`."


@dataclass(frozen=True)
class Fixture:
    tenant: Tenant
    kinds: Counter[str]
    vendors: int
    purchase_orders: int
    receipts: int
    invoices: int
    lines: int
    seconds: float


@contextlib.contextmanager
def _one_connection() -> Iterator[None]:
    """The bench's database connection kept for the whole bench, whatever its age.

    The server CPU printed is that of the PostgreSQL process serving this connection. A connection
    older than CONN_MAX_AGE is closed by the next close_old_connections(), which django-q's ORM
    broker (no REDIS_URL) calls when a batch's commit asks for an audit seal (at most every 30 s):
    mid-drain the bench then went on with a new server process, and its figure became the new
    process's CPU less the old one's at the start (negative at 10,000 invoices, whose drain
    outlives the default 60 s). Not closed here: under a test its transaction holds it.
    """
    max_age, close_at = connection.settings_dict["CONN_MAX_AGE"], connection.close_at
    connection.settings_dict["CONN_MAX_AGE"] = None  # a connection made meanwhile: kept
    connection.close_at = None  # the open one: kept
    try:
        yield
    finally:
        connection.settings_dict["CONN_MAX_AGE"], connection.close_at = max_age, close_at


class Command(BaseCommand):
    help = "Benchmark batch matching on a synthetic tenant (see the module docstring: use a scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, required=True, help="How many invoices to match.")
        parser.add_argument("--lines", type=int, required=True, help="Lines per invoice (and per PO).")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Invoices per run (default: the tenant default, 100)."
        )
        parser.add_argument("--vendors", type=int, default=50, help="Vendors of the bench tenant (default 50).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the fixture's generator (default 1).")
        parser.add_argument(
            "--keep", action="store_true", help="Leave the bench tenant active afterwards (default: deactivate it)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with _one_connection():
            self._bench(**options)

    def _bench(self, **options: Any) -> None:
        invoices, lines, batch_size = options["invoices"], options["lines"], options["batch_size"]
        if invoices < 1 or not 1 <= lines <= MAX_LINES or (batch_size is not None and batch_size < 1):
            raise CommandError(INVALID_SIZE.format(max_lines=MAX_LINES))
        self.stdout.write(database_describe())

        fixture = self._build_fixture(
            invoices=invoices,
            lines=lines,
            batch_size=batch_size,
            vendors=options["vendors"],
            seed=options["seed"],
        )
        tenant = fixture.tenant
        limit = tenant_settings_get(tenant=tenant).max_invoices_per_run
        clock = CpuClock()
        started = time.perf_counter()
        matching_drain_tenant(
            tenant=tenant,
            trigger=MatchRun.Trigger.COMMAND,
            actor=BENCH_ACTOR,
            # One more than the batches needed: when N is a multiple of the batch size, the drain
            # learns that nothing is left only from an empty batch.
            max_batches=math.ceil(invoices / limit) + 1,
        )
        wall = time.perf_counter() - started
        cpu = clock.describe()
        self._report(fixture=fixture, wall=wall, limit=limit)
        self.stdout.write(cpu)

        if not options["keep"]:
            bench_tenant_deactivate(tenant=tenant, actor=BENCH_ACTOR)
        runs = MatchRun.objects.for_tenant(tenant)
        failed_runs = runs.exclude(status=MatchRun.Status.FINISHED).count()
        left = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED).count()
        if failed_runs or left:
            raise CommandError(UNFINISHED.format(failed_runs=failed_runs, left=left), returncode=1)

    def _build_fixture(self, *, invoices: int, lines: int, batch_size: int | None, vendors: int, seed: int) -> Fixture:
        started = time.perf_counter()
        slug = f"bench-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        tenant, _ = tenant_create(name=f"Matching bench {slug[6:]}", slug=slug, actor=BENCH_ACTOR)
        if batch_size is not None:
            tenant_settings_update(tenant=tenant, actor=BENCH_ACTOR, max_invoices_per_run=batch_size)
        rng = random.Random(seed)  # noqa: S311 (a reproducible fixture, not a secret)
        builder = FixtureBuilder(tenant=tenant, rng=rng, vendor_count=vendors, lines=lines)

        def progress(done: int) -> None:
            if done % 10_000 == 0 and done < invoices:
                self.stdout.write(f"  … {done} invoices built ({time.perf_counter() - started:.0f} s)")

        kinds = builder.build(invoices, progress=progress)
        fixture_tables_analyze(models=FIXTURE_MODELS)
        fixture = Fixture(
            tenant=tenant,
            kinds=kinds,
            vendors=vendors,
            purchase_orders=builder.purchase_orders,
            receipts=builder.receipts,
            invoices=invoices,
            lines=invoices * lines,
            seconds=time.perf_counter() - started,
        )
        self.stdout.write(f"Tenant: {tenant.slug}")
        self.stdout.write(
            f"Fixture: {invoices} invoices × {lines} lines, {vendors} vendors, {fixture.purchase_orders} POs, "
            f"{fixture.receipts} goods receipts; built in {fixture.seconds:.2f} s (not counted)"
        )
        self.stdout.write(
            "Mix: " + ", ".join(f"{kind} {kinds[kind]}" for kind in (CLEAN, *FAULT_SHARES) if kinds[kind])
        )
        return fixture

    def _report(self, *, fixture: Fixture, wall: float, limit: int) -> None:
        tenant = fixture.tenant
        runs = list(MatchRun.objects.for_tenant(tenant).order_by("created_at"))
        # The drain's last run is empty when N is a multiple of the batch size: not a batch.
        batches = [run for run in runs if run.invoices_matched + run.invoices_failed] or runs
        write = self.stdout.write
        write(
            f"Matched: {fixture.invoices} invoices, {fixture.lines} lines in {len(batches)} batches of ≤{limit} "
            f"({len(runs)} runs) in {wall:.3f} s"
        )
        write(
            f"Throughput: {fixture.invoices / wall:.1f} invoices/s, {fixture.lines / wall:.0f} lines/s, "
            f"{wall * 1000 / fixture.invoices:.3f} ms per invoice"
        )
        write("Per batch (ms):     p50      p99      max")
        for label, attribute in TIMINGS:
            values = [getattr(run, attribute) for run in batches]
            write(f"  {label:<10} {percentile(values, 0.5):>8} {percentile(values, 0.99):>8} {max(values):>8}")
        queries = [run.query_count for run in batches]
        write(f"SQL queries per batch: min {min(queries)}, max {max(queries)}")
        write(f"Peak RSS: {peak_rss_mb():.1f} MB (whole process, fixture included)")
        outcomes = (
            Invoice.objects.for_tenant(tenant)
            .values("status", "review_queue")
            .annotate(count=Count("id"))
            .order_by("status", "review_queue")
        )
        write(
            "Decisions: "
            + ", ".join(
                f"{row['status']}{'/' + row['review_queue'] if row['review_queue'] else ''} {row['count']}"
                for row in outcomes
            )
        )
        found = (
            Discrepancy.objects.for_tenant(tenant).values("type").annotate(count=Count("id")).order_by("-count", "type")
        )
        write("Discrepancies: " + (", ".join(f"{row['type']} {row['count']}" for row in found) or "none"))
        failed = [run for run in runs if run.status != MatchRun.Status.FINISHED or run.invoices_failed]
        for run in failed:
            write(f"Run {run.pk} {run.status}: {run.invoices_failed} invoices failed {run.error}".rstrip())
            for failure in run.failures[:10]:
                write(f"  invoice {failure['invoice_id']}: {failure['error']}")
