"""ISO 20022 CAMT.053 (bank-to-customer statement), versions 001.02 to 001.08.

One file holds one `BkToCstmrStmt` with any number of `Stmt`, each with any number of `Ntry`.
An entry may be a batch (`NtryDtls/Btch`, several `TxDtls`): it becomes one payment per
transaction when every transaction states its amount in the entry's currency and the amounts add
up to the entry's; otherwise one payment for the entry, with a warning — splitting on amounts
that do not add up would invent or lose money.

The XML comes from outside, so it is parsed with entity resolution, DTD loading and network
access off, and a document with a DOCTYPE is refused outright (billion laughs, XXE).
Element names are matched in the document's own namespace, which names the version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import IO

from lxml import etree

from core.money import MoneyError, parse_decimal, to_minor
from core.problems import ProblemLimitReached, Problems
from payments.statements.types import (
    INVALID_SUMMARY,
    Balance,
    ParsedEntry,
    ParsedFile,
    ParsedStatement,
    StatementParseError,
)

NOT_XML = "The file is not well-formed XML: {reason}."
DOCTYPE_REFUSED = "The XML has a DOCTYPE declaration; statement files must not (entities and DTDs are refused)."
NOT_CAMT053 = (
    "The XML is not a CAMT.053 bank statement: expected a Document in namespace "
    "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 to .08, found {found!r}."
)
NO_STATEMENTS = "The CAMT.053 document holds no statement (Stmt)."
MISSING = "{element} is missing."
BAD_AMOUNT = "Amount {value!r} {currency}: {reason}"
BAD_INDICATOR = "CdtDbtInd must be CRDT or DBIT, not {value!r}."
BAD_DATE = "{value!r} is not an ISO date."
ZERO_AMOUNT = "The amount is zero; a payment moves money."
WARN_NOT_BOOKED = (
    "Statement {statement}, entry {entry}: status {status} (not booked) — not imported and not counted "
    "in the balance check."
)
WARN_BATCH_NOT_SPLIT = (
    "Statement {statement}, entry {entry}: its {count} transactions do not add up to the entry "
    "amount in its currency; imported as one payment."
)

_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0[2-8]$")
_DIRECTIONS = {"CRDT": "credit", "DBIT": "debit"}
# Balance types: opening booked (or the previous closing), closing booked.
_OPENING = ("OPBD", "PRCD")
# Only booked entries are money that moved; pending (PDNG) and information-only (INFO) lines may
# still change or never happen. Versions up to 04 write `<Sts>BOOK</Sts>`, later ones `<Sts><Cd>`.
_BOOKED = "BOOK"
_DOCTYPE_SCAN_BYTES = 4096
_CLOSING = ("CLBD",)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


class _Doc:
    """XPath helpers bound to the document's namespace (prefix `c`)."""

    def __init__(self, namespace: str) -> None:
        self.ns = {"c": namespace}

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return node.xpath(path, namespaces=self.ns)  # type: ignore[return-value]

    def first(self, node: etree._Element, path: str) -> etree._Element | None:
        found = self.all(node, path)
        return found[0] if found else None

    def text(self, node: etree._Element, *paths: str) -> str:
        for path in paths:
            element = self.first(node, path)
            if element is not None and element.text and element.text.strip():
                return " ".join(element.text.split())
        return ""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError as exc:
        raise ValueError(BAD_DATE.format(value=value)) from exc


def _minor(element: etree._Element) -> tuple[int, str]:
    currency = (element.get("Ccy") or "").strip()
    value = (element.text or "").strip()
    try:
        return to_minor(parse_decimal(value), currency), currency.upper()
    except MoneyError as exc:
        raise ValueError(BAD_AMOUNT.format(value=value, currency=currency, reason=exc)) from exc


def _direction(doc: _Doc, node: etree._Element) -> str:
    value = doc.text(node, "c:CdtDbtInd")
    if value not in _DIRECTIONS:
        raise ValueError(BAD_INDICATOR.format(value=value))
    return _DIRECTIONS[value]


def _account(doc: _Doc, node: etree._Element | None) -> str:
    if node is None:
        return ""
    return doc.text(node, "c:Id/c:IBAN", "c:Id/c:Othr/c:Id")


def _balance(doc: _Doc, statement: etree._Element, codes: tuple[str, ...]) -> Balance | None:
    for code in codes:
        for element in doc.all(statement, "c:Bal"):
            if doc.text(element, "c:Tp/c:CdOrPrtry/c:Cd") != code:
                continue
            amount_element = doc.first(element, "c:Amt")
            if amount_element is None:
                raise ValueError(MISSING.format(element=f"Bal {code} Amt"))
            amount, currency = _minor(amount_element)
            signed = -amount if _direction(doc, element) == "debit" else amount
            date_text = doc.text(element, "c:Dt/c:Dt", "c:Dt/c:DtTm")
            return Balance(signed, currency, _date(date_text) if date_text else None)
    return None


def _party(doc: _Doc, details: etree._Element, role: str) -> tuple[str, str]:
    """Name and account of `Dbtr` or `Cdtr` (v08 nests the party under `Pty`)."""
    name = doc.text(details, f"c:RltdPties/c:{role}/c:Nm", f"c:RltdPties/c:{role}/c:Pty/c:Nm")
    account = _account(doc, doc.first(details, f"c:RltdPties/c:{role}Acct"))
    return name, account


def _remittance(doc: _Doc, details: etree._Element | None, entry: etree._Element) -> str:
    parts: list[str] = []
    if details is not None:
        parts += [" ".join((e.text or "").split()) for e in doc.all(details, "c:RmtInf/c:Ustrd")]
        parts += [" ".join((e.text or "").split()) for e in doc.all(details, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref")]
        parts += [doc.text(details, "c:AddtlTxInf")]
    if not any(parts):
        parts.append(doc.text(entry, "c:AddtlNtryInf"))
    return "\n".join(part for part in parts if part)


def _transaction_amount(doc: _Doc, details: etree._Element) -> tuple[int, str] | None:
    # Not `a or b`: an lxml element without children is falsy.
    element = doc.first(details, "c:Amt")
    if element is None:
        element = doc.first(details, "c:AmtDtls/c:TxAmt/c:Amt")
    return _minor(element) if element is not None else None


def _entries(
    doc: _Doc, entry: etree._Element, number: int, statement_number: int, warnings: list[str]
) -> list[ParsedEntry]:
    amount_element = doc.first(entry, "c:Amt")
    if amount_element is None:
        raise ValueError(MISSING.format(element="Amt"))
    amount, currency = _minor(amount_element)
    if amount <= 0:
        raise ValueError(ZERO_AMOUNT)
    direction = _direction(doc, entry)
    booked = doc.text(entry, "c:BookgDt/c:Dt", "c:BookgDt/c:DtTm")
    valued = doc.text(entry, "c:ValDt/c:Dt", "c:ValDt/c:DtTm")
    if not booked and not valued:
        raise ValueError(MISSING.format(element="BookgDt"))
    booking_date = _date(booked or valued)
    value_date = _date(valued) if valued else None
    entry_reference = doc.text(entry, "c:AcctSvcrRef")
    transactions = doc.all(entry, "c:NtryDtls/c:TxDtls")
    # An entry kept whole keeps every transaction's text: the invoice numbers matching looks for.
    whole_remittance = "\n".join(
        dict.fromkeys(_remittance(doc, details, entry) for details in transactions)
    ) or _remittance(doc, None, entry)

    def build(details: etree._Element | None, part_amount: int, part_direction: str, position: str) -> ParsedEntry:
        # The counterparty is the other side: who paid us on a credit, whom we paid on a debit.
        name, account = ("", "")
        if details is not None:
            name, account = _party(doc, details, "Dbtr" if part_direction == "credit" else "Cdtr")
        single = details is not None and len(transactions) == 1
        return ParsedEntry(
            booking_date=booking_date,
            value_date=value_date,
            amount=part_amount,
            currency=currency,
            direction=part_direction,
            counterparty_name=name[:255],
            counterparty_account=account,
            remittance_text=_remittance(doc, details, entry) if details is not None else whole_remittance,
            bank_reference=(doc.text(details, "c:Refs/c:AcctSvcrRef") if details is not None else "")
            or (entry_reference if single or details is None else ""),
            end_to_end_id=(doc.text(details, "c:Refs/c:EndToEndId") if details is not None else "")[:64],
            # A returned transfer: the reason code (or the bank's own) of its return information.
            return_reason=(
                doc.text(details, "c:RtrInf/c:Rsn/c:Cd", "c:RtrInf/c:Rsn/c:Prtry") if details is not None else ""
            )[:35],
            position=position,
        )

    if len(transactions) > 1:
        parts: list[tuple[etree._Element, int, str]] = []
        for details in transactions:
            part = _transaction_amount(doc, details)
            if part is None or part[1] != currency or part[0] <= 0:
                break
            part_direction = _direction(doc, details) if doc.first(details, "c:CdtDbtInd") is not None else direction
            parts.append((details, part[0], part_direction))
        signed_sum = sum(amount_ if d == direction else -amount_ for _, amount_, d in parts)
        if len(parts) == len(transactions) and signed_sum == amount:
            return [
                build(details, part_amount, d, f"{number}.{index}")
                for index, (details, part_amount, d) in enumerate(parts, 1)
            ]
        warnings.append(WARN_BATCH_NOT_SPLIT.format(statement=statement_number, entry=number, count=len(transactions)))
        return [build(None, amount, direction, str(number))]
    return [build(transactions[0] if transactions else None, amount, direction, str(number))]


def parse_camt053(binary: IO[bytes]) -> ParsedFile:
    """Every statement and entry of a CAMT.053 file; `StatementParseError` when it cannot be read."""
    binary.seek(0)
    # Refused before parsing too, so not even the parser's DTD handling sees a hostile subset.
    if b"<!doctype" in binary.read(_DOCTYPE_SCAN_BYTES).lower():
        raise StatementParseError(DOCTYPE_REFUSED)
    binary.seek(0)
    try:
        tree = etree.parse(binary, _parser())
    except etree.XMLSyntaxError as exc:
        raise StatementParseError(NOT_XML.format(reason=exc)) from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise StatementParseError(DOCTYPE_REFUSED)
    root = tree.getroot()
    qname = etree.QName(root)
    if qname.localname != "Document" or not _NAMESPACE.match(qname.namespace or ""):
        raise StatementParseError(NOT_CAMT053.format(found=f"{qname.namespace or ''} {qname.localname}".strip()))
    doc = _Doc(qname.namespace or "")
    statements_xml = doc.all(root, "c:BkToCstmrStmt/c:Stmt")
    if not statements_xml:
        raise StatementParseError(NO_STATEMENTS)
    warnings: list[str] = []
    errors = Problems()  # reading stops past its cap (core.problems)
    statements: list[ParsedStatement] = []
    with contextlib.suppress(ProblemLimitReached):
        for statement_number, statement in enumerate(statements_xml, 1):
            location = f"statement {statement_number}"
            try:
                opening = _balance(doc, statement, _OPENING)
                closing = _balance(doc, statement, _CLOSING)
            except ValueError as exc:
                errors.add(location, str(exc))
                continue
            account = _account(doc, doc.first(statement, "c:Acct"))
            if not account:
                errors.add(location, MISSING.format(element="Acct/Id"))
            parsed = ParsedStatement(
                reference=doc.text(statement, "c:Id") or f"{statement_number}",
                account=account,
                currency=doc.text(statement, "c:Acct/c:Ccy") or (opening.currency if opening else ""),
                opening=opening,
                closing=closing,
            )
            for entry_number, entry in enumerate(doc.all(statement, "c:Ntry"), 1):
                entry_status = doc.text(entry, "c:Sts/c:Cd", "c:Sts")
                if entry_status and entry_status != _BOOKED:
                    warnings.append(
                        WARN_NOT_BOOKED.format(statement=statement_number, entry=entry_number, status=entry_status)
                    )
                    continue
                try:
                    parsed.entries += _entries(doc, entry, entry_number, statement_number, warnings)
                except ValueError as exc:
                    errors.add(f"{location}, entry {entry_number}", str(exc))
            statements.append(parsed)
    if errors:
        raise StatementParseError(errors.summary(INVALID_SUMMARY), details=errors.details())
    return ParsedFile(
        format="camt053", encoding=tree.docinfo.encoding or "UTF-8", statements=statements, warnings=warnings
    )
