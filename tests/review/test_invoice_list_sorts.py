"""The invoice list's stored sort keys (invoices.sort_keys) and paging through every sort: each
page, read as the list reads it (from the nearer end), joins into the full ordering with no
invoice twice and none missing, ties included."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.http import QueryDict

from core.http.listing import list_page
from core.money import CURRENCY_EXPONENTS, from_minor
from invoices.models import Invoice, InvoiceStatus
from review.invoice_list import (
    DEFAULT_SORT,
    INVOICE_LIST_SORTS,
    InvoiceListFilters,
    invoice_list,
    invoice_list_page_ids,
)
from tenants.models import Tenant
from tests.factories import InvoiceFactory, VendorFactory
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

PER_PAGE = 4

# What each sort key means, in Python, for the expected order (the id breaks every tie).
KEYS: dict[str, Callable[[Invoice, dict[str, Any]], Any]] = {
    "number": lambda invoice, _: invoice.invoice_number,
    "vendor": lambda invoice, names: names.get(invoice.vendor_id, invoice.vendor_name_raw),
    "invoice_date": lambda invoice, _: invoice.invoice_date,
    "amount": lambda invoice, _: from_minor(invoice.total_amount, invoice.currency),
    "status": lambda invoice, _: InvoiceStatus.values.index(invoice.status),
    "received": lambda invoice, _: invoice.created_at,
}


@pytest.fixture
def crowded(tenant: Tenant, other_tenant: Tenant) -> list[Invoice]:
    """23 invoices with ties on every key: two vendors and an unresolved name equal to one of
    them, three totals (10.00 EUR three times over, 1000 JPY sorting above them), two dates, four
    statuses, one arrival time shared by half of them; another tenant's beside them."""
    acme, brightline = VendorFactory(tenant=tenant, name="Acme"), VendorFactory(tenant=tenant, name="Brightline")
    statuses = ["received", "approved", "disputed", "approved"]
    same_moment = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    made = []
    for position in range(23):
        vendor = (acme, brightline, None)[position % 3]
        made.append(
            InvoiceFactory(
                tenant=tenant,
                vendor=vendor,
                vendor_name_raw="Acme" if vendor is None else "",
                invoice_number=f"N-{position % 5}",
                currency="JPY" if position % 4 == 0 else "EUR",
                total_amount=1000 if position % 4 == 0 else (1000, 999, 1000)[position % 3],
                invoice_date=dt.date(2026, 10, 1 + position % 2),
                status=statuses[position % 4],
            )
        )
    for invoice in made[::2]:
        Invoice.objects.for_tenant(tenant).filter(pk=invoice.pk).update(created_at=same_moment)
    InvoiceFactory(vendor=VendorFactory(tenant=other_tenant, name="Aardvark"), invoice_number="N-0")
    return list(Invoice.objects.for_tenant(tenant))


def _expected(invoices: list[Invoice], sort: str) -> list[uuid.UUID]:
    names = dict(Vendor.objects.for_tenant(invoices[0].tenant_id).values_list("pk", "name"))
    key = KEYS[sort.lstrip("-")]
    ordered = sorted(invoices, key=lambda invoice: (key(invoice, names), invoice.pk))
    if sort.startswith("-"):
        ordered.reverse()
    return [invoice.pk for invoice in ordered]


def _walk(tenant: Tenant, sort: str, filters: InvoiceListFilters) -> list[uuid.UUID]:
    """Every page in turn, each read as the list's page reads it."""
    invoices = invoice_list(tenant=tenant, filters=filters, sort=sort).values_list("pk", flat=True)
    walked: list[uuid.UUID] = []
    number, pages = 1, 1
    while number <= pages:
        listed = list_page(
            query=QueryDict(f"sort={sort}&page={number}"),
            queryset=invoices,
            per_page=PER_PAGE,
            sorts=INVOICE_LIST_SORTS,
            default_sort=DEFAULT_SORT,
        )
        assert listed.sort == sort
        pages = listed.page.paginator.num_pages
        walked += invoice_list_page_ids(page=listed.page)
        number += 1
    return walked


@pytest.mark.parametrize("sort", list(INVOICE_LIST_SORTS))
def test_paging_through_each_sort_gives_its_full_order_once(tenant: Tenant, crowded: list[Invoice], sort: str) -> None:
    walked = _walk(tenant, sort, InvoiceListFilters())
    assert math.ceil(len(crowded) / PER_PAGE) == 6
    assert walked == _expected(crowded, sort)
    assert len(set(walked)) == len(crowded)


@pytest.mark.parametrize("sort", ["amount", "-amount", "status", "-vendor"])
def test_paging_a_filtered_list(tenant: Tenant, crowded: list[Invoice], sort: str) -> None:
    """Within one currency the amount walks the minor units (another index); a filter keeps its rows' order."""
    euros = [invoice for invoice in crowded if invoice.currency == "EUR"]
    assert _walk(tenant, sort, InvoiceListFilters(currency="EUR")) == _expected(euros, sort)


def test_the_vendor_key_follows_the_vendor(tenant: Tenant, other_tenant: Tenant) -> None:
    """Kept by the database's triggers, whoever writes: a new invoice takes its vendor's name (an
    unresolved one the name it gave), a vendor found later or renamed carries its name to its
    invoices, and a key written by hand is put right."""
    acme = VendorFactory(tenant=tenant, name="Acme")
    theirs = VendorFactory(tenant=other_tenant, name="Zulu")
    resolved = InvoiceFactory(vendor=acme)
    unresolved = InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw="Brand New Ltd")
    mine = VendorFactory(tenant=tenant, name="Brand New Limited")

    def keys() -> dict[uuid.UUID, str]:
        return dict(Invoice.objects.for_tenant(tenant).values_list("pk", "sort_vendor"))

    assert keys() == {resolved.pk: "Acme", unresolved.pk: "Brand New Ltd"}
    Invoice.objects.for_tenant(tenant).filter(pk=unresolved.pk).update(vendor=mine)
    acme.name = "Acme Tools"
    acme.save()
    assert keys() == {resolved.pk: "Acme Tools", unresolved.pk: "Brand New Limited"}
    Invoice.objects.for_tenant(tenant).filter(pk=resolved.pk).update(sort_vendor="Aaa")
    assert keys()[resolved.pk] == "Acme Tools"
    # Another tenant's vendor never lends its name, nor does its rename reach these invoices.
    theirs.name = "Acme Tools"
    theirs.save()
    assert keys() == {resolved.pk: "Acme Tools", unresolved.pk: "Brand New Limited"}


def test_the_stored_status_and_amount_keys_follow_the_lifecycle_and_the_currency_table(tenant: Tenant) -> None:
    """The generated columns against their Python truths: InvoiceStatus's order, and the exact
    major amount of every currency core.money knows (and of a code it does not: 2 decimals)."""
    vendor = VendorFactory(tenant=tenant)
    for currency in [*sorted(CURRENCY_EXPONENTS), "XXQ"]:
        InvoiceFactory(vendor=vendor, currency=currency, total_amount=123_456_789)
    for currency, stored in Invoice.objects.for_tenant(tenant).values_list("currency", "sort_amount"):
        expected = from_minor(123_456_789, currency) if currency in CURRENCY_EXPONENTS else Decimal("1234567.89")
        assert stored == expected, currency
    invoice = InvoiceFactory(vendor=vendor)
    for rank, status in enumerate(InvoiceStatus.values):
        Invoice.objects.for_tenant(tenant).filter(pk=invoice.pk).update(
            status=status, review_queue="standard" if status == "pending_review" else None
        )
        assert Invoice.objects.for_tenant(tenant).values_list("sort_status", flat=True).get(pk=invoice.pk) == rank
