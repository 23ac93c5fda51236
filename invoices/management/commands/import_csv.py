"""`manage.py import_csv KIND FILE --tenant T [--dry-run]`: the API's CSV import, from a file on disk.

KIND is `invoices`, `purchase-orders` or `goods-receipts` (`purchase_orders` works too). The
same importer as `POST /api/<kind>/import/csv`: all or nothing, every problem listed by row and
column, duplicates skipped, the file kept (source_files). A progress bar (rows read) goes to
stderr when it is a terminal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from core.actors import system_actor
from core.csv_reading import CsvImportInvalid
from core.http.uploads import UploadTooLarge
from core.tenancy.rls import tenant_scope
from invoices.ingest.csv_import import KINDS, kind_named
from source_files.services import csv_file_import
from tenants.management.options import tenant_option

UNKNOWN_KIND = "Unknown kind {kind!r}: one of {kinds}."
NO_SUCH_FILE = "No such file: {path}"


class Command(BaseCommand):
    help = "Import invoices, purchase orders or goods receipts from a CSV file (all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", help="invoices | purchase-orders | goods-receipts")
        parser.add_argument("file", help="Path of the CSV file.")
        parser.add_argument("--tenant", required=True, help="Tenant id or slug.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")
        parser.add_argument(
            "--progress",
            choices=("auto", "always", "never"),
            default="auto",
            help="Progress bar on stderr: auto shows it on a terminal.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            kind = kind_named(options["kind"])
        except KeyError as exc:
            raise CommandError(UNKNOWN_KIND.format(kind=options["kind"], kinds=", ".join(KINDS))) from exc
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(NO_SUCH_FILE.format(path=path))
        tenant = tenant_option(options["tenant"])
        show = options["progress"] == "always" or (options["progress"] == "auto" and sys.stderr.isatty())
        bar = tqdm(total=0, unit=" lines", disable=not show, file=sys.stderr, mininterval=0.5)
        done = 0

        def on_start(line_count: int) -> None:
            bar.total = max(line_count - 1, 0)  # the header is not a row
            bar.refresh()

        def progress(rows: int) -> None:
            nonlocal done
            bar.update(rows - done)
            done = rows

        try:
            with path.open("rb") as binary, tenant_scope(tenant):
                report, _ = csv_file_import(
                    kind=KINDS[kind](tenant=tenant, actor=system_actor("import_csv")),
                    binary=binary,
                    filename=path.name,
                    dry_run=options["dry_run"],
                    progress=progress,
                    on_start=on_start,
                )
        except CsvImportInvalid as exc:
            bar.close()
            for location, messages in exc.details.items():
                # Past the cap, details also carries "truncated" and counts; exc.message says so.
                for message in messages if isinstance(messages, list) else []:
                    self.stderr.write(f"{location}: {message}")
            raise CommandError(exc.message) from exc
        except UploadTooLarge as exc:
            bar.close()
            raise CommandError(f"{exc.message} (CSV_MAX_BYTES={settings.CSV_MAX_BYTES})") from exc
        bar.close()
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        verb = "would create" if report.dry_run else "created"
        self.stdout.write(
            f"{kind}: {report.rows} rows, {report.documents} documents; {verb} {len(report.created_ids)}, "
            f"{len(report.duplicates)} already present (skipped)"
            + (" [dry run: nothing written]" if report.dry_run else "")
        )
        for duplicate in report.duplicates:
            self.stdout.write(f"  row {duplicate['row']}: {duplicate['number']} already present as {duplicate['id']}")
