"""Statement parsers on real bank files: counts, amounts, dates, parties and balance checks.

Every number here was worked out by hand from the files (tests/payments/testdata/README.md);
none is computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from payments.statements import (
    BALANCE_CURRENCY,
    FORMAT_UNKNOWN,
    ParsedFile,
    StatementParseError,
    balance_check,
    csv_rows,
    detect_format,
    parse_statement_file,
)
from payments.statements import camt053 as camt_module
from payments.statements import mt940_swift as mt940_module

TESTDATA = Path(__file__).resolve().parent / "testdata"


def parse(name: str) -> ParsedFile:
    with (TESTDATA / name).open("rb") as binary:
        return parse_statement_file(binary)


def amounts(parsed: ParsedFile) -> list[tuple[str, int, str]]:
    return [(entry.direction, entry.amount, entry.currency) for entry in parsed.entries]


# --- CAMT.053 ------------------------------------------------------------------------------------


def test_camt053_v02_splits_the_batch_entry_and_reports_that_it_does_not_balance() -> None:
    parsed = parse("test-camt053.xml")  # no XML declaration
    assert parsed.format == "camt053"
    assert len(parsed.statements) == 1
    assert amounts(parsed) == [
        ("debit", 75425, "EUR"),
        ("debit", 56405, "EUR"),  # entry 2 (664.05) is a batch of 564.05 + 100.00
        ("debit", 10000, "EUR"),
        ("credit", 140531, "EUR"),
    ]
    first = parsed.entries[0]
    assert first.booking_date == dt.date(2014, 1, 5)
    assert first.counterparty_name == "INSURANCE COMPANY TESTX"  # the creditor: we paid them
    assert first.counterparty_account == "NL46ABNA0499998748"
    assert first.end_to_end_id == "435005714488-ABNO33052620"
    assert "Insurance policy 857239" in first.remittance_text
    assert [entry.bank_transaction_id for entry in parsed.entries[1:3]] == [
        "TESTBANK/NL/20141229/01206408",
        "TESTBANK/NL/20141229/01206407",
    ]
    check = balance_check(parsed.statements[0])
    assert check.balanced is False
    assert (check.opening, check.closing, check.computed_closing) == ("15568.27", "15121.12", "15555.28")
    assert (check.credits, check.debits) == ("1405.31", "1418.30")
    assert check.account == "****8765"


def test_camt053_v04_batch_entry_becomes_one_payment_per_transaction() -> None:
    parsed = parse("test-camt053-txdtls.xml")
    assert amounts(parsed) == [("credit", 218700, "CHF"), ("credit", 129600, "CHF")]
    assert [entry.counterparty_account for entry in parsed.entries] == [
        "CH2222000000123456789",
        "CH3333000000123456789",
    ]
    assert [entry.remittance_text for entry in parsed.entries] == [
        "302388292000011111111111111",
        "302388292000022222222222222",
    ]
    # Both transactions carry the same AcctSvcrRef, so neither can key on it: they key on their place.
    assert [entry.bank_transaction_id for entry in parsed.entries] == [
        "20170323123456789012345#1.1",
        "20170323123456789012345#1.2",
    ]
    check = balance_check(parsed.statements[0])
    assert check.balanced is True
    assert (check.opening, check.closing, check.credits) == ("75960.15", "79443.15", "3483.00")


def test_camt053_several_statements_in_one_file_each_balance() -> None:
    parsed = parse("camt053.v2.multi.statement.xml")
    assert [statement.reference for statement in parsed.statements] == [
        "253EURNL26VAYB8060476890",
        "254EURNL26VAYB8060476890",
    ]
    assert amounts(parsed) == [("credit", 885, "EUR"), ("debit", 700, "EUR")]
    assert [entry.bank_transaction_id for entry in parsed.entries] == ["000000001", "000000002"]
    checks = [balance_check(statement) for statement in parsed.statements]
    assert [(c.opening, c.closing, c.balanced) for c in checks] == [("18.15", "27.00", True), ("27.00", "20.00", True)]


def test_camt053_v08_closing_balance_in_another_currency_is_reported_not_refused() -> None:
    parsed = parse("camt053.v8.xml")
    assert amounts(parsed) == [("credit", 885, "EUR")]
    entry = parsed.entries[0]
    assert entry.booking_date == dt.date(2014, 12, 31)  # from BookgDt/DtTm
    assert entry.value_date == dt.date(2015, 1, 2)
    assert entry.counterparty_name == "NAME NAME"  # v08 nests the party under Pty
    assert entry.bank_transaction_id == "AAAASESS-FP-CN_98765/01"
    check = balance_check(parsed.statements[0])
    assert check.balanced is False
    assert check.problem == BALANCE_CURRENCY.format(closing="SEK", opening="EUR")


def test_truncated_xml_is_refused() -> None:
    content = (TESTDATA / "test-camt053.xml").read_bytes()[:2000]
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.message.startswith(camt_module.NOT_XML.split("{")[0])


def test_a_doctype_is_refused_before_any_entity_is_expanded() -> None:
    content = (
        b'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY x "boom">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt/></Document>'
    )
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.message == camt_module.DOCTYPE_REFUSED


def test_xml_of_another_kind_is_refused() -> None:
    content = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><x/></Document>'
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.message == camt_module.NOT_CAMT053.format(
        found="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03 Document"
    )


# --- MT940 -----------------------------------------------------------------------------------------


def test_mt940_many_statements_keep_their_own_balances() -> None:
    parsed = parse("sepa_mt9401.sta")
    assert parsed.format == "mt940"
    assert len(parsed.statements) == 26
    assert len(parsed.entries) == 97
    first = parsed.statements[0]
    assert first.reference == "T089413946000001/00004/00001"
    assert first.opening is not None and first.opening.amount == -123471836  # a debit balance
    # C300, C335.33, C15000, C66295.08, C915311.55, RC204.88 (reversal of a credit), D999946.95
    assert [(e.direction, e.amount) for e in first.entries] == [
        ("credit", 30000),
        ("credit", 33533),
        ("credit", 1500000),
        ("credit", 6629508),
        ("credit", 91531155),
        ("debit", 20488),
        ("debit", 99994695),
    ]
    assert first.entries[0].bank_transaction_id == "0724710345313905"
    assert all(balance_check(statement).balanced for statement in parsed.statements)


def test_mt940_crlf_with_a_free_text_preamble() -> None:
    raw = (TESTDATA / "MT940_DK_Example.sta").read_bytes()
    assert b"\r\n" in raw
    parsed = parse("MT940_DK_Example.sta")
    assert len(parsed.statements) == 15
    assert len(parsed.entries) == 89
    first = parsed.statements[0]
    assert first.account == "DABADKKK/1234567890"
    assert [(e.direction, e.amount) for e in first.entries] == [
        ("debit", 82941978),
        ("debit", 221400),
        ("debit", 28125),
        ("debit", 5000),
        ("debit", 5000),
        ("credit", 200000),
        ("credit", 518349),
    ]
    check = balance_check(first)
    assert (check.opening, check.closing, check.balanced) == ("2478926.70", "1654095.16", True)
    assert all(balance_check(statement).balanced for statement in parsed.statements)


def test_mt940_swift_header_blocks_and_structured_ing_details() -> None:
    parsed = parse("ming-ing-provided-example-single-message.txt")
    assert len(parsed.statements) == 1
    assert [(e.direction, e.amount) for e in parsed.entries] == [
        ("debit", 1500),
        ("debit", 30000),
        ("debit", 1200),
        ("debit", 30000),
        ("credit", 1500),
        ("credit", 2000),
        ("credit", 2500),
        ("credit", 388915),
        ("credit", 2000),
    ]
    first = parsed.entries[0]
    assert first.counterparty_name == "ING Testrekening"
    assert first.counterparty_account == "NL08INGB0000001234"
    assert first.end_to_end_id == "E2E2014030100899040"
    assert first.bank_transaction_id == "00000000000001"
    statement = parsed.statements[0]
    assert statement.account == "NL20INGB0001234567EUR"
    check = balance_check(statement)
    # The file's own SUM line says 627,00 out and 3969,15 in; its closing balance disagrees.
    assert (check.debits, check.credits, check.computed_closing, check.closing) == (
        "627.00",
        "3969.15",
        "4342.15",
        "4882.15",
    )
    assert check.balanced is False


def test_mt940_cp852_file_is_decoded_as_cp852_and_says_so() -> None:
    parsed = parse("raiffeisen-cmi.sta")
    assert parsed.encoding == "cp852"
    assert parsed.warnings == [mt940_module.WARN_ENCODING.format(encoding="cp852")]
    assert len(parsed.entries) == 7
    assert [(e.direction, e.amount, e.currency) for e in parsed.entries] == [
        ("credit", 206663700, "HUF"),
        ("debit", 1479000, "HUF"),
        ("debit", 305180000, "HUF"),
        ("debit", 389277, "HUF"),
        ("debit", 78924, "HUF"),
        ("debit", 157849, "HUF"),
        ("debit", 600000, "HUF"),
    ]
    assert "napi összevont utánvét" in parsed.entries[0].remittance_text
    assert balance_check(parsed.statements[0]).balanced is False


def test_mt940_export_header_lines_and_intermediate_balances() -> None:
    parsed = parse("abnamro.sta")
    assert [len(statement.entries) for statement in parsed.statements] == [8, 2]
    assert parsed.entries[0].amount == 900  # "D9," — a comma and no decimals
    assert parsed.entries[0].remittance_text.startswith("GIRO   428428 KPN - DIGITENNE")
    second = parsed.statements[1]
    assert second.opening is not None and second.opening.amount == 287684  # :60M:
    assert second.closing is not None and second.closing.amount == 184975  # :62M:
    # NONREF lines have no reference: they key on statement and position, distinct per statement.
    assert parsed.entries[0].bank_transaction_id == "ABN AMRO BANK NV/19321/1#1"
    assert second.entries[0].bank_transaction_id == "ABN AMRO BANK NV/19322/1#1"


def test_garbage_is_not_mt940() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(b"hello\nthis is not a statement\n"))
    assert caught.value.message == FORMAT_UNKNOWN


def test_mt940_with_an_unreadable_entry_line_is_refused() -> None:
    content = (
        b":20:REF\n:25:NL91ABNA0417164300\n:28C:1\n:60F:C260101EUR100,00\n:61:garbage line\n:62F:C260101EUR100,00\n"
    )
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.details == {"line 5 (:61:)": [mt940_module.ENTRY_START_INVALID.format(data="garbage line")]}


ING_SAMPLE = "ming-ing-provided-example-single-message.txt"


def ing_cut_after(marker: bytes) -> bytes:
    """The ING sample up to and including the first occurrence of `marker`: a file cut short there."""
    raw = (TESTDATA / ING_SAMPLE).read_bytes()
    return raw[: raw.index(marker) + len(marker)]


# The ING sample's :61: lines are lines 6, 10, 13, ... (its SWIFT header block is line 1).
@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        # D300,00 cut to D3: the library read it as a 3.00 debit.
        (
            ing_cut_after(b":61:1401030103D3"),
            10,
            mt940_module.ENTRY_AMOUNT_INVALID.format(amount="3", data="1401030103D3"),
        ),
        (
            ing_cut_after(b":61:1401030103D300"),
            10,
            mt940_module.ENTRY_AMOUNT_INVALID.format(amount="300", data="1401030103D300"),
        ),
        (ing_cut_after(b":61:1401030103D"), 6, mt940_module.ENTRY_AMOUNT_INVALID.format(amount="", data="1401030103D")),
        (ing_cut_after(b":61:1401030103"), 6, mt940_module.ENTRY_START_INVALID.format(data="1401030103")),
        (
            ing_cut_after(b":61:1401030103D300,00NT"),
            10,
            mt940_module.ENTRY_TYPE_MISSING.format(amount="300,00", data="1401030103D300,00NT"),
        ),
        # Not cut but garbled in the middle of the file: the decimal comma lost.
        (
            (TESTDATA / ING_SAMPLE).read_bytes().replace(b"D300,00NTRFPREF", b"D30000NTRFPREF"),
            10,
            mt940_module.ENTRY_AMOUNT_INVALID.format(amount="30000", data="1401030103D30000NTRFPREF//00000000000002"),
        ),
    ],
    ids=["cut-in-amount", "cut-before-comma", "cut-after-mark", "cut-in-date", "cut-in-type", "comma-lost"],
)
def test_mt940_entry_line_without_a_whole_swift_amount_and_type_is_refused_by_line(
    content: bytes, line: int, message: str
) -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.details == {f"line {line} (:61:)": [message]}


def test_mt940_entry_line_ending_at_its_transaction_type_is_read() -> None:
    # The Raiffeisen export ends every :61: at the type ("N527"), without the customer reference.
    parsed = parse_statement_file(io.BytesIO(ing_cut_after(b":61:1401030103D300,00NTRF") + b"\r\n"))
    assert [(e.direction, e.amount) for e in parsed.entries] == [("debit", 1500), ("debit", 30000)]


def test_mt940_statement_without_a_closing_balance_is_read_with_a_warning() -> None:
    raw = (TESTDATA / ING_SAMPLE).read_bytes()
    parsed = parse_statement_file(io.BytesIO(raw[: raw.index(b":62F:")]))
    assert len(parsed.entries) == 9
    assert parsed.statements[0].closing is None
    assert parsed.warnings == [mt940_module.WARN_NO_CLOSING.format(statement="P140104000009999/3")]
    assert balance_check(parsed.statements[0]).balanced is None
    assert parse(ING_SAMPLE).warnings == []  # the whole file has its :62F:


def test_mt940_without_any_statement_is_refused() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(b"{1:F01X}{2:I940X}{4:\n:21:nothing\n-}"), format="mt940")
    assert caught.value.message == mt940_module.NO_STATEMENT


# --- CSV -------------------------------------------------------------------------------------------

CSV_HEADER = (
    "booking_date,value_date,amount,currency,counterparty_name,counterparty_account,"
    "remittance_text,bank_transaction_id,bank_account\n"
)


def test_csv_signed_amounts_and_direction_column() -> None:
    content = (
        CSV_HEADER
        + "2026-10-12,2026-10-13,-1234.56,EUR,Nordic Fasteners AB,SE45 5000 0000 0583 9825 7466,"
        + "INV-1001,T1,NL91ABNA0417164300\n"
        + "2026-10-12,,250.00,EUR,Customer Ltd,,Refund,T2,NL91ABNA0417164300\n"
    ).encode()
    parsed = parse_statement_file(io.BytesIO(content))
    assert parsed.format == "csv"
    assert amounts(parsed) == [("debit", 123456, "EUR"), ("credit", 25000, "EUR")]
    assert [e.bank_transaction_id for e in parsed.entries] == ["T1", "T2"]
    assert balance_check(parsed.statements[0]).balanced is None

    with_direction = (
        b"booking_date,amount,direction,currency,bank_transaction_id,bank_account\n"
        b"2026-10-12,99.95,debit,EUR,T9,NL91ABNA0417164300\n"
    )
    assert amounts(parse_statement_file(io.BytesIO(with_direction))) == [("debit", 9995, "EUR")]


def test_csv_lists_every_problem_by_row_and_column() -> None:
    content = (
        CSV_HEADER
        + "12/10/2026,,1.234,EUR,,,,T1,NL91\n"  # US date; 1.234 has three decimals
        + "2026-10-12,,1e3,XXX,,,,T2,NL91\n"
        + "2026-10-12,,10.00,EUR,,,,T1,NL91\n"
        + "2026-10-12,,10.00,EUR,,,,T1,NL91\n"  # T1 again for the same account
    ).encode()
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content), format="csv")
    details = caught.value.details
    assert details["row 2, column booking_date"] == [csv_rows.NOT_A_DATE.format(value="12/10/2026")]
    assert details["row 2, column amount"] == ["1.234 has more decimals than EUR allows (2)."]
    assert details["row 3, column amount"] == [csv_rows.NOT_A_DECIMAL.format(value="1e3")]
    assert "row 3, column currency" in details
    assert details["row 5, column bank_transaction_id"] == [csv_rows.REPEATED_ID.format(value="T1", first_row=4)]


# One account written two ways (payments.accounts.normalize_account keys it as it is hashed and stored).
ONE_ACCOUNT_TWO_WAYS = (
    CSV_HEADER
    + "2026-10-12,,10.00,EUR,,,,T1,NL91 ABNA 0417 1643 00\n"
    + "2026-10-12,,20.00,EUR,,,,{second_id},nl91\u00a0abna\u00a00417164300\t\n"
)


def test_csv_rows_of_one_account_written_differently_are_one_statement() -> None:
    parsed = parse_statement_file(io.BytesIO(ONE_ACCOUNT_TWO_WAYS.format(second_id="T2").encode()), format="csv")
    assert [len(statement.entries) for statement in parsed.statements] == [2]


def test_csv_repeats_an_id_across_spellings_of_one_account() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(ONE_ACCOUNT_TWO_WAYS.format(second_id="T1").encode()), format="csv")
    assert caught.value.details["row 3, column bank_transaction_id"] == [
        csv_rows.REPEATED_ID.format(value="T1", first_row=2)
    ]


def test_csv_unknown_and_missing_columns() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(b"booking_date,amout,currency\n2026-10-12,1,EUR\n"), format="csv")
    problems = caught.value.details["file"]
    assert csv_rows.COLUMN_UNKNOWN.format(name="amout", expected=", ".join(csv_rows.COLUMNS)) in problems
    assert csv_rows.COLUMN_MISSING.format(name="amount") in problems
    assert csv_rows.COLUMN_MISSING.format(name="bank_account") in problems


def test_format_detection() -> None:
    assert detect_format(io.BytesIO((TESTDATA / "camt053.v8.xml").read_bytes())) == "camt053"
    assert detect_format(io.BytesIO((TESTDATA / "abnamro.sta").read_bytes())) == "mt940"
    assert detect_format(io.BytesIO(CSV_HEADER.encode())) == "csv"


def test_camt053_pending_entries_are_not_payments() -> None:
    content = (TESTDATA / "test-camt053-txdtls.xml").read_bytes().replace(b"<Sts>BOOK</Sts>", b"<Sts>PDNG</Sts>")
    parsed = parse_statement_file(io.BytesIO(content))
    assert parsed.entries == []
    assert parsed.warnings == [camt_module.WARN_NOT_BOOKED.format(statement=1, entry=1, status="PDNG")]


def test_camt053_batch_whose_parts_do_not_add_up_stays_one_payment() -> None:
    content = (
        (TESTDATA / "test-camt053-txdtls.xml")
        .read_bytes()
        .replace(b'<Amt Ccy="CHF">1296.00</Amt>', b'<Amt Ccy="CHF">1295.00</Amt>')
    )
    parsed = parse_statement_file(io.BytesIO(content))
    assert amounts(parsed) == [("credit", 348300, "CHF")]
    assert parsed.entries[0].bank_transaction_id == "20170323001234567891234567891234"  # the entry's AcctSvcrRef
    assert parsed.entries[0].remittance_text == "302388292000011111111111111\n302388292000022222222222222"
    assert parsed.warnings == [camt_module.WARN_BATCH_NOT_SPLIT.format(statement=1, entry=1, count=2)]


def test_masked_accounts_keep_the_last_four_digits() -> None:
    parsed = parse("ming-ing-provided-example-single-message.txt")
    assert balance_check(parsed.statements[0]).account == "****4567"  # not "****7EUR"


def test_camt053_problems_are_listed_by_statement_and_entry() -> None:
    content = (
        (TESTDATA / "camt053.v2.multi.statement.xml")
        .read_bytes()
        .replace(b"<CdtDbtInd>DBIT</CdtDbtInd>", b"<CdtDbtInd>DEBIT</CdtDbtInd>", 1)
        .replace(b'<Amt Ccy="EUR">8.85</Amt>', b'<Amt Ccy="EUR">0.00</Amt>')
    )
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.details == {
        "statement 1, entry 1": [camt_module.ZERO_AMOUNT],
        "statement 2, entry 1": [camt_module.BAD_INDICATOR.format(value="DEBIT")],
    }


def test_csv_direction_rules() -> None:
    content = (
        b"booking_date,amount,direction,currency,bank_transaction_id,bank_account\n"
        b"2026-10-12,-5.00,debit,EUR,T1,NL91\n"
        b"2026-10-12,5.00,outgoing,EUR,T2,NL91\n"
        b"2026-10-12,0.00,credit,EUR,T3,NL91\n"
    )
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(io.BytesIO(content))
    assert caught.value.details == {
        "row 2, column amount": [csv_rows.SIGNED_WITH_DIRECTION.format(value="-5.00")],
        "row 3, column direction": [csv_rows.BAD_DIRECTION.format(value="outgoing")],
        "row 4, column amount": [csv_rows.ZERO_AMOUNT],
    }
