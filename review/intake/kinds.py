"""Which kind of file an upload is, read from its content, never from its name or Content-Type.

In order: a PDF (`%PDF-` near the start) is an e-invoice (Factur-X / ZUGFeRD carry one); XML is
named by its root element (UBL `Invoice` / `CreditNote`, CII `CrossIndustryInvoice`: an
e-invoice; ISO 20022 `Document` in a camt.053 namespace: a bank statement); a CSV by its header
(the kind whose columns it names: invoices, purchase orders, goods receipts, bank statement
lines); then MT940 by its tags (payments.statements.detect_format). What the content decides is
*certain*; a CSV header that is no kind's exactly (a misspelt column) is only the nearest kind,
which the clerk's choice overrides and the importer then reports column by column.
"""

from __future__ import annotations

import codecs
import contextlib
from dataclasses import dataclass
from typing import IO

from lxml import etree  # type: ignore[import-untyped]  # lxml ships no stubs

from core.csv_reading import CsvKind, csv_cells_read
from invoices.ingest import cii, ubl
from invoices.ingest.csv_import import KINDS
from invoices.ingest.xml_reading import PARSER_OPTIONS
from payments.statements import StatementParseError, detect_format
from payments.statements.csv_rows import COLUMNS as STATEMENT_COLUMNS
from payments.statements.csv_rows import REQUIRED as STATEMENT_REQUIRED
from review.models import ImportKind

_SNIFF_BYTES = 4096
_PDF_WINDOW = 1024  # where a PDF's header may start (invoices.ingest.e_invoices reads it so too)
_CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053."
_WHITESPACE = b" \t\r\n"

# --- what was read (completes "This file is …") -------------------------------------------------
READ_PDF = "a PDF"
READ_XML_ROOT = "XML whose root element is {root}"
READ_XML_BROKEN = "XML that cannot be read ({reason})"
READ_CSV_HEADER = "a CSV whose header names the columns of {kind}"
READ_CSV_NEAREST = "a CSV whose header is nearest to the columns of {kind}"
READ_MT940 = "an MT940 statement (SWIFT tags such as :20: and :61:)"
READ_BINARY = "not text: it holds NUL bytes (a binary file, or text saved as UTF-16)"
READ_UTF16 = "UTF-16 text, which Recon does not read: save it as UTF-8"
READ_NOTHING_KNOWN = "none of the kinds Recon reads: not a PDF, not XML, not a CSV with a known header, not MT940"


@dataclass(frozen=True)
class KindReading:
    kind: str  # an ImportKind; "" when the content names none
    certain: bool  # the content alone decides (see the module docstring)
    read_as: str  # what the content was read as, for the clerk: completes "This file is …"


def _csv_columns() -> dict[str, tuple[set[str], set[str]]]:
    """Each CSV kind's columns and required columns, from the importers' own definitions."""

    def of(kind: type[CsvKind]) -> tuple[set[str], set[str]]:
        return {column.name for column in kind.columns}, {column.name for column in kind.columns if column.required}

    columns = {name: of(kind) for name, kind in KINDS.items()}
    columns[ImportKind.BANK_STATEMENT] = (set(STATEMENT_COLUMNS), set(STATEMENT_REQUIRED))
    return columns


def _xml_kind(binary: IO[bytes]) -> KindReading:
    binary.seek(0)
    try:
        # The root's start tag only (the body is the importer's to read), with the e-invoice
        # readers' hardened options: no entity is expanded, nothing is fetched.
        _, root = next(etree.iterparse(binary, events=("start",), **PARSER_OPTIONS))
    except (etree.XMLSyntaxError, StopIteration) as exc:
        return KindReading("", certain=False, read_as=READ_XML_BROKEN.format(reason=str(exc) or "no root element"))
    finally:
        binary.seek(0)
    qname = etree.QName(root)
    read_as = READ_XML_ROOT.format(root=qname.localname)
    if root.tag in ubl.ROOTS or root.tag == cii.ROOT or qname.localname == "CrossIndustryDocument":
        # ZUGFeRD 1.0's CrossIndustryDocument too: the e-invoice door explains why it is refused.
        return KindReading(ImportKind.E_INVOICE, certain=True, read_as=read_as)
    if qname.localname == "Document" and (qname.namespace or "").startswith(_CAMT053):
        return KindReading(ImportKind.BANK_STATEMENT, certain=True, read_as=read_as)
    return KindReading("", certain=False, read_as=f"{read_as} ({qname.namespace or 'no namespace'})")


def _csv_kind(binary: IO[bytes]) -> KindReading | None:
    """The kind a CSV header names; None when the first line names no kind's column twice. Only
    the header decides: a file whose rows hold bytes no encoding reads is still a CSV of its
    kind, for the importer to refuse with its own message."""
    names = {name.strip().lower() for name in csv_cells_read(binary=binary).header}
    names.discard("")
    columns = _csv_columns()
    exact = [kind for kind, (known, required) in columns.items() if names <= known and required <= names]
    if len(exact) == 1:
        label = ImportKind(exact[0]).label
        return KindReading(exact[0], certain=True, read_as=READ_CSV_HEADER.format(kind=label))
    overlap = {kind: len(names & known) for kind, (known, _) in columns.items()}
    best = max(overlap.values())
    nearest = [kind for kind, count in overlap.items() if count == best]
    if best < 2 or len(nearest) != 1:
        return None
    label = ImportKind(nearest[0]).label
    return KindReading(nearest[0], certain=False, read_as=READ_CSV_NEAREST.format(kind=label))


def import_kind_detect(*, binary: IO[bytes]) -> KindReading:
    """What `binary` (seekable, left at its start) holds, as far as its content tells."""
    binary.seek(0)
    head = binary.read(_SNIFF_BYTES)
    binary.seek(0)
    if b"%PDF-" in head[:_PDF_WINDOW]:
        return KindReading(ImportKind.E_INVOICE, certain=True, read_as=READ_PDF)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return KindReading("", certain=False, read_as=READ_UTF16)
    if head.removeprefix(codecs.BOM_UTF8).lstrip(_WHITESPACE).startswith(b"<"):
        return _xml_kind(binary)
    # A text file with a stray NUL is still its kind: its importer names the row or line.
    csv_reading = _csv_kind(binary)
    if csv_reading is not None:
        return csv_reading
    with contextlib.suppress(StatementParseError):
        if detect_format(binary) == "mt940":
            return KindReading(ImportKind.BANK_STATEMENT, certain=True, read_as=READ_MT940)
    if b"\x00" in head:
        return KindReading("", certain=False, read_as=READ_BINARY)
    return KindReading("", certain=False, read_as=READ_NOTHING_KNOWN)
