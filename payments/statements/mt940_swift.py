"""SWIFT MT940 (customer statement), read with the `mt-940` library.

What arrives in practice, and what this module does about it:

- Several statements per file, each starting at `:20:`: `mt940.parse_statements` splits them, so
  each keeps its own balances (plain `mt940.parse` would keep only the last statement's).
- SWIFT envelope blocks `{1:...}{2:...}{3:...}{4:` ... `-}` (`{5:...}`): the text of every
  block 4 is kept, the envelope dropped. Bank export preambles (ABN AMRO's `ABNANL2A`/`940`
  lines, Danske Bank's free text) before the first `:20:` are ignored the same way.
- CRLF line ends: the library drops the CRs.
- Encoding: MT940 is meant to be plain ASCII, but banks write national letters in their code
  page. UTF-8 is tried first; otherwise the file is decoded as Windows-1252 and as cp852 (the
  Central European DOS code page Hungarian, Czech and Polish banks use) and the one whose
  non-ASCII characters are letters wins. Both decode any byte, so "no error" proves nothing: a
  cp852 `á` (0xA0) read as Windows-1252 is a no-break space, its `é` (0x82) a low quote. The
  report names the encoding used.
- Signs: `C`/`RD` (reversal of a debit) add money, `D`/`RC` take it away
  (`mt940.Options.all()` turns on the library's correct reversal signs).
- The library skips a line it does not recognise without a word; every statement's `:61:` count
  is compared with the entries it returned, so nothing is dropped silently.
- The library reads a `:61:` amount leniently: a line cut short inside its amount
  (`:61:1401030103D3` of `D300,00NTRF...`) would be a 3.00 entry. SWIFT's format for the line
  is `6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]`: the amount (15d) always carries its decimal comma
  and the transaction type (`N`, `F` or `S` and three characters: `NTRF`, `N527`) follows it,
  so every `:61:` line is checked against that before the library sees it, and a line that
  fails makes the file invalid, by line number. The customer reference (16x) is mandatory in
  SWIFT too, but real exports leave it out (the Raiffeisen sample ends every line at `N527`),
  and a line cut there has lost nothing the import stores, so it is not required.
- A statement without a closing balance (`:62F:`/`:62M:`, mandatory) is imported with a warning:
  real exports are sometimes cut at the end, and its entries are still the bank's; the report
  says it cannot be checked.
"""

from __future__ import annotations

import io
import re
from typing import IO, Any

import mt940

from core.money import MoneyError, to_minor
from payments.statements.types import (
    INVALID_SUMMARY,
    Balance,
    ParsedEntry,
    ParsedFile,
    ParsedStatement,
    StatementParseError,
)

NO_STATEMENT = "No MT940 statement found: the file has no ':20:' line starting a statement."
UNREADABLE = "The MT940 file cannot be parsed: {reason}"
UNREADABLE_TAG = "Tag :{tag}: cannot be read: {data!r}."
MISSING_TAG = "Tag {tag} ({meaning}) is missing."
LINES_DROPPED = "The statement has {expected} ':61:' lines but only {found} could be read."
BAD_AMOUNT = "Amount {value} {currency}: {reason}"
NO_CURRENCY = "No currency: the statement has no opening balance (:60F:/:60M:) to take it from."
ZERO_AMOUNT = "The amount is zero; a payment moves money."
WARN_ENCODING = "The file is not UTF-8; it was read as {encoding} (its non-ASCII characters are letters there)."
WARN_NO_CLOSING = (
    "Statement {statement}: no closing balance (:62F: or :62M:, mandatory in MT940); the file may have been "
    "cut short. Its entries were imported but cannot be checked against a closing balance."
)
ENTRY_LOCATION = "line {line} (:61:)"
ENTRY_START_INVALID = (
    "Tag :61: must start with the value date (YYMMDD), an optional entry date (MMDD) and the debit/credit "
    "mark (C, D, RC or RD); found {data!r}."
)
ENTRY_AMOUNT_INVALID = (
    "Tag :61: amount {amount!r} is not a SWIFT amount (digits with a decimal comma, such as 15,00 or 9,; at "
    "most 15 characters): the line is cut short or garbled: {data!r}."
)
ENTRY_TYPE_MISSING = (
    "Tag :61: has no transaction type after the amount {amount!r} (N, F or S and three characters, such as "
    "NTRF): the line is cut short or garbled: {data!r}."
)

_SWIFT_BLOCK4 = re.compile(r"\{4:\s*\n(.*?)\n-\}", re.DOTALL)
_STATEMENT_START = re.compile(r"(?m)^(?=:20:)")
_ENTRY_LINE = re.compile(r"(?m)^:61:")
# ING / Dutch structured :86: ("/EREF/...//CNTP/account/bic/name/city//REMI/...").
_ING_CODES = "EREF|CNTP|REMI|PREF|MARF|CSID|RTRN|BENM|ORDP|NAME|IBAN|ADDR|ULTC|ULTD|PURP|TRCD|SVCL|CDTRREF|BUSP|FX|ISDT"
_ING_FIELD = re.compile(rf"(?:^|/)({_ING_CODES})/")
# German structured :86: keywords inside ?20-?29 ("EREF+...", "MTLG:..."): a value ends at the next.
_SEPA_KEYWORD = re.compile(r"[A-Z]{4}[+:]")
_PLACEHOLDERS = {"", "NONREF", "NOTPROVIDED", "NOT PROVIDED"}
# The head of a :61: line up to its amount, as the library reads it (entry date digits or
# spaces; the optional funds code; a space some banks put before the amount).
# `re.ASCII`: SWIFT's character set has only ASCII digits; `\d` would take "١٠,00" as an amount.
_ENTRY_HEAD = re.compile(r"\d{6}(?:\d{4}|\s{4})?R?[DC][A-Z]? ?", re.ASCII)
_ENTRY_AMOUNT = re.compile(r"[\d,]*", re.ASCII)
_SWIFT_AMOUNT = re.compile(r"\d+,\d*", re.ASCII)
_SWIFT_AMOUNT_MAX = 15
_TRANSACTION_TYPE = re.compile(r"[NFS][A-Z0-9]{3}")
_FALLBACK_ENCODINGS = ("cp1252", "cp852")


def _decode(raw: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in (see the module docstring)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass

    def non_letters(text: str) -> int:
        return sum(1 for char in text if ord(char) > 127 and not char.isalpha())

    # min() keeps the first of equals: Windows-1252 wins a tie, being the commoner bank code page.
    # errors="replace": Windows-1252 leaves five bytes undefined; each becomes U+FFFD, a non-letter.
    candidates = [(raw.decode(encoding, errors="replace"), encoding) for encoding in _FALLBACK_ENCODINGS]
    text, encoding = min(candidates, key=lambda candidate: non_letters(candidate[0]))
    return text, encoding


def _unwrap(text: str) -> str:
    """The statements inside SWIFT envelopes, or the text as it is when it has none."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "{1:" in text and "{4:" in text:
        blocks = _SWIFT_BLOCK4.findall(text)
        if blocks:
            return "\n".join(blocks)
    return text


def _entry_line_problem(content: str) -> str:
    """What is wrong with a `:61:` line's value (the text after the tag), or "" (module docstring)."""
    head = _ENTRY_HEAD.match(content)
    if head is None:
        return ENTRY_START_INVALID.format(data=content[:80])
    amount = _ENTRY_AMOUNT.match(content, head.end())
    value = amount.group() if amount else ""
    if not _SWIFT_AMOUNT.fullmatch(value) or len(value) > _SWIFT_AMOUNT_MAX:
        return ENTRY_AMOUNT_INVALID.format(amount=value, data=content[:80])
    if not _TRANSACTION_TYPE.match(content, head.end() + len(value)):
        return ENTRY_TYPE_MISSING.format(amount=value, data=content[:80])
    return ""


def _entry_line_problems(text: str) -> tuple[dict[str, list[str]], set[str]]:
    """Every bad `:61:` line of the file by its line number, and the bad lines themselves.

    Counted on the whole decoded file (envelope and preamble included), so the number is the
    one an editor shows. Lines before the first `:20:` are not statements and are not read.
    """
    problems: dict[str, list[str]] = {}
    bad_lines: set[str] = set()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    in_statement = False
    for number, line in enumerate(lines, 1):
        in_statement = in_statement or line.startswith(":20:")
        if not (in_statement and line.startswith(":61:")):
            continue
        content = line[4:]
        # The library lets the amount start on the next line; read the pair as it would.
        head = _ENTRY_HEAD.fullmatch(content)
        if head is not None and number < len(lines) and not lines[number].startswith(":"):
            content += lines[number]
        problem = _entry_line_problem(content)
        if problem:
            problems[ENTRY_LOCATION.format(line=number)] = [problem]
            bad_lines.add(line)
    return problems, bad_lines


def _ing_fields(details: str) -> dict[str, str]:
    # ING wraps :86: at 65 characters mid-word; the library joins the lines with "\n".
    flat = details.replace("\n", "")
    matches = list(_ING_FIELD.finditer(flat))
    fields: dict[str, str] = {}
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(flat)
        fields.setdefault(match.group(1), flat[match.end() : end].strip("/"))
    return fields


def _ing_remittance(value: str) -> str:
    # "USTD//free text" or "STRD/CUR/reference".
    if value.startswith("USTD"):
        return value[4:].strip("/")
    if value.startswith("STRD"):
        return value.rsplit("/", 1)[-1]
    return value


def _sepa_value(value: str | None) -> str:
    if not value:
        return ""
    following = _SEPA_KEYWORD.search(value, 1)
    return (value[: following.start()] if following else value).strip()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _entry(data: dict[str, Any], currency: str, position: str) -> ParsedEntry:
    amount_model = data.get("amount")
    signed = amount_model.amount if amount_model is not None else None
    entry_currency = (getattr(amount_model, "currency", None) or currency or "").upper()
    if not entry_currency:
        raise ValueError(NO_CURRENCY)
    try:
        minor = to_minor(signed, entry_currency) if signed is not None else 0
    except MoneyError as exc:
        raise ValueError(BAD_AMOUNT.format(value=signed, currency=entry_currency, reason=exc)) from exc
    if minor == 0:
        raise ValueError(ZERO_AMOUNT)
    details = data.get("transaction_details") or ""
    name, account, remittance = "", "", ""
    end_to_end, return_reason = "", ""
    ing = _ing_fields(details) if details.startswith("/") else {}
    if ing:
        counterparty = ing.get("CNTP", "").split("/")
        account = counterparty[0] if counterparty else ""
        name = counterparty[2] if len(counterparty) > 2 else ""
        remittance = _ing_remittance(ing.get("REMI", ""))
        end_to_end = ing.get("EREF", "")
        # ING's structured :86: names a returned transfer's reason: "/RTRN/AC04/".
        return_reason = ing.get("RTRN", "").split("/")[0]
    else:
        name = _text(data.get("applicant_name"))
        account = _text(data.get("applicant_iban"))
        end_to_end = _sepa_value(data.get("end_to_end_reference"))
        remittance = _text(data.get("purpose")) or details.strip()
    if not remittance:
        remittance = _text(data.get("extra_details"))
    booking = data.get("entry_date") or data.get("date")
    bank_reference = _text(data.get("bank_reference"))
    return ParsedEntry(
        booking_date=booking,
        value_date=data.get("date"),
        amount=abs(minor),
        currency=entry_currency,
        direction="debit" if minor < 0 else "credit",
        counterparty_name=name[:255],
        counterparty_account=account,
        remittance_text=remittance,
        bank_reference="" if bank_reference.upper() in _PLACEHOLDERS else bank_reference,
        end_to_end_id="" if end_to_end.upper() in _PLACEHOLDERS else end_to_end[:64],
        return_reason=return_reason[:35],
        position=position,
    )


def _balance(value: Any) -> Balance | None:
    amount = getattr(value, "amount", None)
    if amount is None or not hasattr(amount, "amount"):
        return None
    currency = (amount.currency or "").upper()
    return Balance(to_minor(amount.amount, currency), currency, getattr(value, "date", None))


def _library_error(exc: Exception) -> str:
    # A tag the library cannot match raises RuntimeError(message, tag, data); name the tag and data.
    if isinstance(exc, RuntimeError) and len(exc.args) == 3 and hasattr(exc.args[1], "id"):
        return UNREADABLE_TAG.format(tag=exc.args[1].id, data=str(exc.args[2])[:80])
    return UNREADABLE.format(reason=exc)


def parse_mt940(binary: IO[bytes]) -> ParsedFile:
    """Every statement and entry of an MT940 file; `StatementParseError` when it cannot be read."""
    binary.seek(0)
    text, encoding = _decode(binary.read())
    errors, bad_lines = _entry_line_problems(text)
    text = _unwrap(text)
    blocks = [block for block in _STATEMENT_START.split(text) if block.startswith(":20:")]
    if not blocks:
        raise StatementParseError(NO_STATEMENT)
    warnings = [WARN_ENCODING.format(encoding=encoding)] if encoding != "utf-8" else []
    statements: list[ParsedStatement] = []
    options = mt940.Options.all()
    for number, block in enumerate(blocks, 1):
        location = f"statement {number}"
        if bad_lines and not bad_lines.isdisjoint(block.split("\n")):
            continue  # its bad :61: line is reported above; the library would misread it
        try:
            # A StringIO, not the str: the library reads a str that names an existing file.
            parsed_blocks = mt940.parse_statements(io.StringIO(block), options=options)
        except Exception as exc:
            errors.setdefault(location, []).append(_library_error(exc))
            continue
        transactions = parsed_blocks[0] if parsed_blocks else None
        if transactions is None:  # pragma: no cover - every block starts with :20:
            continue
        data = transactions.data
        try:
            opening = _balance(data.get("final_opening_balance") or data.get("intermediate_opening_balance"))
            closing = _balance(data.get("final_closing_balance") or data.get("intermediate_closing_balance"))
        except MoneyError as exc:
            errors.setdefault(location, []).append(str(exc))
            continue
        account = _text(data.get("account_identification"))
        if not account:
            errors.setdefault(location, []).append(MISSING_TAG.format(tag=":25:", meaning="account"))
        expected = len(_ENTRY_LINE.findall(block))
        if len(transactions) != expected:
            errors.setdefault(location, []).append(LINES_DROPPED.format(expected=expected, found=len(transactions)))
        reference = "/".join(
            part
            for part in (
                _text(data.get("transaction_reference")),
                _text(data.get("statement_number")),
                _text(data.get("sequence_number")),
            )
            if part
        )
        if closing is None:
            warnings.append(WARN_NO_CLOSING.format(statement=reference or location))
        currency = opening.currency if opening else (closing.currency if closing else "")
        statement = ParsedStatement(
            reference=reference, account=account, currency=currency, opening=opening, closing=closing
        )
        for entry_number, transaction in enumerate(transactions, 1):
            try:
                statement.entries.append(_entry(transaction.data, currency, str(entry_number)))
            except ValueError as exc:
                errors.setdefault(f"{location}, entry {entry_number}", []).append(str(exc))
        statements.append(statement)
    if errors:
        count = sum(len(messages) for messages in errors.values())
        raise StatementParseError(INVALID_SUMMARY.format(count=count), details=errors)
    return ParsedFile(format="mt940", encoding=encoding, statements=statements, warnings=warnings)
