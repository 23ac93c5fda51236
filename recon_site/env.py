"""Every setting Recon reads from the environment, in one place.

Each variable is documented in `.env.example` with its default. A bad value fails at start-up
with a message naming the variable, never later in a request.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's `.env` is read if present; the process environment always wins.
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv), overwrite=False)


def positive_int(name: str, default: int) -> int:
    """An integer setting that must be > 0."""
    try:
        value = env.int(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number: {exc}") from exc
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than 0, got {value}")
    return value


def rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `600/min`."""
    value = env.str(name, default=default)
    count, _, period = value.partition("/")
    if not count.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must look like '600/min', got {value!r}")
    return value
