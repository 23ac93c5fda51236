"""How a code reads for a person: each code family's labels live with the app that owns the codes
(TextChoices labels where the code is a model's choice, a mapping beside the vocabulary where it
is not), and everything that shows a code to a person — pages, exports, the API's `*_label`
fields — reads them through `code_label`."""

from __future__ import annotations

from collections.abc import Mapping


def code_humanized(code: str) -> str:
    """The words of a code that has no label yet (an audit action an app added): `role_changed` →
    `Role changed`, `admin.updated` → `Admin: updated`. Every family the screens show has a test
    that each of its codes has a label, so this is only the last resort."""
    words = ": ".join(part.replace("_", " ") for part in code.split("."))
    return words[:1].upper() + words[1:]


def code_label(*, code: str | None, labels: Mapping[str, str]) -> str | None:
    """The label of `code` in its family's `labels`; None stays None (no queue, say)."""
    if code is None:
        return None
    code = str(code)
    return labels.get(code) or code_humanized(code)
