"""The cap on problems an import reports (core.problems)."""

from __future__ import annotations

import pytest

from core.problems import (
    MAX_PROBLEMS_REPORTED,
    PROBLEMS_TRUNCATED,
    ProblemLimitReached,
    Problems,
    capped_details,
)


def test_problems_stop_the_reader_at_the_first_one_past_the_cap() -> None:
    problems = Problems(limit=3)
    for row in (2, 3, 3):
        problems.add(f"row {row}", "Required.")
    with pytest.raises(ProblemLimitReached):
        problems.add("row 4", "Required.")
    assert problems.details() == {
        "row 2": ["Required."],
        "row 3": ["Required.", "Required."],
        "truncated": True,
        "problems_listed": 3,
        "problems_found_at_least": 4,
    }
    assert problems.summary("{count} problem(s)") == PROBLEMS_TRUNCATED.format(found=4, listed=3)


def test_problems_under_the_cap_are_reported_as_they_are() -> None:
    problems = Problems()
    problems.add("file", "Empty.")
    assert problems.details() == {"file": ["Empty."]}
    assert problems.summary("{count} problem(s)") == "1 problem(s)"
    assert problems.limit == MAX_PROBLEMS_REPORTED == 1000


def test_a_report_collected_whole_is_cut_to_its_first_messages_with_the_exact_total() -> None:
    details = {f"entry {n}": ["Zero.", "No currency."] for n in range(1, 8)}
    assert capped_details(details, limit=5) == {
        "entry 1": ["Zero.", "No currency."],
        "entry 2": ["Zero.", "No currency."],
        "entry 3": ["Zero."],
        "truncated": True,
        "problems_listed": 5,
        "problems_found_at_least": 14,
    }
    assert capped_details(details, limit=14) == details
    already = {"row 2": ["x"], "truncated": True, "problems_listed": 1, "problems_found_at_least": 2}
    assert capped_details(already, limit=1) == already
