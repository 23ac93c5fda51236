"""Recon's PostgreSQL backend: Django's, plus the tenant setting that row-level security reads.

Every connection carries a `core.tenancy.rls.ScopeApplier` as its first execute wrapper, so no
statement of the app's reaches PostgreSQL without `app.tenant_id` saying whose rows it may see.

It also offers psycopg's pipeline mode to bulk writers (`connection.pipelined()`), see there,
checks the lock order of every statement (`core.locks.LockOrderCheck`), and counts the
transactions it commits (`commits`), so the API knows whether a request that met a deadlock can
run again (tenants.http.views).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any

from django.db.backends.postgresql import base

from core.locks import LockOrderCheck
from core.tenancy.rls import ScopeApplier

NOT_IN_TRANSACTION = "A pipeline runs inside a transaction (transaction.atomic) only."

# Statements that commit nothing even outside a transaction: a SELECT that only reads (no lock,
# no function that changes anything), and the savepoint statements of a test case's blocks. The
# tenant scope's own settings (core.tenancy.rls.scope_set_sql: the API-key look-up) change no data.
_SELECT = re.compile(r"^\s*SELECT\b", re.IGNORECASE)
_EFFECTS = re.compile(
    r"\b(?:pg_\w*advisory\w*|nextval|setval|set_config(?!\('app\.(?:tenant_id|all_tenants)'))\s*\("
    r"|\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b",
    re.I,
)
_SAVEPOINT = re.compile(r"^\s*(?:SAVEPOINT|RELEASE\s+SAVEPOINT|ROLLBACK\s+TO\s+SAVEPOINT)\b", re.IGNORECASE)


def _commits_nothing(sql: str) -> bool:
    return (bool(_SELECT.match(sql)) and not _EFFECTS.search(sql)) or bool(_SAVEPOINT.match(sql))


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rls_scope = ScopeApplier()
        # First in the list: `connection.execute_wrapper()` blocks push and pop after it.
        self.execute_wrappers.insert(0, self.rls_scope)
        self.execute_wrappers.insert(1, LockOrderCheck(self.app_transaction_key))
        self.execute_wrappers.insert(2, self._count_autocommit_write)
        self._pipeline: Any = None
        # Transactions begun on this connection, and those committed (an app transaction's
        # COMMIT, a write sent outside any transaction): see `app_transaction_key`, `commits`.
        self.transactions_begun = 0
        self.commits = 0
        self._savepoints_rolled_back: set[str] = set()

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.rls_scope.reset()
        return super().get_new_connection(conn_params)

    # Application transactions. A test case (Django's TestCase, pytest-django's `db`) runs each
    # test inside atomic blocks of its own, one database transaction; a service's
    # `transaction.atomic()` is then a savepoint, where in production it is a transaction. The
    # test case's blocks are marked (`_from_testcase`), so the outermost unmarked block is the
    # *application transaction* in both worlds, and the bookkeeping below follows it.

    def _test_case_blocks(self) -> int:
        count = 0
        for block in self.atomic_blocks:
            if not getattr(block, "_from_testcase", False):
                break
            count += 1
        return count

    def in_app_transaction(self) -> bool:
        return self.in_atomic_block and len(self.atomic_blocks) > self._test_case_blocks()

    def app_transaction_key(self) -> tuple[int, tuple[str | None, ...]]:
        """Equal for two statements of one application transaction, different otherwise.

        The database transaction's number on this connection, and under a test case the ids of
        the savepoints of its blocks and of the application's outermost one (savepoint ids are
        never reused on a connection).
        """
        return self.transactions_begun, tuple(self.savepoint_ids[: self._test_case_blocks()])

    def set_autocommit(self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False) -> None:
        if not autocommit:
            self.transactions_begun += 1
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)

    def commit(self) -> None:
        super().commit()
        self.commits += 1

    def rollback(self) -> None:
        super().rollback()
        # A session value the tenant scope set inside the transaction is undone with it.
        self.rls_scope.rolled_back()

    def savepoint_rollback(self, sid: str) -> None:
        super().savepoint_rollback(sid)
        self._savepoints_rolled_back.add(sid)  # Django releases it next: not a commit
        # ROLLBACK TO SAVEPOINT also undoes a SET LOCAL sent after the savepoint: the tenant
        # setting the transaction holds is no longer known, so the next statement sets it again
        # (a request run again after a deadlock inside a test case's transaction, say).
        self.rls_scope.transaction = None

    def savepoint_commit(self, sid: str) -> None:
        super().savepoint_commit(sid)
        if sid in self._savepoints_rolled_back:
            self._savepoints_rolled_back.discard(sid)
        elif self.atomic_blocks and not self.in_app_transaction():
            # The application's outermost block ended well under a test case: a COMMIT in production.
            self.commits += 1

    def _count_autocommit_write(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
    ) -> Any:
        # A statement outside any application transaction commits as it runs; a SELECT is
        # counted too if it says more than SELECT (a session lock, a function with effects is
        # possible), since the count only ever errs towards "something was committed".
        result = execute(sql, params, many, context)
        if not self.in_app_transaction() and not _commits_nothing(sql):
            self.commits += 1
        return result

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
