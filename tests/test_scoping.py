"""Tenant scoping (DESIGN.md §3): a query of tenant-owned rows runs only when it is scoped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.db.models import Count, F, Q

from core.tenancy.scoping import TenantOwnedModel, UnscopedQueryError
from invoices.models import Invoice
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from tests.factories import (
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)
from vendors.models import Vendor

TENANT_OWNED_MODELS = sorted(
    (model for model in apps.get_models() if issubclass(model, TenantOwnedModel)), key=lambda m: m._meta.label
)

# Every way a queryset sends SQL that reads or changes existing rows.
UNSCOPED_CALLS: dict[str, Callable[[Any], Any]] = {
    "all": lambda manager: list(manager.all()),
    "filter": lambda manager: list(manager.filter(pk__isnull=False)),
    "exclude": lambda manager: list(manager.exclude(pk__isnull=True)),
    "get": lambda manager: manager.get(pk="00000000-0000-0000-0000-000000000000"),
    "first": lambda manager: manager.first(),
    "count": lambda manager: manager.count(),
    "exists": lambda manager: manager.exists(),
    "values_list": lambda manager: list(manager.values_list("pk", flat=True)),
    "iterator": lambda manager: list(manager.iterator()),
    "aggregate": lambda manager: manager.aggregate(n=Count("pk")),
    "in_bulk": lambda manager: manager.in_bulk(),
    "update": lambda manager: manager.update(tenant=F("tenant")),
    "filter_update": lambda manager: manager.filter(pk__isnull=False).update(tenant=F("tenant")),
    "delete": lambda manager: manager.all().delete(),
}


@pytest.fixture
def two_tenants_with_data(tenant: Tenant, other_tenant: Tenant) -> dict[str, Any]:
    """One full document chain per tenant, so every tenant-owned table has rows of both."""
    made: dict[str, Any] = {}
    for key, owner in (("mine", tenant), ("theirs", other_tenant)):
        receipt_line = GoodsReceiptLineFactory(tenant=owner)
        vendor = receipt_line.goods_receipt.purchase_order.vendor
        invoice_line = InvoiceLineFactory(invoice__tenant=owner, invoice__vendor=vendor)
        made[key] = {
            "vendor": vendor,
            "purchase_order": receipt_line.goods_receipt.purchase_order,
            "invoice": invoice_line.invoice,
        }
    return made


def test_every_tenant_owned_model_is_discovered() -> None:
    """The parametrization below really covers the document models (guards against an empty list)."""
    labels = {model._meta.label for model in TENANT_OWNED_MODELS}
    assert {"vendors.Vendor", "purchasing.PurchaseOrder", "invoices.Invoice", "invoices.InvoiceLine"} <= labels


@pytest.mark.django_db
@pytest.mark.parametrize("call", sorted(UNSCOPED_CALLS))
@pytest.mark.parametrize("model", TENANT_OWNED_MODELS, ids=lambda model: model._meta.label)
def test_unscoped_query_raises_before_sql(
    model: type[TenantOwnedModel], call: str, django_assert_num_queries: Any
) -> None:
    """`Model.objects.<call>` without a tenant raises UnscopedQueryError and sends no SQL."""
    with django_assert_num_queries(0), pytest.raises(UnscopedQueryError, match=model.__name__):
        UNSCOPED_CALLS[call](model.objects)


def test_refused_update_and_delete_change_nothing(two_tenants_with_data: dict[str, Any]) -> None:
    """An unscoped write is refused whole: every tenant's rows are still there, unchanged."""
    before = sorted(Vendor.objects.unscoped().values_list("pk", "name"))
    with pytest.raises(UnscopedQueryError):
        Vendor.objects.update(name="overwritten")
    with pytest.raises(UnscopedQueryError):
        Vendor.objects.filter(name__startswith="Vendor").delete()
    assert sorted(Vendor.objects.unscoped().values_list("pk", "name")) == before


@pytest.mark.parametrize(
    "make_query",
    [
        pytest.param(lambda tenant: Vendor.objects.filter(Q(tenant=tenant) | Q(name__isnull=False)), id="or"),
        pytest.param(lambda tenant: Vendor.objects.exclude(tenant=tenant), id="exclude"),
        pytest.param(lambda tenant: Vendor.objects.filter(~Q(tenant=tenant)), id="negated"),
        pytest.param(lambda tenant: Vendor.objects.filter(tenant__isnull=False), id="isnull"),
    ],
)
def test_a_tenant_filter_that_does_not_pin_one_tenant_is_refused(
    two_tenants_with_data: dict[str, Any], tenant: Tenant, make_query: Callable[[Tenant], Any]
) -> None:
    """Mentioning tenant_id is not enough: OR-ed, negated or null checks would return other tenants' rows."""
    with pytest.raises(UnscopedQueryError):
        list(make_query(tenant))


def test_for_tenant_returns_only_that_tenants_rows(
    two_tenants_with_data: dict[str, Any], tenant: Tenant, other_tenant: Tenant
) -> None:
    """`.for_tenant(t)` sees exactly t's rows, and chaining keeps the scope."""
    mine, theirs = two_tenants_with_data["mine"], two_tenants_with_data["theirs"]
    assert list(Vendor.objects.for_tenant(tenant)) == [mine["vendor"]]
    assert list(Vendor.objects.for_tenant(other_tenant.pk)) == [theirs["vendor"]]
    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert list(Invoice.objects.for_tenant(tenant).filter(currency="EUR").order_by("pk")) == [mine["invoice"]]
    assert not Invoice.objects.for_tenant(tenant).filter(pk=theirs["invoice"].pk).exists()
    assert PurchaseOrderLine.objects.for_tenant(tenant).get().purchase_order == mine["purchase_order"]


def test_for_tenant_scoped_update_touches_only_that_tenant(
    two_tenants_with_data: dict[str, Any], tenant: Tenant
) -> None:
    """A scoped bulk update changes the tenant's rows and leaves the other tenant's alone."""
    changed = Vendor.objects.for_tenant(tenant).update(name="Renamed")
    assert changed == 1
    assert Vendor.objects.unscoped().get(pk=two_tenants_with_data["mine"]["vendor"].pk).name == "Renamed"
    assert Vendor.objects.unscoped().get(pk=two_tenants_with_data["theirs"]["vendor"].pk).name != "Renamed"


def test_filter_pinning_the_tenant_is_accepted(two_tenants_with_data: dict[str, Any], tenant: Tenant) -> None:
    """A query whose WHERE pins tenant_id (as unique-constraint validation does) runs and is scoped."""
    assert list(Vendor.objects.filter(tenant=tenant)) == [two_tenants_with_data["mine"]["vendor"]]


def test_related_managers_from_a_tenant_row_work(two_tenants_with_data: dict[str, Any]) -> None:
    """Following relations from a tenant's own row (`po.lines`, `invoice.lines`) needs no extra filter."""
    mine = two_tenants_with_data["mine"]
    purchase_order: PurchaseOrder = mine["purchase_order"]
    assert purchase_order.lines.count() == 1
    assert [line.purchase_order_id for line in purchase_order.lines.all()] == [purchase_order.pk]
    assert purchase_order.receipts.get().lines.get().purchase_order_line.purchase_order == purchase_order
    assert list(mine["vendor"].purchase_orders.all()) == [purchase_order]
    assert mine["invoice"].lines.filter(line_number__gte=1).count() == 1


def test_related_manager_rows_belong_to_the_parent_tenant(
    two_tenants_with_data: dict[str, Any], tenant: Tenant
) -> None:
    """A related manager is scoped to its parent's tenant even if a foreign row points at the parent."""
    mine = two_tenants_with_data["mine"]
    theirs_po = two_tenants_with_data["theirs"]["purchase_order"]
    # A corrupt cross-tenant row (only possible by bypassing the services) must not surface.
    PurchaseOrderLineFactory(purchase_order=mine["purchase_order"], tenant=theirs_po.tenant)
    assert mine["purchase_order"].lines.count() == 1


def test_unscoped_is_the_explicit_escape_hatch(two_tenants_with_data: dict[str, Any]) -> None:
    """`.unscoped()` reads every tenant's rows, for the admin and operator commands."""
    vendors = set(Vendor.objects.unscoped().values_list("pk", flat=True))
    assert vendors == {two_tenants_with_data["mine"]["vendor"].pk, two_tenants_with_data["theirs"]["vendor"].pk}
    assert Invoice.objects.unscoped().filter(currency="EUR").count() == 2


def test_creating_rows_needs_no_scope(tenant: Tenant) -> None:
    """INSERTs carry their tenant explicitly, so factories and services can create rows."""
    vendor = VendorFactory(tenant=tenant)
    invoice = InvoiceFactory(tenant=tenant, vendor=vendor)
    assert Invoice.objects.for_tenant(tenant).get() == invoice
