"""The tolerance suggestion rule on plain data (learning.rules): the threshold, the window, a
rejection resets the count, a decided suggestion's evidence is not counted again, one band."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from learning.rules import PriceDecision, price_difference_pct, tolerance_suggestion_of

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def decision(days_ago: int, pct: str, *, approved: bool = True) -> PriceDecision:
    return PriceDecision(
        example_id=uuid.uuid4(),
        invoice_id=uuid.uuid4(),
        invoice_number=f"INV-{days_ago}",
        decided_at=NOW - dt.timedelta(days=days_ago),
        approved=approved,
        pcts=(Decimal(pct),),
        decided_by="anna",
    )


def suggest(decisions, current: str = "2", **kwargs):
    return tolerance_suggestion_of(decisions, now=NOW, current_pct=Decimal(current), **kwargs)


FIVE = [decision(40, "2.5"), decision(30, "2.8"), decision(20, "3.0"), decision(10, "2.6"), decision(1, "2.9")]


def test_five_approvals_of_the_same_difference_propose_its_highest_rounded_up() -> None:
    pattern = suggest(FIVE)
    assert pattern is not None
    assert (pattern.low_pct, pattern.high_pct, pattern.proposed_pct) == (Decimal("2.5"), Decimal("3.0"), Decimal("3.0"))
    assert len(pattern.evidence) == 5


def test_four_are_not_enough() -> None:
    assert suggest(FIVE[:4]) is None


def test_approvals_older_than_the_window_do_not_count() -> None:
    assert suggest([decision(61, "2.5"), *FIVE[1:]]) is None


def test_a_rejection_resets_the_count() -> None:
    assert suggest([*FIVE[:2], decision(25, "2.7", approved=False), *FIVE[2:]]) is None
    # Five approvals after the rejection are a pattern again.
    later = [decision(days, "2.7") for days in (9, 8, 7, 6, 5)]
    assert suggest([*FIVE[:2], decision(25, "2.7", approved=False), *later]) is not None


def test_evidence_weighed_by_an_administrator_is_not_counted_again() -> None:
    assert suggest(FIVE, not_before=NOW - dt.timedelta(days=15)) is None


def test_differences_that_are_not_one_pattern_propose_nothing() -> None:
    scattered = [decision(days, pct) for days, pct in ((40, "2.5"), (30, "4.8"), (20, "7.0"), (10, "2.6"), (1, "9.9"))]
    assert suggest(scattered) is None


def test_nothing_when_the_tolerance_already_covers_it_or_beyond_the_cap() -> None:
    assert suggest(FIVE, current="3") is None
    assert suggest([decision(days, "12") for days in (5, 4, 3, 2, 1)]) is None


def test_price_difference_in_percent_of_the_po_price() -> None:
    assert price_difference_pct(expected="12.50", actual="12.85") == Decimal("2.800")
    assert price_difference_pct(expected="0", actual="1") is None
    assert price_difference_pct(expected="n/a", actual="1") is None
