"""One run of the load test, from a fresh tenant to a checked report (`load_test_run`).

A fresh tenant with its API key and `benchmarks.fixtures`' vendors, POs and goods receipts, whose
invoices are POSTed by the clients to the web servers while the clusters match them; then the
wait for matching to drain, the stop, and the checks.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import tempfile
import time
from collections import Counter
from io import StringIO
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from benchmarks.fixtures import FixtureBuilder
from benchmarks.load.clients import LoadClients, invoice_payload
from benchmarks.load.report import LoadReport, load_checks
from benchmarks.load.services import load_services, load_services_environment, sigterm_as_interrupt
from core.actors import system_actor
from core.tenancy.roles import runtime_database_url
from invoices.models import Invoice, InvoiceStatus
from matching.models import MatchResult, MatchRun
from tenants.models import Tenant
from tenants.services import tenant_create

LOAD_ACTOR = system_actor("load_test")
# Documents built per second of load: above what this app serves on 2 cores; past the pool the
# clients re-bill its POs under new invoice numbers (reported), rather than stop early.
DOCUMENTS_PER_SECOND = 50
# Two machines, each a web server and a cluster: the smallest set-up where a request and its
# retry, or two drains of one tenant, meet on different machines.
INSTANCES = 2


def _wait_for_drain(tenant: Tenant, *, timeout: float) -> float:
    started = time.monotonic()
    received = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED)
    while received.exists() and time.monotonic() - started < timeout:
        time.sleep(0.5)
    return time.monotonic() - started


def load_test_run(
    *,
    clients: int,
    duration: float,
    lines: int = 5,
    documents: int | None = None,
    instances: int = INSTANCES,
    web_workers: int | None = None,
    drain_timeout: float = 120.0,
    seed: int = 1,
    log_dir: Path | None = None,
    progress: Any = None,
) -> LoadReport:
    """Prepare a tenant, serve it, load it, wait for matching, stop, check (`manage.py load_test`'s docstring)."""
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
    load = LoadClients(payloads=payloads, clients=clients, duration=duration, run_id=stamp)
    # httpx logs every request at INFO: thousands of lines that would hide the report.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The clients' and the checks' connection must not sit idle in a transaction meanwhile.
    connection.close()
    with (
        sigterm_as_interrupt(),
        load_services(
            environment=environment, instances=instances, web_workers=web_workers, log_dir=log_dir
        ) as services,
    ):
        say(
            f"Serving on {', '.join(services.base_urls)} with {instances} django-q2 cluster(s); "
            f"{clients} clients for {duration:.0f} s…"
        )
        seconds = asyncio.run(load.run(base_urls=services.base_urls, api_key=api_key, clients=clients, seed=seed))
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
    report.checks = load_checks(report)
    return report
