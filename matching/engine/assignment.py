"""Optimal assignment (the Hungarian method): which invoice line bills which PO line.

First-fit goes wrong exactly where a clerk needs help: two similar lines ("Bolt M8x20",
"Bolt M8x25") where the first invoice line grabs the PO line the second one fits better. The
assignment that maximizes the total score over all pairs cannot make that mistake.

Jonker-Volgenant style shortest augmenting paths with potentials, O(n²·m) for n ≤ m; invoices
have tens of lines, so this is microseconds to a few milliseconds per invoice.
"""

from __future__ import annotations

from collections.abc import Sequence


def optimal_assignment(scores: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """Pairs (row, column) maximizing the sum of `scores`; each row and column at most once.

    Every row is assigned when there are at least as many columns (and vice versa); callers drop
    pairs whose score says "not a match". Ties break towards lower indices, so the result is
    deterministic.
    """
    rows = len(scores)
    columns = len(scores[0]) if rows else 0
    if rows == 0 or columns == 0:
        return []
    if rows > columns:
        transposed = [[scores[row][column] for row in range(rows)] for column in range(columns)]
        return sorted((row, column) for column, row in optimal_assignment(transposed))

    infinity = float("inf")
    # Minimize cost = -score; 1-based arrays with a sentinel column 0, as the method is usually stated.
    u = [0.0] * (rows + 1)
    v = [0.0] * (columns + 1)
    owner = [0] * (columns + 1)  # owner[j]: the row assigned to column j (0 = none)
    way = [0] * (columns + 1)
    for row in range(1, rows + 1):
        owner[0] = row
        column0 = 0
        min_reduced = [infinity] * (columns + 1)
        used = [False] * (columns + 1)
        while True:
            used[column0] = True
            row0 = owner[column0]
            delta = infinity
            column1 = 0
            for column in range(1, columns + 1):
                if used[column]:
                    continue
                reduced = -scores[row0 - 1][column - 1] - u[row0] - v[column]
                if reduced < min_reduced[column]:
                    min_reduced[column] = reduced
                    way[column] = column0
                if min_reduced[column] < delta:
                    delta = min_reduced[column]
                    column1 = column
            for column in range(columns + 1):
                if used[column]:
                    u[owner[column]] += delta
                    v[column] -= delta
                else:
                    min_reduced[column] -= delta
            column0 = column1
            if owner[column0] == 0:
                break
        while True:  # flip the augmenting path
            column1 = way[column0]
            owner[column0] = owner[column1]
            column0 = column1
            if column0 == 0:
                break
    return sorted((owner[column] - 1, column - 1) for column in range(1, columns + 1) if owner[column])
