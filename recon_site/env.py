"""Every setting Recon reads from the environment, in one place.

Each variable is documented in `.env.example` with its default. A bad value fails at start-up
with a message naming the variable, never later in a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A developer's `.env` is read if present; the process environment always wins.
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv), overwrite=False)


def whole_number(name: str, default: int, *, minimum: int = 0) -> int:
    """An integer setting of at least `minimum`."""
    try:
        value = env.int(name, default=default)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number: {exc}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def positive_int(name: str, default: int) -> int:
    """An integer setting that must be > 0."""
    return whole_number(name, default, minimum=1)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def flag(name: str, default: bool) -> bool:
    """A boolean setting. Anything but true/false/1/0/yes/no/on/off is refused rather than read
    as false, so `NATS_ENABLED=enabled` fails at start instead of silently turning events off."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `600/min`."""
    value = env.str(name, default=default)
    count, _, period = value.partition("/")
    if not count.isdigit() or not period or period[0] not in "smhd":
        raise ImproperlyConfigured(f"{name} must look like '600/min', got {value!r}")
    return value


def database_url(name: str, url: str) -> dict[str, Any]:
    """Django's settings for a `postgres://` URL from variable `name`.

    The host may be a percent-encoded Unix socket directory (`postgres://u@%2Frun%2Fpg/recon`),
    as libpq's own URIs allow; django-environ passes it on still encoded.
    """
    config: dict[str, Any] = env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL: PostgreSQL is the system of record")
    config["HOST"] = unquote(config.get("HOST") or "")
    return config
