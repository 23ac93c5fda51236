"""`manage.py verify_audit [--tenant T]`: re-compute every audit chain.

Exits 0 and prints each tenant's event count when intact; exits 1 and names the first broken
event (sequence, id, reason) when a row was altered, deleted, or inserted out of order.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.verify import audit_chain_verify
from tenants.management.options import tenant_option
from tenants.models import Tenant
from tenants.rls import tenant_scope


class Command(BaseCommand):
    help = "Verify the hash chain of the audit log, per tenant."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant id or slug; all tenants if omitted.")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = [tenant_option(options["tenant"])] if options["tenant"] else list(Tenant.objects.order_by("slug"))
        broken = 0
        for tenant in tenants:
            with tenant_scope(tenant):
                report = audit_chain_verify(tenant=tenant)
            if report.intact:
                self.stdout.write(f"{tenant.slug}: {report.count} events, chain intact (head {report.head_hash[:16]}…)")
            else:
                broken += 1
                assert report.broken is not None
                self.stdout.write(
                    f"{tenant.slug}: BROKEN at event #{report.broken.sequence} (id {report.broken.event_id}): "
                    f"{report.broken.reason}; {report.count} events before it verify."
                )
        if broken:
            raise CommandError(f"{broken} of {len(tenants)} audit chains are broken.", returncode=1)
        self.stdout.write(f"OK: {len(tenants)} chains intact.")
