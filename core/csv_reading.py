"""CSV import of documents (invoices, purchase orders, goods receipts): streamed, all or nothing.

What differs between the kinds (their columns, how one document is written) is a `CsvKind`, in
the app that owns the documents: invoices.ingest.csv_import, purchasing.csv_import. What every
kind shares is here: reading the file, its header and rows, grouping rows into documents, and
reporting every problem by row and column.

Rows and documents
------------------
One row per document *line*. The document's header fields are repeated on every row of the
document and must agree (a different value is a row error). The rows of one document must be
consecutive: a document starts at the first row of a new document key and ends at the row
before the next key; a key that reappears later is an error. Column order is free, names are
case-insensitive, unknown columns are refused (a misspelt "quantiy" must not vanish silently).
How cells are read (decimals, dates, numbers): core.csv_cells.

Files as they come
------------------
UTF-8 with or without BOM; a file that is not valid UTF-8 is read as Windows-1252 (what Excel
writes on Windows) and the response carries a warning. The delimiter is `,` or `;`, decided from
the header row. Quoted fields may contain delimiters, quotes ("") and line breaks. A file over
CSV_MAX_BYTES is refused whole (core.http.uploads).

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

Documents already stored are reported as duplicates and skipped (each kind says what "already
stored" means), so re-importing a file is safe.

All or nothing, streamed
------------------------
The file is read row by row through `csv` over a text wrapper of the (seekable) upload; rows are
grouped into documents as they arrive and written in batches (each kind says how many rows it
holds before it writes them together: `CsvKind.batch_rows`), inside one transaction for the whole
file (the services' own `atomic()` blocks nest as savepoints). After
the last row the transaction commits only if no row had a problem and this is not a dry run;
otherwise it is rolled back, so document 50 failing leaves documents 1-49 unwritten. Memory holds
one batch's rows, the ids created and at most 1,000 problems, whatever the file's size. A dry run is the
same run, always rolled back: it finds everything the real import would (unknown POs,
duplicates, the services' own rules). Audit events are inserted unsealed as each batch is written
(no tenant-wide lock: audit.sealer chains them after the commit), so an import does not queue the
tenant's other writes, and its events leave memory with their batch.
"""

from __future__ import annotations

import abc
import codecs
import contextlib
import csv
import io
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from django.db import transaction

from core.actors import Actor
from core.csv_cells import CellError
from core.exceptions import DocumentInvalid, DomainError
from core.http.uploads import file_size_check
from core.problems import MAX_PROBLEMS_REPORTED, PROBLEMS_TRUNCATED, ProblemLimitReached, truncation_details
from core.tenancy.ref import TenantRef
from core.text import NUL, nul_error

# The setting that bounds a CSV file, at the API's door and here.
MAX_BYTES_SETTING = "CSV_MAX_BYTES"

# --- messages (tests assert on these) -----------------------------------------------------------
FILE_EMPTY = "The file is empty: expected a header row naming the columns."
FILE_UTF16 = "UTF-16 files are not supported: save the file as 'CSV UTF-8' (or Windows-1252)."
FILE_UNDECODABLE = "The file is neither UTF-8 nor Windows-1252 text (byte {offset} cannot be read)."
FILE_MALFORMED = "The CSV is malformed here and cannot be read further: {reason}."
WARN_CP1252 = (
    "The file is not valid UTF-8 (byte {offset} is not); it was read as Windows-1252. "
    "Check accented characters, or save the file as 'CSV UTF-8'."
)
COLUMN_UNKNOWN = "Unknown column {name!r}. Columns of {kind}: {expected}."
COLUMN_REPEATED = "Column {name!r} appears more than once."
COLUMN_MISSING = "Required column {name!r} is missing."
COLUMN_UNNAMED = "A column has no name."
FIELD_COUNT = "This row has {found} fields; the header has {expected}."
VALUE_REQUIRED = "Required."
HEADER_DISAGREES = "Disagrees with row {first_row} of the same document ({first!r} there, {value!r} here)."
NOT_CONSECUTIVE = "Rows of {label} {number!r} must be consecutive; it already appeared at row {first_row}."
INVALID_SUMMARY = "The file has {count} problem(s); nothing was imported. See details, by row and column."

_READ_CHUNK = 1 << 16


class CsvImportInvalid(DomainError):
    status_code = 400
    code = "csv_invalid"


@dataclass(frozen=True)
class Column:
    name: str
    read: Callable[[str], Any]  # a core.csv_cells reader
    header: bool  # a document header field (repeated per row) rather than a line field
    required: bool = False


@dataclass(frozen=True)
class CsvRow:
    number: int
    values: dict[str, Any]  # parsed; an empty cell is None
    valid: bool


@dataclass
class CsvDocument:
    key: tuple[Any, ...]
    rows: list[CsvRow]

    @property
    def first(self) -> CsvRow:
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


class CsvKind(abc.ABC):
    """One kind of document in a CSV file, bound to the tenant and actor it is imported for.

    What differs between invoices, purchase orders and receipts; the run does the rest.
    """

    name: ClassVar[str]  # as the URL and the command name it: "purchase-orders"
    label: ClassVar[str]  # in messages: "invoice", "purchase order", ...
    # The label of the model its documents are stored as ("invoices.invoice"): what the kept file
    # links each document it created to (source_files).
    model_label: ClassVar[str]
    number_column: ClassVar[str]
    columns: ClassVar[tuple[Column, ...]]
    # A path in the door's DocumentInvalid details that is no column of the file → the column
    # that holds it (the invoice door says "vendor", the file "vendor_name").
    detail_columns: ClassVar[dict[str, str]] = {}

    def __init__(self, *, tenant: TenantRef, actor: Actor) -> None:
        self.tenant = tenant
        self.actor = actor

    def key(self, values: dict[str, Any]) -> tuple[Any, ...]:
        return (values.get(self.number_column) or "",)

    def check_header(self, names: set[str]) -> list[str]:
        """Problems of the header as a whole, beyond unknown, repeated and missing columns."""
        return []

    @abc.abstractmethod
    def writing(self) -> AbstractContextManager[None]:
        """Held around the writes of the whole file, inside its one transaction.

        A kind whose writes take a tenant lock takes it here, once, before any row lock
        (core/locks.py). Holding audit events back (audit.services.audit_deferred) is no longer
        needed for the lock order (an append takes no lock); it saves statements for a kind that
        writes one document at a time, at the price of memory growing with the file.
        """

    @abc.abstractmethod
    def create(self, document: CsvDocument) -> Created | Duplicate:
        """Write one document through its door, or find it already stored."""

    # Rows of valid documents held before they are written together (`create_many`): 1 writes
    # each document as it is read; a kind with a many-documents door holds a batch, so memory
    # stays bounded by the batch, whatever the file's size.
    batch_rows: ClassVar[int] = 1

    def create_many(self, documents: list[CsvDocument]) -> list[Created | Duplicate | DomainError]:
        """Write several documents (or find them stored), each answering in its place: created, a
        duplicate, or the door's refusal. This default goes one document at a time."""
        outcomes: list[Created | Duplicate | DomainError] = []
        for document in documents:
            try:
                outcomes.append(self.create(document))
            except DomainError as exc:
                outcomes.append(exc)
        return outcomes


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
    def __init__(self, *, kind: CsvKind, report: CsvImportReport) -> None:
        self.kind = kind
        self.report = report
        self.seen: dict[tuple[Any, ...], int] = {}  # document key → its first row
        self.columns = {column.name: column for column in kind.columns}
        self.header_names = [column.name for column in kind.columns if column.header]
        self.header_read: dict[str, tuple[str, Any]] = {}  # a header column's last cell: text, value
        self.pending: list[CsvDocument] = []  # valid documents not written yet (CsvKind.batch_rows)
        self.pending_rows = 0

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

    def read_row(self, number: int, names: list[str], record: list[str]) -> CsvRow:
        values: dict[str, Any] = {}
        valid = True
        for name, raw in zip(names, record, strict=True):
            column = self.columns[name]
            text = raw.strip()
            if NUL in text and (problem := nul_error(text)):
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
            if column.header and (read := self.header_read.get(name)) is not None and read[0] == text:
                values[name] = read[1]  # repeated on each row of a document: read once
                continue
            try:
                values[name] = column.read(text)
                if column.header:
                    self.header_read[name] = (text, values[name])
            except CellError as exc:
                values[name] = text
                self.error(number, name, str(exc))
                valid = False
        return CsvRow(number, values, valid)

    def check_agreement(self, document: CsvDocument, row: CsvRow) -> CsvRow:
        """Header fields repeat on every row of a document and must say the same thing."""
        first, names = document.first, self.header_names
        if [row.values.get(name) for name in names] == [first.values.get(name) for name in names]:
            return row  # the usual case, without a look at each column
        valid = row.valid
        for name in names:
            here, there = row.values.get(name), first.values.get(name)
            if here != there:
                shown = {"first": "" if there is None else str(there), "value": "" if here is None else str(here)}
                self.error(row.number, name, HEADER_DISAGREES.format(first_row=first.number, **shown))
                valid = False
        return row if valid == row.valid else CsvRow(row.number, row.values, valid)

    def finish(self, document: CsvDocument) -> None:
        self.report.documents += 1
        if not document.valid:
            return  # its problems are listed; the services would only repeat them
        self.pending.append(document)
        self.pending_rows += len(document.rows)
        if self.pending_rows >= self.kind.batch_rows:
            self.flush()

    def flush(self) -> None:
        """Write the documents held (the kind's batch), and report each in its place."""
        documents, self.pending, self.pending_rows = self.pending, [], 0
        if not documents:
            return
        for document, outcome in zip(documents, self.kind.create_many(documents), strict=True):
            if isinstance(outcome, DocumentInvalid):
                self._service_errors(document, outcome)
            elif isinstance(outcome, DomainError):
                self.error(document.first.number, None, outcome.message)
            elif isinstance(outcome, Duplicate):
                self.report.duplicates.append(
                    {"row": document.first.number, "number": outcome.number, "id": outcome.existing_id}
                )
            else:
                self.report.created_ids.append(outcome.id)

    def _service_errors(self, document: CsvDocument, exc: DocumentInvalid) -> None:
        """The door's `lines[2].quantity` → the row of line 2, column quantity."""
        if not exc.details:
            self.error(document.first.number, None, exc.message)
            return
        for path, messages in exc.details.items():
            row = document.first.number
            column: str | None = path
            match = re.match(r"^lines\[(\d+)\](?:\.(\w+))?$", path)
            if match and int(match.group(1)) < len(document.rows):
                row, column = document.rows[int(match.group(1))].number, match.group(2)
            elif path in self.kind.detail_columns:
                column = self.kind.detail_columns[path]
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
    document: CsvDocument | None = None
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
                    document.rows.append(CsvRow(number, {}, valid=False))
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
                row = CsvRow(row.number, row.values, valid=False)
            else:
                run.seen[key] = number
            document = CsvDocument(key, [row])
        if names is None:
            run.error(None, None, FILE_EMPTY)
    except csv.Error as exc:
        run.error(number + 1, None, FILE_MALFORMED.format(reason=exc))
        return
    if document is not None:
        run.finish(document)
    run.flush()
    if progress is not None:
        progress(run.report.rows)


def csv_import(
    *,
    kind: CsvKind,
    binary: IO[bytes],
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> CsvImportReport:
    """Import one CSV file of `kind` (bound to its tenant and actor), all or nothing (see above).

    `binary` is a seekable binary file (an upload, a spooled request body, an open file); it is
    read twice: once to settle the encoding, once for the rows. Raises `UploadTooLarge` over
    CSV_MAX_BYTES and `CsvImportInvalid` (details by row and column) when anything is wrong;
    otherwise returns the report, with nothing written when `dry_run`.
    """
    report = CsvImportReport(kind=kind.name, dry_run=dry_run)
    file_size_check(binary=binary, setting=MAX_BYTES_SETTING)
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
    run = _Run(kind=kind, report=report)
    # newline="" hands line breaks inside quoted fields to `csv` untouched, as it requires.
    text = io.TextIOWrapper(binary, encoding=encoding.name, newline="")
    try:
        with transaction.atomic():
            with kind.writing(), contextlib.suppress(ProblemLimitReached):  # report.truncated: cut short
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


# --- the file's own rows, to show beside its problems -------------------------------------------


@dataclass(frozen=True)
class CsvCells:
    """Some rows of a CSV file as its cells say them, numbered as its problems are (the header is
    row 1): what a page shows next to each problem. Rows past the file's end are absent."""

    header: list[str]
    rows: dict[int, list[str]]


def csv_cells_read(*, binary: IO[bytes], rows: Collection[int] = (), first: int = 0) -> CsvCells:
    """The header, the rows numbered `rows`, and the `first` data rows after the header, read as
    `csv_import` reads the file (its encoding, its delimiter). A file `csv_import` cannot read as
    text is shown all the same, its unreadable bytes replaced (U+FFFD): the cells are for
    showing, and `csv_import` says what is wrong with it."""
    try:
        encoding, errors = _detect_encoding(binary).name, "strict"
    except _FileProblem:
        encoding, errors = "cp1252", "replace"
    delimiter = _delimiter(binary, encoding)
    binary.seek(0)
    wanted = set(rows)
    last = max(wanted | {first + 1})
    found: dict[int, list[str]] = {}
    header: list[str] = []
    text = io.TextIOWrapper(binary, encoding=encoding, errors=errors, newline="")
    try:
        with contextlib.suppress(csv.Error):  # a malformed file shows the rows before the break
            for number, record in _records(csv.reader(text, delimiter=delimiter, strict=True)):
                if number == 1:
                    header = [name.lstrip("\ufeff") for name in record]
                elif number in wanted or number <= first + 1:
                    found[number] = record
                if number >= last:
                    break
    finally:
        text.detach()
        binary.seek(0)
    return CsvCells(header=header, rows=found)
