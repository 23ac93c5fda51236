"""What a benchmark does with the scratch database and tenant it runs in.

A bench writes a fresh tenant into the configured database and cannot delete it afterwards
(audit events and match results are append-only). So it names the database it writes to first,
analyzes the tables it filled before it measures, and deactivates its tenant when it is done.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Model

from audit.services import audit_record
from core.actors import Actor
from tenants.models import Tenant


def database_describe() -> str:
    """The report's first line: which database (and server) the bench wrote to."""
    settings_dict = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    return (
        f"Database: {settings_dict['NAME']} on {settings_dict.get('HOST') or 'local socket'}"
        f":{settings_dict.get('PORT') or 5432} (PostgreSQL {server_version})"
    )


def fixture_tables_analyze(*, models: tuple[type[Model], ...]) -> None:
    """Autovacuum analyzes tables this size within a minute of such a load; measuring at once, the
    planner would still believe them empty and pick plans production never sees."""
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def bench_tenant_deactivate(*, tenant: Tenant, actor: Actor) -> None:
    """Out of the scheduler's way (audited): a bench tenant left active would have its leftovers
    retried every half hour by the scheduled runs."""
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="tenant",
            entity_id=tenant.pk,
            action="deactivated",
            before={"is_active": True},
            after={"is_active": False},
        )
