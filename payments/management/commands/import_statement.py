"""`manage.py import_statement FILE --tenant T [--format F] [--dry-run]`: a bank statement from disk.

The same importer as `POST /api/payments/import`: CAMT.053, MT940 or CSV (detected from the
content unless --format), all or nothing, lines already stored skipped, every statement's
balances checked and reported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actors import system_actor
from core.http.uploads import UploadTooLarge
from core.tenancy.rls import tenant_scope
from payments.exceptions import StatementInvalid
from payments.services import statement_import
from payments.statements import FORMATS
from tenants.management.options import tenant_option

NO_SUCH_FILE = "No such file: {path}"


class Command(BaseCommand):
    help = "Import a bank statement file (CAMT.053, MT940 or CSV) for a tenant, all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="Path of the statement file.")
        parser.add_argument("--tenant", required=True, help="Tenant id or slug.")
        parser.add_argument("--format", choices=sorted(FORMATS), default=None, help="Default: detected.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything, write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(NO_SUCH_FILE.format(path=path))
        tenant = tenant_option(options["tenant"])
        try:
            with path.open("rb") as binary, tenant_scope(tenant):
                report = statement_import(
                    tenant=tenant,
                    binary=binary,
                    filename=path.name,
                    actor=system_actor("import_statement"),
                    format=options["format"],
                    dry_run=options["dry_run"],
                )
        except (StatementInvalid, UploadTooLarge) as exc:
            for location, messages in exc.details.items():
                # Past the cap, details also carries "truncated" and counts; exc.message says so.
                for message in messages if isinstance(messages, list) else []:
                    self.stderr.write(f"{location}: {message}")
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(report.as_response(), indent=2))
