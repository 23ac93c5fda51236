"""The invoice list as a file: CSV and XLSX of exactly the rows the list shows (its filters and
sort, every page), with the same columns in both.

Streamed, so an export of 100,000 invoices never holds them all: the rows come from the database
in chunks (`iterator`), the CSV goes out line by line as it is written, and the XLSX is written
row by row by openpyxl's write-only mode into a temporary file, sent once complete (a zip file is
written whole before it can be read); an XLSX of more rows than EXPORT_SYNC_MAX_ROWS is written by
a worker instead (review.export_jobs). Cells a spreadsheet could read as a formula are escaped by
core.csv_safe in both files, as every export of Recon does; amounts are exact decimals in major
units beside their currency (in XLSX a number cell formatted with the currency's decimals, or
text past what a spreadsheet's number holds exactly); codes are written as their labels
(InvoiceListRow).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from django.db.models import QuerySet
from django.http import FileResponse, QueryDict, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from core.csv_safe import csv_cell
from core.http.listing import list_ordered, list_sort
from core.money import exponent, from_minor
from core.tenancy.rls import tenant_scope
from review.invoice_list import (
    DEFAULT_SORT,
    INVOICE_LIST_SORTS,
    InvoiceListForm,
    InvoiceListRow,
    invoice_list,
    invoice_list_row,
    invoice_list_values,
)
from tenants.models import Tenant

CHUNK_SIZE = 2000
LINES_PER_PIECE = 500
PROGRESS_ROWS = 500
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# A spreadsheet's number is a binary double, which holds every decimal of up to 15 significant
# digits exactly (written as the shortest text that reads back as it): an amount with more is
# written as text, exact, rather than as a number a spreadsheet would round.
XLSX_EXACT_DIGITS = 15

ExportValue = str | Decimal | dt.date | dt.datetime | None


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value: Callable[[InvoiceListRow], ExportValue]


def _received(row: InvoiceListRow) -> dt.datetime:
    """The arrival time in UTC, to the second, without a zone: spreadsheets keep none (the header says UTC)."""
    return row.received_at.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


# The list's columns, in its order, and the id a clerk can give the API or a colleague.
EXPORT_COLUMNS = (
    ExportColumn("Invoice number", lambda row: row.invoice_number),
    ExportColumn("Document type", lambda row: row.document_type_label),
    ExportColumn("Vendor", lambda row: row.vendor_name),
    ExportColumn("PO number", lambda row: row.po_number),
    ExportColumn("Invoice date", lambda row: row.invoice_date),
    ExportColumn("Due date", lambda row: row.due_date),
    ExportColumn("Status", lambda row: row.status_label),
    ExportColumn("Review queue", lambda row: row.queue_label),
    ExportColumn("Discrepancies", lambda row: "; ".join(row.discrepancy_labels)),
    ExportColumn("Amount", lambda row: row.amount),
    ExportColumn("Currency", lambda row: row.currency),
    ExportColumn("Early-payment discount", lambda row: from_minor(row.discount_amount, row.currency)),
    ExportColumn("Discount if paid by", lambda row: row.discount_due_date),
    ExportColumn("Discount available", lambda row: "Yes" if row.discount_open else ""),
    ExportColumn("Received (UTC)", _received),
    ExportColumn("Source", lambda row: row.source_label),
    ExportColumn("Assigned to", lambda row: row.assignee_name),
    ExportColumn("Recon id", lambda row: str(row.id)),
)
EXPORT_HEADERS = tuple(column.header for column in EXPORT_COLUMNS)


def invoice_export_rows(*, tenant: Tenant, query: QueryDict, me: Any) -> QuerySet:
    """The rows the list shows for this query string (every page, in its order), as `values()`
    rows; `me` is whom "Assigned to: me" means."""
    form = InvoiceListForm(query)
    sort = list_sort(query=query, sorts=INVOICE_LIST_SORTS, default_sort=DEFAULT_SORT)
    invoices = invoice_list(tenant=tenant, filters=form.filters(me=me), sort=sort)
    return invoice_list_values(
        tenant=tenant, invoices=list_ordered(queryset=invoices, sorts=INVOICE_LIST_SORTS, sort=sort)
    )


def export_text(value: ExportValue) -> str:
    """A value as the CSV writes it (before escaping): ISO dates, exact decimals, "" for none."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime(DATE_TIME_FORMAT)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def export_rows(*, tenant: Tenant, invoices: QuerySet) -> Iterator[tuple[InvoiceListRow, list[ExportValue]]]:
    """Each listed invoice and its cells, read in chunks. The tenant's scope is fixed here: a
    streamed response is read after the view has returned and the request's scope is gone."""
    with tenant_scope(tenant):
        for values in invoices.iterator(chunk_size=CHUNK_SIZE):
            row = invoice_list_row(values)
            yield row, [column.value(row) for column in EXPORT_COLUMNS]


class _Line:
    """What csv.writer writes to: it hands each written line back instead of keeping it."""

    def write(self, line: str) -> str:
        return line


def invoice_csv_lines(*, tenant: Tenant, invoices: QuerySet) -> Iterator[str]:
    """The CSV in pieces of `LINES_PER_PIECE` lines (one write each, not one per line): a byte
    order mark (so spreadsheets read UTF-8 names as such), the headers, then one line per invoice
    with every cell through csv_cell."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow([csv_cell(header) for header in EXPORT_HEADERS])
    piece: list[str] = []
    for _, cells in export_rows(tenant=tenant, invoices=invoices):
        piece.append(writer.writerow([csv_cell(export_text(value)) for value in cells]))
        if len(piece) == LINES_PER_PIECE:
            yield "".join(piece)
            piece = []
    if piece:
        yield "".join(piece)


def invoice_csv_response(*, tenant: Tenant, invoices: QuerySet, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        invoice_csv_lines(tenant=tenant, invoices=invoices), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def _number_format(currency: str) -> str:
    places = exponent(currency)
    return "#,##0" + ("." + "0" * places if places else "")


def _xlsx_cells(sheet: WriteOnlyWorksheet, row: InvoiceListRow, cells: Iterable[ExportValue]) -> list[Any]:
    """Typed cells: text escaped as in the CSV (its control characters that XML cannot hold shown
    as U+FFFD), dates as dates, the amount as a number with its currency's decimals."""
    typed: list[Any] = []
    for value in cells:
        if isinstance(value, Decimal) and len(value.as_tuple().digits) <= XLSX_EXACT_DIGITS:
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = _number_format(row.currency)
        elif isinstance(value, dt.datetime):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
        elif isinstance(value, dt.date):
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "yyyy-mm-dd"
        else:
            cell = csv_cell(ILLEGAL_CHARACTERS_RE.sub("\ufffd", export_text(value))) or None
        typed.append(cell)
    return typed


def invoice_xlsx_write(
    *, tenant: Tenant, invoices: QuerySet, target: IO[bytes], on_rows: Callable[[int], None] | None = None
) -> int:
    """The XLSX of the listed invoices written to `target`; the number of rows. `on_rows` is told
    the rows written so far every `PROGRESS_ROWS` rows (a background export's progress)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Invoices")
    sheet.freeze_panes = "A2"
    sheet.append([csv_cell(header) for header in EXPORT_HEADERS])
    written = 0
    for row, cells in export_rows(tenant=tenant, invoices=invoices):
        sheet.append(_xlsx_cells(sheet, row, cells))
        written += 1
        if on_rows is not None and written % PROGRESS_ROWS == 0:
            on_rows(written)
    workbook.save(target)
    return written


def invoice_xlsx_response(*, tenant: Tenant, invoices: QuerySet, filename: str) -> FileResponse:
    """The XLSX in a temporary file (deleted when the response is closed), then sent."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (FileResponse closes it, which deletes it)
    invoice_xlsx_write(tenant=tenant, invoices=invoices, target=spool)
    spool.seek(0)
    return FileResponse(spool, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_CONTENT_TYPE)
