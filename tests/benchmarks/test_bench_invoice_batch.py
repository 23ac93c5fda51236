"""`manage.py bench_invoice_batch`, in its short form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceLine, InvoiceSource
from tenants.models import IdempotencyRecord, Tenant


def test_the_batch_benchmark_runs_in_its_short_form(capsys: pytest.CaptureFixture[str], db: None) -> None:
    """2 requests of 7 documents of 3 lines: every document created, with its lines and audit event."""
    call_command("bench_invoice_batch", requests=2, documents=7, lines=3)
    out = capsys.readouterr().out
    assert "sent: 2 requests of 7 documents × 3 lines; created: 14 invoices, 42 lines" in out
    assert "lines/s" in out and "documents/s" in out
    tenant = Tenant.objects.get(slug__startswith="bench-batch-")
    invoices = Invoice.objects.for_tenant(tenant)
    assert invoices.count() == 14 and set(invoices.values_list("source", flat=True)) == {InvoiceSource.API}
    assert invoices.filter(vendor__isnull=True).count() == 0  # every vendor resolved by name
    assert InvoiceLine.objects.for_tenant(tenant).count() == 42
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="created").count() == 14
    assert IdempotencyRecord.objects.for_tenant(tenant).count() == 2
