"""What a benchmark does with the scratch database and tenant it runs in.

A bench writes a fresh tenant into the configured database and cannot delete it afterwards
(audit events and match results are append-only). So it names the database it writes to first,
analyzes the tables it filled before it measures, and deactivates its tenant when it is done.
The read benches (search, invoice list) also take their tenant — a kept one or a fresh one — and
the clerk they act as from here.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Model

from audit.services import audit_record
from benchmarks.fixtures import bench_tenant_build
from core.actors import Actor
from invoices.models import Invoice
from tenants.models import Role, Tenant
from tenants.services import membership_grant


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


NO_TENANT = "No tenant {slug!r}."


def read_bench_tenant(
    *,
    slug: str,
    purpose: str,
    invoices: int,
    vendors: int,
    rng: random.Random,
    actor: Actor,
    write: Callable[[str], None],
    matched: bool = False,
) -> Tenant:
    """The tenant a read bench measures: the one a `--keep` run left (`slug`, `--tenant`), or a
    fresh one from `bench_tenant_build`; either way the report says which."""
    if slug:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(NO_TENANT.format(slug=slug))
        write(f"Tenant: {tenant.slug} (kept by an earlier run: {Invoice.objects.for_tenant(tenant).count()} invoices)")
        return tenant
    built = bench_tenant_build(
        purpose=purpose, invoices=invoices, vendors=vendors, rng=rng, actor=actor, write=write, matched=matched
    )
    write(f"Tenant: {built.tenant.slug}")
    write(
        f"Fixture: {invoices} invoices, {built.purchase_orders} POs, {vendors} vendors; built, "
        f"{'matched, ' if matched else ''}vacuumed and analyzed in {built.seconds:.1f} s (not counted)"
    )
    return built.tenant


def read_bench_clerk(*, tenant: Tenant, actor: Actor, write: Callable[[str], None]) -> Any:
    """The clerk a read bench acts as (created once per tenant), and the report's line on whether
    row-level security binds the role it connects as (a superuser's figures would flatter)."""
    member, _ = get_user_model().objects.get_or_create(username=f"{tenant.slug}-clerk")
    membership_grant(tenant=tenant, user=member, actor=actor, role=Role.CLERK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, row_security_active(%s)", [Invoice._meta.db_table])
        role, bound = cursor.fetchone()
    write(f"Role: {role}; row-level security {'binds it' if bound else 'does NOT bind it (superuser?)'}")
    return member
