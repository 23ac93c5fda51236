"""The invoice list's query: each filter over real rows, the sorts (amounts in each invoice's own
currency, statuses in the lifecycle's order), and the tenant's rows only."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.http import QueryDict

from core.http.listing import list_ordered
from core.ids import uuid7
from invoices.models import Invoice
from review.invoice_list import (
    INVOICE_LIST_SORTS,
    InvoiceListFilters,
    InvoiceListForm,
    amount_bound_condition,
    invoice_list,
    invoice_list_page_rows,
    invoice_list_row,
    invoice_list_values,
)
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.web.conftest import build_scenario

pytestmark = pytest.mark.django_db


def _numbers(tenant: Tenant, sort: str = "number", **filters: object) -> list[str]:
    invoices = invoice_list(tenant=tenant, filters=InvoiceListFilters(**filters), sort=sort)
    ordered = list_ordered(queryset=invoices, sorts=INVOICE_LIST_SORTS, sort=sort)
    numbers = [row["invoice_number"] for row in invoice_list_values(tenant=tenant, invoices=ordered)]
    # A page reads the same rows by their ids, in the same order.
    ids = list(ordered.values_list("pk", flat=True))
    assert [row.invoice_number for row in invoice_list_page_rows(tenant=tenant, invoice_ids=ids)] == numbers
    return numbers


def _received_on(invoice: Invoice, moment: dt.datetime) -> None:
    Invoice.objects.for_tenant(invoice.tenant_id).filter(pk=invoice.pk).update(created_at=moment)


@pytest.fixture
def ledger(tenant: Tenant, other_tenant: Tenant) -> dict[str, Invoice]:
    """Invoices of every kind the filters tell apart, and another tenant's look-alikes."""
    acme = VendorFactory(tenant=tenant, name="Acme Tools")
    brightline = VendorFactory(tenant=tenant, name="Brightline Office")
    order = PurchaseOrderFactory(vendor=acme, po_number="PO 4711")
    # Ties are broken by id, and ids made within one millisecond are in random order: in creation
    # order here, so "the newest of a vendor first" is a fact of the fixture, not of the clock.
    ids = iter(sorted(uuid7() for _ in range(5)))
    made = {
        "eur-small": InvoiceFactory(
            id=next(ids), vendor=acme, invoice_number="A-1", total_amount=999, status="approved"
        ),
        "eur-exact": InvoiceFactory(
            id=next(ids), vendor=acme, invoice_number="A-2", total_amount=1000, purchase_order=order, po_number="po4711"
        ),
        "jpy": InvoiceFactory(
            id=next(ids), vendor=brightline, invoice_number="B-1", currency="JPY", total_amount=1000, status="disputed"
        ),
        "bhd": InvoiceFactory(
            id=next(ids),
            vendor=brightline,
            invoice_number="B-2",
            currency="BHD",
            total_amount=10_005,
            status="pending_review",
            review_queue="escalated",
            source="csv",
        ),
        "unknown": InvoiceFactory(
            id=next(ids),
            tenant=tenant,
            vendor=None,
            vendor_name_raw="Zeta Unknown GmbH",
            invoice_number="C-1",
            po_number="PO-9999",
            invoice_date=dt.date(2026, 9, 1),
            document_type="credit_note",
            total_amount=50,
        ),
    }
    InvoiceFactory(vendor=VendorFactory(tenant=other_tenant, name="Acme Tools"), invoice_number="A-1-THEIRS")
    return made


def test_the_list_holds_every_invoice_of_the_tenant_in_any_state(tenant: Tenant, ledger: dict[str, Invoice]) -> None:
    assert _numbers(tenant) == ["A-1", "A-2", "B-1", "B-2", "C-1"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"statuses": ("approved", "disputed")}, ["A-1", "B-1"]),
        ({"statuses": ("received",)}, ["A-2", "C-1"]),
        ({"queue": "escalated"}, ["B-2"]),
        ({"currency": "JPY"}, ["B-1"]),
        ({"source": "csv"}, ["B-2"]),
        ({"document_type": "credit_note"}, ["C-1"]),
        ({"invoice_to": dt.date(2026, 9, 30)}, ["C-1"]),
        ({"invoice_from": dt.date(2026, 10, 10), "invoice_to": dt.date(2026, 10, 10)}, ["A-1", "A-2", "B-1", "B-2"]),
        # The PO it was matched to, however its number is spaced or cased, or the number it states.
        ({"po_number": "po 4711"}, ["A-2"]),
        ({"po_number": "PO-9999"}, ["C-1"]),
        ({"po_number": "PO-0000"}, []),
    ],
)
def test_each_filter_keeps_what_it_names(
    tenant: Tenant, ledger: dict[str, Invoice], filters: dict[str, object], expected: list[str]
) -> None:
    assert _numbers(tenant, **filters) == expected


def test_the_vendor_filter_and_another_tenants_vendor(
    tenant: Tenant, other_tenant: Tenant, ledger: dict[str, Invoice]
) -> None:
    assert _numbers(tenant, vendor_id=ledger["jpy"].vendor_id) == ["B-1", "B-2"]
    theirs = Invoice.objects.for_tenant(other_tenant).get().vendor_id
    assert _numbers(tenant, vendor_id=theirs) == []
    assert _numbers(other_tenant) == ["A-1-THEIRS"]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        # 9.99 EUR, 10.00 EUR, 1000 JPY, 10.005 BHD, 0.50 EUR: each in its own currency's units.
        ("10", None, ["A-2", "B-1", "B-2"]),
        ("10.001", None, ["B-1", "B-2"]),
        ("10.005", "10.005", ["B-2"]),
        (None, "9.99", ["A-1", "C-1"]),
        ("9.995", "10.004", ["A-2"]),  # exact: no rounding of the bounds to a currency's cents
        ("1000", "1000", ["B-1"]),
        # Past what a BIGINT of minor units holds (18 digits × 10^4 for CLF): all or none, no error.
        ("999999999999999999", None, []),
        (None, "999999999999999999", ["A-1", "A-2", "B-1", "B-2", "C-1"]),
    ],
)
def test_amounts_are_compared_exactly_in_each_invoices_currency(
    tenant: Tenant, ledger: dict[str, Invoice], low: str | None, high: str | None, expected: list[str]
) -> None:
    bounds = {"amount_min": Decimal(low) if low else None, "amount_max": Decimal(high) if high else None}
    assert _numbers(tenant, **bounds) == expected


@pytest.mark.parametrize("bound", ["0", "0.5", "9.99", "9.995", "10", "10.0049", "10.005", "1000", "1000.0001"])
def test_the_bound_conditions_keep_what_the_exact_numeric_comparison_keeps(
    tenant: Tenant, ledger: dict[str, Invoice], bound: str
) -> None:
    """The filter compares whole minor units (amount_bound_condition); the sort's stored NUMERIC
    major amount (invoices.sort_keys) is its twin: both keep the same invoices, on each side."""
    exact = Invoice.objects.for_tenant(tenant).alias(major=F("sort_amount"))
    by_minor = Invoice.objects.for_tenant(tenant)
    for lower, lookup in ((True, "major__gte"), (False, "major__lte")):
        condition = amount_bound_condition(major=Decimal(bound), lower=lower)
        kept = set(by_minor.filter(condition).values_list("invoice_number", flat=True))
        assert kept == set(exact.filter(**{lookup: Decimal(bound)}).values_list("invoice_number", flat=True))


def test_received_dates_are_whole_days_in_utc(tenant: Tenant, ledger: dict[str, Invoice]) -> None:
    _received_on(ledger["eur-small"], dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC))
    _received_on(ledger["eur-exact"], dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC))
    _received_on(ledger["jpy"], dt.datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=dt.UTC))
    _received_on(ledger["bhd"], dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC))
    _received_on(ledger["unknown"], dt.datetime(1999, 1, 1, tzinfo=dt.UTC))
    december_first = dt.date(2026, 12, 1)
    assert _numbers(tenant, received_from=december_first, received_to=december_first) == ["A-2", "B-1"]
    assert _numbers(tenant, received_to=dt.date.max) == ["A-1", "A-2", "B-1", "B-2", "C-1"]
    assert _numbers(tenant, received_from=dt.date.min, received_to=dt.date(1999, 1, 1)) == ["C-1"]


def test_the_discrepancy_filter_reads_the_latest_match(tenant: Tenant) -> None:
    scenario = build_scenario(tenant)
    assert _numbers(tenant, discrepancy_type="price_mismatch") == [scenario.price_mismatch.invoice_number]
    assert _numbers(tenant, discrepancy_type="possible_duplicate") == [scenario.duplicate.invoice_number]
    assert _numbers(tenant, discrepancy_type="tax_mismatch") == []
    invoices = invoice_list(tenant=tenant, filters=InvoiceListFilters(discrepancy_type="price_mismatch"))
    [row] = [invoice_list_row(values) for values in invoice_list_values(tenant=tenant, invoices=invoices)]
    assert row.discrepancy_types == ("price_mismatch",)
    assert row.discrepancy_labels == ("Price differs from PO",)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # 0.50 EUR < 9.99 EUR < 10.00 EUR < 10.005 BHD < 1000 JPY: major units, not minor ones.
        ("amount", ["C-1", "A-1", "A-2", "B-2", "B-1"]),
        ("-amount", ["B-1", "B-2", "A-2", "A-1", "C-1"]),
        # received < pending_review < approved < disputed: the lifecycle's order.
        ("status", ["A-2", "C-1", "B-2", "A-1", "B-1"]),
        # An unresolved vendor sorts by the name the document gave.
        ("vendor", ["A-1", "A-2", "B-1", "B-2", "C-1"]),
        # Descending is the mirror of ascending, ties included (newest of a vendor first).
        ("-vendor", ["C-1", "B-2", "B-1", "A-2", "A-1"]),
        ("-number", ["C-1", "B-2", "B-1", "A-2", "A-1"]),
        ("invoice_date", ["C-1", "A-1", "A-2", "B-1", "B-2"]),
    ],
)
def test_sorts(tenant: Tenant, ledger: dict[str, Invoice], sort: str, expected: list[str]) -> None:
    assert _numbers(tenant, sort=sort) == expected


def test_within_one_currency_amounts_sort_by_their_minor_units(tenant: Tenant, ledger: dict[str, Invoice]) -> None:
    assert _numbers(tenant, sort="amount", currency="EUR") == ["C-1", "A-1", "A-2"]
    assert _numbers(tenant, sort="-amount", currency="EUR") == ["A-2", "A-1", "C-1"]


def test_the_default_sort_is_the_newest_first(tenant: Tenant, ledger: dict[str, Invoice]) -> None:
    for days, key in enumerate(["bhd", "eur-small", "unknown", "jpy", "eur-exact"]):
        _received_on(ledger[key], dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(days=days))
    assert _numbers(tenant, sort="-received") == ["A-2", "B-1", "C-1", "A-1", "B-2"]


def test_a_row_carries_labels_and_the_exact_amount(tenant: Tenant, ledger: dict[str, Invoice]) -> None:
    form = InvoiceListForm(QueryDict("currency=BHD"))
    [values] = invoice_list_values(tenant=tenant, invoices=invoice_list(tenant=tenant, filters=form.filters()))
    row = invoice_list_row(values)
    assert (row.invoice_number, row.vendor_name, row.currency) == ("B-2", "Brightline Office", "BHD")
    assert str(row.amount) == "10.005"
    assert (row.status_label, row.queue_label, row.source_label, row.document_type_label) == (
        "Pending review",
        "Escalated",
        "CSV import",
        "Invoice",
    )


@pytest.mark.parametrize("sort", list(INVOICE_LIST_SORTS))
@pytest.mark.parametrize("currency", ["", "EUR"])
def test_every_sort_is_an_index_walk(tenant: Tenant, ledger: dict[str, Invoice], sort: str, currency: str) -> None:
    """Each sort is an index walk (tenant, key, id), forwards or backwards, stopping after the page:
    however many invoices the tenant has, no sort of all of them (on 100,000: bench_invoice_list).
    With sorting disabled the planner must still find a plan without one (it would otherwise
    sort, at any cost). The amount within one currency walks the currency filter's index."""
    invoices = invoice_list(tenant=tenant, filters=InvoiceListFilters(currency=currency), sort=sort)
    page = list_ordered(queryset=invoices, sorts=INVOICE_LIST_SORTS, sort=sort).values_list("pk", flat=True)
    sql, params = page[:50].query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Sort" not in plan and re.search(r"Index (Only )?Scan", plan), plan
    assert "vendors_vendor" not in sql  # the vendor's name is the invoice's stored key
