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

import uuid
from collections.abc import Mapping, Sequence
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
    here, the one raw path: the query-set check above binds ORM queries only. Only identifiers
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
    arrays_values = [list(values) for values in zip(*rows, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*set_all.values(), *arrays_values, tenant.pk, *only_where.values()])
        return cursor.rowcount
