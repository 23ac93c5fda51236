"""Create and read through the API: exact values in, the same exact values out."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.models import Invoice, InvoiceLine, InvoiceStatus, ReviewQueue
from purchasing.models import GoodsReceipt, PurchaseOrder
from review.apis import InvoiceOutputSerializer
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory
from vendors.models import Vendor


def create(client: APIClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def read(client: APIClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "invoice_number": "INV-1001",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "10.00",
        "lines": [{"description": "Widget", "quantity": "1", "unit_price": "10.00"}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def acme(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Acme Supplies", tax_id="DE123456789", default_currency="EUR")


# --- vendors -----------------------------------------------------------------------------------


def test_vendor_create_and_read(api: APIClient, tenant: Tenant) -> None:
    """A vendor's tax id and currency are normalized once, at the door, and read back as stored."""
    created = create(api, "/api/vendors", {"name": "  Nova Parts GmbH ", "tax_id": "de 555-666 777", "currency": "chf"})
    assert created["name"] == "Nova Parts GmbH"
    assert created["tax_id"] == "DE555666777"
    assert created["currency"] == "CHF"
    assert created["aliases"] == []
    assert read(api, f"/api/vendors/{created['id']}") == created
    assert Vendor.objects.for_tenant(tenant).get().normalized_name == "nova parts"


# --- purchase orders and receipts --------------------------------------------------------------


def test_purchase_order_with_lines_round_trips_full_precision(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """Quantities (4 places) and unit prices (6 places) come back as decimal strings, digit for digit."""
    body = {
        "po_number": " PO-2026-001 ",
        "vendor_id": str(acme.pk),
        "currency": "eur",
        "order_date": "2026-10-01",
        "expected_date": "2026-10-15",
        "lines": [
            {
                "line_number": 1,
                "sku": "BOLT-M8",
                "description": "Bolts M8",
                "quantity": "1.2345",
                "unit_price": "0.123456",
            },
            {"line_number": 2, "description": "Nuts", "quantity": "10", "unit_price": "2.5", "uom": "BOX"},
            {"line_number": 3, "description": "Washers", "quantity": "Q", "unit_price": "P"},
        ],
    }
    # Line 3 as bare JSON numbers at the columns' full width (18 digits): no float on the way.
    raw = json.dumps(body).replace('"Q"', "99999999999999.9999").replace('"P"', "999999999999.999999")
    response = api.post("/api/purchase-orders", data=raw, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()

    assert created["po_number"] == "PO-2026-001"
    assert created["vendor_id"] == str(acme.pk)
    assert created["currency"] == "EUR"
    assert created["status"] == "open"
    assert (created["order_date"], created["expected_date"]) == ("2026-10-01", "2026-10-15")
    assert [
        (line["line_number"], line["sku"], line["quantity"], line["unit_price"], line["uom"])
        for line in created["lines"]
    ] == [
        (1, "BOLT-M8", "1.2345", "0.123456", "EA"),
        (2, "", "10.0000", "2.500000", "BOX"),
        (3, "", "99999999999999.9999", "999999999999.999999", "EA"),
    ]
    assert read(api, f"/api/purchase-orders/{created['id']}") == created

    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get()
    assert [line.quantity for line in purchase_order.lines.order_by("line_number")] == [
        Decimal("1.2345"),
        Decimal("10"),
        Decimal("99999999999999.9999"),
    ]
    assert purchase_order.lines.get(line_number=1).unit_price == Decimal("0.123456")


def test_goods_receipt_with_lines(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """A receipt is linked to the PO and its lines by number, quantities kept exactly."""
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=acme, po_number="PO-77")
    po_lines = [PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=n) for n in (1, 2)]

    created = create(
        api,
        "/api/goods-receipts",
        {
            "receipt_number": "GR-77-A",
            "po_number": "PO-77",
            "received_date": "2026-10-05",
            "lines": [{"po_line_number": 2, "quantity": "3.5"}, {"po_line_number": 1, "quantity": "0.0001"}],
        },
    )

    assert created["receipt_number"] == "GR-77-A"
    assert created["po_number"] == "PO-77"
    assert created["purchase_order_id"] == str(purchase_order.pk)
    assert created["received_date"] == "2026-10-05"
    assert sorted((line["po_line_number"], line["quantity"]) for line in created["lines"]) == [
        (1, "0.0001"),
        (2, "3.5000"),
    ]
    assert read(api, f"/api/goods-receipts/{created['id']}") == created
    receipt = GoodsReceipt.objects.for_tenant(tenant).get()
    assert {line.purchase_order_line_id: line.quantity for line in receipt.lines.all()} == {
        po_lines[0].pk: Decimal("0.0001"),
        po_lines[1].pk: Decimal("3.5"),
    }


def test_several_receipts_per_purchase_order(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """Partial deliveries: a second receipt against the same PO line is normal."""
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=acme, po_number="PO-78")
    PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=1)
    for number in ("GR-78-1", "GR-78-2"):
        create(
            api,
            "/api/goods-receipts",
            {
                "receipt_number": number,
                "po_number": "PO-78",
                "received_date": "2026-10-05",
                "lines": [{"po_line_number": 1, "quantity": "2"}],
            },
        )
    assert purchase_order.receipts.count() == 2


# --- invoices: vendor resolution ---------------------------------------------------------------


def test_invoice_by_vendor_id(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """An invoice naming the vendor by id is linked to it, and reads back identically."""
    created = create(
        api, "/api/invoices", invoice_body(vendor_id=str(acme.pk), po_number="PO-1", due_date="2026-11-09")
    )
    assert created["vendor_id"] == str(acme.pk)
    assert created["vendor_name"] == "Acme Supplies"
    assert created["status"] == "received"
    assert created["review_queue"] is None
    assert created["source"] == "api"
    assert (created["po_number"], created["invoice_date"], created["due_date"]) == ("PO-1", "2026-10-10", "2026-11-09")
    assert read(api, f"/api/invoices/{created['id']}") == created


def test_invoice_by_vendor_tax_id(api: APIClient, acme: Vendor) -> None:
    """A tax id written with spaces and dashes still finds the vendor; the raw text is kept."""
    created = create(api, "/api/invoices", invoice_body(vendor_tax_id="de 123-456 789"))
    assert created["vendor_id"] == str(acme.pk)
    assert created["vendor_tax_id_raw"] == "de 123-456 789"


def test_invoice_by_exact_normalized_vendor_name(api: APIClient, acme: Vendor) -> None:
    """'ACME Supplies, Ltd.' is vendor 'Acme Supplies': case, punctuation and legal form ignored."""
    created = create(api, "/api/invoices", invoice_body(vendor_name="ACME Supplies, Ltd."))
    assert created["vendor_id"] == str(acme.pk)
    assert created["vendor_name"] == "Acme Supplies"


def test_invoice_with_unresolvable_vendor_name_is_accepted_raw(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """An unknown name is kept as sent for matching to resolve or flag; no vendor is guessed."""
    created = create(api, "/api/invoices", invoice_body(vendor_name="Acme Supplies Europe BV"))
    assert created["vendor_id"] is None
    assert created["vendor_name"] == "Acme Supplies Europe BV"
    assert Invoice.objects.for_tenant(tenant).get().vendor_name_raw == "Acme Supplies Europe BV"


def test_ambiguous_vendor_name_resolves_to_no_vendor(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """Two vendors with the same normalized name: picking one would be a guess, so none is picked."""
    VendorFactory(tenant=tenant, name="ACME SUPPLIES INC", tax_id="US1")
    created = create(api, "/api/invoices", invoice_body(vendor_name="Acme Supplies"))
    assert created["vendor_id"] is None


def test_vendor_name_of_another_tenant_does_not_resolve(api: APIClient, other_tenant: Tenant, tenant: Tenant) -> None:
    """Resolution only ever looks at the caller's own vendors."""
    VendorFactory(tenant=other_tenant, name="Globex Parts", tax_id="GB777")
    created = create(api, "/api/invoices", invoice_body(vendor_name="Globex Parts", vendor_tax_id="GB777"))
    assert created["vendor_id"] is None


# --- invoices: amounts -------------------------------------------------------------------------


def test_line_amount_is_computed_half_up_and_subtotal_is_the_sum(api: APIClient, acme: Vendor) -> None:
    """Without an amount a line is quantity × unit price rounded half-up to the cent; subtotal sums lines."""
    created = create(
        api,
        "/api/invoices",
        invoice_body(
            vendor_id=str(acme.pk),
            total_amount="46.07",
            tax_amount="7.00",
            shipping_amount="4.95",
            lines=[
                {"description": "a", "quantity": "3", "unit_price": "0.335"},  # 1.005 → 1.01
                {"description": "b", "quantity": "2.5", "unit_price": "0.125"},  # 0.3125 → 0.31
                {"description": "c", "quantity": "1", "unit_price": "0.004999"},  # → 0.00
                {"description": "d", "quantity": "4", "unit_price": "8.2", "amount": "32.80"},
            ],
        ),
    )
    assert [line["amount"] for line in created["lines"]] == ["1.01", "0.31", "0.00", "32.80"]
    assert [line["line_number"] for line in created["lines"]] == [1, 2, 3, 4]
    assert created["subtotal_amount"] == "34.12"
    assert (created["tax_amount"], created["shipping_amount"], created["total_amount"]) == ("7.00", "4.95", "46.07")
    invoice = Invoice.objects.for_tenant(acme.tenant).get()
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (3412, 700, 4607)
    assert sum(line.amount for line in invoice.lines.all()) == invoice.subtotal_amount


def test_a_given_line_amount_is_kept_even_if_it_differs_from_quantity_times_price(api: APIClient, acme: Vendor) -> None:
    """The vendor's own line amount is what was billed; checking it is matching's job, not the door's."""
    created = create(
        api,
        "/api/invoices",
        invoice_body(
            vendor_id=str(acme.pk), lines=[{"description": "a", "quantity": "2", "unit_price": "5", "amount": "9.99"}]
        ),
    )
    assert created["lines"][0]["amount"] == "9.99"
    assert created["subtotal_amount"] == "9.99"


def test_jpy_invoice_has_no_decimals(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """JPY amounts are whole yen: computed lines round half-up to the yen and print without a point."""
    created = create(
        api,
        "/api/invoices",
        invoice_body(
            vendor_id=str(acme.pk),
            currency="jpy",
            total_amount="12346",
            tax_amount="1000",
            lines=[
                {"description": "a", "quantity": "3", "unit_price": "333.5"},  # 1000.5 → 1001
                {"description": "b", "quantity": "1", "unit_price": "10345"},
            ],
        ),
    )
    assert created["currency"] == "JPY"
    assert [line["amount"] for line in created["lines"]] == ["1001", "10345"]
    assert (created["subtotal_amount"], created["tax_amount"], created["total_amount"]) == ("11346", "1000", "12346")
    invoice = Invoice.objects.for_tenant(tenant).get()
    assert (invoice.subtotal_amount, invoice.total_amount) == (11346, 12346)


def test_bhd_invoice_has_three_decimals(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """BHD amounts have fils: three places in and out."""
    created = create(
        api,
        "/api/invoices",
        invoice_body(
            vendor_id=str(acme.pk),
            currency="BHD",
            total_amount="3.719",
            lines=[
                {"description": "a", "quantity": "2", "unit_price": "1.2345"},  # 2.469
                {"description": "b", "quantity": "1", "unit_price": "1.25", "amount": "1.25"},
            ],
        ),
    )
    assert [line["amount"] for line in created["lines"]] == ["2.469", "1.250"]
    assert (created["subtotal_amount"], created["tax_amount"], created["total_amount"]) == ("3.719", "0.000", "3.719")
    assert Invoice.objects.for_tenant(tenant).get().total_amount == 3719


def test_a_huge_computed_line_is_rounded_once(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """Quantity × unit price is exact before the one half-up rounding, even past 28 digits.

    50000000000000.0005 × 20999.999999 = 1049999999950000010.4999999995 yen: rounding the product
    to 28 digits first would make it …010.5 and invent a yen.
    """
    created = create(
        api,
        "/api/invoices",
        invoice_body(
            vendor_id=str(acme.pk),
            currency="JPY",
            total_amount="1049999999950000010",
            lines=[{"description": "bulk", "quantity": "50000000000000.0005", "unit_price": "20999.999999"}],
        ),
    )
    assert created["lines"][0]["amount"] == "1049999999950000010"
    assert InvoiceLine.objects.for_tenant(tenant).get().amount == 1049999999950000010


def test_json_numbers_are_read_exactly_not_as_floats(api: APIClient, acme: Vendor) -> None:
    """A JSON number 0.1 is one tenth, not the float nearest to it."""
    body = invoice_body(
        vendor_id=str(acme.pk), total_amount="T", lines=[{"description": "a", "quantity": 3, "unit_price": "U"}]
    )
    raw = json.dumps(body).replace('"T"', "0.30").replace('"U"', "0.1")
    response = api.post("/api/invoices", data=raw, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["lines"][0]["unit_price"] == "0.100000"
    assert response.json()["subtotal_amount"] == "0.30"
    assert response.json()["total_amount"] == "0.30"


# --- invoice numbers ---------------------------------------------------------------------------


def test_cosmetically_different_invoice_numbers_collide_when_normalized(
    api: APIClient, tenant: Tenant, acme: Vendor
) -> None:
    """'inv-000123' and 'INV 123' are the same number to duplicate detection.

    With the same content the second is a re-send, answered by the first; with other content it is
    accepted here (and flagged `duplicate_invoice` by matching).
    """
    first = create(api, "/api/invoices", invoice_body(vendor_id=str(acme.pk), invoice_number="inv-000123"))
    resent = api.post("/api/invoices", invoice_body(vendor_id=str(acme.pk), invoice_number="INV 123"), format="json")
    assert (resent.status_code, resent.json()["id"]) == (200, first["id"])
    second = create(
        api, "/api/invoices", invoice_body(vendor_id=str(acme.pk), invoice_number="INV 123", invoice_date="2026-10-11")
    )
    third = create(api, "/api/invoices", invoice_body(vendor_id=str(acme.pk), invoice_number="INV-1230"))

    assert (first["invoice_number"], second["invoice_number"]) == ("inv-000123", "INV 123")
    normalized = dict(Invoice.objects.for_tenant(tenant).values_list("id", "invoice_number_normalized"))
    assert {str(key): value for key, value in normalized.items()} == {
        first["id"]: "INV123",
        second["id"]: "INV123",
        third["id"]: "INV1230",
    }


# --- lists: filters and pagination -------------------------------------------------------------


@pytest.fixture
def invoice_set(tenant: Tenant, acme: Vendor) -> dict[str, Invoice]:
    other_vendor = VendorFactory(tenant=tenant, name="Bolt Works")
    return {
        "early_received": InvoiceFactory(tenant=tenant, vendor=acme, invoice_date=dt.date(2026, 9, 1)),
        "mid_approved": InvoiceFactory(
            tenant=tenant, vendor=acme, invoice_date=dt.date(2026, 9, 15), status=InvoiceStatus.APPROVED
        ),
        "mid_review": InvoiceFactory(
            tenant=tenant,
            vendor=other_vendor,
            invoice_date=dt.date(2026, 9, 30),
            status=InvoiceStatus.PENDING_REVIEW,
            review_queue=ReviewQueue.ESCALATED,
        ),
        "late_received": InvoiceFactory(tenant=tenant, vendor=other_vendor, invoice_date=dt.date(2026, 10, 31)),
        "no_vendor": InvoiceFactory(
            tenant=tenant, vendor=None, vendor_name_raw="Unknown GmbH", invoice_date=dt.date(2026, 10, 1)
        ),
    }


def _ids(client: APIClient, query: str) -> set[str]:
    page = read(client, f"/api/invoices?{query}&page_size=500")
    assert page["next"] is None
    return {item["id"] for item in page["results"]}


def _expected(invoice_set: dict[str, Invoice], *names: str) -> set[str]:
    return {str(invoice_set[name].pk) for name in names}


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("status=received", ("early_received", "late_received", "no_vendor")),
        ("status=approved", ("mid_approved",)),
        ("status=approved&status=pending_review", ("mid_approved", "mid_review")),
        ("review_queue=escalated", ("mid_review",)),
        ("invoice_date_from=2026-09-15", ("mid_approved", "mid_review", "late_received", "no_vendor")),
        ("invoice_date_to=2026-09-15", ("early_received", "mid_approved")),
        ("invoice_date_from=2026-09-02&invoice_date_to=2026-09-30", ("mid_approved", "mid_review")),
        ("status=received&invoice_date_from=2026-10-01", ("late_received", "no_vendor")),
    ],
)
def test_invoice_list_filters(
    query: str, names: tuple[str, ...], api: APIClient, invoice_set: dict[str, Invoice]
) -> None:
    """Each filter returns exactly the matching invoices (inclusive date bounds)."""
    assert _ids(api, query) == _expected(invoice_set, *names)


def test_invoice_list_filter_by_vendor(api: APIClient, acme: Vendor, invoice_set: dict[str, Invoice]) -> None:
    """vendor_id narrows to that vendor's invoices."""
    assert _ids(api, f"vendor_id={acme.pk}") == _expected(invoice_set, "early_received", "mid_approved")


@pytest.mark.parametrize(
    "query", ["status=paid", "invoice_date_from=yesterday", "vendor_id=not-a-uuid", "review_queue=urgent"]
)
def test_invalid_filter_values_are_a_400_envelope(query: str, api: APIClient) -> None:
    """A filter value that cannot match is refused, not silently ignored (which would list everything)."""
    response = api.get(f"/api/invoices?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("resource", ["/api/invoices", "/api/vendors", "/api/purchase-orders"])
def test_cursor_pagination_walks_every_item_exactly_once(resource: str, api: APIClient, tenant: Tenant) -> None:
    """page_size=2 over 5 items: 3 pages via `next`, every item once, newest first, then `next` is null."""
    vendor = VendorFactory(tenant=tenant)
    made = []
    for _ in range(4):
        if resource == "/api/invoices":
            made.append(InvoiceFactory(tenant=tenant, vendor=vendor))
        elif resource == "/api/purchase-orders":
            made.append(PurchaseOrderFactory(tenant=tenant, vendor=vendor))
        else:
            made.append(VendorFactory(tenant=tenant))
    made.append(
        vendor
        if resource == "/api/vendors"
        else InvoiceFactory(tenant=tenant, vendor=vendor)
        if resource == "/api/invoices"
        else PurchaseOrderFactory(tenant=tenant, vendor=vendor)
    )

    seen: list[str] = []
    pages = 0
    url: str | None = f"{resource}?page_size=2"
    while url:
        page = read(api, url)
        pages += 1
        assert len(page["results"]) <= 2
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
        assert pages <= 10, "pagination does not terminate"

    assert pages == 3
    assert sorted(seen) == sorted(str(obj.pk) for obj in made)
    assert len(seen) == len(set(seen))
    created = {str(obj.pk): obj.created_at for obj in made}
    assert [created[item] for item in seen] == sorted(created.values(), reverse=True)


def test_cursor_pagination_is_stable_under_inserts(api: APIClient, tenant: Tenant, acme: Vendor) -> None:
    """An invoice arriving while a client pages does not shift or repeat items on later pages."""
    old = [InvoiceFactory(tenant=tenant, vendor=acme) for _ in range(4)]
    first = read(api, "/api/invoices?page_size=2")
    InvoiceFactory(tenant=tenant, vendor=acme)  # newest: belongs before page 1, not in page 2
    rest: list[str] = []
    url = first["next"]
    while url:
        page = read(api, url)
        rest.extend(item["id"] for item in page["results"])
        url = page["next"]
    assert sorted([item["id"] for item in first["results"]] + rest) == sorted(str(invoice.pk) for invoice in old)


@pytest.mark.parametrize("keyed", [True, False])
def test_a_create_answers_exactly_what_a_read_of_the_invoice_shows(api: APIClient, acme: Vendor, keyed: bool) -> None:
    """The 201 is built from what was written (amount due returned by the INSERT, lines kept, the
    vendor resolved), not read again: it must say what a read says, field for field, with every
    kind of value — decimals, dates, terms, a masked payee account, lines given out of order."""
    body = invoice_body(
        vendor_tax_id="DE123456789",
        invoice_number="INV-7 / A",
        tax_amount="3.80",
        shipping_amount="1.20",
        total_amount="25.00",
        prepaid_amount="5.00",
        tax_rate="19",
        due_date="2026-11-09",
        discount_pct="2",
        discount_days=10,
        payment_terms_note="2 % 10, net 30",
        payee_account="DE89370400440532013000",
        po_number="PO-77",
        lines=[
            {"line_number": 2, "sku": "B-2", "description": "Bolts", "quantity": "1.5", "unit_price": "4.000001"},
            {"line_number": 1, "description": "Nuts", "quantity": "7", "unit_price": "1.7142"},
        ],
    )
    headers = {"Idempotency-Key": "answer-equals-read"} if keyed else {}
    response = api.post("/api/invoices", data=json.dumps(body), content_type="application/json", headers=headers)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["amount_due"] == "20.00" and created["vendor_name"] == "Acme Supplies"
    assert [line["line_number"] for line in created["lines"]] == [1, 2]
    assert read(api, f"/api/invoices/{created['id']}") == created


def test_an_invoice_answer_s_fields_are_worked_out_once_and_never_shared(acme: Vendor, tenant: Tenant) -> None:
    """core.http.fields.FieldsBuiltOnce: each serializer gets its own copy of the fields built once
    for its class (a field is bound to its serializer: a shared one would answer for another)."""
    first, second = (InvoiceFactory(tenant=tenant, vendor=acme, invoice_number=f"INV-{n}") for n in (1, 2))
    one, two = InvoiceOutputSerializer(first), InvoiceOutputSerializer(second)
    assert one.fields["lines"] is not two.fields["lines"] and one.fields["lines"].parent is one
    assert (one.data["invoice_number"], two.data["invoice_number"]) == ("INV-1", "INV-2")
