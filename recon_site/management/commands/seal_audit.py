"""`manage.py seal_audit [--tenant T]`: chain every committed, unsealed audit event now.

What the django-q2 schedule does every `AUDIT_SEAL_EVERY_MINUTES` (audit.sealer): per tenant, the
events whose transactions have ended are given their chain position and hashes, in the order no
later commit can precede. Prints, per tenant, how many were sealed and how many are still held back
by a transaction that is still open. Safe to run at any time, and beside the schedule.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.sealer import audit_seal
from core.tenancy.rls import tenant_scope
from tenants.management.options import tenant_option
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Seal (hash-chain) the committed audit events of each tenant now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant id or slug; all tenants if omitted.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = [tenant_option(options["tenant"])] if options["tenant"] else list(Tenant.objects.order_by("slug"))
        for tenant in tenants:
            with tenant_scope(tenant):
                report = audit_seal(tenant=tenant)
            held = f", {report.unsealed} held back by an open transaction" if report.unsealed else ""
            self.stdout.write(
                f"{tenant.slug}: sealed {report.sealed} events, chain at sequence {report.head_sequence}{held}"
            )
