"""Statement import end to end: POST /api/payments/import, the service, the command, the stored rows."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.http.uploads import UPLOAD_TOO_LARGE
from core.problems import MAX_PROBLEMS_REPORTED, PROBLEMS_TRUNCATED
from core.tenancy.rls import tenant_scope
from core.text import NUL_IN_FILE
from payments.accounts import account_hash
from payments.apis import FORMAT_INVALID
from payments.models import Payment, StatementImport
from payments.selectors import payment_list_by_bank_account, payment_list_by_counterparty_account
from payments.services import WARN_ALREADY_IMPORTED, statement_import
from payments.statements import camt053 as camt_module
from payments.statements import csv_rows as csv_rows_module
from payments.statements import mt940_swift as mt940_module
from tenants.models import Tenant
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR

TESTDATA = Path(__file__).resolve().parent / "testdata"
IMPORT = "/api/payments/import"


def upload(client: APIClient, name: str, content: bytes | None = None, *, query: str = "", **headers: str) -> Any:
    handle = io.BytesIO(content if content is not None else (TESTDATA / name).read_bytes())
    handle.name = name
    return client.post(IMPORT + query, {"file": handle}, format="multipart", **headers)


def counts(tenant: Tenant | None = None) -> tuple[int, int, int]:
    def of(model: Any) -> int:
        manager = model.objects
        return (manager.for_tenant(tenant) if tenant else manager.unscoped()).count()

    return of(Payment), of(StatementImport), of(AuditEvent)


# --- imports through the API ---------------------------------------------------------------------


def test_camt053_import_stores_every_transaction_and_reports_the_balance(api: APIClient, tenant: Tenant) -> None:
    response = upload(api, "test-camt053.xml")
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["format"], report["statements"], report["entries"]) == ("camt053", 1, 4)
    assert (report["created"], report["duplicates"]) == (4, 0)
    check = report["balance_checks"][0]
    assert (check["balanced"], check["computed_closing"], check["closing"]) == (False, "15555.28", "15121.12")
    assert any(warning.startswith("Statement 1234Test/1: Opening balance 15568.27") for warning in report["warnings"])

    stored = Payment.objects.for_tenant(tenant).order_by("amount")
    assert [(p.direction, p.amount, p.currency) for p in stored] == [
        ("debit", 10000, "EUR"),
        ("debit", 56405, "EUR"),
        ("debit", 75425, "EUR"),
        ("credit", 140531, "EUR"),
    ]
    assert {p.statement_import_id for p in stored} == {StatementImport.objects.for_tenant(tenant).get().pk}
    assert {p.status for p in stored} == {"unmatched"}

    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="statement_import")
    assert event.action == "imported"
    assert (event.after["created"], event.after["duplicates"], event.after["entries"]) == (4, 0, 4)
    assert event.after["unbalanced_statements"] == ["1234Test/1"]


def test_reimporting_the_same_statement_adds_nothing(api: APIClient, tenant: Tenant) -> None:
    first = upload(api, "sepa_mt9401.sta").json()
    assert (first["statements"], first["entries"], first["created"]) == (26, 97, 97)
    again = upload(api, "sepa_mt9401.sta")
    assert again.status_code == 201
    report = again.json()
    assert (report["created"], report["duplicates"]) == (0, 97)
    assert report["previous_import_ids"] == [first["import_id"]]
    assert report["warnings"][0] == WARN_ALREADY_IMPORTED.format(import_id=first["import_id"])
    assert Payment.objects.for_tenant(tenant).count() == 97
    assert seal(tenant).unsealed == 0
    call_command("verify_audit", "--tenant", tenant.slug, stdout=io.StringIO())  # raises if the chain broke


@pytest.mark.parametrize(
    ("name", "statements", "entries"),
    [
        ("MT940_DK_Example.sta", 15, 89),
        ("ming-ing-provided-example-single-message.txt", 1, 9),
        ("raiffeisen-cmi.sta", 1, 7),
        ("abnamro.sta", 2, 10),
        ("test-camt053-txdtls.xml", 1, 2),
        ("camt053.v2.multi.statement.xml", 2, 2),
        ("camt053.v8.xml", 1, 1),
    ],
)
def test_every_sample_imports_whole_and_twice_adds_nothing(
    api: APIClient, tenant: Tenant, name: str, statements: int, entries: int
) -> None:
    report = upload(api, name).json()
    assert (report["statements"], report["entries"], report["created"]) == (statements, entries, entries)
    assert Payment.objects.for_tenant(tenant).count() == entries
    assert upload(api, name).json()["created"] == 0
    assert Payment.objects.for_tenant(tenant).count() == entries


def test_the_cp852_file_is_stored_with_its_letters(api: APIClient, tenant: Tenant) -> None:
    report = upload(api, "raiffeisen-cmi.sta").json()
    assert report["encoding"] == "cp852"
    assert mt940_module.WARN_ENCODING.format(encoding="cp852") in report["warnings"]
    credit = Payment.objects.for_tenant(tenant).get(direction="credit")
    assert credit.amount == 206663700 and credit.currency == "HUF"
    assert "összevont utánvét" in credit.remittance_text


def test_both_non_balancing_camt_fixtures_are_reported(api: APIClient) -> None:
    v8 = upload(api, "camt053.v8.xml").json()["balance_checks"]
    assert [(c["balanced"], c["problem"]) for c in v8] == [
        (False, "The closing balance is in SEK, the opening balance in EUR; they cannot be compared.")
    ]
    v02 = upload(api, "test-camt053.xml").json()["balance_checks"]
    assert [c["balanced"] for c in v02] == [False]
    balanced = upload(api, "camt053.v2.multi.statement.xml").json()["balance_checks"]
    assert [c["balanced"] for c in balanced] == [True, True]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ((TESTDATA / "test-camt053.xml").read_bytes()[:3000], camt_module.NOT_XML.split("{")[0]),
        (b":20:X\n:25:NL91\n:60F:C260101EUR1,00\n:61:not an entry\n", "The statement file has 1 problem(s)"),
        (b"\x00\x01garbage that is no statement at all", "Cannot tell the statement format"),
    ],
    ids=["truncated-xml", "garbage-mt940", "garbage"],
)
def test_a_malformed_file_is_a_400_and_writes_nothing(
    api: APIClient, tenant: Tenant, content: bytes, message: str
) -> None:
    before = counts()
    response = upload(api, "bad.sta", content)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "statement_invalid"
    assert error["message"].startswith(message)
    assert counts() == before


def test_mt940_entry_cut_inside_its_amount_is_a_400_naming_the_line_and_nothing_is_stored(
    api: APIClient, tenant: Tenant
) -> None:
    # The ING sample cut inside its second :61: amount (D300,00): once stored as a 3.00 debit.
    raw = (TESTDATA / "ming-ing-provided-example-single-message.txt").read_bytes()
    cut = raw[: raw.index(b":61:1401030103D3") + len(b":61:1401030103D3")]
    before = counts()
    response = upload(api, "cut.sta", cut)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "statement_invalid"
    assert error["details"] == {
        "line 10 (:61:)": [mt940_module.ENTRY_AMOUNT_INVALID.format(amount="3", data="1401030103D3")]
    }
    assert counts() == before
    assert not Payment.objects.for_tenant(tenant).filter(amount=300).exists()


def test_mt940_statement_without_a_closing_balance_is_imported_with_a_warning(api: APIClient, tenant: Tenant) -> None:
    raw = (TESTDATA / "ming-ing-provided-example-single-message.txt").read_bytes()
    response = upload(api, "no-closing.sta", raw[: raw.index(b":62F:")])
    assert response.status_code == 201, response.content
    report = response.json()
    assert (report["entries"], report["created"]) == (9, 9)
    assert mt940_module.WARN_NO_CLOSING.format(statement="P140104000009999/3") in report["warnings"]
    assert [(check["closing"], check["balanced"]) for check in report["balance_checks"]] == [(None, None)]
    assert Payment.objects.for_tenant(tenant).count() == 9


def test_a_dry_run_reports_and_writes_nothing(api: APIClient) -> None:
    before = counts()
    response = upload(api, "test-camt053-txdtls.xml", query="?dry_run=true")
    assert response.status_code == 200
    report = response.json()
    assert (report["dry_run"], report["created"], report["import_id"]) == (True, 2, None)
    assert counts() == before


def test_raw_body_and_explicit_format(api: APIClient, tenant: Tenant) -> None:
    content = (TESTDATA / "abnamro.sta").read_bytes()
    response = api.generic("POST", IMPORT + "?statement_format=mt940", content, content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 10
    wrong = api.generic("POST", IMPORT + "?statement_format=camt053", content, content_type="application/octet-stream")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "statement_invalid"
    unknown = api.generic("POST", IMPORT + "?statement_format=ofx", content, content_type="application/octet-stream")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == FORMAT_INVALID.format(formats="camt053, csv, mt940")


def test_the_size_limit_is_a_413(api: APIClient, settings: Any) -> None:
    settings.PAYMENT_STATEMENT_MAX_BYTES = 1000
    response = upload(api, "test-camt053.xml")
    assert response.status_code == 413
    assert response.json()["error"]["message"] == UPLOAD_TOO_LARGE.format(
        limit=1000, setting="PAYMENT_STATEMENT_MAX_BYTES"
    )


def test_idempotency_key_replays_the_report(api: APIClient, tenant: Tenant) -> None:
    first = upload(api, "camt053.v8.xml", HTTP_IDEMPOTENCY_KEY="stmt-1")
    replay = upload(api, "camt053.v8.xml", HTTP_IDEMPOTENCY_KEY="stmt-1")
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert StatementImport.objects.for_tenant(tenant).count() == 1


# --- stored data ---------------------------------------------------------------------------------


def test_account_numbers_are_stored_encrypted_and_found_by_hash(api: APIClient, tenant: Tenant) -> None:
    upload(api, "test-camt053-txdtls.xml")
    with tenant_scope(tenant), connection.cursor() as cursor:  # raw SQL: RLS needs the tenant
        cursor.execute(
            "SELECT bank_account_encrypted, counterparty_account_encrypted, counterparty_account_hash "
            "FROM payments_payment WHERE tenant_id = %s",
            [tenant.pk],
        )
        rows = cursor.fetchall()
    assert len(rows) == 2
    for bank_column, counterparty_column, hash_column in rows:
        assert "CH1111000000123456789" not in bank_column
        assert "123456789" not in counterparty_column
        assert len(hash_column) == 64
    found = payment_list_by_counterparty_account(tenant=tenant, account="CH33 3300 0000 1234 5678 9")
    assert [p.amount for p in found] == [129600]
    assert payment_list_by_bank_account(tenant=tenant, account="ch1111000000123456789").count() == 2
    assert account_hash("CH1111000000123456789") != account_hash("CH2222000000123456789")


# --- tenants -------------------------------------------------------------------------------------


def test_same_transaction_ids_in_two_tenants_are_both_stored(
    api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    assert upload(api, "ming-ing-provided-example-single-message.txt").json()["created"] == 9
    foreign = upload(foreign_api, "ming-ing-provided-example-single-message.txt").json()
    assert (foreign["created"], foreign["duplicates"], foreign["previous_import_ids"]) == (9, 0, [])
    ours = set(Payment.objects.for_tenant(tenant).values_list("bank_transaction_id", flat=True))
    theirs = set(Payment.objects.for_tenant(other_tenant).values_list("bank_transaction_id", flat=True))
    assert ours == theirs and len(ours) == 9


# --- the service and the command -----------------------------------------------------------------


def test_service_takes_bytes_and_a_format(tenant: Tenant) -> None:
    content = (
        b"booking_date,amount,currency,bank_transaction_id,bank_account,counterparty_name\n"
        b"2026-10-12,-4398.00,EUR,T-1,NL91ABNA0417164300,ALPHA Supplies Ltd\n"
    )
    report = statement_import(tenant=tenant, binary=content, filename="x.csv", actor=TEST_ACTOR, format="csv")
    assert (report.created, report.balance_checks[0]["balanced"]) == (1, None)
    payment = Payment.objects.for_tenant(tenant).get()
    assert (payment.direction, payment.amount, payment.bank_transaction_id) == ("debit", 439800, "T-1")


def test_import_statement_command(tenant: Tenant, capsys: Any) -> None:
    call_command("import_statement", str(TESTDATA / "camt053.v2.multi.statement.xml"), tenant=tenant.slug, dry_run=True)
    assert '"created": 2' in capsys.readouterr().out
    assert Payment.objects.for_tenant(tenant).count() == 0
    call_command("import_statement", str(TESTDATA / "camt053.v2.multi.statement.xml"), tenant=tenant.slug)
    assert Payment.objects.for_tenant(tenant).count() == 2
    with pytest.raises(CommandError):
        call_command("import_statement", str(TESTDATA / "README.md"), tenant=tenant.slug)


# --- what PostgreSQL cannot store, and files wrong on every row ----------------------------------

STATEMENT_CSV_HEADER = "booking_date,amount,currency,bank_transaction_id,bank_account,remittance_text\n"


def _ing_with_nul() -> bytes:
    raw = (TESTDATA / "ming-ing-provided-example-single-message.txt").read_bytes()
    return raw.replace(b"/TOTAAL 2 VZ/", b"/TOTAAL\x00 2 VZ/", 1)


@pytest.mark.parametrize(
    ("name", "content", "location"),
    [
        (
            "statement.csv",
            (
                STATEMENT_CSV_HEADER + "2026-10-20,-25.00,EUR,T-1,DE89370400440532013000,NF-1\n"
                "2026-10-20,-30.00,EUR,T-2,DE89370400440532013000,NF\x00-2\n"
            ).encode(),
            "line 3",
        ),
        ("ing.sta", _ing_with_nul(), "line 12"),
        ("utf16.csv", (STATEMENT_CSV_HEADER + "2026-10-20,-25.00,EUR,T-1,DE89,x\n").encode("utf-16"), "line 1"),
    ],
    ids=["csv", "mt940", "csv-in-utf-16"],
)
def test_nul_byte_in_a_statement_is_a_400_naming_its_line_and_nothing_is_stored(
    api: APIClient, tenant: Tenant, name: str, content: bytes, location: str
) -> None:
    """Refused before a parser sees the file: PostgreSQL cannot store U+0000 (once a 500)."""
    before = counts()
    response = upload(api, name, content, query="?statement_format=" + ("mt940" if name.endswith(".sta") else "csv"))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "statement_invalid"
    assert next(iter(error["details"]), None) == location
    assert error["details"][location] == [NUL_IN_FILE]
    assert counts() == before


@pytest.mark.parametrize(
    ("name", "content", "location", "message"),
    [
        (
            "statement.csv",
            (STATEMENT_CSV_HEADER + "2026-10-20,-١٠.00,EUR,T-1,DE89370400440532013000,x\n").encode(),
            "row 2, column amount",
            csv_rows_module.NOT_A_DECIMAL.format(value="-١٠.00"),
        ),
        (
            "statement.sta",
            (
                ":20:S1\n:25:NL91ABNA0417164300\n:28C:1/1\n:60F:C260101EUR100,00\n"
                ":61:2601010101D１０,00NTRFREF\n:86:x\n:62F:C260101EUR90,00\n-\n"
            ).encode(),
            "line 5 (:61:)",
            mt940_module.ENTRY_AMOUNT_INVALID.format(amount="", data="2601010101D１０,00NTRFREF"),
        ),
    ],
    ids=["csv-arabic-indic", "mt940-full-width"],
)
def test_an_amount_in_other_than_ascii_digits_is_a_400_naming_it_and_nothing_is_stored(
    api: APIClient, name: str, content: bytes, location: str, message: str
) -> None:
    """Decimal() reads "١٠" and "１０" as 10: once stored as a 10.00 payment nobody wrote."""
    before = counts()
    response = upload(api, name, content)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"] == {location: [message]}
    assert counts() == before


@pytest.mark.parametrize("nul", [b"\x00", b"&#0;"], ids=["byte", "character-reference"])
def test_nul_in_a_camt053_file_is_a_400_and_nothing_is_stored(api: APIClient, nul: bytes) -> None:
    """XML forbids U+0000 in any form; the XML parser's refusal is the statement's 400."""
    content = (TESTDATA / "test-camt053.xml").read_bytes().replace(b"<Ustrd>", b"<Ustrd>" + nul, 1)
    assert nul in content
    before = counts()
    response = upload(api, "camt.xml", content)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith(camt_module.NOT_XML.split("{")[0])
    assert counts() == before


def test_a_statement_csv_wrong_on_every_row_answers_with_the_first_1000_problems(api: APIClient) -> None:
    rows = "".join(f"2026-10-20,x,EUR,T-{n},DE89370400440532013000,\n" for n in range(50_000))
    before = counts()
    response = upload(api, "bad.csv", (STATEMENT_CSV_HEADER + rows).encode())
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["message"] == PROBLEMS_TRUNCATED.format(found=MAX_PROBLEMS_REPORTED + 1, listed=MAX_PROBLEMS_REPORTED)
    details = error["details"]
    assert (details.pop("truncated"), details.pop("problems_listed"), details.pop("problems_found_at_least")) == (
        True,
        MAX_PROBLEMS_REPORTED,
        MAX_PROBLEMS_REPORTED + 1,
    )
    assert list(details) == [f"row {row}, column amount" for row in range(2, MAX_PROBLEMS_REPORTED + 2)]
    assert len(response.content) < 250_000
    assert counts() == before


def test_an_mt940_with_more_bad_entries_than_the_cap_lists_the_first_1000(api: APIClient) -> None:
    """The MT940 reader collects every problem; the statement entry point cuts the report."""
    entries = "".join(f":61:1401030103D0,00NTRFREF{n}//B{n}\n:86:zero\n" for n in range(1_500))
    content = f":20:STMT\n:25:NL20INGB0001234567\n:28C:1\n:60F:C140102EUR0,00\n{entries}:62F:C140103EUR0,00\n"
    before = counts()
    response = upload(api, "zero.sta", content.encode())
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    details = error["details"]
    assert details["truncated"] is True and details["problems_listed"] == MAX_PROBLEMS_REPORTED
    assert details["problems_found_at_least"] >= 1_500
    listed = [message for messages in details.values() if isinstance(messages, list) for message in messages]
    assert len(listed) == MAX_PROBLEMS_REPORTED
    assert error["message"].startswith("The file has at least")
    assert counts() == before


def test_the_import_command_reports_a_truncated_statement(tmp_path: Path, tenant: Tenant) -> None:
    bad = tmp_path / "bad.csv"
    rows = "".join(f"2026-10-20,x,EUR,T-{n},DE89370400440532013000,\n" for n in range(1_500))
    bad.write_text(STATEMENT_CSV_HEADER + rows)
    err = io.StringIO()
    with pytest.raises(CommandError, match=f"at least {MAX_PROBLEMS_REPORTED + 1} problems"):
        call_command("import_statement", str(bad), tenant=tenant.slug, stderr=err)
    assert err.getvalue().count("column amount") == MAX_PROBLEMS_REPORTED
    assert counts(tenant) == (0, 0, 0)
