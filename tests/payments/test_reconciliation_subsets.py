"""The exact subset-sum of reconciliation tier 3 (payments.reconciliation.subsets), by its properties.

Which sets of a vendor's open balances add up to a payment decides whether money is allocated
without a clerk: a wrong set pays the wrong invoices, a missed second set hides an ambiguity.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from payments.reconciliation.engine import reconcile_payment
from payments.reconciliation.subsets import EXACT_MAX_SIZE, subset_sum
from payments.reconciliation.types import ReconcileSettings
from tests.payments.test_reconciliation_engine import VENDORS, invoice, payment

BUDGET = 10_000_000
# Decoys are whole multiples of this; the planted amounts carry distinct powers of two below it,
# so only the planted invoices together can give the target's remainder: the planted set is the
# one answer among sets of up to four, however many decoys there are.
ROUND = 1_000


def _all_sets(amounts: list[int], target: int, min_size: int, max_size: int) -> list[tuple[int, ...]]:
    return [
        chosen
        for size in range(min_size, max_size + 1)
        for chosen in itertools.combinations(range(len(amounts)), size)
        if sum(amounts[index] for index in chosen) == target
    ]


def _planted(seed: int, decoys: int, sizes: list[int]) -> tuple[list[int], list[list[int]], int]:
    """`decoys` round amounts, and for each size a set of that many adding up to one target, shuffled."""
    rng = random.Random(seed)
    tagged: list[tuple[int, int | None]] = [(rng.randrange(5, 2_000) * ROUND, None) for _ in range(decoys)]
    target = 0
    for plant, size in enumerate(sizes):
        if not target:
            parts = [rng.randrange(50, 2_000) * ROUND + 2**index for index in range(size)]
        else:  # the same sum again, with other (smaller) amounts: a second answer
            parts = [rng.randrange(1, 5) * ROUND + 2**index for index in range(size - 1)]
            parts.append(target - sum(parts))
        target = sum(parts)
        tagged += [(part, plant) for part in parts]
    rng.shuffle(tagged)
    plants = [[index for index, (_, tag) in enumerate(tagged) if tag == plant] for plant in range(len(sizes))]
    return [amount for amount, _ in tagged], plants, target


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=1, max_value=40), min_size=0, max_size=11),
    target=st.integers(min_value=1, max_value=120),
    min_size=st.integers(min_value=1, max_value=2),
)
def test_every_set_returned_adds_up_and_a_unique_answer_is_the_only_one(
    amounts: list[int], target: int, min_size: int
) -> None:
    search = subset_sum(amounts, target, min_size=min_size, max_size=EXACT_MAX_SIZE, budget=BUDGET)
    truth = _all_sets(amounts, target, min_size, EXACT_MAX_SIZE)
    assert not search.gave_up
    for solution in search.solutions:
        assert sum(amounts[index] for index in solution) == target
        assert min_size <= len(solution) <= EXACT_MAX_SIZE
        assert len(set(solution)) == len(solution)
        assert solution in truth
    # Two sets are enough to know a sum is ambiguous; fewer are all there are.
    assert len(search.solutions) == min(2, len(truth))
    assert search.is_unique == (len(truth) == 1)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), size=st.integers(min_value=2, max_value=4))
def test_a_set_planted_among_1000_decoys_is_found_and_known_to_be_the_only_one(seed: int, size: int) -> None:
    amounts, [plant], target = _planted(seed, 1_000, [size])

    search = subset_sum(amounts, target, min_size=2, max_size=EXACT_MAX_SIZE, budget=BUDGET)

    assert search.solutions == (tuple(plant),)
    assert search.is_unique


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), size=st.integers(min_value=2, max_value=4))
def test_a_set_planted_among_10000_decoys_is_found_and_never_mistaken(seed: int, size: int) -> None:
    """10,000 decoys (under 2,000 distinct amounts: amounts repeat in real books).

    Sets of two and three are settled exactly. Ruling out every other set of four may need more
    pairs of amounts than the search holds (`MAX_PAIR_SUMS`): then it says it gave up, and what
    it found is only ever a suggestion.
    """
    amounts, [plant], target = _planted(seed, 10_000, [size])

    search = subset_sum(amounts, target, min_size=2, max_size=EXACT_MAX_SIZE, budget=BUDGET)

    assert all(sum(amounts[index] for index in solution) == target for solution in search.solutions)
    if size <= 3:
        assert search.solutions == (tuple(plant),)
    if not search.gave_up:
        assert search.solutions == (tuple(plant),) and search.is_unique
    up_to_three = subset_sum(amounts, target, min_size=2, max_size=3, budget=BUDGET)
    assert up_to_three.is_unique == (size <= 3)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), sizes=st.lists(st.integers(2, 4), min_size=2, max_size=2))
def test_two_planted_sets_are_reported_as_ambiguous(seed: int, sizes: list[int]) -> None:
    amounts, _, target = _planted(seed, 1_000, sizes)

    search = subset_sum(amounts, target, min_size=2, max_size=EXACT_MAX_SIZE, budget=BUDGET)

    assert len(search.solutions) == 2 and not search.is_unique
    for solution in search.solutions:
        assert sum(amounts[index] for index in solution) == target


def test_ten_thousand_equal_amounts_are_ambiguous_at_once() -> None:
    """C(10,000, 3) sets of three 100.00 make 300.00: two are found, the rest never listed."""
    search = subset_sum([100_00] * 10_000, 300_00, min_size=2, max_size=EXACT_MAX_SIZE, budget=BUDGET)

    assert search.solutions == ((0, 1, 2), (0, 1, 3))  # the oldest invoices first
    assert not search.is_unique
    assert search.steps < 100


def test_a_search_past_its_budget_gives_up_instead_of_answering() -> None:
    """10,000 even amounts and an odd payment: no set exists, and proving it for four costs too much."""
    amounts = [1_000 + 2 * index for index in range(10_000)]

    search = subset_sum(amounts, 30_001, min_size=2, max_size=EXACT_MAX_SIZE, budget=1_000_000)

    assert search.solutions == () and search.gave_up
    assert search.steps <= 1_000_000 + 10_000


def test_equal_amounts_are_told_apart_by_age() -> None:
    """Two invoices of 30.00 and one of 20.00 for 50.00: two sets, the older 30.00 first."""
    search = subset_sum([30_00, 20_00, 30_00], 50_00, min_size=2, max_size=EXACT_MAX_SIZE, budget=BUDGET)

    assert search.solutions == ((0, 1), (1, 2)) and not search.is_unique


def test_a_set_found_by_a_search_that_gave_up_is_only_suggested_and_says_why() -> None:
    """One pair adds up, but the budget ran out before every set of three and four was ruled out."""
    invoices = [invoice(f"A-{index}", 1_000 + 2 * index) for index in range(300)]
    invoices += [invoice("P-1", 123_45), invoice("P-2", 876_55)]
    cramped = ReconcileSettings(subset_budget=2_000)

    proposal = reconcile_payment(payment(1_000_00, account="h-acme"), invoices, VENDORS, cramped)

    assert proposal is not None and proposal.tier == 3
    assert proposal.is_suggestion and not proposal.auto_apply
    assert {allocation.amount for allocation in proposal.allocations} == {123_45, 876_55}
    assert "another set of four could too" in proposal.reason
    roomy = reconcile_payment(payment(1_000_00, account="h-acme"), invoices, VENDORS, ReconcileSettings())
    assert roomy is not None and roomy.auto_apply
