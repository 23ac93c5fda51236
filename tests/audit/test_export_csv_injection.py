"""CSV formula injection: what people type is stored as they typed it; every CSV export escapes it.

Recon writes CSV for the auditor's report (`manage.py export_audit`) and the invoice list's export
(review/invoice_export.py, whose XLSX escapes its text cells the same way; its own tests are in
tests/review/test_invoice_export.py). `test_every_csv_writer_goes_through_csv_cell` keeps it that
way: a new CSV writer anywhere in the code base must escape its cells with `core.csv_safe.csv_cell`
(or be listed with the reason it writes no one's data).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from audit.services import audit_record
from core.actors import Actor
from core.csv_safe import csv_cell
from core.observability import request_id_var
from tenants.models import Role, Tenant
from tests.factories import MembershipFactory, UserFactory
from tests.tenant_matrix import TenantDocuments

pytestmark = pytest.mark.django_db

# Each character a spreadsheet may read as the start of a formula or a command (OWASP's list).
FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\0"]
HOSTILE = "cmd|' /C calc'!A0"
TEXT_COLUMNS = ["actor_id", "actor_label", "entity_type", "entity_id", "action", "request_id"]

# Modules that write CSV without csv_cell, each with the reason that is safe.
CSV_WRITERS_WITHOUT_ESCAPING = {
    "benchmarks/management/commands/bench_csv_import.py": (
        "writes a synthetic input file of generated numbers for the import benchmark, read back by "
        "our own importer (which would keep a ' prefix as data), never a report of stored data"
    ),
    "recon_site/demo/bank.py": (
        "writes the demo's bank statements from its own generated lines, imported by our own "
        "statement import (which would keep a ' prefix as data), never a report of stored data"
    ),
}
# Not scanned for CSV writers: tests, migrations, data and the virtualenv (and any dot directory).
SKIPPED_DIRECTORIES = {"tests", "migrations", "var", "node_modules", "artifacts", "__pycache__"}


@pytest.mark.parametrize("start", FORMULA_STARTS, ids=repr)
def test_a_cell_starting_like_a_formula_is_prefixed_with_a_quote(start: str) -> None:
    assert csv_cell(start + HOSTILE) == "'" + start + HOSTILE


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("Nova Parts", "Nova Parts"),
        ("a=b", "a=b"),  # only the first character makes a formula
        (" =x", " =x"),
        ("'quoted", "'quoted"),
        (None, ""),
        (42, "42"),
        (-5, "'-5"),  # a negative number as text: escaped like any leading '-'
    ],
)
def test_other_cells_are_written_as_they_are(value: Any, cell: str) -> None:
    assert csv_cell(value) == cell


def _export(tenant: Tenant, tmp_path: Path) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    day = dt.datetime.now(dt.UTC).date().isoformat()
    prefix = tmp_path / "report"
    call_command(
        "export_audit", "--tenant", tenant.slug, "--from", day, "--to", day, "--output", str(prefix), stdout=StringIO()
    )
    with open(f"{prefix}.csv", encoding="utf-8", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file))
    lines = [json.loads(line) for line in Path(f"{prefix}.jsonl").read_text(encoding="utf-8").splitlines()]
    return rows, lines


def _assert_no_cell_starts_a_formula(rows: list[dict[str, str]]) -> None:
    dangerous = [
        (row["sequence"], column, value)
        for row in rows
        for column, value in row.items()
        if value.startswith(tuple(FORMULA_STARTS))
    ]
    assert not dangerous, dangerous


# NUL cannot reach the export: PostgreSQL refuses it in text (the API refuses it first, see
# tests/api/test_bad_input_documents.py and _bodies.py); csv_cell's own test above covers it.
@pytest.mark.parametrize("start", [s for s in FORMULA_STARTS if s != "\0"], ids=repr)
def test_the_audit_export_escapes_every_text_column(start: str, tenant: Tenant, tmp_path: Path) -> None:
    """A hostile value in each text column comes out quoted in the CSV and unchanged in the JSON lines."""
    value = start + HOSTILE[: 64 - len(start) - 1]
    token = request_id_var.set(value)
    try:
        with transaction.atomic():
            audit_record(
                tenant=tenant,
                actor=Actor(kind="user", id=value, label=value),
                entity_type=value,
                entity_id=value,
                action=value,
                after={"name": value},
            )
    finally:
        request_id_var.reset(token)

    [row], [line] = _export(tenant, tmp_path)

    for column in TEXT_COLUMNS:
        assert row[column] == "'" + value, (column, row[column])
        assert line[column] == value, "the JSON lines keep the data as stored"
    assert json.loads(row["after"]) == {"name": value}  # a JSON object: starts with '{', safe as it is
    _assert_no_cell_starts_a_formula([row])


def test_the_audit_export_escapes_what_arrived_through_the_api_and_the_web_app(
    tenant: Tenant, tenant_a_documents: TenantDocuments, api: APIClient, tmp_path: Path
) -> None:
    """A vendor named like a formula, request ids starting with '-' (the id is echoed only if plain:
    letters, digits, `._:-`), a username starting with '@': stored as sent, quoted in the CSV."""
    vendor = api.post(
        "/api/vendors",
        data=json.dumps({"name": "=" + HOSTILE}),
        content_type="application/json",
        headers={"X-Request-Id": "-2.5:A1"},
    )
    assert vendor.status_code == 201 and vendor.json()["name"] == "=" + HOSTILE  # stored as text
    assert vendor["X-Request-Id"] == "-2.5:A1"

    # Django usernames may start with '@', '+' or '-'; the audit actor's label is the username.
    user = UserFactory(username="@SUM+1")
    MembershipFactory(tenant=tenant, user=user, role=Role.APPROVER)
    browser = Client()
    browser.force_login(user)
    invoice = tenant_a_documents.by_basename["invoice"]
    approved = browser.post(
        reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}),
        # Approving over its discrepancies confirms the match they came from (review.decisions).
        {
            "action": "approve",
            "comment": "+" + HOSTILE,
            "expected_status": invoice.status,
            "confirm_discrepancies": str(invoice.latest_match_id),
        },
        headers={"X-Request-Id": "-web:1"},
    )
    assert approved.status_code == 302, approved.content[:500]

    rows, lines = _export(tenant, tmp_path)

    by_request = {row["request_id"]: row for row in rows}
    assert "'-2.5:A1" in by_request and "'-web:1" in by_request, sorted(by_request)
    assert by_request["'-web:1"]["actor_label"] == "'@SUM+1"
    assert any(line["request_id"] == "-2.5:A1" for line in lines)
    assert any(line["actor_label"] == "@SUM+1" for line in lines)
    _assert_no_cell_starts_a_formula(rows)


def _check_csv_writer(path: Path, root: Path, writes_csv: re.Pattern[str], writers: set[str]) -> None:
    source = path.read_text(encoding="utf-8")
    if writes_csv.search(source):
        relative = path.relative_to(root).as_posix()
        writers.add(relative)
        if relative not in CSV_WRITERS_WITHOUT_ESCAPING:
            assert "csv_cell" in source, f"{relative} writes CSV without core.csv_safe.csv_cell"


def test_every_csv_writer_goes_through_csv_cell() -> None:
    """Every module that writes CSV escapes with csv_cell: one mechanism, so no export can forget it."""
    root = Path(settings.BASE_DIR)
    # A csv module writer, or a response (HttpResponse, StreamingHttpResponse, FileResponse) typed as CSV.
    writes_csv = re.compile(
        r"csv\.(writer|DictWriter)\(|content_type\s*=\s*[\"']text/csv|[\"']Content-Type[\"']\]\s*=\s*[\"']text/csv"
    )
    writers: set[str] = set()
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                _check_csv_writer(Path(directory) / name, root, writes_csv, writers)
    assert {"recon_site/management/commands/export_audit.py", "review/invoice_export.py"} <= writers, (
        "the scan finds the exports (non-vacuous)"
    )
    assert set(CSV_WRITERS_WITHOUT_ESCAPING) <= writers, "an exemption for a module that no longer writes CSV"
