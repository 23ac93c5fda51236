"""`manage.py bench_calibration`, small and bounded: the replay matched through the real path,
the calibration figures printed, and no false auto-approval."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_the_calibration_prints_each_level_and_no_false_auto_approval() -> None:
    out = StringIO()

    call_command("bench_calibration", invoices=60, stdout=out)

    report = out.getvalue()
    assert re.search(r"Replay: 60 invoices, seed 7: clean \d+, reworded \d+, inferred \d+", report), report
    levels = re.findall(r"confidence ≥ (0\.8|0\.9|0\.95): (\d+) invoices, a clerk would also approve (\d+)", report)
    assert [level for level, _, _ in levels] == ["0.8", "0.9", "0.95"], report
    counts = [(int(above), int(agree)) for _, above, agree in levels]
    assert all(agree <= above for above, agree in counts)
    assert counts[0][0] >= counts[1][0] >= counts[2][0] > 0  # each level holds the ones above it
    [(approved, false_approvals)] = re.findall(r"Auto-approved: (\d+) of 60; false auto-approvals: (\d+)", report)
    assert int(false_approvals) == 0 and int(approved) > 0
    # The scenarios now approve; their near misses do not.
    assert re.search(r"reworded +\d+: approved \d+\n", report), report
    assert re.search(r"inferred +\d+: approved \d+\n", report), report
    assert "approved" not in re.search(r"near_miss_price .*", report).group(0)  # type: ignore[union-attr]
    assert "approved" not in re.search(r"ambiguous_po .*", report).group(0)  # type: ignore[union-attr]
    [bench] = Tenant.objects.filter(slug__startswith="bench-")
    assert not Invoice.objects.for_tenant(bench).filter(status=InvoiceStatus.RECEIVED).exists()
