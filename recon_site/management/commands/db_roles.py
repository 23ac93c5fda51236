"""`manage.py db_roles`: create the owner and runtime roles and hand the database to the owner.

Run once per database, with a superuser (or CREATEROLE) connection, before the first migrate:

    SUPERUSER_DATABASE_URL=postgres://postgres:…@db/recon \\
    RECON_OWNER_PASSWORD=… RECON_APP_PASSWORD=… python manage.py db_roles

Then migrate with `MIGRATE_DATABASE_URL` (as `recon_owner`) and run the app with `DATABASE_URL`
(as `recon_app`). Idempotent: running it again corrects the roles' attributes and ownership.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.tenancy.roles import OWNER_ROLE, RUNTIME_ROLE, roles_ensure
from recon_site.env import database_url

MISSING_URL = "Set SUPERUSER_DATABASE_URL (or pass --superuser-url): a role that may create roles."


class Command(BaseCommand):
    help = "Create the owner and runtime database roles (core.tenancy.roles)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--superuser-url", default=os.environ.get("SUPERUSER_DATABASE_URL", ""))
        parser.add_argument("--owner", default=OWNER_ROLE)
        parser.add_argument("--runtime", default=RUNTIME_ROLE)

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["superuser_url"]:
            raise CommandError(MISSING_URL)
        config = database_url("SUPERUSER_DATABASE_URL", options["superuser_url"])
        variables = {options["owner"]: "RECON_OWNER_PASSWORD", options["runtime"]: "RECON_APP_PASSWORD"}
        passwords = {role: os.environ[name] for role, name in variables.items() if os.environ.get(name)}
        with psycopg.connect(
            dbname=config["NAME"],
            user=config["USER"],
            password=config["PASSWORD"] or None,
            host=config["HOST"] or None,
            port=config["PORT"] or None,
            autocommit=True,
        ) as conn:
            roles_ensure(
                conn, database=config["NAME"], owner=options["owner"], runtime=options["runtime"], passwords=passwords
            )
        self.stdout.write(
            f"Roles ready on {config['NAME']}: {options['owner']} (owner, migrates), "
            f"{options['runtime']} (runtime, row-level security binds it)."
        )
