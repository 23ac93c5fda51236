"""`manage.py bench_matching`, in a small bounded form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Tenant
from tests.factories import InvoiceLineFactory

FIGURES = (
    r"Database: \S+",
    r"built in [\d.]+ s \(not counted\)",
    r"Matched: 30 invoices, 90 lines in \d+ batches",
    r"[\d.]+ invoices/s, \d+ lines/s, [\d.]+ ms per invoice",
    r"p50 +p99 +max",
    r"load +\d+ +\d+ +\d+",
    r"SQL queries per batch: min \d+, max \d+",
    r"Peak RSS: [\d.]+ MB",
    r"CPU: this process [\d.]+ s, database server ([\d.]+ s|not measured)",
)


@pytest.mark.django_db
def test_the_bench_matches_its_whole_tenant_and_reports_the_figures(other_tenant: Tenant) -> None:
    waiting_elsewhere = InvoiceLineFactory(invoice__tenant=other_tenant).invoice
    out = StringIO()

    call_command("bench_matching", invoices=30, lines=3, stdout=out)

    report = out.getvalue()
    for figure in FIGURES:
        assert re.search(figure, report), f"{figure!r} missing from:\n{report}"
    [bench] = Tenant.objects.filter(slug__startswith="bench-")
    invoices = Invoice.objects.for_tenant(bench)
    assert invoices.count() == 30
    assert not invoices.filter(status=InvoiceStatus.RECEIVED).exists()
    # Every fault kind is in a 30-invoice mix, so every decision the engine can take is reached.
    assert set(invoices.values_list("status", flat=True)) == {"approved", "pending_review", "on_hold", "rejected"}
    assert not Tenant.objects.get(pk=bench.pk).is_active  # out of the scheduler's way without --keep
    # The bench matches its own tenant only.
    assert Invoice.objects.for_tenant(other_tenant).get(pk=waiting_elsewhere.pk).status == InvoiceStatus.RECEIVED
