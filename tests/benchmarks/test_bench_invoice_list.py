"""`manage.py bench_invoice_list`, in a small bounded form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Tenant

FIGURES = (
    r"Database: \S+",
    r"Fixture: 300 invoices, \d+ POs, 6 vendors; built, matched, vacuumed and analyzed in [\d.]+ s \(not counted\)",
    r"Statuses: .*Approved \d+.*Pending review \d+",
    r"Role: \S+; row-level security",
    r"min +median +p95 +of SQL +SQL +query",
    r"Budget 150 ms \(p95\) per page: met by \d+ of 24",
)
SORTS = ("number", "vendor", "invoice_date", "amount", "status", "received")


def _rows(report: str) -> dict[str, str]:
    """The report's table: each case's line by its label."""
    return {
        line[2:36].strip(): line
        for line in report.splitlines()
        if line.startswith("  ") and not line.startswith("  case") and not line.startswith("  …")
    }


# VACUUM runs outside a transaction: the test cannot be one.
@pytest.mark.django_db(transaction=True)
def test_the_bench_asks_every_page_sort_filter_and_export_and_reports_the_figures() -> None:
    out = StringIO()

    call_command("bench_invoice_list", invoices=300, vendors=6, repeat=2, stdout=out)

    report = out.getvalue()
    for figure in FIGURES:
        assert re.search(figure, report), f"{figure!r} missing from:\n{report}"
    [bench] = Tenant.objects.filter(slug__startswith="bench-")
    invoices = Invoice.objects.for_tenant(bench)
    # Matched through the real path: nothing is left waiting, and the list has states to filter by.
    assert not invoices.filter(status=InvoiceStatus.RECEIVED).exists()
    pending = invoices.filter(status=InvoiceStatus.PENDING_REVIEW).count()
    assert pending
    rows = _rows(report)
    assert len(rows) == 26, rows
    # min, median, p95, of SQL, then the number of queries and the query string.
    timed = re.compile(r" [\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +(\d+)  (\S*)$")
    for label, line in rows.items():
        figures = timed.search(line)
        assert figures, line
        # A page reads in a fixed number of queries: session, user, two membership reads, the
        # header's unread notifications, the count, the page's ids, their rows, vendors, the
        # members of the "Assigned to" filter, the review service level (the rows' lateness),
        # saved views. An export: no layout, no page, so 5; the XLSX counts its rows first (past
        # EXPORT_SYNC_MAX_ROWS a worker writes it), so 6.
        # An empty page (the fixture offers no early-payment discounts) reads no rows and no lateness.
        expected = 6 if label.startswith("export XLSX") else 5 if label.startswith("export") else 12
        if " 0 of 0 " in line:
            expected = 10
        assert int(figures.group(1)) == expected, line
    assert re.search(r"\s50 of 300\s", rows["first page (newest first)"])
    assert re.search(r"\s50 of 300\s", rows["last page (6)"])  # 300 = 6 full pages of 50
    assert re.search(rf"\s{min(pending, 50)} of {pending}\s", rows["filter: status pending review"])
    for key in SORTS:
        assert any(line.rstrip().endswith(f"sort={key}") for line in rows.values()), key
        assert any(line.rstrip().endswith(f"sort=-{key}") for line in rows.values()), key
    csv_rows = int(rows["export CSV, invoice dates"].split()[4])
    assert csv_rows >= 300 // 20
    assert rows["export XLSX, invoice dates"].split()[4] == str(csv_rows)  # the same list, both files
    assert not bench.is_active  # out of the scheduler's way without --keep


@pytest.mark.django_db
def test_a_size_too_small_to_measure_is_refused() -> None:
    with pytest.raises(CommandError, match="--invoices must be at least 20"):
        call_command("bench_invoice_list", invoices=5, stdout=StringIO())
