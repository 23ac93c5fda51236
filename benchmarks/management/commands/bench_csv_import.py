"""`manage.py bench_csv_import --rows N [--lines-per-invoice L] [--dry-run]`: the CSV import's speed and memory.

Writes a synthetic invoices file of N data rows (N / L invoices of L lines, from 20 vendors,
each referencing a PO) to a temporary file, imports it through the same `csv_import` the API
and `import_csv` use — all rows, every invoice created with its lines and audit event, in one
transaction — and prints rows/s, invoices/s and the process's peak RSS. Beside it, the floor: a
bare `COPY` of the same file into a temporary table of its columns, typed (no invoice, no line,
no audit event, no check), in the same run, and how many times that the import takes ("× COPY").

Flat memory is shown by comparing runs: the importer keeps one document's rows at a time, so the
peak RSS of `--rows 50000` should be close to that of `--rows 5000` (each run is a fresh
process; the peak includes Django itself). Matching is not queued (MATCH_ON_INGEST is forced
off here): this measures ingestion alone.

Each run creates a fresh tenant (slug `bench-csv-<random>`); its rows stay, since audit events
cannot be deleted. Point DATABASE_URL at a scratch database for repeated runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from benchmarks.measures import CpuClock, peak_rss_mb
from core.actors import system_actor
from core.csv_reading import csv_import
from invoices.ingest.csv_import import InvoicesCsv
from tenants.services import tenant_create
from vendors.services import vendor_create

BENCH_ACTOR = system_actor("bench_csv_import")
VENDOR_COUNT = 20
HEADER = [
    "invoice_number", "vendor_name", "po_number", "currency", "invoice_date", "tax_amount", "total_amount",
    "line_number", "sku", "description", "quantity", "unit_price",
]  # fmt: skip


def write_file(path: Path, *, rows: int, lines_per_invoice: int) -> int:
    """The synthetic file; returns the number of invoices in it."""
    invoices = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        written = 0
        while written < rows:
            invoices += 1
            lines = min(lines_per_invoice, rows - written)
            prices = [Decimal(100 + (invoices * 7 + number * 13) % 900) / 100 for number in range(lines)]
            quantities = [Decimal(1 + (invoices + number) % 12) for number in range(lines)]
            subtotal = sum(q * p for q, p in zip(quantities, prices, strict=True))
            tax = (subtotal * Decimal("0.19")).quantize(Decimal("0.01"))
            for number in range(lines):
                writer.writerow(
                    [
                        f"BENCH-{invoices:07d}",
                        f"Bench Vendor {invoices % VENDOR_COUNT:02d} GmbH",
                        f"PO-{invoices % 500:05d}",
                        "EUR",
                        (dt.date(2026, 1, 1) + dt.timedelta(days=invoices % 300)).isoformat(),
                        f"{tax}",
                        f"{subtotal + tax}",
                        number + 1,
                        f"SKU-{number:03d}",
                        f'Bench item {number} — grade A, "boxed"',
                        f"{quantities[number]}",
                        f"{prices[number]}",
                    ]
                )
            written += lines
    return invoices


# The file's columns as PostgreSQL would type them: what a bare COPY has to parse.
_COPY_COLUMNS = (
    "invoice_number text, vendor_name text, po_number text, currency text, invoice_date date, tax_amount numeric,"
    " total_amount numeric, line_number integer, sku text, description text, quantity numeric, unit_price numeric"
)


def bare_copy_seconds(path: Path) -> float:
    """The time of a `COPY … FROM STDIN (FORMAT csv)` of the file into a temporary table, rolled back."""
    data = path.read_bytes()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE bench_copy ({_COPY_COLUMNS}) ON COMMIT DROP")
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(data)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


class StatementCount:
    """A `connection.execute_wrapper` counting the statements the import sends (not its COPYs of
    invoice lines, one per chunk of 5,000, which psycopg sends without `execute`)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = "Measure the CSV import: rows/s and peak memory on a synthetic invoices file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", type=int, default=50_000, help="Data rows (invoice lines) in the file.")
        parser.add_argument("--lines-per-invoice", type=int, default=10)
        parser.add_argument("--dry-run", action="store_true", help="Validate everything, then roll back.")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.MATCH_ON_INGEST = False
        rows, per_invoice = options["rows"], options["lines_per_invoice"]
        tenant, _ = tenant_create(
            name="CSV import benchmark", slug=f"bench-csv-{uuid.uuid4().hex[:8]}", actor=BENCH_ACTOR
        )
        for number in range(VENDOR_COUNT):
            vendor_create(tenant=tenant, name=f"Bench Vendor {number:02d} GmbH", actor=BENCH_ACTOR)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "invoices.csv"
            invoices = write_file(path, rows=rows, lines_per_invoice=per_invoice)
            size_mb = path.stat().st_size / 1_048_576
            rss_before = peak_rss_mb()
            statements = StatementCount()
            clock = CpuClock()
            started = time.perf_counter()
            with path.open("rb") as binary, connection.execute_wrapper(statements):
                report = csv_import(
                    kind=InvoicesCsv(tenant=tenant, actor=BENCH_ACTOR), binary=binary, dry_run=options["dry_run"]
                )
            elapsed = time.perf_counter() - started
            cpu = clock.describe()
            copy_seconds = bare_copy_seconds(path)
        database = settings.DATABASES["default"]
        self.stdout.write(
            f"database {database['NAME']} at {database.get('HOST') or 'local socket'}; tenant {tenant.slug}"
        )
        self.stdout.write(
            f"file: {rows} rows, {invoices} invoices of up to {per_invoice} lines, {size_mb:.1f} MB"
            + (" (dry run: rolled back)" if options["dry_run"] else "")
        )
        self.stdout.write(f"created: {len(report.created_ids)} invoices, {report.rows} rows read")
        per_second = f"{report.rows / elapsed:,.0f} rows/s; {len(report.created_ids) / elapsed:,.0f} invoices/s"
        self.stdout.write(f"time: {elapsed:.2f} s; {per_second}; {statements.count} statements")
        self.stdout.write(cpu)
        ratio = elapsed / copy_seconds
        self.stdout.write(
            f"bare COPY of the same file: {copy_seconds * 1000:.0f} ms; the import takes {ratio:,.0f}× COPY"
        )
        self.stdout.write(f"peak RSS: {peak_rss_mb():.0f} MB (before the import: {rss_before:.0f} MB)")
