"""Production settings: HTTPS only, secure cookies and headers; refuses to start without its essentials.

With the defaults below `manage.py check --deploy` reports nothing (tests/test_settings.py). Each
HTTPS setting can be turned off from the environment, for a deployment that has a reason.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from recon_site.env import env, flag, whole_number

# Checked before the base settings load, so the message names what is missing and why, rather
# than whatever would fail first without it.
_REQUIRED = {
    "SECRET_KEY": "it signs sessions, CSRF tokens and password-reset links",
    "DATABASE_URL": "without it the embedded PostgreSQL of a laptop would start",
    "ALLOWED_HOSTS": "the default admits localhost only",
    # Without it every process keeps its own cache and the jobs go through the database; the
    # rate limits would still hold (their counters then live in PostgreSQL, core.rate_counters),
    # but every API request would write a row there.
    "REDIS_URL": "the job queue and the API's rate-limit counters are shared by every process through it",
}
for _name, _why in _REQUIRED.items():
    if not env.str(_name, default=""):
        raise ImproperlyConfigured(f"{_name} must be set in production: {_why} (see .env.example)")

from recon_site.settings.base import *  # noqa: E402, F403

DEBUG = False


def _proxy_ssl_header(name: str, default: str) -> tuple[str, str] | None:
    """`X-Forwarded-Proto: https` → Django's `("HTTP_X_FORWARDED_PROTO", "https")`; empty → None."""
    raw = env.str(name, default=default).strip()
    if not raw:
        return None
    header, separator, value = raw.partition(":")
    if not separator or not header.strip() or not value.strip() or " " in header.strip():
        raise ImproperlyConfigured(f"{name} must look like 'X-Forwarded-Proto: https' or be empty, got {raw!r}")
    return "HTTP_" + header.strip().upper().replace("-", "_"), value.strip()


# TLS ends at the proxy in front, which says so in this header; the proxy must set it (or strip
# what the client sent), or a client could claim HTTPS over plain HTTP.
SECURE_PROXY_SSL_HEADER = _proxy_ssl_header("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https")
SECURE_SSL_REDIRECT = flag("SECURE_SSL_REDIRECT", True)
# A load balancer's or container's health probe speaks plain HTTP to the app itself.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
SESSION_COOKIE_SECURE = flag("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = flag("CSRF_COOKIE_SECURE", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# A year, the host's subdomains included (those of recon.example.com, not of example.com).
SECURE_HSTS_SECONDS = whole_number("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# Off unless asked for: with `preload` in the header anyone may submit the domain to the browsers'
# built-in HTTPS-only list, a decision for the domain's owner and slow to undo. So is the check
# that asks for it (security.W021).
SECURE_HSTS_PRELOAD = flag("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Audit checkpoints signed with a key derived from SECRET_KEY would couple the two secrets'
# lifecycles and let anyone holding SECRET_KEY forge the auditor's witness (audit.checkpoints).
if not AUDIT_CHECKPOINT_KEY:  # noqa: F405
    raise ImproperlyConfigured("AUDIT_CHECKPOINT_KEY must be set in production (see .env.example)")
