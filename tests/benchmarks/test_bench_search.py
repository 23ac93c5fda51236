"""`manage.py bench_search`, in a small bounded form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from tenants.models import Tenant

FIGURES = (
    r"Database: \S+",
    r"Fixture: 40 invoices, \d+ POs, 5 vendors; built, vacuumed and analyzed in [\d.]+ s \(not counted\)",
    r"Role: \S+; row-level security",
    r"p50 +max +of SQL +SQL",
    r"All 28 searches: p50 [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms",
    r"Budget 150 ms \(p95\): (met|NOT met)",
)


# VACUUM runs outside a transaction: the test cannot be one.
@pytest.mark.django_db(transaction=True)
def test_the_bench_searches_its_tenant_and_reports_the_figures() -> None:
    out = StringIO()

    call_command("bench_search", invoices=40, vendors=5, repeat=2, stdout=out)

    report = out.getvalue()
    for figure in FIGURES:
        assert re.search(figure, report), f"{figure!r} missing from:\n{report}"
    rows = {line[2:36].strip(): line for line in report.splitlines() if line.startswith("  ") and "'" in line}
    assert len(rows) == 14
    printed = rows["invoice number, as printed"]
    typed = re.search(r"'([^']+)'", printed).group(1)  # type: ignore[union-attr]
    assert re.search(rf"\s1 {re.escape(typed)}\s", printed), printed  # found itself, first
    assert re.search(r"\s0 —\s", rows["nothing matches"])
    assert all(re.search(r"'\s+[1-8] ", line) for label, line in rows.items() if label != "nothing matches"), rows
    assert all(line.rstrip().endswith(" 5") for line in rows.values())  # membership (2) + the 3 searches
    [bench] = Tenant.objects.filter(slug__startswith="bench-")
    assert not bench.is_active  # out of the scheduler's way without --keep
