"""`manage.py bench_search --invoices N [--vendors V] [--repeat R] [--explain] [--keep]`: how fast the
header's search answers on a tenant of N invoices.

Fills a fresh scratch tenant with the matching bench's documents (`benchmarks.fixtures.
bench_tenant_build`: N invoices of one line, a PO and its receipt each, V vendors), vacuums and
analyzes the tables as autovacuum would after such a load (as the owner role when
`MIGRATE_DATABASE_URL` names one: the visibility map is what lets the search read the newest
numbers from an index alone), then sends a set of searches a clerk types — whole and partial
invoice numbers, a vendor's name by the start of a word, PO numbers, amounts, and text that finds
nothing — to the search box's own view, as a member of the tenant, R times each, and prints the
server time of each (the view's, from the request to the rendered list: membership, the three
search queries, the template) as p50, p95 and max, with the part spent in SQL and the number of
SQL queries. `--explain` prints each search's plans (EXPLAIN ANALYZE), to see which index answered.

It runs as the configured role, so row-level security binds it as it binds the app (it says so).
Where it writes: see `bench_matching` — a scratch database, a fresh tenant, deactivated at the end
unless `--keep`.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from benchmarks.measures import percentile
from benchmarks.scratch import bench_tenant_deactivate, database_describe, read_bench_clerk, read_bench_tenant
from core.actors import system_actor
from core.money import format_minor
from core.tenancy.rls import tenant_scope, tenant_scope_clear
from invoices.models import Invoice
from review.search import search_run
from review.search_views import SUGGESTIONS, search_suggest
from tenants.models import Tenant
from vendors.models import Vendor

BENCH_ACTOR = system_actor("bench_search")
BUDGET_MS = 150  # the bound on the server time of a search (#17)

INVALID_SIZE = "--invoices must be at least 20, --vendors at least 1 and --repeat at least 1."


@dataclass(frozen=True)
class Search:
    label: str
    text: str


@dataclass(frozen=True)
class Measured:
    timings: list[int]  # of the whole view, in microseconds
    sql_timings: list[int]  # of its SQL statements, as the driver saw them
    queries: int
    found: int
    first: str


class Command(BaseCommand):
    help = "Benchmark the header's search on a synthetic tenant (see the module docstring: use a scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=100_000, help="Invoices of the tenant (default 100000).")
        parser.add_argument("--vendors", type=int, default=200, help="Vendors of the tenant (default 200).")
        parser.add_argument("--repeat", type=int, default=20, help="Times each search is sent (default 20).")
        parser.add_argument("--seed", type=int, default=1, help="Seed of the fixture and of the searches.")
        parser.add_argument("--explain", action="store_true", help="Print each search's query plans.")
        parser.add_argument(
            "--tenant", default="", help="Measure again on the tenant of a `--keep` run (its slug), without a fixture."
        )
        parser.add_argument(
            "--keep", action="store_true", help="Leave the bench tenant active afterwards (default: deactivate it)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        invoices, vendors, repeat = options["invoices"], options["vendors"], options["repeat"]
        if invoices < 20 or vendors < 1 or repeat < 1:
            raise CommandError(INVALID_SIZE)
        write = self.stdout.write
        write(database_describe())
        rng = random.Random(options["seed"])  # noqa: S311 (a reproducible fixture, not a secret)
        tenant = read_bench_tenant(
            slug=options["tenant"], purpose="Search", invoices=invoices, vendors=vendors, rng=rng,
            actor=BENCH_ACTOR, write=write,
        )  # fmt: skip
        member = read_bench_clerk(tenant=tenant, actor=BENCH_ACTOR, write=write)

        searches = self._searches(tenant=tenant, rng=rng)
        write(f"Server time of the search box's view, {repeat} times each (ms):")
        write(
            f"  {'search':<34} {'typed':<18} {'found':>5} {'first':<16} {'p50':>7} {'max':>7} {'of SQL':>7} {'SQL':>4}"
        )
        every: list[int] = []  # microseconds
        for search in searches:
            measured = self._measure(tenant=tenant, member=member, search=search, repeat=repeat)
            every += measured.timings
            write(
                f"  {search.label:<34} {search.text!r:<18} {measured.found:>5} {measured.first:<16.16} "
                f"{_ms(percentile(measured.timings, 0.5)):>7} {_ms(max(measured.timings)):>7} "
                f"{_ms(percentile(measured.sql_timings, 0.5)):>7} {measured.queries:>4}"
            )
            if options["explain"]:
                self._explain(tenant=tenant, search=search)
        p95 = percentile(every, 0.95)
        write(
            f"All {len(every)} searches: p50 {_ms(percentile(every, 0.5))} ms, p95 {_ms(p95)} ms, "
            f"max {_ms(max(every))} ms"
        )
        write(f"Budget {BUDGET_MS} ms (p95): {'met' if p95 < BUDGET_MS * 1000 else 'NOT met'}")
        if not options["keep"]:
            bench_tenant_deactivate(tenant=tenant, actor=BENCH_ACTOR)

    def _searches(self, *, tenant: Tenant, rng: random.Random) -> list[Search]:
        """What clerks type, taken from the tenant's own documents (the seed picks which)."""
        invoices = Invoice.objects.for_tenant(tenant).exclude(vendor=None).order_by("created_at")
        invoice = invoices[rng.randrange(invoices.count())]
        number = invoice.invoice_number  # "AIS-0004242": the vendor's letters, a dash, 7 digits
        letters, digits = number.split("-")
        significant = digits.lstrip("0")
        vendor = Vendor.objects.for_tenant(tenant).get(invoices=invoice)
        first_word, *other_words = vendor.name.split()
        po_number = invoice.po_number or f"PO-{digits}"
        total = format_minor(invoice.total_amount, invoice.currency)
        whole, _, cents = total.partition(".")
        grouped = f"{int(whole):,}" + (f".{cents}" if cents else "")
        return [
            Search("invoice number, as printed", number),
            Search("invoice number, lower case, no dash", number.replace("-", "").lower()),
            Search("invoice number's digits (its end)", significant),
            Search("invoice number's start", f"{letters}-{digits[:5]}"),
            Search("vendor letters of numbers", letters.lower()),
            Search("digits inside numbers", significant[1:3] or significant),
            Search("one digit", significant[-1]),
            Search("vendor, start of the name", first_word[:3].lower()),
            Search("vendor, start of a later word", other_words[0][:4] if other_words else first_word),
            Search("PO number", po_number.lower().replace("-", " ")),
            Search("PO number's end", po_number[-4:]),
            Search("amount, grouped", grouped),
            Search("amount, bare", total),
            Search("nothing matches", "ZQX-8765"),
        ]

    def _measure(self, *, tenant: Tenant, member: Any, search: Search, repeat: int) -> Measured:
        factory = RequestFactory()
        url = reverse("web:search-suggest")
        timings: list[int] = []
        sql_timings: list[int] = []
        queries = 0
        for attempt in range(repeat + 1):  # the first one warms the caches and is not counted
            request = factory.get(url, {"q": search.text})
            request.user = member
            request.session = {}  # type: ignore[assignment]  # the member's first tenant
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = search_suggest(request)
                elapsed = round((time.perf_counter() - started) * 1_000_000)
            tenant_scope_clear()
            if response.status_code != 200:
                raise CommandError(f"The search {search.text!r} answered {response.status_code}.")
            if attempt:
                timings.append(elapsed)
                sql_timings.append(round(sum(float(query["time"]) for query in captured) * 1_000_000))
            queries = len(captured)
        with tenant_scope(tenant):
            best = search_run(tenant=tenant, text=search.text, limit=SUGGESTIONS).best(limit=SUGGESTIONS)
        return Measured(timings, sql_timings, queries, len(best), best[0].title if best else "—")

    def _explain(self, *, tenant: Tenant, search: Search) -> None:
        with tenant_scope(tenant), CaptureQueriesContext(connection) as captured:
            search_run(tenant=tenant, text=search.text, limit=SUGGESTIONS)
        with tenant_scope(tenant), connection.cursor() as cursor:
            for query in captured.captured_queries:
                cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) {query['sql']}")
                self.stdout.write("\n".join(f"      {line}" for (line,) in cursor.fetchall()))


def _ms(microseconds: int) -> str:
    return f"{microseconds / 1000:.1f}"
