"""The one place tenant scoping is enforced.

Every tenant-owned model inherits `TenantOwnedModel`, whose default manager returns a
`TenantQuerySet`. A query of tenant data runs only if it is scoped:

- `Model.objects.for_tenant(tenant)`, the way selectors and services start;
- a related manager reached from a tenant-owned row (`invoice.lines.all()`), scoped to that
  row's tenant;
- a query whose top-level WHERE already pins `tenant_id` (Django's own unique-constraint
  validation does this, since every unique constraint here leads with the tenant);
- `Model.objects.unscoped()`, the explicit escape hatch for the admin and for operator commands
  that work across tenants. Grep for it: every use is a decision.

Anything else raises `UnscopedQueryError` before SQL is sent, so a forgotten filter is a crash
in development and tests, not a leak in production. Row-level security in PostgreSQL is the
second line (`core.tenancy.rls`): each query here also tells it the tenant it names, which binds only
where no tenant scope was fixed at the trust boundary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Self, cast

from django.db import connection, models
from django.db.models import ForeignObjectRel
from django.db.models.lookups import Exact, In
from django.db.models.sql.where import AND, WhereNode
from django.utils import timezone

from core.ids import uuid7
from core.tenancy.ref import TenantOrId, TenantRef
from core.tenancy.rls import ALL_TENANTS, orm_scope


class UnscopedQueryError(RuntimeError):
    """A query of tenant-owned rows was about to run without a tenant filter."""


_NOT_PINNED = object()


def _pinned_tenant(where: WhereNode) -> Any:
    """The tenant id a top-level `tenant_id = x` names; None if `IN` (several); else `_NOT_PINNED`."""
    if where.connector != AND or where.negated:
        return _NOT_PINNED
    for child in where.children:
        column = getattr(getattr(child, "lhs", None), "target", None)
        if isinstance(child, (Exact, In)) and getattr(column, "column", None) == "tenant_id":
            if isinstance(child, Exact) and not hasattr(child.rhs, "resolve_expression"):
                return child.rhs
            return None
        if isinstance(child, WhereNode):
            pinned = _pinned_tenant(child)
            if pinned is not _NOT_PINNED:
                return pinned
    return _NOT_PINNED


class TenantQuerySet(models.QuerySet):
    # The tenant this query was scoped to (`ALL_TENANTS` after `unscoped()`), told to RLS.
    _tenant_scope: str | None = None

    def for_tenant(self, tenant: TenantOrId) -> Self:
        tenant_id = getattr(tenant, "pk", tenant)
        clone = self.filter(tenant_id=tenant_id)
        clone._tenant_scope = str(tenant_id)
        return clone

    def unscoped(self) -> Self:
        """Every tenant's rows. Only for the admin and cross-tenant operator tasks.

        Inside a tenant scope (a request, a task) RLS still confines it to that tenant.
        """
        clone = self.all()
        clone._tenant_scope = ALL_TENANTS
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()  # type: ignore[misc]  # Django's private copy hook, absent from its stubs
        clone._tenant_scope = self._tenant_scope
        return clone

    def _checked_scope(self) -> str | None:
        """The tenant (or `ALL_TENANTS`) the query names; raises if it names none."""
        if self._tenant_scope is not None:
            return self._tenant_scope
        pinned = _pinned_tenant(self.query.where)
        if pinned is not _NOT_PINNED:
            return None if pinned is None else str(pinned)
        raise UnscopedQueryError(
            f"Query of {self.model.__name__} is not scoped to a tenant: "
            "start from .for_tenant(tenant) (or .unscoped() in admin/operator code)."
        )

    # Every path by which Django sends a SELECT/UPDATE/DELETE goes through one of these.
    def _fetch_all(self) -> None:
        if self._result_cache is None:
            with orm_scope(self._checked_scope()):
                super()._fetch_all()

    def iterator(self, chunk_size: int | None = None) -> Any:
        scope = self._checked_scope()
        with orm_scope(scope):
            yield from super().iterator(chunk_size=chunk_size)

    def count(self) -> int:
        if self._result_cache is not None:
            return len(self._result_cache)
        with orm_scope(self._checked_scope()):
            return super().count()

    def exists(self) -> bool:
        if self._result_cache is not None:
            return bool(self._result_cache)
        with orm_scope(self._checked_scope()):
            return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        with orm_scope(self._checked_scope()):
            return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        with orm_scope(self._checked_scope()):
            return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        with orm_scope(self._checked_scope()):
            return super().delete()

    def in_bulk(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        with orm_scope(self._checked_scope()):
            return super().in_bulk(*args, **kwargs)

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Any]:
        objs = list(objs)
        with orm_scope(_rows_tenant(objs) or self._tenant_scope):
            return super().bulk_create(objs, *args, **kwargs)


def _rows_tenant(objs: Sequence[Any]) -> str | None:
    """The one tenant of rows written together (None if they span several: RLS then needs a scope)."""
    tenants = {str(obj.tenant_id) for obj in objs}
    return tenants.pop() if len(tenants) == 1 else None


class TenantBaseQuerySet(models.QuerySet):
    """Django's plain base manager (FK descriptors, `refresh_from_db`), telling RLS the tenant of
    the row the lookup starts from (`instance` in the hints): `line.invoice` reads `line`'s tenant."""

    def _fetch_all(self) -> None:
        if self._result_cache is None:
            # `_hints` is Django's (the related row a descriptor starts from), absent from its stubs.
            with orm_scope(tenant_id_of(self._hints.get("instance"))):  # type: ignore[attr-defined]
                super()._fetch_all()


def tenant_id_of(instance: models.Model | None) -> uuid.UUID | None:
    """The tenant a row belongs to: its own id for a `Tenant`, its `tenant_id` otherwise."""
    if instance is None:
        return None
    if instance._meta.label == "tenants.Tenant":
        return instance.pk
    return getattr(instance, "tenant_id", None)


# The managers' bases are named at module level: django-stubs types a `from_queryset` manager only
# there, and then every `Model.objects.for_tenant(…)` is a typed query set rather than Any.
_TenantBaseManagerBase = models.Manager.from_queryset(TenantBaseQuerySet)
_TenantManagerBase = models.Manager.from_queryset(TenantQuerySet)


class TenantBaseManager(_TenantBaseManagerBase):
    pass


class TenantManager(_TenantManagerBase):
    def get_queryset(self) -> TenantQuerySet:
        # The query set class given to from_queryset; django-stubs types it as a plain QuerySet.
        queryset = cast(TenantQuerySet, super().get_queryset())
        # Django builds related managers (`invoice.lines`) by subclassing this manager and
        # setting `instance`; reaching rows through a tenant's own row keeps that tenant.
        instance = getattr(self, "instance", None)
        tenant_id = getattr(instance, "tenant_id", None)
        if tenant_id is not None:
            return queryset.for_tenant(tenant_id)
        return queryset


class TenantRow(models.Model):
    """What every model with a `tenant_id` shares: the scoped manager, and RLS told its tenant."""

    tenant_id: uuid.UUID  # the concrete model's tenant field (a foreign key, or the primary key)
    objects = TenantManager()
    # Django's FK descriptors and deletion collector use the base manager, which has no scoping
    # check, so following `line.invoice` from a row already reached through a scoped query does
    # not raise; it still tells RLS the tenant it starts from.
    _tenant_base = TenantBaseManager()

    class Meta:
        abstract = True
        base_manager_name = "_tenant_base"

    def save(self, *args: Any, **kwargs: Any) -> None:
        with orm_scope(self.tenant_id):
            super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        with orm_scope(self.tenant_id):
            return super().delete(*args, **kwargs)

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        with orm_scope(self.tenant_id):
            super().refresh_from_db(*args, **kwargs)


class TenantOwnedModel(TenantRow):
    """Base of every tenant-owned row: a UUID id and the tenant it belongs to."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        abstract = True


@contextlib.contextmanager
def tenant_cursor(tenant: TenantOrId) -> Iterator[Any]:
    """A cursor for raw SQL over one tenant's rows: the SQL must still filter by `tenant_id` (the
    query-set check above cannot see it), and RLS is told the tenant, as for an ORM query."""
    with orm_scope(tenant), connection.cursor() as cursor:
        yield cursor


def tenant_rows_update(
    *,
    tenant: TenantRef,
    model: type[TenantOwnedModel],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    set_all: Mapping[str, Any] | None = None,
    only_where: Mapping[str, Any] | None = None,
    skip_unchanged: bool = False,
) -> Callable[[], int]:
    """Per-row values for many of the tenant's rows in one `UPDATE … FROM unnest()`; returns a
    function that gives the number of rows updated.

    The statement is sent at once; the function waits for it. Outside a pipeline it has already
    finished; inside one (`connection.pipelined()`) it runs while the caller goes on, and the
    count is asked for only where the caller needs it (a compare-and-set, checked after the
    caller has built what comes next).

    `rows` are `(id, *values of fields)`; `set_all` sets the same value on every row; `only_where`
    is a compare-and-set (`column IS NOT DISTINCT FROM value`); `skip_unchanged` leaves rows that
    already hold the values alone (a rewrite costs a row version and an entry in every index).

    What `bulk_update` does, without its cost: it builds a `CASE WHEN id = … THEN …` per row and
    field (ORM expressions in Python, and PostgreSQL walks the whole CASE for every row); one
    array per column keeps the statement linear. Raw SQL, so the tenant filter is spelled out
    here (as in tenant_rows_insert): the query-set check above binds ORM queries only. Only identifiers
    from the model's metadata are interpolated; every value is a parameter.
    """
    if not rows:
        return lambda: 0
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return _quoted_column(meta.get_field(name))

    key = _quoted_column(meta.pk)
    columns = [column(name) for name in fields]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in [meta.pk, *map(meta.get_field, fields)])
    set_all, only_where = dict(set_all or {}), dict(only_where or {})
    assignments = [f"{name} = source.{name}" for name in columns] + [f"{column(name)} = %s" for name in set_all]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS target SET {', '.join(assignments)}"  # noqa: S608
        f" FROM unnest({arrays}) AS source({', '.join([key, *columns])})"
        f" WHERE target.{column('tenant')} = %s AND target.{key} = source.{key}"
        # The keys again, as a condition on the target alone: the planner then probes the primary
        # key for exactly these rows. Joined on `source` only, it hashed every row of the tenant
        # (57 ms for a matching batch's thousand lines in a tenant of 100,000, growing with it).
        f" AND target.{key} = ANY(%s::{meta.pk.db_type(connection)}[])"
        + "".join(f" AND target.{column(name)} IS NOT DISTINCT FROM %s" for name in only_where)
    )
    if skip_unchanged:
        targets, sources = (", ".join(f"{side}.{name}" for name in columns) for side in ("target", "source"))
        sql += f" AND ROW({targets}) IS DISTINCT FROM ROW({sources})"
    arrays_values = [_array_parameter(values) for values in zip(*rows, strict=True)]
    with orm_scope(tenant):
        # Not closed here: closing forgets the rowcount, which in a pipeline is not known yet.
        cursor = connection.cursor()
        try:
            cursor.execute(sql, [*set_all.values(), *arrays_values, tenant.pk, arrays_values[0], *only_where.values()])
        except BaseException:
            cursor.close()
            raise

    @functools.cache  # asked twice, the same answer: the cursor is closed after the first
    def rows_updated() -> int:
        if cursor.cursor.pgresult is None:  # still in flight (a pipeline)
            connection.pipeline_sync()  # type: ignore[attr-defined]  # core.tenancy.db_backend's
        count: int = cursor.rowcount
        cursor.close()
        return count

    return rows_updated


def tenant_rows_insert(*, tenant: TenantRef, rows: Sequence[TenantOwnedModel]) -> list[TenantOwnedModel]:
    """New rows of one model, all the tenant's, in one `INSERT … SELECT … FROM jsonb_to_recordset()`.

    What `bulk_create` does (field defaults and `auto_now_add` by `pre_save`; the rows, with their
    ids, are returned), for wide rows with JSON columns: bound client-side, `bulk_create`'s one
    array per column is quoted element by element in Python, and every JSON document escaped
    again for the array literal, which cost more than PostgreSQL's part of a matching batch's
    inserts. Here the rows travel as one JSON document, a single parameter, and PostgreSQL reads
    each column as the table declares it. A JSON field's value is stored as it is (JSON null as
    SQL NULL, as `bulk_create` stores None); other values go as their text.
    """
    if not rows:
        return []
    tenant_inserts(tenant=tenant, parts=[rows_insert_part(tenant=tenant, rows=rows)])
    return list(rows)


def tenant_values_insert(
    *, tenant: TenantRef, model: type[TenantOwnedModel], rows: Sequence[Mapping[str, Any]]
) -> list[uuid.UUID]:
    """`tenant_rows_insert` for rows given as values by field name (`attname`: `invoice_id`) rather
    than as model instances: for the many small rows of a bulk write (an import's invoice lines),
    where building a model instance per row cost more than the insert. Every column is given,
    except the id (a new one unless given), the tenant (`tenant`'s) and `created_at` (now);
    returns the ids."""
    if not rows:
        return []
    part = values_insert_part(tenant=tenant, model=model, rows=rows)
    tenant_inserts(tenant=tenant, parts=[part])
    return part.ids


class InsertPart:
    """The new rows of one table, as one `INSERT … SELECT … FROM jsonb_to_recordset()` of
    `tenant_inserts`: built by `rows_insert_part` (model instances) or `values_insert_part`."""

    def __init__(
        self,
        *,
        model: type[models.Model],
        records: list[dict[Any, Any]],
        ids: list[uuid.UUID],
        rows: Sequence[TenantOwnedModel] = (),
    ) -> None:
        self.model = model
        self.records = records
        self.ids = ids
        self.rows = rows  # model instances, told their generated columns after the insert


def rows_insert_part(*, tenant: TenantRef, rows: Sequence[TenantOwnedModel]) -> InsertPart:
    """The rows of `tenant_rows_insert` as a part of `tenant_inserts` (`pre_save` run on each)."""
    model = type(rows[0])
    # A generated column (an invoice's amount due) is PostgreSQL's to write, never the insert's.
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    records = []
    for row in rows:
        if type(row) is not model or row.tenant_id != tenant.pk:
            raise ValueError(f"tenant_rows_insert takes new {model.__name__} rows of tenant {tenant.pk} only.")
        records.append(
            {
                field.column: value
                if (value := field.pre_save(row, add=True)) is None or (kind := type(value)) in _PLAIN_JSON
                else str(value)
                if kind in _TEXT_JSON
                else _json_column(field, value)
                for field in fields
            }
        )
    return InsertPart(model=model, records=records, ids=[row.pk for row in rows], rows=rows)


def values_insert_part(
    *, tenant: TenantRef, model: type[TenantOwnedModel], rows: Sequence[Mapping[str, Any]]
) -> InsertPart:
    """The rows of `tenant_values_insert` as a part of `tenant_inserts`."""
    fields = [field for field in model._meta.concrete_fields if not field.generated]
    columns = [(field, field.attname, field.column) for field in fields]
    now = timezone.now()
    given = {"id": None, "tenant_id": str(tenant.pk), "created_at": now.isoformat()}  # as _json_column writes them
    ids: list[uuid.UUID] = []
    records = []
    for row in rows:
        row_id = row.get("id") or uuid7()
        ids.append(row_id)
        values = {**given, **row, "id": row_id}
        # The usual values inline (text, numbers, decimals, ids; _json_column's answer for them):
        # a call per value cost more than the rest of the insert's Python side.
        records.append(
            {
                column: value
                if (value := values[attname]) is None or (kind := type(value)) in _PLAIN_JSON
                else str(value)
                if kind in _TEXT_JSON
                else _json_column(field, value)
                for field, attname, column in columns
            }
        )
    return InsertPart(model=model, records=records, ids=ids)


def tenant_inserts(*, tenant: TenantRef, parts: Sequence[InsertPart], generated_read: bool = False) -> None:
    """The parts' rows, each table's in one `INSERT … SELECT … FROM jsonb_to_recordset()`, all of
    them in one statement: each INSERT a data-modifying CTE of it, in order. PostgreSQL runs them
    together, on one snapshot: none may read what another writes (Django's foreign keys are
    checked at COMMIT, so an invoice's lines may come with it); their triggers run as for
    separate statements.

    `generated_read`: the first part's generated columns (an invoice's amount due) are returned by
    the INSERT and set on its model instances, which then hold what was stored without being read
    again. Only when asked: in a pipeline (`connection.pipelined()`) reading a result waits for the
    statement, where a bulk write would rather build its next chunk meanwhile.
    """
    parts = [part for part in parts if part.records]
    if not parts:
        return
    first = parts[0]
    generated = _generated_fields(first.model) if generated_read and first.rows else ()
    sql = _inserts_sql(tuple(part.model for part in parts), returning=bool(generated))
    params = [json.dumps(part.records, separators=(",", ":")) for part in parts]
    with tenant_cursor(tenant) as cursor:
        cursor.execute(sql, params)
        if generated:
            stored = {row[0]: row[1:] for row in cursor.fetchall()}
    for row in first.rows:
        row._state.adding = False
        row._state.db = connection.alias
        if generated:
            for field, value in zip(generated, stored[row.pk], strict=True):
                setattr(row, field.attname, value)


def tenant_copy_insert(
    *, tenant: TenantRef, model: type[TenantOwnedModel], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> dt.datetime:
    """New rows of one model through `COPY`, for the many narrow rows of a bulk write (an import's
    invoice lines): each row a tuple of `fields` (`attname`s: every column but the tenant, the
    creation time and generated ones), in their order. The tenant is `tenant`, the creation time
    now, for every row: no row can say otherwise.

    PostgreSQL refuses `COPY FROM` into a table under row-level security, so the rows are copied
    into a temporary table of those columns (the session's own, not under RLS, emptied at commit)
    and moved with one `INSERT … SELECT`, which the table's policy checks as any INSERT (its WITH
    CHECK: only the tenant scope's rows). Against `tenant_inserts`' one JSON parameter: no
    dictionary and no JSON text per row in Python (psycopg writes the tuples, in C), PostgreSQL
    reads COPY's text format instead of parsing JSON, and the rows stream to the server while
    they are built. Not inside a pipeline (libpq has no COPY there). Returns the creation time
    written.
    """
    staging, names, create, move = _copy_sql(model, tuple(fields))
    created_at = timezone.now()
    with tenant_cursor(tenant) as cursor:
        cursor.execute(create)
        with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(move, [tenant.pk, created_at])
    return created_at


@functools.cache
def _copy_sql(model: type[models.Model], fields: tuple[str, ...]) -> tuple[str, str, str, str]:
    """`tenant_copy_insert`'s staging table, its columns, its CREATE and the INSERT that empties it."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    written = {field.attname for field in columns if isinstance(field, models.Field)}
    expected = {field.attname for field in meta.concrete_fields if not field.generated} - {"tenant_id", "created_at"}
    if written != expected or len(columns) != len(written):
        raise ValueError(f"tenant_copy_insert writes every column of {meta.label} but tenant and created_at.")
    names = ", ".join(map(_quoted_column, columns))
    declared = ", ".join(f"{_quoted_column(field)} {field.db_type(connection)}" for field in columns)
    # Named in pg_temp: never a table of the same name earlier on the search path.
    staging = f"pg_temp.{quote('copy_' + meta.db_table)}"
    create = f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ({declared}) ON COMMIT DELETE ROWS"
    targets = ", ".join([names, _quoted_column(meta.get_field("tenant")), _quoted_column(meta.get_field("created_at"))])
    # Emptied by the same statement, for the next chunk's rows (a temporary table's DELETE writes
    # no WAL).
    move = (
        f"WITH staged AS (DELETE FROM {staging} RETURNING {names})"  # noqa: S608 (identifiers from the model's metadata)
        f" INSERT INTO {quote(meta.db_table)} ({targets}) SELECT {names}, %s, %s FROM staged"
    )
    return staging, names, create, move


@functools.cache
def _generated_fields(model: type[models.Model]) -> tuple[models.Field[Any, Any], ...]:
    return tuple(field for field in model._meta.concrete_fields if field.generated)


@functools.cache
def _inserts_sql(models_written: tuple[type[models.Model], ...], *, returning: bool) -> str:
    """The statement of `tenant_inserts` for these tables, in this order (built once: the column
    list and types of a wide table cost more to work out than a single create's Python part)."""
    quote = connection.ops.quote_name
    inserts = []
    for model in models_written:
        fields = [field for field in model._meta.concrete_fields if not field.generated]
        columns = ", ".join(_quoted_column(field) for field in fields)
        declared = ", ".join(f"{_quoted_column(field)} {field.db_type(connection)}" for field in fields)
        inserts.append(
            f"INSERT INTO {quote(model._meta.db_table)} ({columns})"  # noqa: S608 (identifiers from the model's metadata)
            f" SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS source({declared})"
        )
    first = models_written[0]
    returned = ", ".join(map(_quoted_column, [first._meta.pk, *_generated_fields(first)]))
    if len(inserts) == 1:
        return inserts[0] + (f" RETURNING {returned}" if returning else "")
    # Every part a CTE, in order, the statement reading what the first returns.
    inserts[0] += f" RETURNING {returned}"
    ctes = ", ".join(f"written_{index} AS ({insert})" for index, insert in enumerate(inserts))
    return f"WITH {ctes} SELECT * FROM written_0"  # noqa: S608 (identifiers from the models' metadata)


def _quoted_column(field: models.Field[Any, Any] | ForeignObjectRel) -> str:
    """A field's column, quoted for SQL. Only concrete fields are written by the functions above:
    a reverse relation has no column."""
    assert isinstance(field, models.Field) and field.column is not None, field
    return connection.ops.quote_name(field.column)


# Checked first, by exact type: most values of a bulk insert are these (an import's hundreds of
# thousands), and a set look-up is cheaper than the isinstance checks below.
_PLAIN_JSON = frozenset({str, int, bool})
_TEXT_JSON = frozenset({Decimal, uuid.UUID})  # written as their text


def _json_column(field: models.Field, value: Any) -> Any:
    """A column's value in the document of tenant_rows_insert. The usual types directly (a field's
    own conversion, per value of a batch, cost more than the rest of the insert); anything else,
    and a naive datetime, the field's way first."""
    if value is None or type(value) in _PLAIN_JSON or isinstance(field, models.JSONField):
        return value
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = field.get_db_prep_save(value, connection)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    value = field.get_db_prep_save(value, connection)
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)


def _array_parameter(values: Sequence[Any]) -> Any:
    """One column of `tenant_rows_update` for its `%s::type[]`: ids (the key, and the foreign
    keys that are most of what is updated this way) as `id_array`; other values as a list, for
    psycopg to quote."""
    if all(value is None or isinstance(value, uuid.UUID) for value in values):
        return id_array(values)
    return list(values)


def id_array(ids: Iterable[uuid.UUID | None]) -> str:
    """Ids for a `%s::uuid[]` parameter as one array literal (None as NULL).

    Bound client-side, a list is quoted element by element in Python, which on a batch's
    thousand lines cost more than PostgreSQL's part of the statement; a UUID's text has nothing
    to escape.
    """
    return "{" + ",".join("NULL" if value is None else str(value) for value in ids) + "}"
