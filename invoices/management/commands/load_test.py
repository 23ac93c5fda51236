"""`manage.py load_test [--clients 50] [--duration 60]`: invoices over real HTTP while matching runs.

What it does, on the configured database (a scratch one: like `bench_matching`, it leaves its
tenant behind, and audit events and match results cannot be deleted):

1. A fresh tenant (`load-<time>-<random>`) with its API key, and vendors, POs and goods receipts
   built by `bench_matching`'s `FixtureBuilder` (its realistic mix: ~76 % clean, each fault class
   a few percent), whose invoices are *not* stored but kept as documents to POST.
2. gunicorn (the production web server, `recon_site/gunicorn.conf.py`, several sync workers) on
   a free loopback port and a django-q2 worker (`qcluster`; Redis is the broker when REDIS_URL is
   set), as subprocesses whose environment comes from one function, `load_services_environment`.
   The worker's queue has a name of its own (`Q_CLUSTER_NAME`), so on a shared Redis it neither
   takes nor gives away another cluster's tasks.
3. `--clients` concurrent asyncio clients (httpx) POST `/api/invoices` for `--duration` seconds,
   each invoice with a fresh `Idempotency-Key`. 10 % of the requests are deliberate retries with
   the same key and body: half sent at the same moment as the original (two connections), half
   a re-send of a recent key, which may still be in flight at another client. A `409
   idempotency_key_in_flight` is answered as a client should: wait a little, send again. Each
   HTTP request's latency and status are recorded. Matching runs meanwhile, queued by each
   invoice's commit (`MATCH_ON_INGEST`).
4. After the load: wait (at most `--drain-timeout`) until no invoice is left in `received`,
   stop both processes, then check: no 5xx and no request without an answer; every key
   produced exactly one invoice (one answer created it, every other answer for the key replayed
   that same invoice; the tenant's invoices are exactly those); every invoice has exactly one
   match result; no matching run failed; `verify_audit` passes for the tenant.

Prints requests, requests/s, latency percentiles, status counts, retries, invoices, match results
and the checks; exits 1 when a check fails. The subprocesses are stopped in every case
(exception, Ctrl-C, SIGTERM): SIGTERM, then SIGKILL to their whole process group after a grace
period, so no worker outlives the command.

The tenant's API throttle is lifted for the web server (`THROTTLE_TENANT_RATE`): fifty clients
of one tenant are the point here, and the throttle has tests of its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from django_q.brokers import get_broker

from audit.actors import system_actor
from core.money import format_minor
from invoices.models import Invoice, InvoiceStatus
from matching.management.commands.bench_matching import FixtureBuilder, UnsavedInvoice, percentile
from matching.models import MatchResult, MatchRun
from recon_site.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from recon_site.api.idempotency import REPLAYED_HEADER, IdempotencyInFlight
from recon_site.db_roles import runtime_database_url
from tenants.models import IdempotencyRecord, Tenant
from tenants.services import tenant_create

BASE_DIR = Path(settings.BASE_DIR)
LOAD_ACTOR = system_actor("load_test")
RETRY_SHARE = 0.10
# Half the retries go out with their original, half later: per new document, each kind with
# probability p, so that retries / requests = 2p / (1 + p) = RETRY_SHARE.
RETRY_EACH = RETRY_SHARE / (2 - RETRY_SHARE)
RECENT_KEYS = 2  # × clients: the keys a later re-send picks from, some still in flight
IN_FLIGHT_BACKOFF_S = 0.05
REQUEST_TIMEOUT_S = 35.0  # above gunicorn's 30 s worker timeout: its answer, not ours
BOOT_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0
# Documents built per second of load: above what this app serves on 2 cores; past the pool the
# clients re-bill its POs under new invoice numbers (reported), rather than stop early.
DOCUMENTS_PER_SECOND = 50
INVOICES_PATH = "/api/invoices"
IN_FLIGHT_CODE = IdempotencyInFlight.code
TRANSPORT_ERROR = 0  # the status recorded for a request that got no HTTP answer
# gunicorn.conf.py's access line: `… "POST /api/invoices HTTP/1.1" 201 2345 227ms …`.
ACCESS_LOG_POST = re.compile(rf'"POST {INVOICES_PATH} HTTP/[\d.]+" \d+ \S+ (\d+)ms')

INVALID_OPTIONS = "--clients, --duration, --lines and --drain-timeout must be at least 1."
BOOT_FAILED = "{name} exited with status {status} while starting; its log: {log}"
BOOT_TIMED_OUT = "The web server did not answer /health within {seconds:.0f} s; its log: {log}"
CHECKS_FAILED = "{failed} of {total} load checks failed."
INTERRUPTED = "Interrupted: the web server and the worker were stopped; nothing was checked."


@dataclass(frozen=True)
class Outcome:
    """One HTTP request of the load: what came back and how long it took."""

    key: str
    status: int
    latency_us: int
    retry: bool  # part of a deliberate re-send of a key, not of the first request for it
    attempt: int  # 0: as the client decided to send it; 1, 2, …: sent again after a 409 in flight
    invoice_id: str | None = None
    replayed: bool = False
    error_code: str = ""

    @property
    def in_flight(self) -> bool:
        return self.status == 409 and self.error_code == IN_FLIGHT_CODE

    @property
    def final(self) -> bool:
        """An answer the client keeps (not a `retry shortly`, not a dropped connection)."""
        return self.status != TRANSPORT_ERROR and not self.in_flight


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class LoadReport:
    tenant: Tenant
    clients: int
    seconds: float  # first request sent to last answer received
    outcomes: list[Outcome]
    documents_built: int
    documents_rebilled: int
    concurrent_retries: int  # deliberate retries sent at the same moment as their original
    drain_seconds: float
    services: RunningServices
    invoices: int = 0
    match_results: int = 0
    runs: Counter[str] = field(default_factory=Counter)
    audit: str = ""
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def status_counts(self) -> Counter[int]:
        return Counter(outcome.status for outcome in self.outcomes)

    def latency_ms(self, share: float) -> float:
        return percentile([outcome.latency_us for outcome in self.outcomes], share) / 1000

    def server_ms(self) -> list[int]:
        """Each POST's time inside gunicorn (its access log): the latency without the wait for a worker."""
        log = self.services.logs["web"].read_text(errors="replace")
        return [int(match[1]) for match in ACCESS_LOG_POST.finditer(log)]

    def render(self) -> str:
        outcomes = self.outcomes
        requests = len(outcomes)
        sent = [outcome for outcome in outcomes if outcome.attempt == 0]
        server = self.server_ms()
        retries = sum(outcome.retry for outcome in sent)
        keys = {outcome.key for outcome in outcomes}
        statuses = ", ".join(
            f"{'no answer' if status == TRANSPORT_ERROR else status} {count}"
            for status, count in sorted(self.status_counts.items())
        )
        lines = [
            f"Tenant: {self.tenant.slug}",
            f"Load: {self.clients} clients for {self.seconds:.1f} s; {len(keys)} keys, "
            f"{self.documents_built} documents built, {self.documents_rebilled} re-billed past the pool",
            f"Requests: {requests} ({requests / self.seconds:.1f}/s); deliberate retries {retries} "
            f"({retries / max(1, len(sent)):.1%} of {len(sent)} sends, {self.concurrent_retries} alongside their "
            f"original); in-flight 409s {sum(o.in_flight for o in outcomes)} (sent again "
            f"{requests - len(sent)}); replays {sum(o.replayed for o in outcomes)}",
            f"Latency (ms): p50 {self.latency_ms(0.50):.0f}, p95 {self.latency_ms(0.95):.0f}, "
            f"p99 {self.latency_ms(0.99):.0f}, max {self.latency_ms(1.0):.0f}",
            "Server time (ms, gunicorn access log): "
            + (f"p50 {percentile(server, 0.5)}, p99 {percentile(server, 0.99)}" if server else "not found"),
            f"Statuses: {statuses}",
            f"Matching drained {self.drain_seconds:.1f} s after the load; invoices {self.invoices}, "
            f"match results {self.match_results}; runs "
            + ", ".join(f"{status} {count}" for status, count in sorted(self.runs.items())),
            f"Audit: {self.audit}",
            "Checks:",
            *(f"  {'ok  ' if check.passed else 'FAIL'} {check.name}: {check.detail}" for check in self.checks),
            "Logs: " + ", ".join(f"{name} {path}" for name, path in self.services.logs.items()),
        ]
        return "\n".join(lines)


def load_services_environment(*, database_url: str, redis_url: str, cluster_name: str) -> dict[str, str]:
    """The environment of the web server and the worker, built in one place.

    They run the real settings (`recon_site.settings.base`, not the test ones) against
    `database_url`. `Q_CLUSTER_NAME` gives the worker a queue of its own (django-q2 reads it).
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recon_site.settings.base",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "Q_CLUSTER_NAME": cluster_name,
        "DEBUG": "false",
        "MATCH_ON_INGEST": "true",
        "THROTTLE_TENANT_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    # Tracing would measure the exporter too.
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop for both gunicorn and qcluster), then SIGKILL to the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_GRACE_S)
    # Each child leads its own process group (start_new_session): this reaches its workers
    # too, even when the leader has already exited without waiting for them.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM while the children are stopped would interrupt the stopping
    and leave some running; it is bounded anyway (STOP_GRACE_S each, then SIGKILL)."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class RunningServices:
    logs: dict[str, Path]  # by name: web, worker
    process_groups: list[int]  # each child's (it leads its own); all gone once the block ends


@contextmanager
def load_services(
    *, environment: dict[str, str], port: int, web_workers: int | None, log_dir: Path
) -> Iterator[RunningServices]:
    """gunicorn on 127.0.0.1:`port` and a django-q2 worker, running until the block ends."""
    commands = {
        "web": [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(BASE_DIR / "recon_site" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            *(["--workers", str(web_workers)] if web_workers else []),
        ],
        "worker": [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"],
    }
    logs = {name: log_dir / f"{name}.log" for name in commands}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                # Own session: a terminal's Ctrl-C reaches only this command, which stops each
                # child once (a second SIGINT would interrupt their clean-up).
                processes[name] = subprocess.Popen(
                    command,
                    cwd=BASE_DIR,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(
                        BOOT_FAILED.format(name=name, status=process.returncode, log=logs[name])
                        + "\n"
                        + _log_tail(logs[name])
                    )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CommandError(BOOT_TIMED_OUT.format(seconds=BOOT_TIMEOUT_S, log=logs["web"]))
            time.sleep(0.2)
        yield RunningServices(logs=logs, process_groups=[process.pid for process in processes.values()])
    finally:
        with _signals_ignored():
            for process in processes.values():
                _stop(process)
            # Drains still queued behind the last one would find nothing to do; on a shared
            # Redis their list would stay forever.
            get_broker(environment["Q_CLUSTER_NAME"]).delete_queue()


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the `finally` that stops the subprocesses runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def invoice_payload(unsaved: UnsavedInvoice) -> dict[str, Any]:
    """The API body of a fixture invoice, as a source would send it (decimal strings)."""
    invoice, currency = unsaved.invoice, unsaved.invoice.currency
    payload: dict[str, Any] = {
        "invoice_number": invoice.invoice_number,
        "po_number": invoice.po_number,
        "currency": currency,
        "invoice_date": invoice.invoice_date.isoformat(),
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
        "tax_amount": format_minor(invoice.tax_amount, currency),
        "shipping_amount": format_minor(invoice.shipping_amount, currency),
        "total_amount": format_minor(invoice.total_amount, currency),
        "tax_rate": str(invoice.tax_rate) if invoice.tax_rate is not None else None,
        "lines": [
            {
                "line_number": line.line_number,
                "sku": line.sku,
                "description": line.description,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "amount": format_minor(line.amount, currency),
                "po_line_number": line.po_line_number,
            }
            for line in unsaved.lines
        ],
    }
    if invoice.vendor_id is not None:
        payload["vendor_id"] = str(invoice.vendor_id)
    else:
        payload["vendor_tax_id"] = invoice.vendor_tax_id_raw
        payload["vendor_name"] = invoice.vendor_name_raw
    return payload


@dataclass(frozen=True)
class _Request:
    key: str
    body: bytes


class _Load:
    """The clients' shared state: the next document, the recent keys, every outcome."""

    def __init__(self, *, payloads: list[dict[str, Any]], clients: int, duration: float, run_id: str) -> None:
        self.payloads = payloads
        self.duration = duration
        self.run_id = run_id
        self.sent = 0
        self.recent: deque[_Request] = deque(maxlen=RECENT_KEYS * clients)
        self.outcomes: list[Outcome] = []
        self.rebilled = 0
        self.concurrent_retries = 0
        self.deadline = 0.0
        self.hard_deadline = 0.0

    def new_request(self) -> _Request:
        index = self.sent
        self.sent += 1
        payload = self.payloads[index % len(self.payloads)]
        billing = index // len(self.payloads)
        if billing:
            # Past the pool: the same PO billed again, under a number of its own.
            self.rebilled += 1
            payload = {**payload, "invoice_number": f"{payload['invoice_number']}-{billing + 1}"}
        request = _Request(key=f"load-{self.run_id}-{index:07d}", body=json.dumps(payload).encode())
        self.recent.append(request)
        return request

    async def send(self, client: httpx.AsyncClient, request: _Request, *, retry: bool) -> None:
        """POST until a final answer: a 409 in flight or a dropped connection is sent again."""
        for attempt in itertools.count():
            started = time.perf_counter()
            try:
                response = await client.post(
                    INVOICES_PATH,
                    content=request.body,
                    headers={IDEMPOTENCY_HEADER: request.key, "Content-Type": "application/json"},
                )
            except httpx.TransportError:
                outcome = Outcome(request.key, TRANSPORT_ERROR, _elapsed_us(started), retry, attempt)
            else:
                outcome = _outcome(request.key, response, _elapsed_us(started), retry, attempt)
            self.outcomes.append(outcome)
            if outcome.final or time.monotonic() > self.hard_deadline:
                return
            await asyncio.sleep(IN_FLIGHT_BACKOFF_S * (1 + random.random()))  # noqa: S311 (jitter)

    async def client(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        while time.monotonic() < self.deadline:
            draw = rng.random()
            if draw < RETRY_EACH and self.recent:
                await self.send(client, rng.choice(self.recent), retry=True)
            elif draw < 2 * RETRY_EACH:
                request = self.new_request()
                self.concurrent_retries += 1
                await asyncio.gather(self.send(client, request, retry=False), self.send(client, request, retry=True))
            else:
                await self.send(client, self.new_request(), retry=False)

    async def run(self, *, base_url: str, api_key: str, clients: int, seed: int) -> float:
        limits = httpx.Limits(max_connections=2 * clients, max_keepalive_connections=2 * clients)
        async with httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=REQUEST_TIMEOUT_S,
            limits=limits,
        ) as client:
            started = time.monotonic()
            self.deadline = started + self.duration
            # A retry that keeps meeting 409s gives up after this; its key then fails the checks.
            self.hard_deadline = self.deadline + 2 * REQUEST_TIMEOUT_S
            await asyncio.gather(*(self.client(client, random.Random(seed + n)) for n in range(clients)))  # noqa: S311
            return time.monotonic() - started


def _elapsed_us(started: float) -> int:
    return round((time.perf_counter() - started) * 1_000_000)


def _outcome(key: str, response: httpx.Response, latency_us: int, retry: bool, attempt: int) -> Outcome:
    invoice_id, error_code = None, ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        invoice_id = body.get("id") if response.status_code < 300 else None
        error = body.get("error")
        error_code = error.get("code", "") if isinstance(error, dict) else ""
    return Outcome(
        key=key,
        status=response.status_code,
        latency_us=latency_us,
        retry=retry,
        attempt=attempt,
        invoice_id=invoice_id,
        replayed=response.headers.get(REPLAYED_HEADER) == "true",
        error_code=error_code,
    )


def _wait_for_drain(tenant: Tenant, *, timeout: float) -> float:
    started = time.monotonic()
    received = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED)
    while received.exists() and time.monotonic() - started < timeout:
        time.sleep(0.5)
    return time.monotonic() - started


def _checks(report: LoadReport) -> list[Check]:
    tenant, outcomes = report.tenant, report.outcomes
    checks = []
    server_errors = sum(count for status, count in report.status_counts.items() if status >= 500)
    unanswered = report.status_counts[TRANSPORT_ERROR]
    checks.append(
        Check("no 5xx", server_errors == 0 and unanswered == 0, f"{server_errors} 5xx, {unanswered} without an answer")
    )

    by_key: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_key.setdefault(outcome.key, []).append(outcome)
    created_by_key: dict[str, str] = {}
    bad_keys = []
    for key, answers in by_key.items():
        final = [answer for answer in answers if answer.final]
        ids = {answer.invoice_id for answer in final}
        originals = [answer for answer in final if not answer.replayed]
        if final and all(answer.status == 201 for answer in final) and len(ids) == 1 and len(originals) == 1:
            created_by_key[key] = originals[0].invoice_id or ""
        else:
            bad_keys.append(key)
    stored = set(Invoice.objects.for_tenant(tenant).values_list("id", flat=True))
    stored_ids = {str(invoice_id) for invoice_id in stored}
    records = IdempotencyRecord.objects.for_tenant(tenant).count()
    one_each = not bad_keys and set(created_by_key.values()) == stored_ids and records == len(by_key)
    detail = (
        f"{len(by_key)} keys, {len(stored_ids)} invoices, {records} stored keys; "
        f"{len(bad_keys)} keys without exactly one created invoice"
        + (
            f" (first: {bad_keys[0]}: {[(a.status, a.error_code, a.replayed) for a in by_key[bad_keys[0]]]})"
            if bad_keys
            else ""
        )
    )
    checks.append(Check("every key produced exactly one invoice", one_each, detail))

    per_invoice = Counter(MatchResult.objects.for_tenant(tenant).values_list("invoice_id", flat=True).order_by())
    unmatched = len(stored - set(per_invoice))
    rematched = sum(1 for count in per_invoice.values() if count > 1)
    checks.append(
        Check(
            "every invoice matched once",
            unmatched == 0 and rematched == 0,
            f"{unmatched} invoices without a match result, {rematched} with more than one",
        )
    )
    failed_runs = report.runs[MatchRun.Status.FAILED]
    checks.append(Check("no matching run failed", failed_runs == 0, f"{failed_runs} failed runs"))
    checks.append(Check("audit chain verifies", report.audit.startswith("OK"), report.audit))
    return checks


def load_test_run(
    *,
    clients: int,
    duration: float,
    lines: int = 5,
    documents: int | None = None,
    web_workers: int | None = None,
    drain_timeout: float = 120.0,
    seed: int = 1,
    log_dir: Path | None = None,
    progress: Any = None,
) -> LoadReport:
    """Prepare a tenant, serve it, load it, wait for matching, stop, check (module docstring)."""
    say = progress or (lambda message: None)
    stamp = f"{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    tenant, api_key = tenant_create(name=f"Load test {stamp}", slug=f"load-{stamp}", actor=LOAD_ACTOR)
    pool = documents or max(100, math.ceil(DOCUMENTS_PER_SECOND * duration))
    builder = FixtureBuilder(tenant=tenant, rng=random.Random(seed), vendor_count=50, lines=lines)  # noqa: S311
    kinds, unsaved = builder.build_for_ingestion(pool, progress=lambda done: None)
    payloads = [invoice_payload(invoice) for invoice in unsaved]
    say(
        f"Tenant {tenant.slug}: {builder.purchase_orders} POs, {builder.receipts} goods receipts, "
        f"{pool} invoices to send (" + ", ".join(f"{kind} {count}" for kind, count in kinds.most_common()) + ")"
    )

    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="recon-load-"))
    environment = load_services_environment(
        database_url=runtime_database_url(connection.settings_dict),
        redis_url=settings.REDIS_URL,
        cluster_name=f"recon-load-{stamp}",
    )
    port = free_port()
    load = _Load(payloads=payloads, clients=clients, duration=duration, run_id=stamp)
    # httpx logs every request at INFO: thousands of lines that would hide the report.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The clients' and the checks' connection must not sit idle in a transaction meanwhile.
    connection.close()
    with (
        _sigterm_as_interrupt(),
        load_services(environment=environment, port=port, web_workers=web_workers, log_dir=log_dir) as services,
    ):
        say(f"Serving on 127.0.0.1:{port}; {clients} clients for {duration:.0f} s…")
        seconds = asyncio.run(
            load.run(base_url=f"http://127.0.0.1:{port}", api_key=api_key, clients=clients, seed=seed)
        )
        say(f"Load done: {len(load.outcomes)} requests in {seconds:.1f} s; waiting for matching to drain…")
        drain_seconds = _wait_for_drain(tenant, timeout=drain_timeout)

    report = LoadReport(
        tenant=tenant,
        clients=clients,
        seconds=seconds,
        outcomes=load.outcomes,
        documents_built=pool,
        documents_rebilled=load.rebilled,
        concurrent_retries=load.concurrent_retries,
        drain_seconds=drain_seconds,
        services=services,
    )
    report.invoices = Invoice.objects.for_tenant(tenant).count()
    report.match_results = MatchResult.objects.for_tenant(tenant).count()
    report.runs = Counter(
        dict(MatchRun.objects.for_tenant(tenant).values_list("status").annotate(count=Count("id")).order_by())
    )
    verify = StringIO()
    try:
        call_command("verify_audit", "--tenant", str(tenant.pk), stdout=verify)
        report.audit = verify.getvalue().strip().splitlines()[-1]
    except CommandError as exc:
        report.audit = f"{exc}: {verify.getvalue().strip()}"
    report.checks = _checks(report)
    return report


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
            "--web-workers", type=int, default=None, help="gunicorn workers (default: gunicorn.conf.py's)."
        )
        parser.add_argument(
            "--drain-timeout", type=float, default=120.0, help="Seconds to wait for matching after the load."
        )
        parser.add_argument("--seed", type=int, default=1, help="Seed of the documents and the clients.")

    def handle(self, *args: Any, **options: Any) -> None:
        if min(options["clients"], options["duration"], options["lines"], options["drain_timeout"]) < 1:
            raise CommandError(INVALID_OPTIONS)
        started = dt.datetime.now(dt.UTC)
        try:
            report = load_test_run(
                clients=options["clients"],
                duration=options["duration"],
                lines=options["lines"],
                documents=options["documents"],
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
