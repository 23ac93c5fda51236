"""`manage.py reconcile_payments --tenant T [--limit N]`: reconcile now, in this process.

The same run as the schedule and `POST /api/payments/reconcile`; prints the run's counts as
JSON. A run that finds the tenant's lock taken (a worker is reconciling it) prints `skipped`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core.actors import system_actor
from core.tenancy.rls import tenant_scope
from payments.reconciliation.services import reconciliation_run_for_tenant
from tenants.management.options import tenant_option


class Command(BaseCommand):
    help = "Reconcile a tenant's unmatched debit payments against its open invoices."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="Tenant id or slug.")
        parser.add_argument(
            "--limit", type=int, default=None, help="Payments at most (default RECONCILE_MAX_PAYMENTS_PER_RUN)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_option(options["tenant"])
        with tenant_scope(tenant):
            report = reconciliation_run_for_tenant(
                tenant=tenant, actor=system_actor("reconcile_payments"), limit=options["limit"]
            )
        self.stdout.write(json.dumps(report.as_response(), indent=2))
