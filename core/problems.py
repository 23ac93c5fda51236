"""How many problems a file import reports: the first `MAX_PROBLEMS_REPORTED`, then it stops reading.

A 24 MB CSV in which every row was wrong once took 20 s to answer with a 105 MB body listing 1.26
million problems, and the process grew to 1 GB. Nobody reads past the first screenful, and a
file that is wrong on every row repeats one mistake. So an importer stops at the first problem
past the cap: the answer lists the first `MAX_PROBLEMS_REPORTED` (by location, as always), and
`details` says so with three more keys, present only then:

    "truncated": true, "problems_listed": 1000, "problems_found_at_least": 1001

"At least": reading stopped there, so the rest of the file was not checked. Nothing is imported
either way (imports are all or nothing), so the sender fixes what is listed and sends it again.
"""

from __future__ import annotations

from typing import Any

MAX_PROBLEMS_REPORTED = 1000

PROBLEMS_TRUNCATED = (
    "The file has at least {found} problems; the first {listed} are listed in details, by location. "
    "Nothing was imported."
)


class ProblemLimitReached(Exception):
    """One problem more than the cap was found: the reader stops (see `Problems.add`)."""


def truncation_details(*, listed: int, found: int) -> dict[str, Any]:
    """The keys `details` carries when problems were left out (see the module docstring)."""
    return {"truncated": True, "problems_listed": listed, "problems_found_at_least": found}


class Problems(dict[str, list[str]]):
    """Problems by location (`{"row 7, column amount": ["..."]}`), at most `limit` messages.

    `add` of one more raises `ProblemLimitReached`, so a reader stops where it is; `details()`
    is then the capped report with the truncation keys.
    """

    def __init__(self, limit: int = MAX_PROBLEMS_REPORTED) -> None:
        super().__init__()
        self.limit = limit
        self.count = 0
        self.truncated = False

    def add(self, location: str, message: str) -> None:
        if self.count >= self.limit:
            self.truncated = True
            raise ProblemLimitReached
        self.setdefault(location, []).append(message)
        self.count += 1

    def summary(self, message: str) -> str:
        """`message` with `{count}` filled in, or `PROBLEMS_TRUNCATED` when problems were left out."""
        if self.truncated:
            return PROBLEMS_TRUNCATED.format(found=self.count + 1, listed=self.count)
        return message.format(count=self.count)

    def details(self) -> dict[str, Any]:
        if not self.truncated:
            return dict(self)
        return {**self, **truncation_details(listed=self.count, found=self.count + 1)}


def capped_details(details: dict[str, list[str]], *, limit: int = MAX_PROBLEMS_REPORTED) -> dict[str, Any]:
    """`details` cut to its first `limit` messages, with the truncation keys when any were left out.

    For a reader that collected everything before the cap existed; its count is exact, so
    "at least" is the true total there.
    """
    if details.get("truncated"):
        return details  # capped already, by a reader that stopped
    total = sum(len(messages) for messages in details.values())
    if total <= limit:
        return details
    kept: dict[str, Any] = {}
    room = limit
    for location, messages in details.items():
        if room <= 0:
            break
        kept[location] = messages[:room]
        room -= len(kept[location])
    return {**kept, **truncation_details(listed=limit, found=total)}
