"""`manage.py bench_invoice_create [--invoices N] [--lines L]`: a single `POST /api/invoices`'s cost.

Sends N invoices of L lines each (defaults: 500 × 5), one request each, one client, through
Django's whole request path in this process — Django's test client: middleware, API-key
authentication, tenant throttling, an `Idempotency-Key` per request, the serializers, the one door
(`invoice_create`, the many-documents form with one document), the audit append, matching's
enqueue as configured (MATCH_ON_INGEST), the stored response — without a network or a WSGI
server. It prints the median and p95 of each request's server time (and the median of this
process's CPU time in it: the Python part, which other load on the machine changes less), the
mean CPU per create of this process and of the PostgreSQL backend serving it
(benchmarks.measures.CpuClock), and every SQL statement of one create (one more, sent last and
not timed), numbered, with the row-level security settings core.tenancy.rls sends beside them:
what a create costs the database.

Each invoice is new (a distinct number, 20 vendors by name); each response is checked to be a 201.
Each run creates a fresh tenant (slug `bench-create-<random>`); its rows stay, since audit events
cannot be deleted. Point DATABASE_URL at a scratch database for repeated runs.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks.management.commands.bench_invoice_batch import VENDOR_COUNT, batch_body
from benchmarks.measures import CpuClock, percentile
from core.actors import system_actor
from core.tenancy.rls import SCOPE_STATEMENT
from tenants.services import api_key_create, tenant_create
from vendors.services import vendor_create

BENCH_ACTOR = system_actor("bench_invoice_create")
NOT_CREATED = "Invoice {number} answered {status}: {body}"
WARM_UP = 3


class Command(BaseCommand):
    help = "Measure a single POST /api/invoices: p50/p95 server time and the SQL statements of one create."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--invoices", type=int, default=500)
        parser.add_argument("--lines", type=int, default=5, help="Lines per invoice.")

    def handle(self, *args: Any, **options: Any) -> None:
        invoices, lines = options["invoices"], options["lines"]
        if invoices < 1:
            raise CommandError("--invoices must be at least 1.")
        tenant, _ = tenant_create(
            name="Single create benchmark", slug=f"bench-create-{uuid.uuid4().hex[:8]}", actor=BENCH_ACTOR
        )
        for number in range(VENDOR_COUNT):
            vendor_create(tenant=tenant, name=f"Bench Vendor {number:02d} GmbH", actor=BENCH_ACTOR)
        _, raw_key = api_key_create(tenant=tenant, name="bench", actor=BENCH_ACTOR)
        client = Client(headers={"Authorization": f"Bearer {raw_key}"})
        # The bodies are built before the clock starts (batch_body's documents, one per request);
        # the first few requests warm the process (imports, caches) and are not counted, nor is the
        # last, whose statements are captured (capturing slows the cursor).
        total = WARM_UP + invoices + 1
        bodies = [json.dumps(batch_body(request=n, documents=1, lines=lines)["documents"][0]) for n in range(total)]
        timings: list[float] = []
        cpu_timings: list[float] = []  # this process's CPU: the Python part, whatever PostgreSQL waits
        statements: list[str] = []
        scope_settings = 0
        clock: CpuClock | None = None
        cpu_spent: tuple[float, float | None] = (0.0, None)  # the timed requests': process, database server
        for number, body in enumerate(bodies):
            captured = number == total - 1
            if number == WARM_UP:
                clock = CpuClock()
            if captured and clock is not None:
                cpu_spent = (clock.process_seconds(), clock.database_seconds())
            settings_before = connection.rls_scope.settings_sent  # type: ignore[attr-defined]
            with CaptureQueriesContext(connection) if captured else contextlib.nullcontext() as queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.post(
                    "/api/invoices",
                    data=body,
                    content_type="application/json",
                    headers={"Idempotency-Key": f"c{number}"},
                )
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
            if response.status_code != 201:
                raise CommandError(
                    NOT_CREATED.format(number=number, status=response.status_code, body=response.content[:500])
                )
            if captured:
                statements = [query["sql"] for query in queries.captured_queries]
                scope_settings = connection.rls_scope.settings_sent - settings_before  # type: ignore[attr-defined]
            elif number >= WARM_UP:
                timings.append(elapsed)
                cpu_timings.append(cpu)
        micros = [round(t * 1_000_000) for t in timings]  # µs: the percentile keeps a decimal of a ms
        cpu_micros = [round(t * 1_000_000) for t in cpu_timings]
        self.stdout.write(f"tenant {tenant.slug}; test client (Django's full request path, no network)")
        self.stdout.write(f"sent: {total} invoices × {lines} lines, one request each; created: {total}")
        self.stdout.write(
            f"server time: p50 {percentile(micros, 0.5) / 1000:.1f} ms, "
            f"p95 {percentile(micros, 0.95) / 1000:.1f} ms, slowest {max(micros) / 1000:.1f} ms; "
            f"of it in Python (this process's CPU): p50 {percentile(cpu_micros, 0.5) / 1000:.1f} ms"
        )
        timed = len(timings)
        process_cpu, database_cpu = cpu_spent
        server_cpu = f"{database_cpu * 1000 / timed:.1f} ms" if database_cpu is not None and timed else "not measured"
        self.stdout.write(
            f"CPU per create, mean of the {timed} timed: this process {process_cpu * 1000 / max(timed, 1):.1f} ms, "
            f"PostgreSQL's backend {server_cpu}"
        )
        self.stdout.write(
            f"SQL statements of one create: {len(statements) + scope_settings} "
            f"({len(statements)} listed + {scope_settings} row-level security settings)"
        )
        for index, sql in enumerate(statements, start=1):
            self.stdout.write(f"  {index:2d}. {sql if len(sql) <= 300 else sql[:300] + ' …'}")
        # Sent by core.tenancy.rls on the raw connection, which Django's query log never sees.
        self.stdout.write(f"  + {scope_settings} × {SCOPE_STATEMENT}")
