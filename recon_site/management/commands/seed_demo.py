"""`manage.py seed_demo`: the demo tenant for `make run` (recon_site.demo plays its three months).

Everything enters through the same services the API and the web app use. Safe to run again: the
tenant with the demo slug is loaded once, and a later run only makes sure the demo users are
members; each run issues a fresh demo API key (only hashes are stored, so an old key cannot be
shown again) and prints it alone on the last line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from audit.services import audit_deferred
from core import locks
from core.actors import system_actor
from core.tenancy.rls import tenant_scope
from recon_site.demo.people import DEMO_PASSWORD, DEMO_USERS, demo_users_ensure
from recon_site.demo.timeline import demo_summary, demo_tenant_load
from tenants.models import ApiKey, Role, Tenant
from tenants.services import api_key_create, api_key_revoke, tenant_create

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Manufacturing GmbH"
SEED_ACTOR = system_actor("seed_demo")


@contextlib.contextmanager
def demo_transaction() -> Iterator[contextlib.ExitStack]:
    """One transaction whose audit events are held back to its end (`audit_deferred`), as the CSV
    import's: so every receipt's matching lock and every row lock comes before the audit-chain lock
    (core/locks.py), and a failure anywhere leaves nothing.

    The caller enters the tenant's scope (`tenant_scope`) in the stack it gets, once it has the
    tenant; the scope then also covers the held events' append at the end. A command's per-tenant
    work runs in its tenant's scope (core.tenancy.rls): one row-level security setting for the
    whole transaction, where the ORM's per-call scopes would change it, a round trip each time,
    between tenant rows, users and locks (some 20,000 times in the demo).
    """
    with transaction.atomic(), contextlib.ExitStack() as scope, audit_deferred():
        yield scope


def demo_tenant_create(*, slug: str, name: str, today: dt.date, scope: contextlib.ExitStack) -> Tenant:
    """A new tenant with the demo's three months in it, inside `demo_transaction()`."""
    tenant, _ = tenant_create(actor=SEED_ACTOR, name=name, slug=slug)
    # Receipts, PO moves and matching take the tenant's matching lock, statement imports its
    # import lock: both once, now, before any row lock, in the order of core/locks.py. The
    # services' own requests for them later in this transaction ask for locks it holds.
    locks.tenant_lock_wait(locks.MATCHING, tenant.pk)
    locks.tenant_lock_wait(locks.STATEMENT_IMPORT, tenant.pk)
    scope.enter_context(tenant_scope(tenant))
    demo_tenant_load(tenant=tenant, today=today, actor=SEED_ACTOR)
    return tenant


@contextlib.contextmanager
def _routine_logs_quiet() -> Iterator[None]:
    """The demo's ninety matching and thirteen reconciliation runs each log a line at INFO: in
    `make run`'s output they would bury the logins and the key. Warnings still show."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        yield
    finally:
        logging.disable(previous)


@contextlib.contextmanager
def _past_mail_unsent() -> Iterator[None]:
    """The demo plays three months that have already happened: the notices its bank-account
    changes would e-mail (vendors.bank_account_notices, sent when the transaction commits) belong
    to that past, and with the console backend of `make run` they would fill its output. Mail
    sent while the seed commits goes to Django's dummy backend; the setting is restored after."""
    previous = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    try:
        yield
    finally:
        settings.EMAIL_BACKEND = previous


class Command(BaseCommand):
    help = "Load the demo tenant (three months of purchasing, invoices, reviews, payments) and print a demo API key."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        with _routine_logs_quiet(), _past_mail_unsent(), demo_transaction() as scope:
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
            created = tenant is None
            if tenant is None:
                tenant = demo_tenant_create(slug=DEMO_SLUG, name=DEMO_NAME, today=timezone.localdate(), scope=scope)
            else:
                scope.enter_context(tenant_scope(tenant))
                demo_users_ensure(tenant=tenant, actor=SEED_ACTOR)
            # Keys are stored hashed, so the only way to show one is to issue a new one.
            for old_key in ApiKey.objects.for_tenant(tenant).filter(is_active=True):
                api_key_revoke(tenant=tenant, api_key=old_key, actor=SEED_ACTOR)
            _, raw_key = api_key_create(tenant=tenant, actor=SEED_ACTOR, name="demo")
        if created:
            seconds = time.perf_counter() - started
            summary = demo_summary(tenant=tenant).as_text()
            self.stdout.write(f"Loaded the demo tenant '{DEMO_NAME}' in {seconds:.1f} s: {summary}.")
        else:
            self.stdout.write("The demo tenant exists; reusing its data.")
        for demo_user in DEMO_USERS:
            self.stdout.write(f"Web login: {demo_user.username} / {DEMO_PASSWORD} ({Role(demo_user.role).label})")
        self.stdout.write("Demo API key (use as 'Authorization: Bearer <key>'):")
        self.stdout.write(raw_key)
