"""`manage.py run_matching --tenant T | --all [--max-batches N]`: match now, in this process.

For operators: runs the same drain as the scheduled task, synchronously, and prints each run's
counts. A run that finds the tenant's lock taken (a worker is matching it) is reported as
skipped and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.checkpoints import audit_checkpoint_after_change
from core.actors import system_actor
from core.tenancy.rls import tenant_scope
from matching.models import MatchRun
from matching.services import matching_drain_tenant
from tenants.management.options import tenant_option
from tenants.models import Tenant

NAME_A_TENANT = "Name a tenant with --tenant, or use --all."


class Command(BaseCommand):
    help = "Match the invoices waiting in `received`, for one tenant or all of them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant id or slug.")
        parser.add_argument("--all", action="store_true", help="Every active tenant.")
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Batches per tenant at most (default MATCH_MAX_BATCHES_PER_TASK).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tenant"] and options["all"]:
            raise CommandError(NAME_A_TENANT)
        if options["tenant"]:
            tenants = [tenant_option(options["tenant"])]
        elif options["all"]:
            tenants = list(Tenant.objects.filter(is_active=True).order_by("slug"))
        else:
            raise CommandError(NAME_A_TENANT)
        max_batches = options["max_batches"] or settings.MATCH_MAX_BATCHES_PER_TASK
        failed_runs = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                runs = matching_drain_tenant(
                    tenant=tenant,
                    trigger=MatchRun.Trigger.COMMAND,
                    actor=system_actor("run_matching"),
                    max_batches=max_batches,
                )
                audit_checkpoint_after_change(tenant=tenant)  # as the task does (matching.tasks)
            for run in runs:
                failed_runs += run.status == MatchRun.Status.FAILED
                self.stdout.write(
                    f"{tenant.slug}: run {run.pk} {run.status}: {run.invoices_matched} matched, "
                    f"{run.invoices_failed} failed, {run.duration_ms} ms "
                    f"(load {run.load_ms}, engine {run.engine_ms}, write {run.write_ms}), {run.query_count} queries"
                    + (f"; {run.error}" if run.error else "")
                )
                for failure in run.failures:
                    self.stdout.write(f"  invoice {failure['invoice_id']}: {failure['error']}")
        if failed_runs:
            raise CommandError(f"{failed_runs} runs failed; see above.", returncode=1)
