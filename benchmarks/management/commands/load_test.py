"""`manage.py load_test [--clients 50] [--duration 60] [--instances 2]`: invoices over real HTTP while
matching runs, on two machines' worth of processes.

What it does, on the configured database (a scratch one: like `bench_matching`, it leaves its
tenant behind, and audit events and match results cannot be deleted):

1. A fresh tenant (`load-<time>-<random>`) with its API key, and vendors, POs and goods receipts
   built by `benchmarks.fixtures.FixtureBuilder`, as for `bench_matching` (its realistic mix:
   ~76 % clean, each fault class a few percent), whose invoices are *not* stored but kept as
   documents to POST.
2. `--instances` (default 2) gunicorn servers (the production web server,
   `recon_site/gunicorn.conf.py`, several sync workers each) on free loopback ports and as many
   django-q2 clusters (`qcluster`; Redis is the broker when REDIS_URL is set), as subprocesses
   whose environment comes from one function, `load_services_environment`: what two machines
   would run against one PostgreSQL. The clusters share a queue with a name of its own
   (`Q_CLUSTER_NAME`), so on a shared Redis they neither take nor give away another run's tasks.
3. `--clients` concurrent asyncio clients (httpx) POST `/api/invoices` for `--duration` seconds,
   each invoice with a fresh `Idempotency-Key`, client n to web server n mod `--instances`. 10 %
   of the requests are deliberate retries with the same key and body: half sent at the same
   moment as the original (two connections, the retry to the next web server), half a re-send of
   a recent key, which may still be in flight at another client and another server. A `409
   idempotency_key_in_flight` is answered as a client should: wait a little, send again. Each
   HTTP request's latency and status are recorded. Matching runs meanwhile, queued by each
   invoice's commit (`MATCH_ON_INGEST`).
4. After the load: wait (at most `--drain-timeout`) until no invoice is left in `received`,
   stop the processes, then check: no 5xx and no request without an answer; every key
   produced exactly one invoice (one answer created it, every other answer for the key replayed
   that same invoice; the tenant's invoices are exactly those); every invoice has exactly one
   match result; no matching run failed; `verify_audit` passes for the tenant; every web server
   answered requests and every cluster ran matching (their logs).

Prints requests, requests/s, latency percentiles, status counts, retries, each web server's
requests and each cluster's runs, invoices, match results and the checks; exits 1 when a check
fails. The subprocesses are stopped in every case (exception, Ctrl-C, SIGTERM): SIGTERM, then
SIGKILL to their whole process group after a grace period, so no worker outlives the command.

The tenant's API throttle is lifted for the web servers (`THROTTLE_TENANT_RATE`): fifty clients
of one tenant are the point here, and the throttle has tests of its own.

The parts (served processes, clients, report, the run) are in `benchmarks.load`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from benchmarks.load.run import DOCUMENTS_PER_SECOND, INSTANCES, load_test_run

INVALID_OPTIONS = "--clients, --duration, --lines, --instances and --drain-timeout must be at least 1."
CHECKS_FAILED = "{failed} of {total} load checks failed."
INTERRUPTED = "Interrupted: the web servers and the clusters were stopped; nothing was checked."


class Command(BaseCommand):
    help = "Load the invoice API over real HTTP with a matching worker running (use a scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=50, help="Concurrent clients (default 50).")
        parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load (default 60).")
        parser.add_argument("--lines", type=int, default=5, help="Lines per invoice (default 5).")
        parser.add_argument(
            "--documents",
            type=int,
            default=None,
            help=f"Invoices to build (default {DOCUMENTS_PER_SECOND} per second of load; past them POs are re-billed).",
        )
        parser.add_argument(
            "--instances",
            type=int,
            default=INSTANCES,
            help=f"gunicorn servers and django-q2 clusters, as many of each (default {INSTANCES}).",
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            default=None,
            help="gunicorn workers of each server (default: gunicorn.conf.py's).",
        )
        parser.add_argument(
            "--drain-timeout", type=float, default=120.0, help="Seconds to wait for matching after the load."
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed of the documents and the clients.")

    def handle(self, *args: Any, **options: Any) -> None:
        counts = ("clients", "duration", "lines", "instances", "drain_timeout")
        if min(options[name] for name in counts) < 1:
            raise CommandError(INVALID_OPTIONS)
        started = dt.datetime.now(dt.UTC)
        try:
            report = load_test_run(
                clients=options["clients"],
                duration=options["duration"],
                lines=options["lines"],
                documents=options["documents"],
                instances=options["instances"],
                web_workers=options["web_workers"],
                drain_timeout=options["drain_timeout"],
                seed=options["seed"],
                progress=lambda message: self.stdout.write(message),
            )
        except KeyboardInterrupt:
            raise CommandError(INTERRUPTED, returncode=130) from None
        self.stdout.write(f"Database: {connection.settings_dict['NAME']}; started {started:%Y-%m-%d %H:%M:%S} UTC")
        self.stdout.write(report.render())
        if not report.passed:
            failed = sum(not check.passed for check in report.checks)
            raise CommandError(CHECKS_FAILED.format(failed=failed, total=len(report.checks)), returncode=1)
