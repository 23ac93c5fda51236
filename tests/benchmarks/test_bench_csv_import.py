"""`manage.py bench_csv_import`, in its short form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from invoices.models import Invoice
from tenants.models import Tenant


def test_the_import_benchmark_runs_in_its_short_form(capsys: pytest.CaptureFixture[str], db: None) -> None:
    """`bench_csv_import` (README figures) on 45 rows: 5 invoices of up to 10 lines, all created."""
    call_command("bench_csv_import", rows=45, lines_per_invoice=10)
    out = capsys.readouterr().out
    assert "file: 45 rows, 5 invoices of up to 10 lines" in out
    assert "created: 5 invoices, 45 rows read" in out
    assert "rows/s" in out and "peak RSS" in out and "× COPY" in out and "CPU: this process" in out
    tenant = Tenant.objects.get(slug__startswith="bench-csv-")
    invoices = Invoice.objects.for_tenant(tenant)
    assert invoices.count() == 5 and sum(invoice.lines.count() for invoice in invoices) == 45
