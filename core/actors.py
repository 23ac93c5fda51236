"""Who did something: a user, an API key, or a system task. Recorded on every audit event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "api_key" | "system"
    id: str
    label: str = ""


def system_actor(task: str) -> Actor:
    return Actor(kind="system", id=task, label=task)
