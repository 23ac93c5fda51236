"""CSV import of invoices, purchase orders and goods receipts: streamed, all or nothing.

Kinds and their columns
-----------------------
One row per document *line*. The document's header fields are repeated on every row of the
document and must agree (a different value is a row error). The rows of one document must be
consecutive: a document starts at the first row of a new document key and ends at the row
before the next key; a key that reappears later is an error. Column order is free, names are
case-insensitive, unknown columns are refused (a misspelt "quantiy" must not vanish silently).

`invoices` (key: invoice_number + the vendor columns)
    header: invoice_number*, vendor_id | vendor_tax_id | vendor_name (at least one), po_number,
            currency*, invoice_date*, due_date, tax_amount, shipping_amount, total_amount*,
            prepaid_amount (EN 16931 BT-113, part of total_amount), external_id
    line:   line_number, sku, description*, quantity*, unit_price*, amount, po_line_number
`purchase-orders` (key: po_number)
    header: po_number*, vendor_id | vendor_tax_id | vendor_name (at least one; must name a known
            vendor), currency*, order_date*, expected_date
    line:   line_number*, sku, description*, quantity*, unit_price*, uom
`goods-receipts` (key: receipt_number)
    header: receipt_number*, po_number*, received_date*
    line:   po_line_number*, quantity*

(* required.) Amounts, quantities and prices are plain decimals with a dot ("1234.56"); a
thousands separator ("1,234.56") is refused unless CSV_ALLOW_THOUSANDS_SEPARATOR. Dates are ISO
8601 (YYYY-MM-DD) only: "03/04/2026" means two different days on two continents.

Files as they come
------------------
UTF-8 with or without BOM; a file that is not valid UTF-8 is read as Windows-1252 (what Excel
writes on Windows) and the response carries a warning. The delimiter is `,` or `;`, decided from
the header row. Quoted fields may contain delimiters, quotes ("") and line breaks.

Errors
------
A file with any problem writes nothing and answers 400 `csv_invalid` listing its problems:
`details` maps a location to its messages, in row order. The location is
`"row 7, column quantity"` for a cell, `"row 7"` for a whole row or document, `"file"` for the
file itself. Rows are numbered as a spreadsheet shows them: the header is row 1, a quoted field
with line breaks stays one row. Reading stops at the first problem past
`core.problems.MAX_PROBLEMS_REPORTED` (1,000): the first 1,000 are listed and `details`
says `"truncated": true` with the counts (core.problems), so a file that is wrong on every
row answers at once with a small body. A cell holding a NUL character is a problem of its cell
(PostgreSQL cannot store it); a date outside 1900-01-01 … 2199-12-31 is one too
(core.business_dates).

Documents already stored (same vendor + invoice number + content, invoices.ingest.
invoice_already_present; same PO number; same receipt number) are reported as duplicates and
skipped, so re-importing a file is safe. An invoice reusing a stored number with other content is
imported, for matching to flag as `duplicate_invoice`.

All or nothing, streamed
------------------------
The file is read row by row through `csv` over a text wrapper of the (seekable) upload; rows are
grouped into documents as they arrive and each document is created at once, inside one
transaction for the whole file (the services' own `atomic()` blocks nest as savepoints). After
the last row the transaction commits only if no row had a problem and this is not a dry run;
otherwise it is rolled back, so document 50 failing leaves documents 1-49 unwritten. Memory holds
one document's rows, the ids created and at most 1,000 problems, whatever the file's size. A dry run is the
same run, always rolled back: it finds everything the real import would (unknown POs,
duplicates, the services' own rules). The price of all-or-nothing: the tenant's audit-chain lock
is held for the whole import, so other writes of that tenant wait until it ends.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.db import transaction

from audit.services import audit_deferred
from core.actors import Actor
from core.business_dates import business_date_error
from core.exceptions import DocumentInvalid, DomainError, DuplicateDocument
from core.problems import MAX_PROBLEMS_REPORTED, PROBLEMS_TRUNCATED, ProblemLimitReached, truncation_details
from core.text import nul_error
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.ingest import PayloadTooLarge, VendorCache, invoice_already_present
from invoices.models import Invoice, InvoiceLine, InvoiceSource
from invoices.services import invoice_create
from matching.services import matching_lock_wait
from purchasing.documents import (
    GoodsReceiptDocument,
    GoodsReceiptLineDocument,
    PurchaseOrderDocument,
    PurchaseOrderLineDocument,
)
from purchasing.models import GoodsReceipt, PurchaseOrder, PurchaseOrderLine
from purchasing.services import goods_receipt_create, purchase_order_create
from tenants.models import Tenant
from vendors.models import Vendor

# --- messages (tests assert on these) -----------------------------------------------------------
FILE_EMPTY = "The file is empty: expected a header row naming the columns."
FILE_UTF16 = "UTF-16 files are not supported: save the file as 'CSV UTF-8' (or Windows-1252)."
FILE_UNDECODABLE = "The file is neither UTF-8 nor Windows-1252 text (byte {offset} cannot be read)."
FILE_TOO_LARGE = "The file is {size} bytes; at most {limit} bytes (CSV_MAX_BYTES) are accepted."
FILE_MALFORMED = "The CSV is malformed here and cannot be read further: {reason}."
WARN_CP1252 = (
    "The file is not valid UTF-8 (byte {offset} is not); it was read as Windows-1252. "
    "Check accented characters, or save the file as 'CSV UTF-8'."
)
COLUMN_UNKNOWN = "Unknown column {name!r}. Columns of {kind}: {expected}."
COLUMN_REPEATED = "Column {name!r} appears more than once."
COLUMN_MISSING = "Required column {name!r} is missing."
COLUMN_UNNAMED = "A column has no name."
VENDOR_COLUMN_MISSING = "Name the vendor: add a vendor_id, vendor_tax_id or vendor_name column."
FIELD_COUNT = "This row has {found} fields; the header has {expected}."
VALUE_REQUIRED = "Required."
NOT_A_DECIMAL = "{value!r} is not a decimal number; write it like 1234.56."
DECIMAL_COMMA = "{value!r}: use a dot as the decimal separator, e.g. 12.50."
THOUSANDS_REFUSED = "{value!r} has a thousands separator; write {plain} (or enable CSV_ALLOW_THOUSANDS_SEPARATOR)."
NOT_A_DATE = "{value!r} is not a date in the expected format YYYY-MM-DD (ISO 8601), e.g. 2026-10-31."
NOT_A_REAL_DATE = "{value!r} is not a real date (YYYY-MM-DD)."
NOT_A_WHOLE_NUMBER = "{value!r} is not a whole number from 1 to 2147483647."
NOT_A_UUID = "{value!r} is not a vendor id (a UUID)."
TOO_LONG = "At most {limit} characters."
HEADER_DISAGREES = "Disagrees with row {first_row} of the same document ({first!r} there, {value!r} here)."
NOT_CONSECUTIVE = "Rows of {label} {number!r} must be consecutive; it already appeared at row {first_row}."
VENDOR_NOT_FOUND = "No vendor of this tenant matches this vendor id, tax id or name; create the vendor first."
INVALID_SUMMARY = "The file has {count} problem(s); nothing was imported. See details, by row and column."

_MAX_INT = 2_147_483_647
# `re.ASCII`: `\d` would also take "١٠" or "１０", which Decimal() and int() read as 10; an
# amount, quantity, number or date in a file is written in ASCII digits (as the API requires).
_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$", re.ASCII)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_WHOLE = re.compile(r"^\d+$", re.ASCII)
_READ_CHUNK = 1 << 16


class CsvImportInvalid(DomainError):
    status_code = 400
    code = "csv_invalid"


class _CellError(ValueError):
    """A cell that cannot be read as its column's type."""


# --- cell readers ------------------------------------------------------------------------------


def _text(limit: int) -> Callable[[str], str]:
    def read(value: str) -> str:
        if len(value) > limit:
            raise _CellError(TOO_LONG.format(limit=limit))
        return value

    return read


def _decimal(value: str) -> Decimal:
    """A decimal as written, never through float; separators per CSV_ALLOW_THOUSANDS_SEPARATOR."""
    if _THOUSANDS.match(value):
        plain = value.replace(",", "")
        if not settings.CSV_ALLOW_THOUSANDS_SEPARATOR:
            raise _CellError(THOUSANDS_REFUSED.format(value=value, plain=plain))
        value = plain
    elif "," in value:
        raise _CellError(DECIMAL_COMMA.format(value=value))
    if not _PLAIN_DECIMAL.match(value):
        raise _CellError(NOT_A_DECIMAL.format(value=value))
    try:
        return Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid literals
        raise _CellError(NOT_A_DECIMAL.format(value=value)) from exc


def _date(value: str) -> dt.date:
    if not _ISO_DATE.match(value):
        raise _CellError(NOT_A_DATE.format(value=value))
    try:
        date = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise _CellError(NOT_A_REAL_DATE.format(value=value)) from exc
    if problem := business_date_error(date):
        raise _CellError(problem)
    return date


def _whole(value: str) -> int:
    if not _WHOLE.match(value) or not 1 <= int(value) <= _MAX_INT:
        raise _CellError(NOT_A_WHOLE_NUMBER.format(value=value))
    return int(value)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise _CellError(NOT_A_UUID.format(value=value)) from exc


@dataclass(frozen=True)
class Column:
    name: str
    read: Callable[[str], Any]
    header: bool  # a document header field (repeated per row) rather than a line field
    required: bool = False


def _limit(model: type, field_name: str) -> Callable[[str], str]:
    return _text(model._meta.get_field(field_name).max_length)


# --- the three kinds ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    number: int
    values: dict[str, Any]  # parsed; an empty cell is None
    valid: bool


@dataclass
class _Document:
    key: tuple[Any, ...]
    rows: list[_Row]

    @property
    def first(self) -> _Row:
        return self.rows[0]

    @property
    def valid(self) -> bool:
        return all(row.valid for row in self.rows)

    def header(self, name: str, default: Any = None) -> Any:
        value = self.first.values.get(name)
        return default if value is None else value


@dataclass(frozen=True)
class Created:
    id: str


@dataclass(frozen=True)
class Duplicate:
    number: str
    existing_id: str


class _Kind:
    """What differs between invoices, purchase orders and receipts; the run does the rest."""

    name: str
    label: str  # in messages: "invoice", "purchase order", ...
    number_column: str
    columns: tuple[Column, ...]
    vendor_columns = ("vendor_id", "vendor_tax_id", "vendor_name")

    def key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return (values.get(self.number_column) or "",)

    def check_header(self, names: set[str]) -> list[str]:
        return []

    def create(self, document: _Document, run: _Run) -> Created | Duplicate:
        raise NotImplementedError


def _needs_vendor_column(names: set[str]) -> list[str]:
    return [] if names & set(_Kind.vendor_columns) else [VENDOR_COLUMN_MISSING]


class _Invoices(_Kind):
    name = "invoices"
    label = "invoice"
    number_column = "invoice_number"
    columns = (
        Column("invoice_number", _limit(Invoice, "invoice_number"), header=True, required=True),
        Column("vendor_id", _uuid, header=True),
        Column("vendor_tax_id", _limit(Invoice, "vendor_tax_id_raw"), header=True),
        Column("vendor_name", _limit(Invoice, "vendor_name_raw"), header=True),
        Column("po_number", _limit(Invoice, "po_number"), header=True),
        Column("currency", _text(3), header=True, required=True),
        Column("invoice_date", _date, header=True, required=True),
        Column("due_date", _date, header=True),
        Column("tax_amount", _decimal, header=True),
        Column("shipping_amount", _decimal, header=True),
        Column("total_amount", _decimal, header=True, required=True),
        Column("prepaid_amount", _decimal, header=True),
        Column("external_id", _limit(Invoice, "external_id"), header=True),
        Column("line_number", _whole, header=False),
        Column("sku", _limit(InvoiceLine, "sku"), header=False),
        Column("description", _limit(InvoiceLine, "description"), header=False, required=True),
        Column("quantity", _decimal, header=False, required=True),
        Column("unit_price", _decimal, header=False, required=True),
        Column("amount", _decimal, header=False),
        Column("po_line_number", _whole, header=False),
    )

    def key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        # Two vendors may use the same invoice number; the vendor is part of what a document is.
        return tuple(values.get(name) or "" for name in (self.number_column, *self.vendor_columns))

    def check_header(self, names: set[str]) -> list[str]:
        return _needs_vendor_column(names)

    def create(self, document: _Document, run: _Run) -> Created | Duplicate:
        invoice_document = InvoiceDocument(
            invoice_number=document.header("invoice_number", ""),
            currency=document.header("currency", ""),
            invoice_date=document.header("invoice_date"),
            total_amount=document.header("total_amount"),
            prepaid_amount=document.header("prepaid_amount", Decimal(0)),
            vendor_id=document.header("vendor_id"),
            vendor_name=document.header("vendor_name", ""),
            vendor_tax_id=document.header("vendor_tax_id", ""),
            po_number=document.header("po_number", ""),
            due_date=document.header("due_date"),
            tax_amount=document.header("tax_amount", Decimal(0)),
            shipping_amount=document.header("shipping_amount", Decimal(0)),
            external_id=document.header("external_id", ""),
            lines=[
                InvoiceLineDocument(
                    description=row.values["description"],
                    quantity=row.values["quantity"],
                    unit_price=row.values["unit_price"],
                    line_number=row.values.get("line_number"),
                    sku=row.values.get("sku") or "",
                    amount=row.values.get("amount"),
                    po_line_number=row.values.get("po_line_number"),
                )
                for row in document.rows
            ],
        )
        existing = invoice_already_present(tenant=run.tenant, document=invoice_document, vendors=run.vendors)
        if existing is not None:
            return Duplicate(invoice_document.invoice_number, str(existing.pk))
        invoice = invoice_create(
            tenant=run.tenant, document=invoice_document, actor=run.actor, source=InvoiceSource.CSV
        )
        return Created(str(invoice.pk))


def _resolve_vendor(document: _Document, run: _Run) -> Vendor:
    vendor = run.vendors.resolve(
        vendor_id=document.header("vendor_id"),
        tax_id=document.header("vendor_tax_id", ""),
        name=document.header("vendor_name", ""),
    )
    if vendor is None:
        column = next((name for name in _Kind.vendor_columns if document.header(name)), "vendor_name")
        raise DocumentInvalid(VENDOR_NOT_FOUND, details={column: [VENDOR_NOT_FOUND]})
    return vendor


class _PurchaseOrders(_Kind):
    name = "purchase-orders"
    label = "purchase order"
    number_column = "po_number"
    columns = (
        Column("po_number", _limit(PurchaseOrder, "po_number"), header=True, required=True),
        Column("vendor_id", _uuid, header=True),
        Column("vendor_tax_id", _limit(Vendor, "tax_id"), header=True),
        Column("vendor_name", _limit(Vendor, "name"), header=True),
        Column("currency", _text(3), header=True, required=True),
        Column("order_date", _date, header=True, required=True),
        Column("expected_date", _date, header=True),
        Column("line_number", _whole, header=False, required=True),
        Column("sku", _limit(PurchaseOrderLine, "sku"), header=False),
        Column("description", _limit(PurchaseOrderLine, "description"), header=False, required=True),
        Column("quantity", _decimal, header=False, required=True),
        Column("unit_price", _decimal, header=False, required=True),
        Column("uom", _limit(PurchaseOrderLine, "uom"), header=False),
    )

    def check_header(self, names: set[str]) -> list[str]:
        return _needs_vendor_column(names)

    def create(self, document: _Document, run: _Run) -> Created | Duplicate:
        po_number = document.header("po_number", "")
        purchase_order_document = PurchaseOrderDocument(
            po_number=po_number,
            vendor_id=_resolve_vendor(document, run).pk,
            currency=document.header("currency", ""),
            order_date=document.header("order_date"),
            expected_date=document.header("expected_date"),
            lines=[
                PurchaseOrderLineDocument(
                    line_number=row.values["line_number"],
                    description=row.values["description"],
                    quantity=row.values["quantity"],
                    unit_price=row.values["unit_price"],
                    sku=row.values.get("sku") or "",
                    uom=row.values.get("uom") or "EA",
                )
                for row in document.rows
            ],
        )
        try:
            purchase_order = purchase_order_create(tenant=run.tenant, document=purchase_order_document, actor=run.actor)
        except DuplicateDocument:
            existing = PurchaseOrder.objects.for_tenant(run.tenant).filter(po_number=po_number).first()
            if existing is None:
                raise
            return Duplicate(po_number, str(existing.pk))
        return Created(str(purchase_order.pk))


class _GoodsReceipts(_Kind):
    name = "goods-receipts"
    label = "goods receipt"
    number_column = "receipt_number"
    columns = (
        Column("receipt_number", _limit(GoodsReceipt, "receipt_number"), header=True, required=True),
        Column("po_number", _limit(PurchaseOrder, "po_number"), header=True, required=True),
        Column("received_date", _date, header=True, required=True),
        Column("po_line_number", _whole, header=False, required=True),
        Column("quantity", _decimal, header=False, required=True),
    )

    def create(self, document: _Document, run: _Run) -> Created | Duplicate:
        receipt_number = document.header("receipt_number", "")
        receipt_document = GoodsReceiptDocument(
            receipt_number=receipt_number,
            po_number=document.header("po_number", ""),
            received_date=document.header("received_date"),
            lines=[
                GoodsReceiptLineDocument(po_line_number=row.values["po_line_number"], quantity=row.values["quantity"])
                for row in document.rows
            ],
        )
        try:
            receipt = goods_receipt_create(tenant=run.tenant, document=receipt_document, actor=run.actor)
        except DuplicateDocument:
            existing = GoodsReceipt.objects.for_tenant(run.tenant).filter(receipt_number=receipt_number).first()
            if existing is None:
                raise
            return Duplicate(receipt_number, str(existing.pk))
        return Created(str(receipt.pk))


KINDS: dict[str, _Kind] = {kind.name: kind for kind in (_Invoices(), _PurchaseOrders(), _GoodsReceipts())}
KIND_ALIASES = {name.replace("-", "_"): name for name in KINDS}


def kind_named(name: str) -> str:
    """`"purchase_orders"` or `"purchase-orders"` → `"purchase-orders"`; `KeyError` if unknown."""
    normalized = name.strip().lower()
    return normalized if normalized in KINDS else KIND_ALIASES[normalized]


def kind_columns(kind: str) -> list[str]:
    return [column.name for column in KINDS[kind].columns]


# --- the report --------------------------------------------------------------------------------


@dataclass
class CsvImportReport:
    kind: str
    dry_run: bool
    rows: int = 0
    documents: int = 0
    created_ids: list[str] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[tuple[int | None, str | None, str]] = field(default_factory=list)
    truncated: bool = False  # reading stopped at the first problem past MAX_PROBLEMS_REPORTED

    def error_details(self) -> dict[str, list[str]]:
        """`{"row 7, column quantity": [...], "row 9": [...], "file": [...]}`, in row order."""
        details: dict[str, list[str]] = {}
        for row, column, message in sorted(self.errors, key=lambda error: (error[0] or 0, error[1] or "")):
            if row is None:
                location = "file"
            elif column is None:
                location = f"row {row}"
            else:
                location = f"row {row}, column {column}"
            details.setdefault(location, []).append(message)
        return details

    def as_response(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "documents": self.documents,
            # In a dry run: how many would be created (their ids do not exist).
            "created": len(self.created_ids),
            "duplicates": len(self.duplicates),
            "created_ids": [] if self.dry_run else self.created_ids,
            "duplicate_documents": self.duplicates,
            "warnings": self.warnings,
        }


# --- reading the file --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Encoding:
    name: str
    warning: str | None
    line_count: int  # physical lines, for a progress bar's total


def _detect_encoding(binary: IO[bytes]) -> _Encoding:
    """UTF-8 (BOM or not) if the whole file decodes as UTF-8, else Windows-1252 with a warning.

    Decided over the whole file before any row is read, in chunks: a file whose first 10,000
    rows are ASCII and whose row 10,001 has "é" in Windows-1252 must not fail half-way.
    """
    binary.seek(0)
    head = binary.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _FileProblem(FILE_UTF16)
    binary.seek(0)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    bad_offset: int | None = None
    offset = lines = 0
    while chunk := binary.read(_READ_CHUNK):
        lines += chunk.count(b"\n")
        if bad_offset is None:
            try:
                utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_offset = offset + exc.start
        offset += len(chunk)
    if offset == 0:
        raise _FileProblem(FILE_EMPTY)
    if bad_offset is None:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            bad_offset = offset - 1  # a multi-byte sequence cut off by the end of the file
    if bad_offset is None:
        name = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        return _Encoding(name, None, lines)
    binary.seek(0)
    cp1252 = codecs.getincrementaldecoder("cp1252")()
    offset = 0
    while chunk := binary.read(_READ_CHUNK):
        try:
            cp1252.decode(chunk)
        except UnicodeDecodeError as exc:  # the five bytes Windows-1252 leaves undefined
            raise _FileProblem(FILE_UNDECODABLE.format(offset=offset + exc.start)) from exc
        offset += len(chunk)
    return _Encoding("cp1252", WARN_CP1252.format(offset=bad_offset), lines)


def _delimiter(binary: IO[bytes], encoding: str) -> str:
    """`;` when the header row has more semicolons than commas (European Excel), else `,`."""
    binary.seek(0)
    sample = binary.read(_READ_CHUNK).decode(encoding, errors="ignore")
    header_line = sample.lstrip("\ufeff").split("\n", 1)[0]
    return ";" if header_line.count(";") > header_line.count(",") else ","


class _FileProblem(Exception):
    """The file as a whole cannot be read (encoding, emptiness)."""


# --- the run -----------------------------------------------------------------------------------


class _Run:
    def __init__(self, *, tenant: Tenant, kind: _Kind, actor: Actor, report: CsvImportReport) -> None:
        self.tenant = tenant
        self.kind = kind
        self.actor = actor
        self.report = report
        self.vendors = VendorCache(tenant)
        self.seen: dict[tuple[Any, ...], int] = {}  # document key → its first row
        self.columns = {column.name: column for column in kind.columns}

    def error(self, row: int | None, column: str | None, message: str) -> None:
        if len(self.report.errors) >= MAX_PROBLEMS_REPORTED:
            self.report.truncated = True
            raise ProblemLimitReached  # csv_import stops reading here
        self.report.errors.append((row, column, message))

    def read_header(self, record: list[str]) -> list[str] | None:
        names = [name.strip().lstrip("\ufeff").lower() for name in record]
        problems = False
        seen: set[str] = set()
        for name in names:
            if not name:
                self.error(1, None, COLUMN_UNNAMED)
                problems = True
            elif name not in self.columns:
                expected = ", ".join(self.columns)
                self.error(1, name, COLUMN_UNKNOWN.format(name=name, kind=self.kind.name, expected=expected))
                problems = True
            elif name in seen:
                self.error(1, name, COLUMN_REPEATED.format(name=name))
                problems = True
            seen.add(name)
        for column in self.kind.columns:
            if column.required and column.name not in seen:
                self.error(1, column.name, COLUMN_MISSING.format(name=column.name))
                problems = True
        for message in self.kind.check_header(seen):
            self.error(1, None, message)
            problems = True
        return None if problems else names

    def read_row(self, number: int, names: list[str], record: list[str]) -> _Row:
        values: dict[str, Any] = {}
        valid = True
        for name, raw in zip(names, record, strict=True):
            column = self.columns[name]
            text = raw.strip()
            if problem := nul_error(text):
                # Refused here, named by its cell, before the value can reach a query.
                values[name] = text
                self.error(number, name, problem)
                valid = False
                continue
            if not text:
                values[name] = None
                if column.required:
                    self.error(number, name, VALUE_REQUIRED)
                    valid = False
                continue
            try:
                values[name] = column.read(text)
            except _CellError as exc:
                values[name] = text
                self.error(number, name, str(exc))
                valid = False
        return _Row(number, values, valid)

    def check_agreement(self, document: _Document, row: _Row) -> _Row:
        """Header fields repeat on every row of a document and must say the same thing."""
        valid = row.valid
        first = document.first
        for column in self.kind.columns:
            if not column.header:
                continue
            here, there = row.values.get(column.name), first.values.get(column.name)
            if here != there:
                self.error(
                    row.number,
                    column.name,
                    HEADER_DISAGREES.format(
                        first_row=first.number,
                        first="" if there is None else str(there),
                        value="" if here is None else str(here),
                    ),
                )
                valid = False
        return row if valid == row.valid else _Row(row.number, row.values, valid)

    def finish(self, document: _Document) -> None:
        self.report.documents += 1
        if not document.valid:
            return  # its problems are listed; the services would only repeat them
        try:
            outcome = self.kind.create(document, self)
        except DocumentInvalid as exc:
            self._service_errors(document, exc)
            return
        except DomainError as exc:
            self.error(document.first.number, None, exc.message)
            return
        if isinstance(outcome, Duplicate):
            self.report.duplicates.append(
                {"row": document.first.number, "number": outcome.number, "id": outcome.existing_id}
            )
        else:
            self.report.created_ids.append(outcome.id)

    def _service_errors(self, document: _Document, exc: DocumentInvalid) -> None:
        """The door's `lines[2].quantity` → the row of line 2, column quantity."""
        if not exc.details:
            self.error(document.first.number, None, exc.message)
            return
        for path, messages in exc.details.items():
            row, column = document.first.number, path
            match = re.match(r"^lines\[(\d+)\](?:\.(\w+))?$", path)
            if match and int(match.group(1)) < len(document.rows):
                row, column = document.rows[int(match.group(1))].number, match.group(2)
            elif path == "vendor":
                column = "vendor_name"
            if column is not None and column not in self.columns:
                column = None
            for message in messages if isinstance(messages, list) else [messages]:
                self.error(row, column, str(message))


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """Records numbered as a spreadsheet numbers rows (the header is row 1)."""
    yield from enumerate(reader, start=1)


def _import_rows(run: _Run, text: IO[str], delimiter: str, progress: Callable[[int], None] | None) -> None:
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    names: list[str] | None = None
    document: _Document | None = None
    number = 0
    try:
        for number, record in _records(reader):
            if names is None:
                names = run.read_header(record)
                if names is None:
                    return  # with unknown columns no row can be read meaningfully
                continue
            if not any(cell.strip() for cell in record):
                continue  # a blank line (often the last one) is not a row
            run.report.rows += 1
            if progress is not None and run.report.rows % 500 == 0:
                progress(run.report.rows)
            if len(record) != len(names):
                run.error(number, None, FIELD_COUNT.format(found=len(record), expected=len(names)))
                if document is not None:
                    document.rows.append(_Row(number, {}, valid=False))
                continue
            row = run.read_row(number, names, record)
            key = run.kind.key(row.values)
            if document is not None and key == document.key:
                document.rows.append(run.check_agreement(document, row))
                continue
            if document is not None:
                run.finish(document)
            if key in run.seen:
                run.error(
                    number,
                    run.kind.number_column,
                    NOT_CONSECUTIVE.format(label=run.kind.label, number=key[0], first_row=run.seen[key]),
                )
                row = _Row(row.number, row.values, valid=False)
            else:
                run.seen[key] = number
            document = _Document(key, [row])
        if names is None:
            run.error(None, None, FILE_EMPTY)
    except csv.Error as exc:
        run.error(number + 1, None, FILE_MALFORMED.format(reason=exc))
        return
    if document is not None:
        run.finish(document)
    if progress is not None:
        progress(run.report.rows)


def csv_import(
    *,
    tenant: Tenant,
    kind: str,
    binary: IO[bytes],
    actor: Actor,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> CsvImportReport:
    """Import one CSV file of `kind` for `tenant`, all or nothing (see the module docstring).

    `binary` is a seekable binary file (an upload, a spooled request body, an open file); it is
    read twice: once to settle the encoding, once for the rows. Raises `PayloadTooLarge` over
    CSV_MAX_BYTES and `CsvImportInvalid` (details by row and column) when anything is wrong;
    otherwise returns the report, with nothing written when `dry_run`.
    """
    kind_spec = KINDS[kind]
    report = CsvImportReport(kind=kind, dry_run=dry_run)
    binary.seek(0, io.SEEK_END)
    size = binary.tell()
    if size > settings.CSV_MAX_BYTES:
        raise PayloadTooLarge(FILE_TOO_LARGE.format(size=size, limit=settings.CSV_MAX_BYTES))
    try:
        encoding = _detect_encoding(binary)
    except _FileProblem as exc:
        raise CsvImportInvalid(str(exc), details={"file": [str(exc)]}) from exc
    if encoding.warning:
        report.warnings.append(encoding.warning)
    if on_start is not None:
        on_start(encoding.line_count)
    delimiter = _delimiter(binary, encoding.name)
    binary.seek(0)
    run = _Run(tenant=tenant, kind=kind_spec, actor=actor, report=report)
    # newline="" hands line breaks inside quoted fields to `csv` untouched, as it requires.
    text = io.TextIOWrapper(binary, encoding=encoding.name, newline="")  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            if kind == "goods-receipts":
                # Each receipt takes the matching lock before the audit lock; the file's first
                # receipt already holds the audit lock when the second one asks, so take the
                # matching lock now, once, in that same order (see matching_lock_wait).
                matching_lock_wait(tenant=tenant)
            # Every document's audit event is appended at the end of the file, not after each
            # document: a later receipt locks the invoices it releases from hold, and row locks
            # come before the audit-chain lock (core/locks.py).
            with audit_deferred(), contextlib.suppress(ProblemLimitReached):  # report.truncated: cut short
                _import_rows(run, text, delimiter, progress)
            if report.errors or dry_run:
                transaction.set_rollback(True)
    finally:
        text.detach()  # the caller owns (and closes) the binary file
    if report.truncated:
        listed = len(report.errors)
        raise CsvImportInvalid(
            PROBLEMS_TRUNCATED.format(found=listed + 1, listed=listed),
            details={**report.error_details(), **truncation_details(listed=listed, found=listed + 1)},
        )
    if report.errors:
        raise CsvImportInvalid(INVALID_SUMMARY.format(count=len(report.errors)), details=report.error_details())
    return report
