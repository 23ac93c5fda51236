"""The tenant as the distribution column (DESIGN.md §9): what the model metadata already guarantees.

A tenant-distributed PostgreSQL (Citus, `tenant_id` as the distribution column) needs every
tenant-owned table to carry `tenant_id`, every unique constraint to include it, and every foreign
key between tenant-owned tables to include it; tables every tenant shares become reference tables.
These tests hold what is true today and name the exceptions, so a new one is a decision, not an
accident. Not yet true, and not checked here: primary keys and foreign keys are the single `id`
column (Django 5.2 cannot point a ForeignKey at a CompositePrimaryKey, system check fields.E347);
see the README's Scale section.
"""

from __future__ import annotations

from django.apps import apps
from django.db import models

from core.tenancy.scoping import TenantRow

TENANT_COLUMN = "tenant_id"
# Tables every tenant shares (or the tenants themselves): reference tables in a distributed
# deployment, so a tenant-owned row may point at them without carrying their tenant.
SHARED = {"tenants.Tenant", "auth.User"}
# Unique constraints without `tenant_id`, each with why it is so.
UNIQUE_WITHOUT_TENANT = {
    # Implied by a relation to a row of the same tenant (the first field decides the tenant); a
    # migration adding tenant_id changes nothing else (invoices, purchasing and payments' own).
    ("invoices.InvoiceLine", ("invoice", "line_number")): "per invoice",
    ("purchasing.PurchaseOrderLine", ("purchase_order", "line_number")): "per purchase order",
    ("purchasing.GoodsReceiptLine", ("goods_receipt", "purchase_order_line")): "per goods receipt",
    ("payments.PaymentAllocation", ("reversal_of",)): "one reversal per allocation (OneToOneField)",
    ("payments.PaymentSuggestion", ("payment",)): "one suggestion per payment (OneToOneField)",
    # Looked up before the tenant is known: the API key is what tells the tenant. A routing table
    # (a reference table, or kept on the coordinator) in a distributed deployment.
    ("tenants.ApiKey", ("key_hash",)): "an API key names its tenant",
}


def _tenant_owned() -> list[type[models.Model]]:
    return [model for model in apps.get_models() if issubclass(model, TenantRow)]


def _unique_field_sets(model: type[models.Model]) -> list[tuple[str, ...]]:
    options = model._meta
    field_sets = [(field.name,) for field in options.local_fields if field.unique and not field.primary_key]
    field_sets += [tuple(names) for names in options.unique_together]
    field_sets += [
        tuple(constraint.fields)
        for constraint in options.constraints
        if isinstance(constraint, models.UniqueConstraint) and constraint.fields
    ]
    return field_sets


def test_every_tenant_owned_table_has_a_non_null_tenant_id() -> None:
    owned = _tenant_owned()
    assert len(owned) > 30  # the metadata was read, not an empty app registry
    for model in owned:
        field = next(field for field in model._meta.local_fields if field.column == TENANT_COLUMN)
        assert not field.null, model._meta.label
        assert field.related_model is apps.get_model("tenants.Tenant"), model._meta.label


def test_unique_constraints_of_tenant_owned_tables_include_tenant_id_but_the_named_few() -> None:
    without_tenant = set()
    for model in _tenant_owned():
        for names in _unique_field_sets(model):
            columns = {model._meta.get_field(name).column for name in names}
            if TENANT_COLUMN not in columns:
                without_tenant.add((model._meta.label, names))
    # No expression-only unique constraint escapes the check above.
    for model in _tenant_owned():
        for constraint in model._meta.constraints:
            assert not (isinstance(constraint, models.UniqueConstraint) and not constraint.fields), constraint

    assert without_tenant == set(UNIQUE_WITHOUT_TENANT)


def test_tenant_owned_tables_point_only_at_tenant_owned_or_shared_tables() -> None:
    strays = [
        (model._meta.label, field.name, field.related_model._meta.label)
        for model in _tenant_owned()
        for field in model._meta.get_fields()
        if field.concrete
        and field.is_relation
        and field.related_model is not None
        and not issubclass(field.related_model, TenantRow)
        and field.related_model._meta.label not in SHARED
    ]

    assert strays == []
