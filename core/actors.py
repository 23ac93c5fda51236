"""Who did something: a user, an API key, or a system task. Recorded on every audit event."""

from __future__ import annotations

from dataclasses import dataclass

# How each kind of actor reads on a screen ("by anna (user)" read like a database row).
ACTOR_KIND_LABELS = {"user": "User", "api_key": "API key", "system": "Recon (automatic)"}


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "api_key" | "system"
    id: str
    label: str = ""


def system_actor(task: str) -> Actor:
    return Actor(kind="system", id=task, label=task)
