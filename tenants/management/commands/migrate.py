"""`manage.py migrate`, as the owner role when one is configured (`MIGRATE_DATABASE_URL`).

The app connects as the runtime role, which may not change the schema; migrations and the
policies and grants that follow them (core.tenancy.rls.rls_install) need the owner. Without an owner
setting this is Django's migrate unchanged.

Only the role changes, never the database: the connection keeps the NAME it was pointed at. The
test runner points it at the test database (`test_recon`) before migrating; taking the owner
setting's NAME there once sent the suite's migrations into the development database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# Who connects and where the server is; not NAME (see above).
_OWNER_KEYS = ("USER", "PASSWORD", "HOST", "PORT")


@contextlib.contextmanager
def connected_as_owner(alias: str) -> Iterator[None]:
    owner = getattr(settings, "DATABASE_OWNER", None)
    if alias != "default" or not owner:
        yield
        return
    connection = connections[alias]
    saved = {key: connection.settings_dict.get(key) for key in _OWNER_KEYS}
    connection.close()
    connection.settings_dict.update({key: owner.get(key, "") for key in _OWNER_KEYS})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Runs as the owner role (MIGRATE_DATABASE_URL) when one is set."

    def handle(self, *args: Any, **options: Any) -> None:
        with connected_as_owner(options["database"]):
            super().handle(*args, **options)
