"""CSV import of invoices, purchase orders and goods receipts: the API, the command, real-world files.

The sample files under docs/samples/ are the happy paths (the README points users at them), so
they are imported here as they are shipped.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core import csv_cells, csv_reading
from core.http.uploads import UPLOAD_TOO_LARGE
from core.problems import MAX_PROBLEMS_REPORTED, PROBLEMS_TRUNCATED
from core.quantities import MUST_BE_POSITIVE
from core.text import NUL_REFUSED
from invoices.models import Invoice, InvoiceSource
from purchasing import csv_import as purchasing_csv
from purchasing.models import GoodsReceipt, PurchaseOrder
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory, VendorFactory
from tests.matching.runs import run_matching
from vendors import ingest as vendors_ingest
from vendors.models import Vendor

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
INVOICES = "/api/invoices/import/csv"
PURCHASE_ORDERS = "/api/purchase-orders/import/csv"
GOODS_RECEIPTS = "/api/goods-receipts/import/csv"

INVOICE_HEADER = (
    "invoice_number,vendor_name,po_number,currency,invoice_date,total_amount,description,quantity,unit_price"
)


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


@pytest.fixture
def vendors(tenant: Tenant) -> dict[str, Vendor]:
    return {
        "nordic": VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901"),
        "acme": VendorFactory(tenant=tenant, name="Acme Industrial Supplies GmbH", tax_id="DE811234567"),
    }


def upload(client: APIClient, path: str, content: bytes, *, query: str = "", **headers: str) -> Any:
    """As a browser or `curl -F file=@...` sends it: multipart, field `file`."""
    handle = io.BytesIO(content)
    handle.name = "import.csv"
    return client.post(path + query, {"file": handle}, format="multipart", **headers)


def raw(client: APIClient, path: str, content: bytes, *, query: str = "") -> Any:
    """As `curl --data-binary @file.csv -H 'Content-Type: text/csv'` sends it."""
    return client.generic("POST", path + query, content, content_type="text/csv")


def import_samples(api: APIClient) -> dict[str, Any]:
    reports = {}
    for kind, path in (
        ("purchase-orders", PURCHASE_ORDERS),
        ("goods-receipts", GOODS_RECEIPTS),
        ("invoices", INVOICES),
    ):
        response = upload(api, path, (SAMPLES / f"{kind}.csv").read_bytes())
        assert response.status_code == 201, response.content
        reports[kind] = response.json()
    return reports


def errors_of(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()["error"]
    assert body["code"] == "csv_invalid"
    return body["details"]


# --- the happy path, each kind ----------------------------------------------------------------


def test_the_sample_files_import_with_exact_values(api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]) -> None:
    reports = import_samples(api)
    assert [reports[kind]["created"] for kind in ("purchase-orders", "goods-receipts", "invoices")] == [2, 2, 2]
    assert reports["invoices"]["rows"] == 3 and reports["invoices"]["documents"] == 2

    po = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-2026-0412")
    assert po.vendor == vendors["nordic"]
    assert [(line.line_number, line.quantity, line.unit_price) for line in po.lines.order_by("line_number")] == [
        (1, Decimal("2000"), Decimal("0.084500")),
        (2, Decimal("2000"), Decimal("0.021000")),
    ]
    assert GoodsReceipt.objects.for_tenant(tenant).get(receipt_number="GR-7781").lines.count() == 2

    invoice = Invoice.objects.for_tenant(tenant).get(invoice_number="NF-10288")
    assert invoice.source == InvoiceSource.CSV
    assert invoice.vendor == vendors["nordic"]
    assert (invoice.subtotal_amount, invoice.tax_amount, invoice.total_amount) == (20050, 5013, 25063)
    assert [(line.description, line.amount) for line in invoice.lines.order_by("line_number")] == [
        ("Hex bolt M8 x 50, zinc plated", 16900),  # the quoted comma stays in the text
        ("Hex nut M8", 3150),
    ]
    assert str(invoice.pk) in reports["invoices"]["created_ids"]
    # Each document has its creation event, by the API key that imported it.
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="created").count() == 2


def test_a_raw_text_csv_body_works_like_an_upload(api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]) -> None:
    response = raw(api, PURCHASE_ORDERS, (SAMPLES / "purchase-orders.csv").read_bytes())
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 2


def test_the_import_command(tenant: Tenant, vendors: dict[str, Vendor], capsys: pytest.CaptureFixture[str]) -> None:
    call_command("import_csv", "purchase_orders", str(SAMPLES / "purchase-orders.csv"), tenant=tenant.slug)
    assert "purchase-orders: 3 rows, 2 documents; created 2, 0 already present" in capsys.readouterr().out
    call_command("import_csv", "purchase-orders", str(SAMPLES / "purchase-orders.csv"), tenant=str(tenant.pk))
    assert "created 0, 2 already present (skipped)" in capsys.readouterr().out
    assert PurchaseOrder.objects.for_tenant(tenant).count() == 2


def test_the_import_command_lists_every_problem(tmp_path: Path, tenant: Tenant, vendors: dict[str, Vendor]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(INVOICE_HEADER + "\nA-1,Nordic Fasteners AB,,EUR,31/10/2026,10.00,Bolts,x,10.00\n")
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 problem"):
        call_command("import_csv", "invoices", str(bad), tenant=tenant.slug, stderr=err)
    assert "row 2, column invoice_date" in err.getvalue() and "row 2, column quantity" in err.getvalue()
    with pytest.raises(CommandError, match="Unknown kind"):
        call_command("import_csv", "payments", str(bad), tenant=tenant.slug)


# --- all or nothing, every problem by row and column ------------------------------------------


def test_one_bad_row_writes_nothing_and_every_problem_is_listed(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor], document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    events_before = AuditEvent.objects.for_tenant(tenant).count()
    content = (
        (
            INVOICE_HEADER + "\n"
            "A-1,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,1,10.00\n"  # fine on its own
            "A-2,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Nuts,1.5.0,10.00\n"  # not a number
            "A-3,Nordic Fasteners AB,,EUR,10/10/2026,10.00,Nuts,1,10.00\n"  # not ISO
            "A-4,Nordic Fasteners AB,,EUR,2026-02-30,10.00,Nuts,1,10.00\n"  # not a real day
            'A-5,Nordic Fasteners AB,,EUR,2026-10-10,"1,000.00",Nuts,1,1000.00\n'  # thousands separator
            "A-6,Nordic Fasteners AB,,EUR,2026-10-10,10.00,,1,10.00\n"  # required description
            "A-7,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Nuts,1\n"  # a field short
            "A-8,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Nuts,-1,10.00\n"  # the door's rule: quantity > 0
        ).encode()
    )
    details = errors_of(upload(api, INVOICES, content))
    assert details == {
        "row 3, column quantity": [csv_cells.NOT_A_DECIMAL.format(value="1.5.0")],
        "row 4, column invoice_date": [csv_cells.NOT_A_DATE.format(value="10/10/2026")],
        "row 5, column invoice_date": [csv_cells.NOT_A_REAL_DATE.format(value="2026-02-30")],
        "row 6, column total_amount": [
            csv_cells.THOUSANDS_REFUSED.format(value="1,000.00", plain="1000.00"),
        ],
        "row 7, column description": [csv_reading.VALUE_REQUIRED],
        "row 8": [csv_reading.FIELD_COUNT.format(found=8, expected=9)],
        "row 9, column quantity": [MUST_BE_POSITIVE],
    }
    # Row 2 was valid and created inside the import's transaction: rolled back with the rest.
    assert document_counts() == before
    assert AuditEvent.objects.for_tenant(tenant).count() == events_before


def test_thousands_separators_when_configured(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor], settings: Any
) -> None:
    settings.CSV_ALLOW_THOUSANDS_SEPARATOR = True
    content = (INVOICE_HEADER + '\nA-5,Nordic Fasteners AB,,EUR,2026-10-10,"1,000.00",Nuts,1,"1,000.00"\n').encode()
    assert upload(api, INVOICES, content).status_code == 201
    assert Invoice.objects.for_tenant(tenant).get(invoice_number="A-5").total_amount == 100000


def test_a_decimal_comma_is_refused_with_the_fix(api: APIClient, vendors: dict[str, Vendor]) -> None:
    content = (INVOICE_HEADER + '\nA-1,Nordic Fasteners AB,,EUR,2026-10-10,"12,50",Nuts,1,12.50\n').encode()
    assert errors_of(upload(api, INVOICES, content)) == {
        "row 2, column total_amount": [csv_cells.DECIMAL_COMMA.format(value="12,50")]
    }


@pytest.mark.parametrize(
    ("header", "location", "message"),
    [
        ("invoice_number,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price,quantiy",
         "row 1, column quantiy", "Unknown column 'quantiy'"),
        ("invoice_number,vendor_name,currency,invoice_date,description,quantity,unit_price",
         "row 1, column total_amount", csv_reading.COLUMN_MISSING.format(name="total_amount")),
        ("invoice_number,currency,invoice_date,total_amount,description,quantity,unit_price",
         "row 1", vendors_ingest.VENDOR_COLUMN_MISSING),
        ("invoice_number,vendor_name,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price",
         "row 1, column vendor_name", csv_reading.COLUMN_REPEATED.format(name="vendor_name")),
    ],
)  # fmt: skip
def test_header_problems(api: APIClient, vendors: dict[str, Vendor], header: str, location: str, message: str) -> None:
    details = errors_of(upload(api, INVOICES, (header + "\n").encode()))
    assert any(message in text for text in details[location]), details


def test_header_fields_must_agree_and_documents_must_be_consecutive(api: APIClient, vendors: dict[str, Vendor]) -> None:
    content = (
        (
            INVOICE_HEADER + "\n"
            "A-1,Nordic Fasteners AB,,EUR,2026-10-10,20.00,Bolts,1,10.00\n"
            "A-1,Nordic Fasteners AB,,EUR,2026-10-10,25.00,Nuts,1,10.00\n"  # another total for the same invoice
            "A-2,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Nuts,1,10.00\n"
            "A-1,Nordic Fasteners AB,,EUR,2026-10-10,20.00,Nuts,1,10.00\n"  # A-1 again, after A-2
        ).encode()
    )
    details = errors_of(upload(api, INVOICES, content))
    assert details["row 3, column total_amount"] == [
        csv_reading.HEADER_DISAGREES.format(first_row=2, first="20.00", value="25.00")
    ]
    assert details["row 5, column invoice_number"] == [
        csv_reading.NOT_CONSECUTIVE.format(label="invoice", number="A-1", first_row=2)
    ]


def test_the_services_rules_point_at_their_row(api: APIClient, vendors: dict[str, Vendor]) -> None:
    """What only the door knows (an unknown PO for a receipt, an unknown vendor for a PO) is located."""
    receipts = b"receipt_number,po_number,received_date,po_line_number,quantity\nGR-1,PO-NOPE,2026-10-10,1,5\n"
    details = errors_of(upload(api, GOODS_RECEIPTS, receipts))
    assert list(details) == ["row 2, column po_number"]
    orders = b"po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n" + (
        b"PO-9,Nobody Ltd,EUR,2026-10-01,1,Bolts,1,1.00\n"
    )
    assert errors_of(upload(api, PURCHASE_ORDERS, orders)) == {
        "row 2, column vendor_name": [purchasing_csv.VENDOR_NOT_FOUND]
    }


# --- real-world files -------------------------------------------------------------------------


def test_utf8_with_bom_and_semicolons_and_newlines_in_quotes(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]
) -> None:
    content = (
        "\ufeffinvoice_number;vendor_name;currency;invoice_date;total_amount;description;quantity;unit_price\r\n"
        'Ü-1;Nordic Fasteners AB;EUR;2026-10-10;10.00;"Schrauben; verzinkt\r\nLieferung 2";1;10.00\r\n'
    ).encode("utf-8")
    response = upload(api, INVOICES, content)
    assert response.status_code == 201, response.content
    assert response.json()["warnings"] == []
    line = Invoice.objects.for_tenant(tenant).get(invoice_number="Ü-1").lines.get()
    assert line.description == "Schrauben; verzinkt\r\nLieferung 2"


def test_windows_1252_is_read_with_a_warning(api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]) -> None:
    content = (INVOICE_HEADER + "\nA-1,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Kühlmittel – 5 l,1,10.00\n").encode(
        "cp1252"
    )
    response = upload(api, INVOICES, content)
    assert response.status_code == 201, response.content
    [warning] = response.json()["warnings"]
    assert "read as Windows-1252" in warning
    assert Invoice.objects.for_tenant(tenant).get().lines.get().description == "Kühlmittel – 5 l"


def test_utf16_and_empty_files_are_refused(api: APIClient, vendors: dict[str, Vendor]) -> None:
    assert errors_of(upload(api, INVOICES, INVOICE_HEADER.encode("utf-16"))) == {"file": [csv_reading.FILE_UTF16]}
    response = upload(api, INVOICES, b"")
    assert response.status_code == 400 and response.json()["error"]["code"] == "file_missing"


def test_a_file_over_the_limit_is_413_before_it_is_read(
    api: APIClient, settings: Any, vendors: dict[str, Vendor]
) -> None:
    settings.CSV_MAX_BYTES = 1000
    content = (INVOICE_HEADER + "\n").encode() + b"A-1,Nordic Fasteners AB,,EUR,2026-10-10,1.00,x,1,1.00\n" * 30
    for response in (upload(api, INVOICES, content), raw(api, INVOICES, content)):
        assert response.status_code == 413, response.content
        error = response.json()["error"]
        assert error["code"] == "payload_too_large"
        assert error["message"] == UPLOAD_TOO_LARGE.format(limit=1000, setting="CSV_MAX_BYTES")
    assert not Invoice.objects.unscoped().exists()


# --- duplicates, dry runs, idempotency --------------------------------------------------------


def test_re_importing_the_same_files_creates_nothing_twice(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor], document_counts: Callable[[], dict[str, int]]
) -> None:
    first = import_samples(api)
    after_first = document_counts()
    second = import_samples(api)
    assert document_counts() == after_first
    for kind in ("purchase-orders", "goods-receipts", "invoices"):
        assert second[kind]["created"] == 0
        assert second[kind]["duplicates"] == first[kind]["created"]
    existing = Invoice.objects.for_tenant(tenant).get(invoice_number="NF-10288")
    assert {"row": 2, "number": "NF-10288", "id": str(existing.pk)} in second["invoices"]["duplicate_documents"]


def test_a_dry_run_reports_and_writes_nothing(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor], document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = upload(api, PURCHASE_ORDERS, (SAMPLES / "purchase-orders.csv").read_bytes(), query="?dry_run=true")
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["dry_run"], report["created"], report["created_ids"]) == (True, 2, [])
    assert document_counts() == before
    # A dry run finds what the real import would: here, the door's rule on a duplicate line number.
    bad = b"po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n" + (
        b"PO-1,Nordic Fasteners AB,EUR,2026-10-01,1,Bolts,1,1.00\n"
        b"PO-1,Nordic Fasteners AB,EUR,2026-10-01,1,Nuts,1,1.00\n"
    )
    assert errors_of(upload(api, PURCHASE_ORDERS, bad, query="?dry_run=true"))
    response = upload(api, PURCHASE_ORDERS, bad, query="?dry_run=maybe")
    assert response.status_code == 400 and "dry_run" in response.json()["error"]["details"]


def test_an_idempotency_key_replays_the_same_file(api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]) -> None:
    """A retried upload (a new multipart boundary each time) is recognised by its content."""
    content = (SAMPLES / "purchase-orders.csv").read_bytes()
    first = upload(api, PURCHASE_ORDERS, content, HTTP_IDEMPOTENCY_KEY="po-batch-17")
    again = upload(api, PURCHASE_ORDERS, content, HTTP_IDEMPOTENCY_KEY="po-batch-17")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = upload(api, PURCHASE_ORDERS, content + b"\n", HTTP_IDEMPOTENCY_KEY="po-batch-17")
    assert other.status_code == 422
    dry = upload(api, PURCHASE_ORDERS, content, query="?dry_run=true", HTTP_IDEMPOTENCY_KEY="po-batch-17")
    assert dry.status_code == 422  # the same key for another request (a dry run) is refused
    assert PurchaseOrder.objects.for_tenant(tenant).count() == 2


@pytest.mark.parametrize(
    ("path", "content"),
    [
        (PURCHASE_ORDERS, b"po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n"
                          b"PO-B-1,Nordic Fasteners AB,EUR,2026-10-01,1,Bolts,1,1.00\n"),
        (GOODS_RECEIPTS, b"receipt_number,po_number,received_date,po_line_number,quantity\n"
                         b"GR-B-1,PO-2026-0412,2026-10-14,1,5\n"),
        (INVOICES, b"invoice_number,vendor_id,currency,invoice_date,total_amount,description,quantity,unit_price\n"
                   b"B-1,{nordic},EUR,2026-10-10,1.00,Bolts,1,1.00\n"),
    ],
)  # fmt: skip
def test_another_tenants_documents_are_invisible_to_an_import(
    path: str,
    content: bytes,
    api: APIClient,
    foreign_api: APIClient,
    vendors: dict[str, Vendor],
    document_counts: Callable[[], dict[str, int]],
) -> None:
    """Tenant B's file naming tenant A's vendor (by name or id) or PO is refused: they do not exist for B."""
    import_samples(api)
    before = document_counts()
    response = upload(foreign_api, path, content.replace(b"{nordic}", str(vendors["nordic"].pk).encode()))
    assert errors_of(response)
    assert document_counts() == before


def test_another_tenant_cannot_see_or_use_this_tenants_vendors(
    foreign_api: APIClient, vendors: dict[str, Vendor], other_tenant: Tenant
) -> None:
    """Tenant B importing a PO for tenant A's vendor name finds no such vendor."""
    details = errors_of(upload(foreign_api, PURCHASE_ORDERS, (SAMPLES / "purchase-orders.csv").read_bytes()))
    assert details["row 2, column vendor_name"] == [purchasing_csv.VENDOR_NOT_FOUND]
    assert not PurchaseOrder.objects.for_tenant(other_tenant).exists()


# --- what PostgreSQL cannot store, and files wrong on every row --------------------------------


@pytest.fixture
def open_po(tenant: Tenant, vendors: dict[str, Vendor]) -> PurchaseOrder:
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendors["nordic"], po_number="PO-7")
    PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=1)
    return purchase_order


# Each file: a valid first document, then a NUL in one cell of the second (row 3).
NUL_FILES = {
    "invoices": (
        INVOICES,
        INVOICE_HEADER + "\n"
        "A-1,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,1,10.00\n"
        "A-2,Nordic\x00 Fasteners AB,,EUR,2026-10-10,10.00,Nuts,1,10.00\n",
        "row 3, column vendor_name",
    ),
    "purchase-orders": (
        PURCHASE_ORDERS,
        "po_number,vendor_name,currency,order_date,line_number,description,quantity,unit_price\n"
        "PO-1,Nordic Fasteners AB,EUR,2026-10-01,1,Bolts,1,1.00\n"
        "PO-2,Nordic Fasteners AB,EUR,2026-10-01,1,Nuts\x00,1,1.00\n",
        "row 3, column description",
    ),
    "goods-receipts": (
        GOODS_RECEIPTS,
        "receipt_number,po_number,received_date,po_line_number,quantity\n"
        "GR-1,PO-7,2026-10-05,1,1\n"
        "GR\x002,PO-7,2026-10-05,1,1\n",
        "row 3, column receipt_number",
    ),
}


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry-run"])
@pytest.mark.parametrize("kind", NUL_FILES)
def test_nul_byte_in_csv_is_a_400_and_nothing_is_written(
    kind: str,
    dry_run: bool,
    api: APIClient,
    tenant: Tenant,
    open_po: PurchaseOrder,
    document_counts: Callable[[], dict[str, int]],
) -> None:
    """PostgreSQL cannot store U+0000: the cell is named, never a 500 from the driver."""
    path, content, location = NUL_FILES[kind]
    before = document_counts()
    events_before = AuditEvent.objects.for_tenant(tenant).count()
    response = upload(api, path, content.encode(), query="?dry_run=true" if dry_run else "")
    assert errors_of(response) == {location: [NUL_REFUSED]}
    assert document_counts() == before
    assert AuditEvent.objects.for_tenant(tenant).count() == events_before


# "١٠" (Arabic-Indic) and "１０" (full width) are digits to Decimal() and int(), which read them as
# 10: once stored as 10 from a file, while the API refused them. A number in a file is ASCII.
NON_ASCII_DIGITS = {
    "invoice-total": (INVOICES, f"{INVOICE_HEADER}\nA-1,Nordic Fasteners AB,,EUR,2026-10-10,١٠.00,Bolts,1,10.00\n"),
    "invoice-quantity": (INVOICES, f"{INVOICE_HEADER}\nA-1,Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,１,10.00\n"),
    "receipt-line": (
        GOODS_RECEIPTS,
        "receipt_number,po_number,received_date,po_line_number,quantity\nGR-1,PO-7,2026-10-05,١,1\n",
    ),
}


@pytest.mark.parametrize("case", NON_ASCII_DIGITS)
def test_a_number_in_other_than_ascii_digits_is_refused_by_cell_and_nothing_is_written(
    case: str, api: APIClient, open_po: PurchaseOrder, document_counts: Callable[[], dict[str, int]]
) -> None:
    path, content = NON_ASCII_DIGITS[case]
    before = document_counts()
    response = upload(api, path, content.encode())
    assert response.status_code == 400, response.content
    [(location, [message])] = errors_of(response).items()
    assert location.startswith("row 2, column ")
    assert message in {csv_cells.NOT_A_DECIMAL.format(value=value) for value in ("١٠.00", "１")} | {
        csv_cells.NOT_A_WHOLE_NUMBER.format(value="١")
    }
    assert document_counts() == before


def test_a_csv_wrong_on_every_row_answers_with_the_first_1000_problems_and_stops_reading(
    api: APIClient, vendors: dict[str, Vendor], document_counts: Callable[[], dict[str, int]]
) -> None:
    """50,000 bad rows: a small body listing rows 2-1001, "at least 1,001" problems, nothing written.

    Without the cap this answered with every problem (a 24 MB file: 1.26 million of them, 105 MB).
    """
    rows = "".join(f"A-{n},Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,x,10.00\n" for n in range(50_000))
    before = document_counts()
    response = upload(api, INVOICES, (INVOICE_HEADER + "\n" + rows).encode())
    details = errors_of(response)
    assert response.json()["error"]["message"] == PROBLEMS_TRUNCATED.format(
        found=MAX_PROBLEMS_REPORTED + 1, listed=MAX_PROBLEMS_REPORTED
    )
    assert (details.pop("truncated"), details.pop("problems_listed"), details.pop("problems_found_at_least")) == (
        True,
        MAX_PROBLEMS_REPORTED,
        MAX_PROBLEMS_REPORTED + 1,
    )
    # The first 1,000 rows' problems, in order, and reading stopped at the next one.
    assert list(details) == [f"row {row}, column quantity" for row in range(2, MAX_PROBLEMS_REPORTED + 2)]
    assert len(response.content) < 250_000
    assert document_counts() == before


def test_the_import_command_reports_a_truncated_file(
    tmp_path: Path, tenant: Tenant, vendors: dict[str, Vendor]
) -> None:
    bad = tmp_path / "bad.csv"
    rows = "".join(f"A-{n},Nordic Fasteners AB,,EUR,2026-10-10,10.00,Bolts,x,10.00\n" for n in range(1_500))
    bad.write_text(INVOICE_HEADER + "\n" + rows)
    err = io.StringIO()
    with pytest.raises(CommandError, match=f"at least {MAX_PROBLEMS_REPORTED + 1} problems"):
        call_command("import_csv", "invoices", str(bad), tenant=tenant.slug, stderr=err)
    assert err.getvalue().count("column quantity") == MAX_PROBLEMS_REPORTED


def test_a_receipts_file_releasing_invoices_on_hold_for_several_pos_imports_without_breaking_the_lock_order(
    api: APIClient, tenant: Tenant, vendors: dict[str, Vendor]
) -> None:
    """Two receipts in one file, each releasing an invoice on hold. Each document's audit event
    used to be appended after it, so the second receipt locked its invoice after the audit-chain
    lock: a LockOrderViolation here, a deadlock with a reviewer in production."""
    for kind, path in (("purchase-orders", PURCHASE_ORDERS), ("invoices", INVOICES)):
        assert upload(api, path, (SAMPLES / f"{kind}.csv").read_bytes()).status_code == 201
    run_matching(tenant)
    assert set(Invoice.objects.for_tenant(tenant).values_list("status", flat=True)) == {"on_hold"}

    response = upload(api, GOODS_RECEIPTS, (SAMPLES / "goods-receipts.csv").read_bytes())

    assert response.status_code == 201, response.content
    assert set(Invoice.objects.for_tenant(tenant).values_list("status", flat=True)) == {"received"}
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=io.StringIO())
