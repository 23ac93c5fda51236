"""Bank statement files → plain statements and entries: CAMT.053, MT940, CSV.

`parse_statement_file` picks the format (or takes the caller's), parses, gives every entry its
`bank_transaction_id` and checks every statement's balances. No database access here.

It is the one way into the parsers, so what every format must refuse is refused here: a NUL
byte in a text format (MT940, CSV) before a parser sees the file, naming its lines (PostgreSQL
cannot store it; XML forbids it on its own, so CAMT.053 is left to the XML parser); an entry
booked or valued outside core.business_dates' range; and a report of more than
core.problems' cap of problems, cut to its first 1,000.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any

from core.business_dates import business_date_error
from core.problems import MAX_PROBLEMS_REPORTED, PROBLEMS_TRUNCATED, ProblemLimitReached, Problems, capped_details
from core.text import NUL_IN_FILE, nul_lines
from payments.accounts import mask_account, normalize_account
from payments.statements.camt053 import parse_camt053
from payments.statements.csv_rows import parse_csv
from payments.statements.mt940_swift import parse_mt940
from payments.statements.types import (
    INVALID_SUMMARY,
    Balance,
    ParsedEntry,
    ParsedFile,
    ParsedStatement,
    StatementParseError,
    money_text,
)

__all__ = [
    "FORMATS",
    "BalanceCheck",
    "ParsedEntry",
    "ParsedFile",
    "ParsedStatement",
    "StatementParseError",
    "assign_transaction_ids",
    "balance_check",
    "detect_format",
    "parse_statement_file",
]

FORMAT_UNKNOWN = (
    "Cannot tell the statement format: expected CAMT.053 XML, MT940 (':20:' ... ':61:') or a CSV "
    "whose header names the columns (booking_date, amount, ...)."
)
FORMAT_INVALID = "Unknown statement format {value!r}: use camt053, mt940 or csv."
NO_BALANCES = "The statement carries no opening and closing balance; nothing to check."
BALANCE_MISSING = "The statement has no {which} balance; it cannot be checked."
BALANCE_CURRENCY = "The closing balance is in {closing}, the opening balance in {opening}; they cannot be compared."
BALANCE_MISMATCH = (
    "Opening balance {opening} + entries ({credits} in, {debits} out) = {computed}, but the closing "
    "balance is {closing}: the statement does not add up (an entry may be missing)."
)

FORMATS = {"camt053": parse_camt053, "mt940": parse_mt940, "csv": parse_csv}
_SNIFF_BYTES = 4096


def detect_format(binary: IO[bytes]) -> str:
    """`camt053`, `mt940` or `csv`, from the first bytes of the file."""
    binary.seek(0)
    head = binary.read(_SNIFF_BYTES)
    binary.seek(0)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        return "camt053"
    # The CSV header first: a remittance text in a CSV may well contain ":20:".
    first_line = stripped.split(b"\n", 1)[0].lower()
    if b"booking_date" in first_line and (b"," in first_line or b";" in first_line):
        return "csv"
    if b":20:" in head or stripped.startswith(b"{1:"):
        return "mt940"
    raise StatementParseError(FORMAT_UNKNOWN)


# A bank's own reference or an end-to-end id is the best key for "this line is already stored",
# but only when it really is unique: payers send "NOTPROVIDED", batch entries share the entry's
# reference, and some banks repeat one reference on several lines. A reference that repeats for
# the same account inside the file is therefore not used; the line falls back to where it stands
# (statement reference + entry position), which is stable when the same statement is imported
# again. The trade-off: a reference unique in this file but reused by the bank in a later file
# would make a new line look like a duplicate; bank references (AcctSvcrRef, MT940 `//`) are
# unique per account by definition, which is why they come first.
_PLACEHOLDERS = {"NOTPROVIDED", "NOT PROVIDED", "NONREF", "NONE", "N/A"}


def assign_transaction_ids(parsed: ParsedFile) -> None:
    """Set every entry's `bank_transaction_id` (see the comment above)."""
    counts: Counter[tuple[str, str]] = Counter()
    for statement in parsed.statements:
        account = normalize_account(statement.account)
        for entry in statement.entries:
            for candidate in {entry.bank_reference, entry.end_to_end_id}:
                if candidate and candidate.upper() not in _PLACEHOLDERS:
                    counts[(account, candidate)] += 1
    used: Counter[tuple[str, str]] = Counter()
    for statement in parsed.statements:
        account = normalize_account(statement.account)
        for entry in statement.entries:
            if entry.stated_transaction_id:
                entry.bank_transaction_id = entry.stated_transaction_id
                continue
            chosen = next(
                (
                    candidate
                    for candidate in (entry.bank_reference, entry.end_to_end_id)
                    if candidate and candidate.upper() not in _PLACEHOLDERS and counts[(account, candidate)] == 1
                ),
                "",
            )
            if not chosen:
                chosen = f"{statement.reference}#{entry.position}"
                used[(account, chosen)] += 1
                if used[(account, chosen)] > 1:  # the same statement reference twice in one file
                    chosen = f"{chosen}~{used[(account, chosen)]}"
            entry.bank_transaction_id = chosen[:255]


@dataclass(frozen=True)
class BalanceCheck:
    """One statement's opening balance + entries against its closing balance, for the report."""

    statement: str
    account: str  # masked
    currency: str
    entries: int
    opening: str | None
    closing: str | None
    credits: str
    debits: str
    computed_closing: str | None
    balanced: bool | None  # None: nothing to check
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def balance_check(statement: ParsedStatement) -> BalanceCheck:
    currency = statement.currency or (statement.entries[0].currency if statement.entries else "")
    credits = sum(entry.amount for entry in statement.entries if entry.direction == "credit")
    debits = sum(entry.amount for entry in statement.entries if entry.direction == "debit")
    opening, closing = statement.opening, statement.closing

    def text(balance: Balance | None) -> str | None:
        return None if balance is None else money_text(balance.amount, balance.currency)

    computed = None if opening is None else opening.amount + credits - debits
    balanced: bool | None = None
    if not statement.has_balances:
        problem = NO_BALANCES
    elif opening is None or closing is None:
        problem = BALANCE_MISSING.format(which="opening" if opening is None else "closing")
    elif opening.currency != closing.currency:
        balanced, problem = False, BALANCE_CURRENCY.format(closing=closing.currency, opening=opening.currency)
    elif computed != closing.amount:
        balanced = False
        problem = BALANCE_MISMATCH.format(
            opening=text(opening),
            credits=money_text(credits, currency),
            debits=money_text(debits, currency),
            computed=money_text(computed or 0, currency),
            closing=text(closing),
        )
    else:
        balanced, problem = True, ""
    return BalanceCheck(
        statement=statement.reference,
        account=mask_account(statement.account),
        currency=currency,
        entries=len(statement.entries),
        opening=text(opening),
        closing=text(closing),
        credits=money_text(credits, currency) if currency else str(credits),
        debits=money_text(debits, currency) if currency else str(debits),
        computed_closing=None if computed is None or not currency else money_text(computed, currency),
        balanced=balanced,
        problem=problem,
    )


def parse_statement_file(binary: IO[bytes], *, format: str | None = None) -> ParsedFile:
    """The file's statements with ids assigned; `StatementParseError` when it cannot be read."""
    if format is not None and format not in FORMATS:
        raise StatementParseError(FORMAT_INVALID.format(value=format))
    chosen = format or detect_format(binary)
    if chosen != "camt053":
        _refuse_nul_bytes(binary)
    try:
        parsed = FORMATS[chosen](binary)
    except StatementParseError as exc:
        # A reader that collects every problem before it reports (MT940's) is cut to the cap here.
        details = capped_details(exc.details)
        if details.get("truncated"):
            listed, found = details["problems_listed"], details["problems_found_at_least"]
            raise StatementParseError(PROBLEMS_TRUNCATED.format(found=found, listed=listed), details=details) from exc
        raise
    _refuse_dates_out_of_range(parsed)
    assign_transaction_ids(parsed)
    return parsed


def _refuse_nul_bytes(binary: IO[bytes]) -> None:
    lines = nul_lines(binary, limit=MAX_PROBLEMS_REPORTED + 1)
    if not lines:
        return
    problems = Problems()
    with contextlib.suppress(ProblemLimitReached):
        for line in lines:
            problems.add(f"line {line}", NUL_IN_FILE)
    raise StatementParseError(problems.summary(INVALID_SUMMARY), details=problems.details())


def _refuse_dates_out_of_range(parsed: ParsedFile) -> None:
    """Booking and value dates inside the business range, for every format alike.

    The CSV reader checks its cells itself (by row and column); CAMT.053 and MT940 entries are
    named by statement and entry.
    """
    problems = Problems()
    with contextlib.suppress(ProblemLimitReached):
        for number, statement in enumerate(parsed.statements, 1):
            for entry in statement.entries:
                for name in ("booking_date", "value_date"):
                    if problem := business_date_error(getattr(entry, name)):
                        location = (
                            f"row {entry.position}, column {name}"
                            if parsed.format == "csv"
                            else f"statement {number}, entry {entry.position}, {name}"
                        )
                        problems.add(location, problem)
    if problems:
        raise StatementParseError(problems.summary(INVALID_SUMMARY), details=problems.details())
