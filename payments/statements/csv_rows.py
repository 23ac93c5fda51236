"""Bank statement lines from a CSV file, with the documented columns.

Columns (names case-insensitive, order free, unknown names refused, * required):
booking_date*, value_date, amount*, direction, currency*, counterparty_name,
counterparty_account, remittance_text, bank_transaction_id*, bank_account*.

- `amount` is a plain decimal with a dot ("1234.56"), never through float. Without a
  `direction` the sign decides (negative: money left the account, a debit); with a direction
  (`debit` / `credit`) the amount must be unsigned.
- Dates are ISO 8601 (YYYY-MM-DD) only: "03/04/2026" means two different days on two continents.
- `bank_transaction_id` is required here, unlike the bank formats: a CSV is often hand-made, and
  a made-up reference from the row number would change when a row is inserted, breaking the
  "re-import adds nothing" promise. The same id twice for one account in a file is an error.
- UTF-8 with or without BOM; otherwise read as Windows-1252 with a warning. Delimiter `,` or
  `;`, from the header row.

The same strictness as the invoice CSV import: any problem refuses the whole file, with its
problems listed by row and column (rows numbered as a spreadsheet shows them, header = row 1),
the first 1,000 of them: reading stops at the next one (core.problems). The file is read
as a stream, so its text is never in memory whole. A date outside 1900-01-01 … 2199-12-31 is
a problem of its cell (core.business_dates). A CSV carries no balances, so its statements
have nothing to check.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO

from core.business_dates import business_date_error
from core.money import MoneyError, normalize_currency, to_minor
from core.problems import ProblemLimitReached, Problems
from core.text import TOO_LONG
from payments.accounts import normalize_account
from payments.statements.types import INVALID_SUMMARY, ParsedEntry, ParsedFile, ParsedStatement, StatementParseError

COLUMNS = (
    "booking_date",
    "value_date",
    "amount",
    "direction",
    "currency",
    "counterparty_name",
    "counterparty_account",
    "remittance_text",
    "bank_transaction_id",
    "bank_account",
)
REQUIRED = ("booking_date", "amount", "currency", "bank_transaction_id", "bank_account")
_LIMITS = {"counterparty_name": 255, "bank_transaction_id": 255, "counterparty_account": 64, "bank_account": 64}

FILE_EMPTY = "The file is empty: expected a header row naming the columns."
FILE_MALFORMED = "The CSV is malformed here and cannot be read further: {reason}."
COLUMN_UNKNOWN = "Unknown column {name!r}. Columns: {expected}."
COLUMN_REPEATED = "Column {name!r} appears more than once."
COLUMN_MISSING = "Required column {name!r} is missing."
FIELD_COUNT = "This row has {found} fields; the header has {expected}."
VALUE_REQUIRED = "Required."
NOT_A_DECIMAL = "{value!r} is not a decimal number; write it like -1234.56."
NOT_A_DATE = "{value!r} is not a date in the expected format YYYY-MM-DD (ISO 8601), e.g. 2026-10-31."
NOT_A_REAL_DATE = "{value!r} is not a real date (YYYY-MM-DD)."
BAD_DIRECTION = "{value!r}: direction must be debit or credit."
SIGNED_WITH_DIRECTION = "{value!r}: with a direction column the amount must be unsigned."
ZERO_AMOUNT = "The amount is zero; a payment moves money."
REPEATED_ID = "Transaction id {value!r} already appears for this account at row {first_row}."
WARN_CP1252 = "The file is not valid UTF-8; it was read as Windows-1252. Check accented characters."

# `re.ASCII`: `\d` would take "١٠" or "１０", which Decimal() reads as 10; amounts and dates are
# written in ASCII digits (as the API requires).
_PLAIN_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$", re.ASCII)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _date(value: str) -> dt.date:
    if not _ISO_DATE.match(value):
        raise ValueError(NOT_A_DATE.format(value=value))
    try:
        date = dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(NOT_A_REAL_DATE.format(value=value)) from exc
    if problem := business_date_error(date):
        raise ValueError(problem)
    return date


_CHUNK = 1 << 16


def _encoding(binary: IO[bytes]) -> str:
    """`utf-8-sig` when the whole file is UTF-8 (with a BOM or not), else `cp1252`; read in chunks."""
    binary.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := binary.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    finally:
        binary.seek(0)
    return "utf-8-sig"


def _row_entry(values: dict[str, str], row: int, errors: Problems) -> ParsedEntry | None:
    problems: dict[str, str] = {}
    for name in REQUIRED:
        if not values.get(name):
            problems[name] = VALUE_REQUIRED
    for name, limit in _LIMITS.items():
        if len(values.get(name, "")) > limit:
            problems[name] = TOO_LONG.format(limit=limit)
    booking = value_date = None
    currency = ""
    try:
        booking = _date(values["booking_date"]) if values.get("booking_date") else None
    except ValueError as exc:
        problems["booking_date"] = str(exc)
    try:
        value_date = _date(values["value_date"]) if values.get("value_date") else None
    except ValueError as exc:
        problems["value_date"] = str(exc)
    if values.get("currency"):
        try:
            currency = normalize_currency(values["currency"])
        except MoneyError as exc:
            problems["currency"] = str(exc)
    direction = values.get("direction", "").lower()
    if direction and direction not in {"debit", "credit"}:
        problems["direction"] = BAD_DIRECTION.format(value=values["direction"])
    raw_amount = values.get("amount", "")
    minor = 0
    if raw_amount:
        if not _PLAIN_DECIMAL.match(raw_amount):
            problems["amount"] = NOT_A_DECIMAL.format(value=raw_amount)
        elif direction and raw_amount[0] in "+-":
            problems["amount"] = SIGNED_WITH_DIRECTION.format(value=raw_amount)
        elif currency:
            try:
                minor = to_minor(Decimal(raw_amount), currency)
            except MoneyError as exc:
                problems["amount"] = str(exc)
            else:
                if minor == 0:
                    problems["amount"] = ZERO_AMOUNT
    for column, message in problems.items():
        errors.add(f"row {row}, column {column}", message)
    if problems or booking is None:
        return None
    return ParsedEntry(
        booking_date=booking,
        value_date=value_date,
        amount=abs(minor),
        currency=currency,
        direction=direction or ("debit" if minor < 0 else "credit"),
        counterparty_name=values.get("counterparty_name", ""),
        counterparty_account=values.get("counterparty_account", ""),
        remittance_text=values.get("remittance_text", ""),
        stated_transaction_id=values["bank_transaction_id"],
        position=str(row),
    )


def parse_csv(binary: IO[bytes]) -> ParsedFile:
    """Every row of a statement CSV; `StatementParseError` with its problems when any row is wrong."""
    encoding = _encoding(binary)
    # errors="replace": Windows-1252 leaves five bytes undefined; each becomes U+FFFD.
    text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")  # type: ignore[arg-type]
    try:
        first_line = text.readline()
        text.seek(0)
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        errors = Problems()
        statements: list[ParsedStatement] = []
        with contextlib.suppress(ProblemLimitReached):  # errors.truncated says reading stopped
            statements = _read_rows(csv.reader(text, delimiter=delimiter, strict=True), errors)
    finally:
        text.detach()  # the caller owns the binary file
    if errors:
        raise StatementParseError(errors.summary(INVALID_SUMMARY), details=errors.details())
    name = "utf-8" if encoding == "utf-8-sig" else encoding
    warnings = [WARN_CP1252] if encoding == "cp1252" else []
    return ParsedFile(format="csv", encoding=name, statements=statements, warnings=warnings)


def _read_rows(reader: Iterator[list[str]], errors: Problems) -> list[ParsedStatement]:
    """The statements of the rows, one per bank account in the order the accounts first appear."""
    names: list[str] | None = None
    statements: dict[str, ParsedStatement] = {}
    seen_ids: dict[tuple[str, str], int] = {}
    row = 0
    try:
        for row, record in enumerate(reader, 1):
            if names is None:
                names = [cell.strip().lstrip("\ufeff").lower() for cell in record]
                for name in names:
                    if name not in COLUMNS:
                        errors.add("file", COLUMN_UNKNOWN.format(name=name, expected=", ".join(COLUMNS)))
                    elif names.count(name) > 1 and COLUMN_REPEATED.format(name=name) not in errors.get("file", []):
                        errors.add("file", COLUMN_REPEATED.format(name=name))
                for name in REQUIRED:
                    if name not in names:
                        errors.add("file", COLUMN_MISSING.format(name=name))
                if errors:
                    break
                continue
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(names):
                errors.add(f"row {row}", FIELD_COUNT.format(found=len(record), expected=len(names)))
                continue
            values = {name: cell.strip() for name, cell in zip(names, record, strict=True)}
            entry = _row_entry(values, row, errors)
            if entry is None:
                continue
            account = normalize_account(values["bank_account"])
            key = (account, entry.stated_transaction_id)
            if key in seen_ids:
                errors.add(
                    f"row {row}, column bank_transaction_id",
                    REPEATED_ID.format(value=entry.stated_transaction_id, first_row=seen_ids[key]),
                )
                continue
            seen_ids[key] = row
            statement = statements.setdefault(
                account,
                ParsedStatement(
                    reference="",
                    account=values["bank_account"],
                    currency=entry.currency,
                    opening=None,
                    closing=None,
                    has_balances=False,
                ),
            )
            statement.entries.append(entry)
    except csv.Error as exc:
        errors.add(f"row {row + 1}", FILE_MALFORMED.format(reason=exc))
    if names is None:
        errors.add("file", FILE_EMPTY)
    return list(statements.values())
