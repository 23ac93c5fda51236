"""`manage.py create_tenant NAME`: a new tenant with default settings and its first API key.

The key is printed once, alone on the last line, so a script can capture it with `tail -n 1`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.actors import system_actor
from core.exceptions import DomainError
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant and print its API key (shown once, on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="The tenant's display name, e.g. 'Acme Manufacturing'.")
        parser.add_argument("--slug", default="", help="URL-safe identifier; derived from the name if omitted.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant, raw_key = tenant_create(
                name=options["name"], slug=options["slug"], actor=system_actor("create_tenant")
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created tenant {tenant.name!r} (id {tenant.pk}, slug {tenant.slug}).")
        self.stdout.write("Its API key follows. It is shown only this once; store it now.")
        self.stdout.write(raw_key)
