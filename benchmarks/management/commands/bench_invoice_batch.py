"""`manage.py bench_invoice_batch [--requests R] [--documents D] [--lines L]`: `POST /api/invoices/batch`'s speed.

Sends R requests of D documents of L lines each (defaults: 10 × 1,000 × 5) to the batch endpoint
through Django's whole request path in this process (middleware, API-key authentication,
throttling, an `Idempotency-Key` per request, serializers, the many-documents door, the stored
response), no network, and prints lines/s and documents/s over the requests' server time,
each request's median and slowest time, and the CPU the requests cost this process and the
PostgreSQL backend serving it (benchmarks.measures.CpuClock). Every document is new (distinct numbers, 20 vendors by
name); each request is checked to have created all of its documents. Matching is not queued
(MATCH_ON_INGEST is forced off): this measures ingestion alone.

Each run creates a fresh tenant (slug `bench-batch-<random>`); its rows stay, since audit events
cannot be deleted. Point DATABASE_URL at a scratch database for repeated runs.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import Client

from benchmarks.measures import CpuClock, peak_rss_mb, percentile
from core.actors import system_actor
from tenants.services import api_key_create, tenant_create
from vendors.services import vendor_create

BENCH_ACTOR = system_actor("bench_invoice_batch")
VENDOR_COUNT = 20
NOT_ALL_CREATED = "Request {number} created {created} of {documents} documents: {body}"


def batch_body(*, request: int, documents: int, lines: int) -> dict[str, Any]:
    """One request's documents, each in the shape of `POST /api/invoices`."""
    body = []
    for number in range(documents):
        serial = request * documents + number
        prices = [Decimal(100 + (serial * 7 + line * 13) % 900) / 100 for line in range(lines)]
        quantities = [Decimal(1 + (serial + line) % 12) for line in range(lines)]
        subtotal = sum(q * p for q, p in zip(quantities, prices, strict=True))
        tax = (subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
        body.append(
            {
                "invoice_number": f"BATCH-{serial:08d}",
                "vendor_name": f"Bench Vendor {serial % VENDOR_COUNT:02d} GmbH",
                "po_number": f"PO-{serial % 500:05d}",
                "currency": "EUR",
                "invoice_date": (dt.date(2026, 1, 1) + dt.timedelta(days=serial % 300)).isoformat(),
                "tax_amount": str(tax),
                "total_amount": str(subtotal + tax),
                "lines": [
                    {
                        "line_number": line + 1,
                        "sku": f"SKU-{line:03d}",
                        "description": f"Bench item {line}",
                        "quantity": str(quantities[line]),
                        "unit_price": str(prices[line]),
                    }
                    for line in range(lines)
                ],
            }
        )
    return {"documents": body}


class Command(BaseCommand):
    help = "Measure POST /api/invoices/batch: lines/s over the server time of full batches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--requests", type=int, default=10)
        parser.add_argument("--documents", type=int, default=1000, help="Documents per request (at most 1,000).")
        parser.add_argument("--lines", type=int, default=5, help="Lines per document.")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.MATCH_ON_INGEST = False
        requests, documents, lines = options["requests"], options["documents"], options["lines"]
        tenant, _ = tenant_create(
            name="Batch API benchmark", slug=f"bench-batch-{uuid.uuid4().hex[:8]}", actor=BENCH_ACTOR
        )
        for number in range(VENDOR_COUNT):
            vendor_create(tenant=tenant, name=f"Bench Vendor {number:02d} GmbH", actor=BENCH_ACTOR)
        _, raw_key = api_key_create(tenant=tenant, name="bench", actor=BENCH_ACTOR)
        client = Client(headers={"Authorization": f"Bearer {raw_key}"})
        # The bodies are built before the clock starts: what is measured is the server's part.
        bodies = [json.dumps(batch_body(request=n, documents=documents, lines=lines)) for n in range(requests)]
        largest = max(len(body) for body in bodies)
        # A batch of 1,000 documents may exceed the default request size limit (MAX_REQUEST_BYTES).
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = max(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0, largest)
        timings: list[float] = []
        clock = CpuClock()
        for number, body in enumerate(bodies):
            started = time.perf_counter()
            response = client.post(
                "/api/invoices/batch",
                data=body,
                content_type="application/json",
                headers={"Idempotency-Key": f"b{number}"},
            )
            timings.append(time.perf_counter() - started)
            answer = response.json()
            if response.status_code != 200 or answer.get("created") != documents:
                raise CommandError(
                    NOT_ALL_CREATED.format(
                        number=number, created=answer.get("created"), documents=documents, body=str(answer)[:500]
                    )
                )
        total = sum(timings)
        cpu = clock.describe()
        self.stdout.write(f"tenant {tenant.slug}; request bodies up to {largest / 1_048_576:.1f} MB")
        self.stdout.write(
            f"sent: {requests} requests of {documents} documents × {lines} lines; "
            f"created: {requests * documents} invoices, {requests * documents * lines} lines"
        )
        per_request = (
            f"median {percentile([round(t * 1000) for t in timings], 0.5)} ms, slowest {max(timings) * 1000:.0f} ms"
        )
        self.stdout.write(f"time: {total:.2f} s ({per_request} per request)")
        lines_per_second, documents_per_second = requests * documents * lines / total, requests * documents / total
        self.stdout.write(f"throughput: {lines_per_second:,.0f} lines/s; {documents_per_second:,.0f} documents/s")
        self.stdout.write(f"{cpu} (the requests' time; the machine's other load changes it less than wall time)")
        self.stdout.write(f"peak RSS: {peak_rss_mb():.0f} MB")
