"""The bank's return reason, read from the real statement files (payments.statements): CAMT.053
`RtrInf/Rsn/Cd` and ING's MT940 `/RTRN/` beside the EndToEndId (`/EREF/`)."""

from __future__ import annotations

from pathlib import Path

from payments.statements import parse_statement_file

TESTDATA = Path(__file__).resolve().parent / "testdata"


def _entries(name: str) -> list:  # type: ignore[type-arg]
    with (TESTDATA / name).open("rb") as binary:
        return parse_statement_file(binary).entries


def test_camt053_return_information_gives_each_transaction_its_reason() -> None:
    returned = [
        (entry.end_to_end_id, entry.return_reason) for entry in _entries("test-camt053.xml") if entry.return_reason
    ]
    assert returned == [
        ("TESTBANK/NL/20141229/01206408", "AC06"),
        ("TESTBANK/NL/20141229/01206407", "AC06"),
    ]


def test_ing_mt940_rtrn_gives_the_reason_beside_the_end_to_end_id() -> None:
    entries = _entries("ming-ing-provided-example-single-message.txt")
    returned = [(entry.end_to_end_id, entry.return_reason) for entry in entries if entry.return_reason]
    # A returned direct debit (MD06), and a returned credit transfer (AC04) that carries no
    # /EREF/: the reason is read, but without an EndToEndId no run's transfer can be named.
    assert returned == [("E2E20140103545", "MD06"), ("", "AC04")]
