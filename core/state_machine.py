"""A status pipeline as a plain table of allowed moves (django-oscar's habit).

Each entity with a lifecycle declares one `StateMachine` and one `<entity>_transition` service
that calls `check()`, writes the new state and its audit event in one transaction. An illegal
move raises `IllegalTransition` (a 409 at the API) before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.exceptions import ConflictError

ILLEGAL_TRANSITION = "{entity} cannot go from {current!r} to {target!r}; allowed from {current!r}: {allowed}."
STALE_STATE = "{entity} is {current!r} now, not {expected!r}: someone else acted first. Reload and try again."


class IllegalTransition(ConflictError):
    code = "illegal_transition"


class StaleState(ConflictError):
    """The caller acted on a state it saw earlier, and the entity has moved since."""

    code = "stale_state"


@dataclass(frozen=True)
class StateMachine:
    entity: str
    moves: Mapping[str, frozenset[str]]

    @property
    def final_states(self) -> frozenset[str]:
        return frozenset(state for state, targets in self.moves.items() if not targets)

    def allowed_from(self, current: str) -> frozenset[str]:
        return self.moves.get(current, frozenset())

    def check(self, current: str, target: str) -> None:
        # str(): a TextChoices member would otherwise show as InvoiceStatus.RECEIVED in messages.
        current, target = str(current), str(target)
        allowed = self.allowed_from(current)
        if target not in allowed:
            message = ILLEGAL_TRANSITION.format(
                entity=self.entity, current=current, target=target, allowed=", ".join(sorted(allowed)) or "nothing"
            )
            raise IllegalTransition(message, details={"from": current, "to": target, "allowed": sorted(allowed)})

    def check_expected(self, current: str, expected: str | None) -> None:
        if expected is not None and current != expected:
            current, expected = str(current), str(expected)
            message = STALE_STATE.format(entity=self.entity, current=current, expected=expected)
            raise StaleState(message, details={"current": current, "expected": expected})
