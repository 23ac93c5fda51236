"""What kind of file an upload is, read from its content (review.intake.kinds): every kind Recon
imports, from the files its tests and samples already use, and what it cannot tell."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from review.intake.kinds import (
    READ_BINARY,
    READ_NOTHING_KNOWN,
    READ_PDF,
    READ_UTF16,
    KindReading,
    import_kind_detect,
)
from review.models import ImportKind

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "docs" / "samples"
STATEMENT_CSV = (
    "booking_date,amount,currency,bank_transaction_id,bank_account,counterparty_name\n"
    "2026-10-12,-439.80,EUR,TXN-1,NL91ABNA0417164300,Acme Industrial Supplies\n"
)


def detect(content: bytes) -> KindReading:
    binary = io.BytesIO(content)
    reading = import_kind_detect(binary=binary)
    assert binary.tell() == 0, "the file is left at its start for the importer"
    return reading


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (SAMPLES / "invoices.csv", ImportKind.INVOICES),
        (SAMPLES / "purchase-orders.csv", ImportKind.PURCHASE_ORDERS),
        (SAMPLES / "goods-receipts.csv", ImportKind.GOODS_RECEIPTS),
        (TESTS / "invoices/testdata/ubl/base-example.xml", ImportKind.E_INVOICE),
        (TESTS / "invoices/testdata/ubl/base-creditnote-correction.xml", ImportKind.E_INVOICE),
        (TESTS / "invoices/testdata/cii/CII_example1.xml", ImportKind.E_INVOICE),
        (TESTS / "invoices/testdata/pdf/EN16931_Einfach.pdf", ImportKind.E_INVOICE),
        (TESTS / "payments/testdata/test-camt053.xml", ImportKind.BANK_STATEMENT),
        (TESTS / "payments/testdata/camt053.v8.xml", ImportKind.BANK_STATEMENT),
        (TESTS / "payments/testdata/abnamro.sta", ImportKind.BANK_STATEMENT),
        (TESTS / "payments/testdata/MT940_DK_Example.sta", ImportKind.BANK_STATEMENT),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_every_kind_is_read_from_the_content(path: Path, kind: str) -> None:
    reading = detect(path.read_bytes())
    assert (reading.kind, reading.certain) == (kind, True), reading


def test_a_statement_csv_is_told_from_the_document_csvs_by_its_header() -> None:
    reading = detect(STATEMENT_CSV.encode())
    assert (reading.kind, reading.certain) == (ImportKind.BANK_STATEMENT, True)
    assert "Bank statement" in reading.read_as


def test_the_header_decides_whatever_the_delimiter_case_or_byte_order_mark() -> None:
    european = codecs.BOM_UTF8 + (SAMPLES / "goods-receipts.csv").read_text().upper().replace(",", ";").encode()
    reading = detect(european)
    assert (reading.kind, reading.certain) == (ImportKind.GOODS_RECEIPTS, True)


def test_a_misspelt_column_gives_the_nearest_kind_which_a_choice_may_override() -> None:
    text = (SAMPLES / "invoices.csv").read_text().replace("quantity", "quantiy", 1)
    reading = detect(text.encode())
    assert (reading.kind, reading.certain) == (ImportKind.INVOICES, False)
    assert "nearest" in reading.read_as


def test_a_pdf_is_an_e_invoice_whatever_it_carries() -> None:
    assert detect(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n").read_as == READ_PDF


@pytest.mark.parametrize(
    ("content", "read_as"),
    [
        (b'<?xml version="1.0"?><Order xmlns="urn:example:order"><Id>1</Id></Order>', "root element is Order"),
        (b'<?xml version="1.0"?>\n<<Invoice/>', "cannot be read"),
        (codecs.BOM_UTF16_LE + "invoice_number,total_amount\n".encode("utf-16-le"), READ_UTF16),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", READ_BINARY),
        (b"name,colour\nbolt,grey\n", READ_NOTHING_KNOWN),
        (b"Dear supplier, please find attached our invoice.\n", READ_NOTHING_KNOWN),
    ],
    ids=["other-xml", "broken-xml", "utf-16", "binary", "unknown-csv", "plain-text"],
)
def test_what_the_content_does_not_tell_is_said_so(content: bytes, read_as: str) -> None:
    reading = detect(content)
    assert reading.kind == "" and not reading.certain
    assert read_as in reading.read_as
