"""The bank file of a payment run: ISO 20022 pain.001 (001.001.09 by default, .03 for older banks),
validated against the official XSD (shipped by `sepaxml`) before anyone may download it; a CSV
with the same data for a currency SEPA does not carry.

Pure: dataclasses in, bytes out. Amounts are written from integer minor units through Decimal
(core.money.from_minor), never a float, so a file's amounts are the invoices' to the cent.
One PmtInf (the run: one debtor account, one execution date) with one CdtTrfTxInf per vendor,
whose remittance (Ustrd, 140 characters each) names every invoice it pays and whose EndToEndId
is the run's payment id, the one the bank statement brings back (reconciliation tier 0).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sepaxml  # type: ignore[import-untyped]  # ships no stubs
from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from core.csv_safe import csv_cell
from core.money import from_minor

PAIN_09 = "pain.001.001.09"
PAIN_03 = "pain.001.001.03"
FORMATS = (PAIN_09, PAIN_03)
# SEPA credit transfers are in euro; another currency gets the CSV (and the clerk a note why).
SEPA_CURRENCY = "EUR"
USTRD_MAX = 140
NAME_MAX = 70  # the EPC rulebook's limit for names (the XSD allows 140)
NOT_PROVIDED = "NOTPROVIDED"
CSV_NOTE = (
    "{currency} is not a SEPA currency, so this run is a CSV file with the same payments instead of a "
    "pain.001: upload it to your bank's portal for {currency} transfers, or enter the payments there."
)
CSV_COLUMNS = (
    "end_to_end_id",
    "vendor",
    "creditor_account",
    "creditor_bic",
    "amount",
    "currency",
    "execution_date",
    "debtor_account",
    "remittance",
)


@dataclass(frozen=True)
class CreditTransfer:
    """One payment of the run: a vendor's invoices together."""

    end_to_end_id: str
    creditor_name: str
    creditor_account: str  # an IBAN, or a local account number (CSV only)
    creditor_bic: str
    amount: int  # minor units
    invoice_numbers: tuple[str, ...]


@dataclass(frozen=True)
class PaymentFile:
    message_id: str
    created_at: dt.datetime
    execution_date: dt.date
    currency: str
    debtor_name: str
    debtor_iban: str
    debtor_bic: str
    transfers: tuple[CreditTransfer, ...]


def remittance_lines(invoice_numbers: tuple[str, ...]) -> list[str]:
    """Every invoice number, comma-separated, in pieces of at most 140 characters (a number is
    never cut unless it alone is longer)."""
    pieces: list[str] = []
    current = ""
    for number in invoice_numbers:
        candidate = f"{current}, {number}" if current else number
        if len(candidate) <= USTRD_MAX:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(number) > USTRD_MAX:
            pieces.append(number[:USTRD_MAX])
            number = number[USTRD_MAX:]
        current = number
    if current:
        pieces.append(current)
    return pieces


def _amount(minor: int, currency: str) -> str:
    return format(from_minor(minor, currency), "f")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = text
    return element


def _agent(parent: etree._Element, tag: str, bic: str, version: str) -> None:
    institution = _sub(_sub(parent, tag), "FinInstnId")
    if bic:
        _sub(institution, "BICFI" if version == PAIN_09 else "BIC", bic)
    else:
        _sub(_sub(institution, "Othr"), "Id", NOT_PROVIDED)


def _account(parent: etree._Element, tag: str, number: str) -> None:
    identification = _sub(_sub(parent, tag), "Id")
    if number[:2].isalpha() and number[2:4].isdigit():
        _sub(identification, "IBAN", number)
    else:
        _sub(_sub(identification, "Othr"), "Id", number)


def pain001_write(payment_file: PaymentFile, *, version: str = PAIN_09) -> bytes:
    """The pain.001 document of `payment_file` in `version` (.09 or .03)."""
    if version not in FORMATS:
        raise ValueError(f"Unknown pain.001 version {version!r}.")
    namespace = f"urn:iso:std:iso:20022:tech:xsd:{version}"
    document = etree.Element("Document", nsmap={None: namespace})
    initiation = _sub(document, "CstmrCdtTrfInitn")
    currency = payment_file.currency
    total = sum(transfer.amount for transfer in payment_file.transfers)
    count = str(len(payment_file.transfers))
    header = _sub(initiation, "GrpHdr")
    _sub(header, "MsgId", payment_file.message_id)
    _sub(header, "CreDtTm", payment_file.created_at.replace(microsecond=0).isoformat())
    _sub(header, "NbOfTxs", count)
    _sub(header, "CtrlSum", _amount(total, currency))
    _sub(_sub(header, "InitgPty"), "Nm", payment_file.debtor_name[:NAME_MAX])
    instruction = _sub(initiation, "PmtInf")
    _sub(instruction, "PmtInfId", payment_file.message_id)
    _sub(instruction, "PmtMtd", "TRF")
    _sub(instruction, "NbOfTxs", count)
    _sub(instruction, "CtrlSum", _amount(total, currency))
    if currency == SEPA_CURRENCY:
        _sub(_sub(_sub(instruction, "PmtTpInf"), "SvcLvl"), "Cd", "SEPA")
    execution = payment_file.execution_date.isoformat()
    if version == PAIN_09:
        _sub(_sub(instruction, "ReqdExctnDt"), "Dt", execution)
    else:
        _sub(instruction, "ReqdExctnDt", execution)
    _sub(_sub(instruction, "Dbtr"), "Nm", payment_file.debtor_name[:NAME_MAX])
    _account(instruction, "DbtrAcct", payment_file.debtor_iban)
    _agent(instruction, "DbtrAgt", payment_file.debtor_bic, version)
    _sub(instruction, "ChrgBr", "SLEV")
    for transfer in payment_file.transfers:
        transaction = _sub(instruction, "CdtTrfTxInf")
        _sub(_sub(transaction, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        _sub(_sub(transaction, "Amt"), "InstdAmt", _amount(transfer.amount, currency), Ccy=currency)
        if transfer.creditor_bic:
            _agent(transaction, "CdtrAgt", transfer.creditor_bic, version)
        _sub(_sub(transaction, "Cdtr"), "Nm", transfer.creditor_name[:NAME_MAX])
        _account(transaction, "CdtrAcct", transfer.creditor_account)
        remittance = _sub(transaction, "RmtInf")
        for line in remittance_lines(transfer.invoice_numbers):
            _sub(remittance, "Ustrd", line)
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@functools.cache
def _schema(version: str) -> etree.XMLSchema:
    path = Path(sepaxml.__file__).parent / "schemas" / f"{version}.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def pain001_errors(content: bytes, *, version: str) -> list[str]:
    """What the official XSD says is wrong with `content` ([] when it is valid)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        document = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        return [str(exc)]
    schema = _schema(version)
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def csv_write(payment_file: PaymentFile) -> bytes:
    """The same payments as the pain.001 would carry, one row per credit transfer."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for transfer in payment_file.transfers:
        # Through csv_cell like every CSV the app writes: a vendor named "=HYPERLINK(…)" must stay text
        # in the spreadsheet a treasurer opens this in.
        writer.writerow(
            csv_cell(value)
            for value in [
                transfer.end_to_end_id,
                transfer.creditor_name,
                transfer.creditor_account,
                transfer.creditor_bic,
                _amount(transfer.amount, payment_file.currency),
                payment_file.currency,
                payment_file.execution_date.isoformat(),
                payment_file.debtor_iban,
                "; ".join(remittance_lines(transfer.invoice_numbers)),
            ]
        )
    return out.getvalue().encode("utf-8")


def file_amounts(content: bytes) -> dict[str, Decimal]:
    """`{EndToEndId: amount}` read back from a pain.001 (for checks and tests)."""
    document = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    namespace = document.nsmap[None]
    found: dict[str, Decimal] = {}
    for transaction in document.iter(f"{{{namespace}}}CdtTrfTxInf"):
        end_to_end = transaction.findtext(f"{{{namespace}}}PmtId/{{{namespace}}}EndToEndId") or ""
        found[end_to_end] = Decimal(transaction.findtext(f"{{{namespace}}}Amt/{{{namespace}}}InstdAmt") or "0")
    return found
