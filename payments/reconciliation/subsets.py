"""Which sets of open balances add up to a payment: exact for small sets, bounded for larger ones.

DESIGN.md §6: "Subset sums are exact for small sets (k ≤ 4) at any number of open invoices; an
ambiguous sum is a suggestion, never an allocation." `subset_sum` answers with the sets it found
(at most `max_solutions`, two being enough to know a sum is ambiguous) and whether it gave up
before it could be sure there are no others. Pure: ints, dicts, sets and bisect; no ORM, no clock.

Sets of up to `EXACT_MAX_SIZE` amounts are searched over the *distinct* amounts, smallest first
(x₁ ≤ x₂ ≤ … ≤ xₖ), each level bounded on both sides: x₁ ≤ target / k (it is the smallest) and
x₁ ≥ target − (k − 1)·max (the others cannot make up more). The last two amounts are found by
hashing: the partners `target − x` of every candidate x are looked up in the set of amounts by
one set intersection, which runs in C. So two amounts cost O(n), three O(n²/4) lookups at worst
(10,000 distinct amounts: ~2.5·10⁷, well under a second), four O(n³) — which the `budget`
(candidates looked up) bounds: past it the search reports `gave_up`, and a caller treats that
as "there may be another set" (a suggestion). Equal amounts cost nothing extra: a set of amounts
stands for every choice of invoices with those amounts, counted without listing them
(10,000 invoices of 100.00 and a payment of 300.00 is ambiguous after one lookup).

Sets larger than `EXACT_MAX_SIZE` (only for the few invoices a remittance names) are searched
depth-first within `dfs_budget` steps, as before.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

EXACT_MAX_SIZE = 4
# The sums of pairs the four-amount search holds at once (~60 MB at most): past it, it gives up.
MAX_PAIR_SUMS = 1_000_000


@dataclass(frozen=True)
class SubsetSearch:
    """The sets found (indices into the amounts, at most `max_solutions`) and whether the search gave up.

    `solutions` are ordered smallest set first, then oldest first (by index). With fewer than
    `max_solutions` sets and `gave_up` false, they are all the sets there are: one set is the
    unique answer.
    """

    solutions: tuple[tuple[int, ...], ...]
    gave_up: bool
    steps: int

    @property
    def is_unique(self) -> bool:
        return len(self.solutions) == 1 and not self.gave_up


class _OutOfBudget(Exception):
    pass


class _ExactSearch:
    """Sets of 1..EXACT_MAX_SIZE amounts adding up to a target, over the distinct amounts."""

    def __init__(self, amounts: Sequence[int], target: int, budget: int) -> None:
        positions: dict[int, list[int]] = {}
        for index, amount in enumerate(amounts):
            if 0 < amount <= target:
                positions.setdefault(amount, []).append(index)
        self.positions = positions
        self.values = sorted(positions)
        self.budget = budget
        self.steps = 0

    def _spend(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.budget:
            raise _OutOfBudget

    def amount_sets(self, size: int, total: int, start: int = 0) -> Iterator[tuple[int, ...]]:
        """Non-decreasing tuples of `size` amounts from `values[start:]` adding up to `total`."""
        values = self.values
        if not values or start >= len(values):
            return
        if size == 1:
            self._spend(1)
            if total in self.positions and total >= values[start]:
                yield (total,)
            return
        if size == 4:
            yield from self._four(total)
            return
        # The smallest of the set is at most total / size, and the others (each ≤ the largest)
        # must make up the rest.
        low = max(start, bisect_left(values, total - (size - 1) * values[-1]))
        high = bisect_right(values, total // size, low)
        if high <= low:
            return
        if size == 2:
            self._spend(high - low)
            # dict_keys & iterable walks the iterable in C, looking each partner up in the dict.
            partners = self.positions.keys() & map(total.__sub__, values[low:high])
            for partner in sorted(partners, reverse=True):  # smallest first amount first
                yield (total - partner, partner)
            return
        for index in range(low, high):
            self._spend(1)
            first = values[index]
            for rest in self.amount_sets(size - 1, total - first, index):
                yield (first, *rest)

    def _four(self, total: int) -> Iterator[tuple[int, ...]]:
        """a ≤ b ≤ c ≤ d adding up to `total`, met in the middle: a + b ≤ total / 2 ≤ c + d.

        The sums of the lower pairs go into one set (their number is counted first and charged
        to the budget, so memory is bounded by it too); then for each c the partners d whose
        c + d leaves a lower sum are found by one intersection, and only for those the lower
        pairs themselves are listed (a two-amount search among the amounts up to c).
        """
        values = self.values
        half = total // 2
        pair_bounds = []
        for index, amount in enumerate(values):
            if 2 * amount > half:
                break
            pair_bounds.append((index, bisect_right(values, half - amount, index)))
        pairs = sum(high - low for low, high in pair_bounds)
        if pairs > MAX_PAIR_SUMS:
            raise _OutOfBudget
        self._spend(pairs)
        lower_sums: set[int] = set()
        for low, high in pair_bounds:
            lower_sums.update(map(values[low].__add__, values[low:high]))
        if not lower_sums:
            return
        smallest_lower = min(lower_sums)
        for index, third in enumerate(values):
            if 2 * third > total - smallest_lower:
                break
            rest = total - third
            # d ≥ c, and c + d ≥ total / 2 (so a + b ≤ total / 2), and a + b ≥ smallest_lower.
            low = bisect_left(values, max(third, total - half - third), index)
            high = bisect_right(values, rest - smallest_lower, low)
            if high <= low:
                continue
            self._spend(high - low)
            for lower in sorted(lower_sums.intersection(map(rest.__sub__, values[low:high]))):
                fourth = rest - lower
                for first, second in self.amount_sets(2, lower):
                    if second <= third:
                        yield (first, second, third, fourth)

    def count(self, amounts: tuple[int, ...]) -> int:
        """How many sets of invoices have exactly these amounts (0 when some amount is short)."""
        combinations = 1
        for amount, times in _multiplicities(amounts):
            combinations *= math.comb(len(self.positions[amount]), times)
        return combinations

    def index_sets(self, amounts: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
        """The sets of indices with these amounts, oldest invoices of each amount first, lazily.

        (itertools.product would list every combination first: C(10,000, 3) of them for
        10,000 equal amounts.)
        """
        groups = _multiplicities(amounts)

        def choose(group: int) -> Iterator[tuple[int, ...]]:
            if group == len(groups):
                yield ()
                return
            amount, times = groups[group]
            for chosen in itertools.combinations(self.positions[amount], times):
                for others in choose(group + 1):
                    yield chosen + others

        for indices in choose(0):
            yield tuple(sorted(indices))


def _multiplicities(amounts: tuple[int, ...]) -> list[tuple[int, int]]:
    return [(amount, len(list(group))) for amount, group in itertools.groupby(amounts)]


def _depth_first(
    amounts: Sequence[int], target: int, *, min_size: int, max_size: int, budget: int, max_solutions: int
) -> tuple[list[tuple[int, ...]], bool, int]:
    """Sets of `min_size`..`max_size` amounts, depth-first in the order given, within `budget` steps."""
    count = len(amounts)
    suffix = [0] * (count + 1)
    for index in range(count - 1, -1, -1):
        suffix[index] = suffix[index + 1] + amounts[index]
    solutions: list[tuple[int, ...]] = []
    chosen: list[int] = []
    steps = 0
    gave_up = False

    def search(start: int, remaining: int) -> bool:
        """True to stop the whole search."""
        nonlocal steps, gave_up
        for index in range(start, count):
            steps += 1
            if steps > budget:
                gave_up = True
                return True
            if suffix[index] < remaining:  # even all the rest cannot reach it
                return False
            amount = amounts[index]
            if amount > remaining:
                continue
            chosen.append(index)
            if amount == remaining:
                if len(chosen) >= min_size:
                    solutions.append(tuple(chosen))
                    if len(solutions) >= max_solutions:
                        chosen.pop()
                        return True
            elif len(chosen) < max_size and search(index + 1, remaining - amount):
                chosen.pop()
                return True
            chosen.pop()
        return False

    if target > 0 and max_size >= min_size:
        search(0, target)
    return solutions, gave_up, steps


def subset_sum(
    amounts: Sequence[int],
    target: int,
    *,
    min_size: int,
    max_size: int,
    budget: int,
    dfs_budget: int = 20_000,
    max_solutions: int = 2,
) -> SubsetSearch:
    """Sets of `min_size`..`max_size` amounts (all positive) that add up to `target`.

    Smaller sets first: every set of k amounts is found before any of k + 1. Sizes up to
    `EXACT_MAX_SIZE` are exact (see the module docstring) within `budget` lookups; larger ones
    are searched depth-first within `dfs_budget` steps. The search stops as soon as it holds
    `max_solutions` sets. Which sets those are, when there are more, follows from the order of
    the search (smaller sets, then smaller amounts, then older invoices of equal amounts); they
    are returned oldest first. When there is one set and the search did not give up, it is the
    only one: `is_unique`.
    """
    found: list[tuple[int, ...]] = []
    gave_up = False
    steps = 0
    if target > 0 and min_size <= max_size:
        exact = _ExactSearch(amounts, target, budget)
        try:
            for size in range(max(min_size, 1), min(max_size, EXACT_MAX_SIZE) + 1):
                for amount_set in exact.amount_sets(size, target):
                    if exact.count(amount_set) == 0:
                        continue
                    found += itertools.islice(exact.index_sets(amount_set), max_solutions - len(found))
                    if len(found) >= max_solutions:
                        break
                if len(found) >= max_solutions:
                    break
        except _OutOfBudget:
            gave_up = True
        steps = exact.steps
        if max_size > EXACT_MAX_SIZE and len(found) < max_solutions:
            larger, dfs_gave_up, dfs_steps = _depth_first(
                amounts,
                target,
                min_size=max(min_size, EXACT_MAX_SIZE + 1),
                max_size=max_size,
                budget=dfs_budget,
                max_solutions=max_solutions - len(found),
            )
            found += larger
            gave_up = gave_up or dfs_gave_up
            steps += dfs_steps
    ordered = sorted(found, key=lambda solution: (len(solution), solution))
    return SubsetSearch(tuple(ordered), gave_up, steps)
