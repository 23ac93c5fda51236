"""Production settings: secure cookies and headers; refuses to start without its essentials."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from recon_site.env import env, whole_number

# Checked before the base settings load: without DATABASE_URL they would start the embedded
# database, which is for a laptop, and the default host list only admits localhost.
for _required in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"):
    if not env.str(_required, default=""):
        raise ImproperlyConfigured(f"{_required} must be set in production")

from recon_site.settings.base import *  # noqa: E402, F403

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = whole_number("SECURE_HSTS_SECONDS", 0)

# Audit checkpoints signed with a key derived from SECRET_KEY would couple the two secrets'
# lifecycles and let anyone holding SECRET_KEY forge the auditor's witness (audit.checkpoints).
if not AUDIT_CHECKPOINT_KEY:  # noqa: F405
    raise ImproperlyConfigured("AUDIT_CHECKPOINT_KEY must be set in production (see .env.example)")
