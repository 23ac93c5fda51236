"""`manage.py bench_learning`, small and bounded: the same seeded stream played without and with
what Recon learns from clerks, through real matching and real review decisions; the figures add
up, learning taught aliases and saved reviews, and the engine approved nothing a clerk would not."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from invoices.models import Invoice, InvoiceStatus
from learning.models import ItemAlias
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def figure(report: str, pattern: str) -> tuple[int, ...]:
    found = re.search(pattern, report)
    assert found is not None, report
    return tuple(int(group) for group in found.groups())


def test_learning_saves_reviews_without_a_false_auto_approval() -> None:
    out = StringIO()

    call_command("bench_learning", invoices=40, seed=3, stdout=out)

    report = out.getvalue()
    assert figure(report, r"Invoices: (\d+)") == (40,)
    kinds = figure(report, r"Stream: 40 invoices over \d+ days, seed 3: clean (\d+), reworded (\d+), "
                           r"surcharge (\d+), price_error (\d+)")  # fmt: skip
    assert sum(kinds) == 40 and all(kinds)
    (without,) = figure(report, r"Went to review without learning: (\d+)")
    (with_,) = figure(report, r"Went to review with learning: (\d+)")
    saved, _ = figure(report, r"Reviews saved: (-?\d+) \((\d+)\.\d %\)")
    assert saved == without - with_ and saved > 0
    # Every price error needs a person either way; per kind the counts add up to the totals.
    per_kind = re.findall(r"^  (\w+) +without +(\d+), with +(\d+)$", report, re.MULTILINE)
    assert [kind for kind, _, _ in per_kind] == ["clean", "reworded", "surcharge", "price_error"], report
    assert sum(int(w) for _, w, _ in per_kind) == without and sum(int(w) for _, _, w in per_kind) == with_
    assert {k: (int(a), int(b)) for k, a, b in per_kind}["price_error"] == (kinds[3], kinds[3])
    assert figure(report, r"False auto-approvals: (\d+) with learning, (\d+) without") == (0, 0)
    learned, learned_without = figure(report, r"Item aliases learned: (\d+) \(without learning: (\d+)")
    assert learned > 0 and learned_without >= learned
    proposed, accepted = figure(report, r"Tolerance suggestions: proposed (\d+), accepted (\d+)")
    assert accepted <= proposed
    assert re.search(r"Wall time: \d+\.\d s", report), report

    bench = list(Tenant.objects.filter(slug__startswith="bench-").order_by("created_at"))
    assert len(bench) == 2 and not any(tenant.is_active for tenant in bench)
    without_tenant, with_tenant = bench
    # What the report says was learned is in the database: forgotten in one tenant, used in the other.
    assert ItemAlias.objects.for_tenant(with_tenant).filter(forgotten_at__isnull=True).count() == learned
    assert not ItemAlias.objects.for_tenant(without_tenant).filter(forgotten_at__isnull=True).exists()
    for tenant in bench:
        statuses = set(Invoice.objects.for_tenant(tenant).values_list("status", flat=True))
        assert statuses <= {InvoiceStatus.APPROVED, InvoiceStatus.REJECTED}, statuses
