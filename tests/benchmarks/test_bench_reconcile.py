"""`manage.py bench_reconcile`, in a small bounded form, so the benchmark cannot rot unnoticed."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from payments.models import Payment, PaymentStatus
from tenants.models import Tenant
from tests.factories import PaymentFactory

FIGURES = (
    r"Database: \S+",
    r"built in [\d.]+ s \(not counted\)",
    r"Mix: reference \d+, account \d+, recurring \d+, sum \d+, short \d+, partial \d+, noise \d+",
    r"Reconciled: 40 payments in \d+ runs in [\d.]+ s",
    r"Throughput: [\d.]+ payments/s",
    r"Per run \(ms\): p50 \d+, p99 \d+, max \d+",
    r"SQL queries per run: min \d+, max \d+",
    r"Peak RSS: [\d.]+ MB",
    r"CPU: this process [\d.]+ s, database server ([\d.]+ s|not measured)",
)


def _tier_counts(report: str) -> dict[tuple[int, str], int]:
    return {
        (int(tier), outcome): int(count)
        for tier, applied, suggested in re.findall(r"tier (\d) applied (\d+) suggested (\d+)", report)
        for outcome, count in (("applied", applied), ("suggested", suggested))
    }


@pytest.mark.django_db
def test_the_bench_reconciles_its_whole_tenant_and_reports_every_tier(other_tenant: Tenant) -> None:
    waiting_elsewhere = PaymentFactory(tenant=other_tenant)
    out = StringIO()

    call_command("bench_reconcile", payments=40, invoices=40, per_run=15, stdout=out)

    report = out.getvalue()
    for figure in FIGURES:
        assert re.search(figure, report), f"{figure!r} missing from:\n{report}"
    tiers = _tier_counts(report)
    # Every kind of the mix reaches its tier: 1-5 applied, equal recurring amounts only suggested.
    for tier in range(1, 6):
        assert tiers[(tier, "applied")] >= 1, report
    assert tiers[(2, "suggested")] >= 1, report
    [bench] = Tenant.objects.filter(slug__startswith="bench-rec-")
    assert not bench.is_active
    # Runs went on until nothing more was allocated: what is left is the noise and the suggestions.
    payments = Payment.objects.for_tenant(bench)
    assert payments.count() == 40
    left = payments.filter(status__in=[PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED]).count()
    assert f"Left for a clerk: {left} " in report
    assert payments.filter(status=PaymentStatus.MATCHED).count() == 40 - left
    assert Payment.objects.for_tenant(other_tenant).get(pk=waiting_elsewhere.pk).status == PaymentStatus.UNMATCHED


@pytest.mark.django_db
def test_the_single_vendor_bench_times_one_payment_against_many_open_invoices() -> None:
    out = StringIO()

    call_command("bench_reconcile", single_vendor_invoices=50, stdout=out)

    report = out.getvalue()
    assert "Fixture: 1 payments, 50 open invoices, 1 vendors" in report
    assert re.search(r"Reconciled: 1 payments in 1 runs in [\d.]+ s", report), report


@pytest.mark.django_db
def test_the_single_vendor_bench_says_whether_the_planted_set_was_found_and_allocated() -> None:
    """Round decoys: the three planted invoices are the only set that adds up, so they are allocated."""
    out = StringIO()

    call_command("bench_reconcile", single_vendor_invoices=60, round_decoys=True, stdout=out)

    report = out.getvalue()
    assert re.search(
        r"Subset sum: allocated in \d+ ms; planted set proposed: yes; proposal adds up: yes; wrong allocation: no",
        report,
    ), report
    [bench] = Tenant.objects.filter(slug__startswith="bench-rec-")
    assert Payment.objects.for_tenant(bench).get().status == PaymentStatus.MATCHED
