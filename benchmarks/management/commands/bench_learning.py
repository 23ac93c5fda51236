"""`manage.py bench_learning [--months 3] [--per-month 300] [--seed 7] [--keep]`: month by month,
how many invoices does Recon settle by itself as it learns from clerks (issue #20 item 5)?

One seeded stream (benchmarks.learning_stream: clean invoices, vendors rewording items the same
way, vendors adding a habitual freight surcharge, a vendor invoicing under a second trading name, a
vendor whose invoices name nobody recognisable but ask to be paid to its account on record, and a
few price errors) is replayed twice, each time in a fresh scratch tenant (`bench-…`, deactivated
afterwards unless --keep; point it at a scratch database, nothing it writes can be deleted),
through the real path only (benchmarks.learning_player): matching runs, a simulated clerk who
works the review queue by the ground truth through the review services, and an administrator who
decides Recon's suggestions. In one play the administrator accepts what Recon proposes; in the
other every learned fact is forgotten and every suggestion declined, so nothing learned reaches a
match: today's engine with no memory of the clerk.

Per month and play: invoices, the touchless rate (approved by the engine alone and right),
false auto-approvals (approved by the engine and wrong by the ground truth: must be 0, the
command exits non-zero otherwise), and exceptions (invoices that needed a person) per 100
invoices; then the exceptions by kind, what was learned and what the clerk did. The last line
is the learning play's last month: `month 3: touchless N %, false auto-approvals M`.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from benchmarks.learning_player import BENCH_ACTOR, Played, Player
from benchmarks.learning_stream import KINDS, PER_DAY, stream_of
from benchmarks.scratch import bench_tenant_deactivate, database_describe

FALSE_APPROVALS = "{count} false auto-approvals: the engine approved invoices a clerk would not have."
TOO_FEW = "--per-month must be at least {least}, one invoice of each kind."


def month_line(month: int, played: Played) -> str:
    figures = played.months[month]
    return (
        f"  month {month}: {figures.invoices} invoices, touchless {figures.pct(figures.touchless):.1f} %, "
        f"false auto-approvals {figures.false_approvals}, "
        f"exceptions {figures.pct(figures.exceptions.total()):.1f} per 100 invoices"
    )


def report_lines(*, months: int, without: Played, with_: Played, seconds: float) -> list[str]:
    """The report after the stream's line (the test reads it)."""
    lines = ["Without learning (every learned fact forgotten, every suggestion declined):"]
    lines += [month_line(month, without) for month in range(1, months + 1)]
    lines += ["With learning (the administrator accepts Recon's suggestions):"]
    lines += [month_line(month, with_) for month in range(1, months + 1)]
    lines += ["Exceptions by kind, without → with learning:"]
    lines += [
        f"  {kind:<13}"
        + "".join(
            f"  month {month} {without.months[month].exceptions[kind]:>4} → {with_.months[month].exceptions[kind]:>4}"
            for month in range(1, months + 1)
        )
        for kind in KINDS
    ]
    lines += [
        f"Learned: {with_.item_aliases} item aliases, {with_.vendor_names} vendor names, tolerance suggestions "
        f"proposed {with_.suggestions_proposed}, accepted {with_.suggestions_accepted} (without learning: "
        f"{without.item_aliases} item aliases and {without.vendor_names} vendor names forgotten, "
        f"{without.suggestions_proposed} suggestions declined)",
        f"Clerk: {_actions(with_.actions)} with learning; {_actions(without.actions)} without",
        f"Wall time: {seconds:.1f} s",
    ]
    last = with_.months[months]
    lines.append(
        f"month {months}: touchless {last.pct(last.touchless):.1f} %, false auto-approvals {last.false_approvals}"
    )
    return lines


def _actions(actions: Counter[str]) -> str:
    return ", ".join(f"{what} {actions[what]}" for what in ("approved", "rejected", "vendor chosen", "line assigned"))


class Command(BaseCommand):
    help = "Month by month, the invoices Recon settles alone as it learns from clerks (scratch database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--months", type=int, default=3, help="Months replayed (default 3).")
        parser.add_argument("--per-month", type=int, default=300, help="Invoices a month (default 300).")
        parser.add_argument("--seed", type=int, default=7, help="Seed of the stream's generator (default 7).")
        parser.add_argument("--keep", action="store_true", help="Leave the two bench tenants active afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        months, per_month = options["months"], options["per_month"]
        if months < 1:
            raise CommandError("--months must be at least 1.")
        if per_month < len(KINDS):
            raise CommandError(TOO_FEW.format(least=len(KINDS)))
        started = time.perf_counter()
        self.stdout.write(database_describe())
        rng = random.Random(options["seed"])  # noqa: S311 (reproducible, not a secret)
        stream = stream_of(months=months, per_month=per_month, rng=rng)
        kinds = Counter(spec.kind for spec in stream.invoices)
        habits = Counter(vendor.habit for vendor in stream.vendors)
        self.stdout.write(
            f"Stream: {len(stream.invoices)} invoices over {months} months ({per_month} a month, arriving "
            f"{PER_DAY} at a time), seed {options['seed']}: "
            + ", ".join(f"{kind} {kinds[kind]}" for kind in KINDS)
            + "; vendors: "
            + ", ".join(f"{habit.replace('_', ' ')} {number}" for habit, number in habits.items())
        )
        played = {}
        for learning in (False, True):
            player = Player(stream=stream, learning=learning)
            self.stdout.write(f"Tenant {'with' if learning else 'without'} learning: {player.tenant.slug}")
            try:
                played[learning] = player.play()
            finally:
                if not options["keep"]:
                    bench_tenant_deactivate(tenant=player.tenant, actor=BENCH_ACTOR)
        seconds = time.perf_counter() - started
        for line in report_lines(months=months, without=played[False], with_=played[True], seconds=seconds):
            self.stdout.write(line)
        false_approvals = played[False].false_approvals + played[True].false_approvals
        if false_approvals:
            raise CommandError(FALSE_APPROVALS.format(count=false_approvals), returncode=1)
