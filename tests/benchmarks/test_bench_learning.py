"""`manage.py bench_learning`, small and bounded: three short months of the same seeded stream played
without and with what Recon learns from clerks, through real matching and the real review
services; the month lines are there and add up, the engine approved nothing a clerk would not,
learning leaves fewer exceptions, and each quirk was settled by the mechanism meant for it (a
learned vendor name, the vendor's account on record, learned item aliases, accepted tolerances)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from invoices.models import Invoice, InvoiceStatus
from learning.models import ItemAlias, SuggestionStatus, ToleranceSuggestion
from matching.models import MatchResult
from tenants.models import Tenant
from vendors.models import VendorAlias, VendorAliasKind

pytestmark = pytest.mark.django_db

MONTHS, PER_MONTH, SEED = 3, 30, 3
KINDS = ("clean", "reworded", "surcharge", "trading_name", "bank_account", "price_error")
MONTH = re.compile(
    r"^  month (\d): (\d+) invoices, touchless (\d+\.\d) %, false auto-approvals (\d+), "
    r"exceptions (\d+\.\d) per 100 invoices$",
    re.MULTILINE,
)


def figure(report: str, pattern: str) -> tuple[int, ...]:
    found = re.search(pattern, report, re.MULTILINE)
    assert found is not None, report
    return tuple(int(group) for group in found.groups())


def play_of(report: str, heading: str) -> list[tuple[int, int, float, int, float]]:
    block = report.split(heading, 1)[1]
    return [
        (int(m), int(n), float(touchless), int(false), float(exceptions))
        for m, n, touchless, false, exceptions in MONTH.findall(block)[:MONTHS]
    ]


def test_month_by_month_learning_leaves_fewer_exceptions_and_no_false_auto_approval() -> None:
    out = StringIO()

    call_command("bench_learning", months=MONTHS, per_month=PER_MONTH, seed=SEED, stdout=out)

    report = out.getvalue()
    stream = figure(report, r"^Stream: 90 invoices over 3 months \(30 a month, arriving 10 at a time\), seed 3: "
                            r"clean (\d+), reworded (\d+), surcharge (\d+), trading_name (\d+), bank_account (\d+), "
                            r"price_error (\d+);")  # fmt: skip
    kinds = dict(zip(KINDS, stream, strict=True))
    assert sum(stream) == MONTHS * PER_MONTH and all(stream), kinds
    without = play_of(report, "Without learning")
    with_ = play_of(report, "With learning")
    for play in (without, with_):
        assert [(month, invoices) for month, invoices, *_ in play] == [(m, PER_MONTH) for m in range(1, MONTHS + 1)]
        assert all(false == 0 for *_, false, _ in play), report
        # Each invoice is either settled by the engine alone (and right) or an exception.
        assert all(abs(touchless + exceptions - 100) < 0.2 for *_, touchless, _, exceptions in play), report

    by_kind = {
        kind: [(int(a), int(b)) for a, b in re.findall(r"month \d +(\d+) → +(\d+)", line)]
        for kind, line in re.findall(r"^  (\w+) +(month 1 .*)$", report, re.MULTILINE)
    }
    assert list(by_kind) == list(KINDS), report
    for play, figures in ((0, without), (1, with_)):
        for month, (*_, exceptions) in enumerate(figures):
            assert round(100 * sum(by_kind[kind][month][play] for kind in KINDS) / PER_MONTH, 1) == exceptions
    total = {kind: [sum(pair[i] for pair in by_kind[kind]) for i in (0, 1)] for kind in KINDS}
    # A price error needs a person every time, learning or not; the quirks need fewer with learning.
    assert total["price_error"] == [kinds["price_error"]] * 2
    for kind in ("reworded", "surcharge", "trading_name"):
        assert total[kind][1] < total[kind][0], (kind, report)
    # The vendor known only by its account on record is recognised by it in either play: nothing
    # learned is involved (its exceptions, if any, are the engine's other checks, alike in both).
    assert total["bank_account"][0] == total["bank_account"][1] < kinds["bank_account"] // 2, report
    assert sum(t for *_, t, _, _ in with_) > sum(t for *_, t, _, _ in without)
    last = report.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"month 3: touchless \d+\.\d %, false auto-approvals 0", last), last
    assert last == f"month 3: touchless {with_[-1][2]:.1f} %, false auto-approvals 0"

    items, names, proposed, accepted = figure(
        report,
        r"^Learned: (\d+) item aliases, (\d+) vendor names, tolerance suggestions proposed (\d+), accepted (\d+)",
    )
    assert items > 0 and names >= 1 and accepted == proposed >= 1
    assert re.search(r"^Wall time: \d+\.\d s$", report, re.MULTILINE), report

    bench = list(Tenant.objects.filter(slug__startswith="bench-").order_by("created_at"))
    assert len(bench) == 2 and not any(tenant.is_active for tenant in bench)
    without_tenant, with_tenant = bench
    # What the report says was learned is in the database: used in one tenant, forgotten in the other.
    assert ItemAlias.objects.for_tenant(with_tenant).filter(forgotten_at__isnull=True).count() == items
    assert VendorAlias.objects.for_tenant(with_tenant).filter(kind=VendorAliasKind.NAME).count() == names
    accepted_rules = ToleranceSuggestion.objects.for_tenant(with_tenant).filter(status=SuggestionStatus.ACCEPTED)
    assert accepted_rules.count() == accepted
    assert not ItemAlias.objects.for_tenant(without_tenant).filter(forgotten_at__isnull=True).exists()
    assert not VendorAlias.objects.for_tenant(without_tenant).exists()
    for tenant in bench:
        statuses = set(Invoice.objects.for_tenant(tenant).values_list("status", flat=True))
        assert statuses <= {InvoiceStatus.APPROVED, InvoiceStatus.REJECTED}, statuses
    # Every quirk was settled by what is meant for it, and the reasons say so.
    reasons = MatchResult.objects.for_tenant(with_tenant).filter(decision="approved")
    by_account = reasons.filter(decision_reason__contains="recognised by its bank account").count()
    assert by_account == kinds["bank_account"] - total["bank_account"][1]
    assert reasons.filter(decision_reason__contains="recognised by the name").exists()
    assert reasons.filter(decision_reason__contains="matched via learned alias").exists()
    assert reasons.filter(decision_reason__contains="rule learned from").exists()
