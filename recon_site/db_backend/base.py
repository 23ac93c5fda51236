"""Recon's PostgreSQL backend: Django's, plus the tenant setting that row-level security reads.

Every connection carries a `tenants.rls.ScopeApplier` as its first execute wrapper, so no
statement of the app's reaches PostgreSQL without `app.tenant_id` saying whose rows it may see.

It also offers psycopg's pipeline mode to bulk writers (`connection.pipelined()`), see there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.db.backends.postgresql import base

from tenants.rls import ScopeApplier

NOT_IN_TRANSACTION = "A pipeline runs inside a transaction (transaction.atomic) only."


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rls_scope = ScopeApplier()
        # First in the list: `connection.execute_wrapper()` blocks push and pop after it.
        self.execute_wrappers.insert(0, self.rls_scope)
        self._pipeline: Any = None

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.rls_scope.reset()
        return super().get_new_connection(conn_params)

    @contextlib.contextmanager
    def pipelined(self) -> Iterator[None]:
        """Inside the block, a statement is sent without waiting for the one before to finish.

        PostgreSQL runs the statements in order while Python builds the next one; a statement
        waits only where its result is read (a fetch, or `pipeline_sync()` before a rowcount),
        and the block waits for all of them at its end. An error surfaces at that wait, from
        whichever statement failed, and the transaction is then aborted, so the block must be
        inside `transaction.atomic()` (enforced): its statements are then all or nothing, as
        without the pipeline. Matching's bulk write uses it (one round of server work fewer per
        statement, and the server's part overlaps Python's).
        """
        if not self.in_atomic_block:
            raise RuntimeError(NOT_IN_TRANSACTION)
        if self._pipeline is not None:  # nested: the outer block's pipeline carries on
            yield
            return
        self.ensure_connection()
        # An error the final wait raises is psycopg's: as Django's, like any other statement's.
        with self.wrap_database_errors, self.connection.pipeline() as pipeline:
            self._pipeline = pipeline
            try:
                yield
            finally:
                self._pipeline = None

    def pipeline_sync(self) -> None:
        """Wait for every statement sent so far (an error among them raises here); nothing
        outside a pipeline, where each statement has already finished."""
        if self._pipeline is not None:
            with self.wrap_database_errors:
                self._pipeline.sync()
