"""Row-level security: PostgreSQL itself confines every statement to one tenant's rows.

The ORM's scoping check (`core.tenancy.scoping`) is the first line; this is the second, and it also
covers raw SQL. Every tenant-owned table has RLS enabled and forced, with the policy

    tenant_id = current_setting('app.tenant_id')      -- or app.all_tenants = 'on'

(the `=` spelled as an operator that estimates like `<>`: see TENANT_OPERATOR)

and the app connects as a runtime role that is neither superuser, table owner nor BYPASSRLS, so
the policy binds it. A connection with no tenant set sees no rows and can write none (fail
closed).

Which tenant a statement runs for, in order:

1. the *tenant scope* fixed at the trust boundary — the API key or session that authenticated a
   request, the tenant a task or an operator command works for (`tenant_scope`). Nothing inside
   it can reach another tenant's rows, whatever its ORM filter or raw SQL says;
2. outside any tenant scope (tests, the shell, the admin), the tenant the ORM call itself names:
   a `for_tenant(t)` query, a tenant-owned row being saved, deleted or followed through a
   foreign key. `unscoped()` (the admin, cross-tenant operator queries) asks for all tenants;
3. nothing: no rows.

The setting is applied by an execute wrapper on every connection (`core.tenancy.db_backend`),
only when the server does not hold it already: as a session value before a transaction's first
statement (it then holds for the whole transaction, and for the next ones that want the same),
as `set_config(…, is_local => true)` — `SET LOCAL` — when the scope changes inside a transaction,
and as a session value for statements in autocommit mode (each its own transaction). At most one
extra statement per transaction; none per statement, and none for a transaction that wants what
the session holds. A rollback undoes a session value set inside the transaction, so after one the
session's value is taken as unknown and set again.

A statement may also set the scope itself (`scope_set_sql` in its select list, then
`ScopeApplier.set_by_statement`): the API-key look-up reads the key with every tenant's rows
visible and, in the same statement, fixes the scope to the key's tenant for what follows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from psycopg.pq import TransactionStatus

from core.observability import tenant_id_var
from core.tenancy.ref import TenantOrId

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

ALL_TENANTS = "*"
POLICY_NAME = "tenant_isolation"

# (app.tenant_id, app.all_tenants) as the policy reads them.
Scope = tuple[str, str]
NO_TENANT: Scope = ("", "")

_tenant_scope: ContextVar[str | None] = ContextVar("rls_tenant_scope", default=None)
_orm_scope: ContextVar[str | None] = ContextVar("rls_orm_scope", default=None)


def _tenant_key(tenant: TenantOrId) -> str:
    return str(getattr(tenant, "pk", tenant))


@contextlib.contextmanager
def tenant_scope(tenant: TenantOrId) -> Iterator[None]:
    """Everything inside works for `tenant` only (a task, a command's per-tenant step)."""
    key = _tenant_key(tenant)
    token, log_token = _tenant_scope.set(key), tenant_id_var.set(key)
    try:
        yield
    finally:
        _tenant_scope.reset(token)
        tenant_id_var.reset(log_token)


def tenant_scope_enter(tenant: TenantOrId) -> None:
    """Fix the tenant for the rest of this request (authentication has no block to wrap).

    `TenantScopeMiddleware` clears it when the request ends.
    """
    key = _tenant_key(tenant)
    _tenant_scope.set(key)
    tenant_id_var.set(key)


def tenant_scope_clear() -> None:
    _tenant_scope.set(None)


@contextlib.contextmanager
def orm_scope(tenant: TenantOrId | None) -> Iterator[None]:
    """The tenant one ORM call names (`ALL_TENANTS` for `unscoped()`); see the module doc, rule 2.

    None names nothing and leaves an enclosing call's tenant in place (a query Django runs while
    saving a row is for that row's tenant).
    """
    if tenant is None:
        yield
        return
    token = _orm_scope.set(_tenant_key(tenant))
    try:
        yield
    finally:
        _orm_scope.reset(token)


def desired_scope() -> Scope:
    scoped = _tenant_scope.get()
    if scoped:
        return (scoped, "")
    named = _orm_scope.get()
    if named == ALL_TENANTS:
        return ("", "on")
    if named:
        return (named, "")
    return NO_TENANT


SCOPE_STATEMENT = "SELECT set_config('app.tenant_id', %s, %s), set_config('app.all_tenants', %s, %s)"
# What the server holds is not known (after a rollback): never equal to a wanted scope.
UNKNOWN: Scope = ("unknown", "unknown")


def scope_set_sql(tenant_id_column: str, *, local: bool) -> str:
    """SQL for a statement's select list that fixes the scope to the tenant of the row it reads
    (`tenant_id_column`, a quoted column reference): for the transaction (`local`) or the session.

    The row is read under the scope the statement began with (row-level security evaluates its
    settings once per statement, before any row); the new scope binds the statements that follow.
    Tell the connection's `ScopeApplier.set_by_statement` what the statement did.
    """
    flag = "true" if local else "false"
    return f"set_config('app.tenant_id', {tenant_id_column}::text, {flag}) || set_config('app.all_tenants', '', {flag})"


class ScopeApplier:
    """The execute wrapper of one connection (installed by `core.tenancy.db_backend`).

    Tracks what the server already holds so the setting costs one statement per transaction:
    `session` is the value set outside transactions (persists until changed), `transaction` the
    `SET LOCAL` value of the transaction in progress (gone at its end).
    """

    def __init__(self) -> None:
        # Settings sent so far on this wrapper's connections: they go on the raw connection, so
        # Django's query log (and CaptureQueriesContext) never lists them; a benchmark counts them here.
        self.settings_sent = 0
        self.reset()

    def reset(self) -> None:
        """A new physical connection holds nothing."""
        self.session: Scope = NO_TENANT
        self.transaction: Scope | None = None

    def rolled_back(self) -> None:
        """The transaction was rolled back, and with it a session value set inside it."""
        self.session = UNKNOWN
        self.transaction = None

    def set_by_statement(self, scope: Scope | None, *, local: bool) -> None:
        """A statement set the scope itself (`scope_set_sql`): `scope`, or None when it read no
        row (what the server holds is then not known, and is set again when next wanted)."""
        if local:
            self.transaction = scope
        else:
            self.session = scope if scope is not None else UNKNOWN

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        wrapper: BaseDatabaseWrapper = context["connection"]
        raw = wrapper.connection
        want = desired_scope()
        status = raw.info.transaction_status
        if status == TransactionStatus.IDLE:
            self.transaction = None
            if raw.autocommit:
                # This statement is its own transaction: it sees the session value.
                if self.session != want:
                    self._apply(context, want, local=False)
                    self.session = want
            else:
                # This statement opens a transaction (Django's atomic): the scope for all of it, as
                # a session value, so that the next transaction wanting the same (an API request's
                # key look-up: every tenant) needs no statement. A SET LOCAL inside it reverts to
                # this value at its end.
                if self.session != want:
                    self._apply(context, want, local=False)
                    self.session = want
                self.transaction = want
        elif status in (TransactionStatus.INTRANS, TransactionStatus.ACTIVE) and self.transaction != want:
            # ACTIVE: in pipeline mode (`connection.pipelined()`, inside a transaction only), earlier
            # statements of the transaction are still in flight.
            self._apply(context, want, local=True)
            self.transaction = want
        return execute(sql, params, many, context)

    def _apply(self, context: dict[str, Any], scope: Scope, *, local: bool) -> None:
        # On the raw connection: not a query of the app's (not counted, not wrapped again), and
        # not on the statement's own cursor, which may be a server-side one (`iterator()`) that
        # would only DECLARE the SELECT, never run it.
        context["connection"].connection.execute(SCOPE_STATEMENT, [scope[0], local, scope[1], local])
        self.settings_sent += 1


# The policy compares tenant ids with this operator, not `=`: the same function (uuid_eq, which
# is LEAKPROOF), but estimated like `<>` (neqsel), i.e. as keeping nearly every row. With `=`,
# the planner multiplied the selectivity of the policy (1 / number of tenants) into that of the
# query's own `tenant_id = …`, which says the same thing: every row estimate under RLS was too
# low by the number of tenants, and plans chose accordingly. An `ORDER BY … LIMIT` read every
# one of the tenant's rows and sorted them (the audit chain head: 11 ms at 10,000 events,
# growing, against 0.04 ms for the index walked backwards). The query's own tenant filter is what
# the planner should estimate, and, named this way, all it sees.
_OPERATOR_SCHEMA, _OPERATOR_NAME = "public", "=@"
TENANT_OPERATOR = f"{_OPERATOR_SCHEMA}.{_OPERATOR_NAME}"
TENANT_OPERATOR_STATEMENT = f"""
DO $$ BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE n.nspname = '{_OPERATOR_SCHEMA}' AND o.oprname = '{_OPERATOR_NAME}'
          AND o.oprleft = 'uuid'::regtype AND o.oprright = 'uuid'::regtype
    ) THEN
        CREATE OPERATOR {TENANT_OPERATOR} (
            LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = uuid_eq, RESTRICT = neqsel, JOIN = neqjoinsel
        );
    END IF;
END $$
"""


def policy_statements(table: str) -> list[str]:
    """Enable and force RLS on a tenant-owned table with the tenant policy (idempotent; after
    `TENANT_OPERATOR_STATEMENT`)."""
    # Each setting is read in a scalar sub-select: PostgreSQL evaluates it once per statement (an
    # InitPlan) instead of calling current_setting() for every row, which cost ~0.8 µs a row (a
    # count of 100,000 invoices: 96 → ~25 ms). Same meaning; the comparison is still an index
    # condition.
    expression = (
        f"(tenant_id OPERATOR({TENANT_OPERATOR}) (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid)"
        " OR (SELECT current_setting('app.all_tenants', true) = 'on'))"
    )
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS {POLICY_NAME} ON "{table}"',
        f'CREATE POLICY {POLICY_NAME} ON "{table}" USING {expression} WITH CHECK {expression}',
    ]


def tenant_owned_tables() -> list[str]:
    """Every table with a `tenant_id` foreign key, the column the policy reads (`TenantOwnedModel`
    subclasses, the per-tenant settings row, and any other model that gains one)."""
    from django.apps import apps

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if any(field.column == "tenant_id" and field.is_relation for field in model._meta.concrete_fields)
    )


def rls_install(using: str, settable: Mapping[str, Sequence[str]] | None = None) -> None:
    """Policies on every tenant-owned table and the runtime role's grants (after each migrate).

    Runs as the role that migrates (the owner). Grants are skipped when that role *is* the
    runtime role (a one-role development set-up) or the runtime role does not exist yet.
    `settable`: see `runtime_grants`.
    """
    from django.conf import settings
    from django.db import connections

    from core.tenancy.roles import role_exists, runtime_grants
    from core.tenancy.statistics import ANALYZE_FUNCTION_STATEMENT

    with connections[using].cursor() as cursor:
        cursor.execute(TENANT_OPERATOR_STATEMENT)
        cursor.execute(ANALYZE_FUNCTION_STATEMENT)
        for table in tenant_owned_tables():
            for statement in policy_statements(table):
                cursor.execute(statement)
        runtime = settings.DB_RUNTIME_ROLE
        cursor.execute("SELECT current_user")
        (current,) = cursor.fetchone()
        if runtime and runtime != current and role_exists(cursor, runtime):
            runtime_grants(cursor, runtime, settable)


class TenantScopeMiddleware:
    """Each request starts with no tenant scope and leaves none behind on its thread.

    Authentication fixes the scope (`tenant_scope_enter`) for the rest of the request; a thread
    that serves the next request, or runs anything else afterwards, must not inherit it.

    The Django admin is the one cross-tenant view (its users are the operators, staff only): its
    requests see every tenant's rows; a row it saves is still checked against its own tenant.
    """

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        tenant_scope_clear()
        token = _orm_scope.set(None)
        try:
            return self.get_response(request)
        finally:
            tenant_scope_clear()
            _orm_scope.reset(token)

    def process_view(self, request: Any, view: Any, args: Any, kwargs: Any) -> None:
        match = getattr(request, "resolver_match", None)
        if match is not None and "admin" in match.namespaces:
            _orm_scope.set(ALL_TENANTS)
