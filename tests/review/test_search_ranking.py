"""The header's search (review.search): what a typed text is read as, which documents it finds, in
which order, in how many queries, through which indexes, and never another tenant's."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.tenancy.rls import tenant_scope
from invoices.models import Invoice
from purchasing.models import PurchaseOrder
from review.search import (
    CONTAINS_WINDOW,
    Rank,
    SearchHit,
    amount_typed,
    search_query_parse,
    search_run,
)
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PurchaseOrderFactory, VendorFactory
from vendors.models import Vendor


def _found(tenant: Tenant, text: str, *, limit: int = 20) -> list[SearchHit]:
    with tenant_scope(tenant):
        return search_run(tenant=tenant, text=text, limit=limit).best(limit=limit)


def _titles(hits: list[SearchHit]) -> list[str]:
    return [hit.title for hit in hits]


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1250", Decimal("1250")),
        ("1250.5", Decimal("1250.5")),
        ("1,250.00", Decimal("1250.00")),
        ("1,250", Decimal("1250")),
        ("12,345,678.9", Decimal("12345678.9")),
        ("1.250,00", Decimal("1250.00")),
        ("1.250.000", Decimal("1250000")),
        ("12,50", Decimal("12.50")),
        ("1.250", Decimal("1.250")),  # a lone point is a decimal point
        ("1 250.00", Decimal("1250.00")),
        ("1'250.00", Decimal("1250.00")),
        ("1\u202f250,00", Decimal("1250.00")),
        ("INV-7790", None),
        ("12,5,0", None),
        ("1,25.00", None),
        ("٧٧", None),  # other scripts' digits are not an amount here
        ("-5", None),
        ("", None),
    ],
)
def test_an_amount_is_read_as_clerks_write_it(typed: str, amount: Decimal | None) -> None:
    assert amount_typed(typed) == amount


def test_a_number_is_read_whatever_its_case_and_separators() -> None:
    for typed in ("inv7790", "INV-7790", " inv 7790 ", "Inv_7790", "INV-0007790"):
        query = search_query_parse(text=typed)
        assert (query.invoice_key, query.number_key) == ("INV7790", "INV7790"), typed
    query = search_query_parse(text="7790")
    assert (query.invoice_key, query.amount, query.amount_written) == ("7790", Decimal("7790"), False)
    assert search_query_parse(text="7,790.00").amount_written
    assert search_query_parse(text="Müller GmbH").name_key == "muller"
    assert search_query_parse(text="  ").is_empty


@pytest.mark.django_db
def test_numbers_rank_exact_then_start_then_end_then_inside_then_amount_newest_first(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies")
    for number in ("X-177905", "AB-17790", "7790-A", "INV-7790", "AB-27790", "INV-7791"):
        InvoiceFactory(vendor=vendor, invoice_number=number)
    InvoiceFactory(vendor=vendor, invoice_number="INV-1", total_amount=779000)  # 7,790.00 EUR

    hits = _found(tenant, "7790")

    assert _titles(hits) == ["7790-A", "AB-27790", "INV-7790", "AB-17790", "X-177905", "INV-1"]
    assert [hit.rank for hit in hits] == [Rank.PREFIX, Rank.TAIL, Rank.TAIL, Rank.TAIL, Rank.CONTAINS, Rank.AMOUNT]
    assert (hits[2].vendor_name, hits[2].status, hits[2].status_label) == ("Acme Supplies", "received", "Received")

    # Typed whole, a document's number is that document: fragments of other numbers are left out.
    exact = InvoiceFactory(vendor=vendor, invoice_number="007790")
    hits = _found(tenant, "7790")
    assert _titles(hits) == ["007790", "7790-A", "AB-27790", "INV-7790", "AB-17790", "INV-1"]
    assert hits[0].id == exact.pk and hits[0].rank == Rank.EXACT


@pytest.mark.django_db
def test_a_number_is_found_however_it_is_typed_and_the_whole_key_comes_first(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    InvoiceFactory(vendor=vendor, invoice_number="INV-77901")
    InvoiceFactory(vendor=vendor, invoice_number="INV-7790")
    for typed in ("inv7790", "INV-7790", "inv 7790", "INV-007790"):
        assert _titles(_found(tenant, typed)) == ["INV-7790", "INV-77901"], typed
    assert _titles(_found(tenant, "7790")) == ["INV-7790", "INV-77901"]  # its end, then inside


@pytest.mark.django_db
def test_a_number_still_being_typed_keeps_its_documents_through_a_run_of_zeros(tenant: Tenant) -> None:
    """ "INV-000" is on its way to "INV-0004242" (key INV4242): its documents stay in the list."""
    InvoiceFactory(tenant=tenant, invoice_number="INV-0004242")
    for typed in ("INV-", "INV-0", "INV-000", "INV-0004", "inv-00042"):
        assert _titles(_found(tenant, typed)) == ["INV-0004242"], typed


@pytest.mark.django_db
def test_purchase_orders_by_number_like_invoices(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Nordic Fasteners")
    PurchaseOrderFactory(vendor=vendor, po_number="PO-0042")
    PurchaseOrderFactory(vendor=vendor, po_number="PO-0420")
    PurchaseOrderFactory(vendor=vendor, po_number="PO-1042")

    assert _titles(_found(tenant, "po42")) == ["PO-0042", "PO-0420"]
    assert _titles(_found(tenant, "42")) == ["PO-1042", "PO-0042", "PO-0420"]
    hit = _found(tenant, "po 0042")[0]
    assert (hit.title, hit.kind, hit.vendor_name, hit.status_label) == (
        "PO-0042",
        "purchase_order",
        "Nordic Fasteners",
        "Open",
    )


@pytest.mark.django_db
def test_vendors_by_the_start_of_any_word_of_their_name_as_normalized(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Supplies Direct")
    VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    VendorFactory(tenant=tenant, name="Müller Präzision GmbH")
    VendorFactory(tenant=tenant, name="Acme")
    VendorFactory(tenant=tenant, name="Presupplies")

    assert _titles(_found(tenant, "supp")) == ["Supplies Direct", "Acme Supplies Ltd"]
    assert _titles(_found(tenant, "acme")) == ["Acme", "Acme Supplies Ltd"]
    assert _titles(_found(tenant, "ACME SUPPLIES, LTD.")) == ["Acme Supplies Ltd"]
    for typed in ("mul", "MÜL", "prazi", "Präz"):
        assert _titles(_found(tenant, typed)) == ["Müller Präzision GmbH"], typed


@pytest.mark.django_db
def test_an_amount_finds_the_totals_it_is_exactly_in_any_currency(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    InvoiceFactory(vendor=vendor, invoice_number="EUR-A", currency="EUR", total_amount=125000)
    InvoiceFactory(vendor=vendor, invoice_number="JPY-A", currency="JPY", total_amount=1250)
    InvoiceFactory(vendor=vendor, invoice_number="BHD-A", currency="BHD", total_amount=1250000)
    InvoiceFactory(vendor=vendor, invoice_number="JPY-B", currency="JPY", total_amount=125000)
    InvoiceFactory(vendor=vendor, invoice_number="EUR-B", currency="EUR", total_amount=125001)
    InvoiceFactory(vendor=vendor, invoice_number="BHD-B", currency="BHD", total_amount=12345)

    found = {"1,250.00": ["BHD-A", "JPY-A", "EUR-A"], "1250": ["BHD-A", "JPY-A", "EUR-A"], "12.345": ["BHD-B"]}
    for typed, numbers in found.items():
        hits = _found(tenant, typed)
        assert _titles(hits) == numbers, typed
        assert {hit.rank for hit in hits} == {Rank.EXACT if "," in typed or "." in typed else Rank.AMOUNT}
    assert (_found(tenant, "1,250.00")[-1].amount, _found(tenant, "1,250.00")[-1].currency) == (125000, "EUR")


@pytest.mark.django_db
def test_inside_a_number_only_the_newest_documents_are_read(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound that keeps a search for a number's middle fast: its start and end are found at any age."""
    vendor = VendorFactory(tenant=tenant)
    old = InvoiceFactory(vendor=vendor, invoice_number="OLD-55123")
    for number in range(3):
        InvoiceFactory(vendor=vendor, invoice_number=f"NEW-{number}")
    monkeypatch.setattr("review.search.CONTAINS_WINDOW", 3)
    assert _titles(_found(tenant, "512")) == []
    assert _titles(_found(tenant, "5123")) == ["OLD-55123"]  # its end
    monkeypatch.setattr("review.search.CONTAINS_WINDOW", 4)
    assert [hit.id for hit in _found(tenant, "512")] == [old.pk]
    assert CONTAINS_WINDOW >= 10_000


@pytest.mark.django_db
def test_another_tenants_documents_are_never_found(tenant: Tenant, other_tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=other_tenant, name="Acme Supplies")
    theirs = {
        vendor.pk,
        InvoiceFactory(vendor=vendor, invoice_number="INV-7790", total_amount=779000).pk,
        PurchaseOrderFactory(vendor=vendor, po_number="PO-7790").pk,
    }
    InvoiceFactory(tenant=tenant, invoice_number="OURS-1")

    for typed in ("7790", "inv7790", "INV-7790", "po7790", "acme", "supp", "7,790.00", "7790.00", "9", "I"):
        assert not {hit.id for hit in _found(tenant, typed)} & theirs, typed
        assert {hit.id for hit in _found(other_tenant, typed)} & theirs, f"{typed} finds theirs for them"


@pytest.mark.django_db
def test_a_search_costs_three_queries_whatever_it_finds(tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies")
    for number in range(30):
        InvoiceFactory(vendor=vendor, invoice_number=f"INV-{number}", total_amount=12500)
        PurchaseOrderFactory(vendor=vendor, po_number=f"PO-{number}")
    for typed, found in (("zzz-nothing", 0), ("1", 20), ("acme", 1), ("125.00", 20)):
        with tenant_scope(tenant), CaptureQueriesContext(connection) as queries:
            hits = search_run(tenant=tenant, text=typed, limit=20).best(limit=20)
        assert (len(hits), len(queries)) == (found, 3), typed
    with tenant_scope(tenant), CaptureQueriesContext(connection) as queries:
        assert search_run(tenant=tenant, text=" \t", limit=20).best(limit=20) == []
    assert len(queries) == 0


def _plans(tenant: Tenant, text: str) -> str:
    """The plans of a search's queries as the runtime role gets them (sequential scans priced out)."""
    with tenant_scope(tenant), CaptureQueriesContext(connection) as captured:
        search_run(tenant=tenant, text=text, limit=8)
    lines: list[Any] = []
    with tenant_scope(tenant), connection.cursor() as cursor:
        cursor.execute("SELECT row_security_active('invoices_invoice')")
        assert cursor.fetchone()[0], "the test must run as a role row-level security binds"
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in captured.captured_queries:
            cursor.execute(f"EXPLAIN (COSTS OFF) {query['sql']}")
            lines += [line for (line,) in cursor.fetchall()]
    return "\n".join(lines)


def _analyzed(*tables: str) -> None:
    """Statistics of the test's rows, as autovacuum would gather them (only an owner may ANALYZE:
    the suite's own role for a moment, then the runtime role again; it runs inside the test's
    transaction, and counts its rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        (runtime,) = cursor.fetchone()
        cursor.execute("RESET ROLE")
        for table in tables:
            cursor.execute(f"ANALYZE {table}")
        cursor.execute(f'SET ROLE "{runtime}"')


@pytest.mark.django_db
def test_every_rank_is_an_index_range_under_row_level_security(tenant: Tenant) -> None:
    """Under RLS only LEAKPROOF comparisons are index conditions: `^@` and `=` are, so each rank
    reads a range of its index, not every row of the tenant (LIKE 'x%' would)."""
    vendors = Vendor.objects.bulk_create(VendorFactory.build_batch(500, tenant=tenant))
    invoices = [
        InvoiceFactory.build(vendor=vendors[number % 500], invoice_number=f"INV-{number:05}", total_amount=number)
        for number in range(3000)
    ]
    Invoice.objects.bulk_create(invoices)
    orders = [
        PurchaseOrderFactory.build(vendor=vendors[number % 500], po_number=f"PO-{number:05}") for number in range(3000)
    ]
    PurchaseOrder.objects.bulk_create(orders)
    _analyzed("invoices_invoice", "purchasing_purchaseorder", "vendors_vendor")

    plans = _plans(tenant, "inv-01234")
    for index, condition in (
        ("invoice_tenant_search_number", "(invoice_number_normalized)::text = 'INV1234'"),
        ("invoice_tenant_search_number", "(invoice_number_normalized)::text ~>=~ 'INV1234'"),
        ("invoice_tenant_search_reversed", "invoice_number_reversed ~>=~ '4321VNI'"),
        ("po_tenant_search_key", "po_number_search_key ~>=~ 'INV1234'"),
        ("po_tenant_search_key_reversed", "po_number_search_key_reversed ~>=~ '4321VNI'"),
        ("vendor_tenant_name_prefix", "((normalized_name)::text ~>=~ 'inv 01234'::text)"),
    ):
        assert f"using {index} on" in plans, index
        assert condition in plans, condition
    amounts = _plans(tenant, "10.42")
    assert "invoice_tenant_total" in amounts and "(total_amount = 1042)" in amounts
