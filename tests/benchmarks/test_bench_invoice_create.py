"""`manage.py bench_invoice_create`, in its short form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceLine, InvoiceSource
from tenants.models import IdempotencyRecord, Tenant

# A bound, not a timing: what one create sends, row-level security settings included — the goal of
# issue #21. Counted as in production: the test runs outside a test case's transaction
# (transactional_db), which would add savepoints around the request's.
STATEMENTS_AT_MOST = 8


def test_the_single_create_benchmark_runs_in_its_short_form(
    capsys: pytest.CaptureFixture[str], transactional_db: None
) -> None:
    """6 invoices of 5 lines (3 warm-up, 2 timed, 1 captured): each stored with its lines, audit
    event and stored response; one create's statements listed, within the budget."""
    call_command("bench_invoice_create", invoices=2, lines=5)
    out = capsys.readouterr().out
    assert "sent: 6 invoices × 5 lines, one request each; created: 6" in out
    assert re.search(r"server time: p50 [\d.]+ ms, p95 [\d.]+ ms", out)
    tenant = Tenant.objects.get(slug__startswith="bench-create-")
    invoices = Invoice.objects.for_tenant(tenant)
    assert invoices.count() == 6 and set(invoices.values_list("source", flat=True)) == {InvoiceSource.API}
    assert invoices.filter(vendor__isnull=True).count() == 0
    assert InvoiceLine.objects.for_tenant(tenant).count() == 30
    assert AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", action="created").count() == 6
    assert IdempotencyRecord.objects.for_tenant(tenant).count() == 6
    match = re.search(r"SQL statements of one create: (\d+) \((\d+) listed \+ (\d+) row-level security settings\)", out)
    assert match is not None
    count, listed_count, settings_count = (int(group) for group in match.groups())
    listed = re.findall(r"^ +\d+\. (.+)$", out, flags=re.MULTILINE)
    assert len(listed) == listed_count and count == listed_count + settings_count
    # The invoice, its lines and its audit event in one statement (the lines' and event's INSERTs
    # as data-modifying CTEs of the invoice's).
    assert any(sql.startswith('WITH written_0 AS (INSERT INTO "invoices_invoice" (') for sql in listed)
    assert not any(table in sql for sql in listed for table in ('"invoices_invoiceline"', '"audit_auditevent"'))
    # The key locked and claimed in one statement; its response stored in the claimed record.
    assert any(sql.startswith("WITH claim AS (SELECT pg_try_advisory_xact_lock(") for sql in listed)
    assert any(sql.startswith('UPDATE "tenants_idempotencyrecord"') for sql in listed)
    assert count <= STATEMENTS_AT_MOST, out
