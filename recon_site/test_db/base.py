"""The PostgreSQL backend for tests only: lets a test flush get past the audit table's triggers.

Transactional tests end by TRUNCATE-ing every table, and the audit log refuses TRUNCATE for
every role (that is its point). The flush therefore runs with `session_replication_role =
replica`, under which ordinary triggers do not fire; only a superuser may set it, which is
exactly the power that can already disable a trigger, so production loses nothing. Used by
recon_site.settings.test; nothing else. Otherwise it is the app's backend (`recon_site.db_backend`).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.backends.postgresql import operations

from recon_site.db_backend import base


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list: Sequence[str]) -> None:
        super().execute_sql_flush(["SET LOCAL session_replication_role = replica", *sql_list])


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
