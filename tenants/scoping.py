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
in development and tests, not a leak in production. (Row-level security in PostgreSQL is the
second line, for raw SQL.)
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Self

from django.db import connection, models
from django.db.models.lookups import Exact, In
from django.db.models.sql.where import AND, WhereNode

if TYPE_CHECKING:
    from tenants.models import Tenant


class UnscopedQueryError(RuntimeError):
    """A query of tenant-owned rows was about to run without a tenant filter."""


def _pins_tenant(where: WhereNode) -> bool:
    if where.connector != AND or where.negated:
        return False
    for child in where.children:
        if (
            isinstance(child, (Exact, In))
            and getattr(getattr(child.lhs, "target", None), "column", None) == "tenant_id"
        ):
            return True
        if isinstance(child, WhereNode) and _pins_tenant(child):
            return True
    return False


class TenantQuerySet(models.QuerySet):
    _tenant_scoped: bool = False

    def for_tenant(self, tenant: Tenant | uuid.UUID | str) -> Self:
        tenant_id = getattr(tenant, "pk", tenant)
        clone = self.filter(tenant_id=tenant_id)
        clone._tenant_scoped = True
        return clone

    def unscoped(self) -> Self:
        """Every tenant's rows. Only for the admin and cross-tenant operator tasks."""
        clone = self._chain()
        clone._tenant_scoped = True
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def _check_scoped(self) -> None:
        if self._tenant_scoped or _pins_tenant(self.query.where):
            return
        raise UnscopedQueryError(
            f"Query of {self.model.__name__} is not scoped to a tenant: "
            "start from .for_tenant(tenant) (or .unscoped() in admin/operator code)."
        )

    # Every path by which Django sends a SELECT/UPDATE/DELETE goes through one of these.
    def _fetch_all(self) -> None:
        if self._result_cache is None:
            self._check_scoped()
        super()._fetch_all()

    def iterator(self, chunk_size: int | None = None) -> Any:
        self._check_scoped()
        return super().iterator(chunk_size=chunk_size)

    def count(self) -> int:
        if self._result_cache is None:
            self._check_scoped()
        return super().count()

    def exists(self) -> bool:
        if self._result_cache is None:
            self._check_scoped()
        return super().exists()

    def aggregate(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self._check_scoped()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs: Any) -> int:
        self._check_scoped()
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        self._check_scoped()
        return super().delete()

    def in_bulk(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        self._check_scoped()
        return super().in_bulk(*args, **kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> TenantQuerySet:
        queryset = super().get_queryset()
        # Django builds related managers (`invoice.lines`) by subclassing this manager and
        # setting `instance`; reaching rows through a tenant's own row keeps that tenant.
        instance = getattr(self, "instance", None)
        tenant_id = getattr(instance, "tenant_id", None)
        if tenant_id is not None:
            return queryset.for_tenant(tenant_id)
        return queryset


class TenantOwnedModel(models.Model):
    """Base of every tenant-owned row: a UUID id and the tenant it belongs to."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+", editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = TenantManager()

    # Django's FK descriptors and deletion collector use the plain base manager, so following
    # `line.invoice` from a row already reached through a scoped query does not raise.
    class Meta:
        abstract = True


def tenant_rows_update(
    *,
    tenant: Tenant,
    model: type[TenantOwnedModel],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    set_all: Mapping[str, Any] | None = None,
    only_where: Mapping[str, Any] | None = None,
    skip_unchanged: bool = False,
) -> int:
    """Per-row values for many of the tenant's rows in one `UPDATE … FROM unnest()`; rows updated.

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
        return 0
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    key = quote(meta.pk.column)
    columns = [column(name) for name in fields]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in [meta.pk, *map(meta.get_field, fields)])
    set_all, only_where = dict(set_all or {}), dict(only_where or {})
    assignments = [f"{name} = source.{name}" for name in columns] + [f"{column(name)} = %s" for name in set_all]
    sql = (
        f"UPDATE {quote(meta.db_table)} AS target SET {', '.join(assignments)}"  # noqa: S608
        f" FROM unnest({arrays}) AS source({', '.join([key, *columns])})"
        f" WHERE target.{column('tenant')} = %s AND target.{key} = source.{key}"
        + "".join(f" AND target.{column(name)} IS NOT DISTINCT FROM %s" for name in only_where)
    )
    if skip_unchanged:
        targets, sources = (", ".join(f"{side}.{name}" for name in columns) for side in ("target", "source"))
        sql += f" AND ROW({targets}) IS DISTINCT FROM ROW({sources})"
    arrays_values = [_array_parameter(values) for values in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_all.values(), *arrays_values, tenant.pk, *only_where.values()])
        return cursor.rowcount


def tenant_rows_insert(*, tenant: Tenant, rows: Sequence[TenantOwnedModel]) -> list[TenantOwnedModel]:
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
    model = type(rows[0])
    meta = model._meta
    fields = meta.concrete_fields
    quote = connection.ops.quote_name
    records = []
    for row in rows:
        if type(row) is not model or row.tenant_id != tenant.pk:
            raise ValueError(f"tenant_rows_insert takes new {model.__name__} rows of tenant {tenant.pk} only.")
        records.append({field.column: _json_column(field, field.pre_save(row, add=True)) for field in fields})
    columns = ", ".join(quote(field.column) for field in fields)
    declared = ", ".join(f"{quote(field.column)} {field.db_type(connection)}" for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608 (identifiers from the model's metadata)
        f" SELECT {columns} FROM jsonb_to_recordset(%s::jsonb) AS source({declared})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [json.dumps(records, separators=(",", ":"))])
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias
    return list(rows)


def _json_column(field: models.Field, value: Any) -> Any:
    """A column's value in the document of tenant_rows_insert. The usual types directly (a field's
    own conversion, per value of a batch, cost more than the rest of the insert); anything else,
    and a naive datetime, the field's way first."""
    if value is None or isinstance(field, models.JSONField) or isinstance(value, (bool, int, str)):
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
    """One column of `tenant_rows_update` for its `%s::type[]`.

    Ids (the key, and the foreign keys that are most of what is updated this way) go as one
    array literal: bound client-side, a list is quoted element by element in Python, which on
    a batch's thousand lines cost more than PostgreSQL's part of the UPDATE. A UUID's text has
    nothing to escape. Other values go as a list, for psycopg to quote.
    """
    if all(value is None or isinstance(value, uuid.UUID) for value in values):
        return "{" + ",".join("NULL" if value is None else str(value) for value in values) + "}"
    return list(values)
