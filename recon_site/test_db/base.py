"""The PostgreSQL backend for tests only: the test database laid out like the real one.

- **Two roles.** Migrations run as the owner role when one is configured (the embedded server
  always has one: `make test` with nothing set). A database the suite's superuser has just
  created belongs to that superuser, and PostgreSQL 15+ lets nobody else create tables in its
  `public` schema; so, right after creating (or reusing) the test database, it is handed to the
  owner exactly as the embedded bootstrap hands over `recon` (`core.tenancy.roles.roles_ensure`).
- **Flushes.** Transactional tests end by TRUNCATE-ing every table, and the audit log refuses
  TRUNCATE for every role (that is its point). The flush therefore runs with
  `session_replication_role = replica`, under which ordinary triggers do not fire; only a
  superuser may set it, which is exactly the power that can already disable a trigger, so
  production loses nothing.

Used by recon_site.settings.test; nothing else. Otherwise it is the app's backend
(`core.tenancy.db_backend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db.backends.postgresql import creation, operations

from core.tenancy.db_backend import base
from core.tenancy.roles import OWNER_ROLE, roles_ensure


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list: Sequence[str]) -> None:
        super().execute_sql_flush(["SET LOCAL session_replication_role = replica", *sql_list])


class DatabaseCreation(creation.DatabaseCreation):
    def _create_test_db(self, verbosity: int, autoclobber: bool, keepdb: bool = False) -> str:
        test_database_name: str = super()._create_test_db(verbosity, autoclobber, keepdb)
        owner = getattr(settings, "DATABASE_OWNER", None)
        if owner:
            params: dict[str, Any] = {**self.connection.get_connection_params(), "dbname": test_database_name}
            with psycopg.connect(**params, autocommit=True) as conn:
                roles_ensure(
                    conn,
                    database=test_database_name,
                    owner=owner.get("USER") or OWNER_ROLE,
                    runtime=settings.DB_RUNTIME_ROLE,
                )
        return test_database_name


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
    creation_class = DatabaseCreation
