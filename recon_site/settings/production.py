"""Production settings: secure cookies and headers; refuses to start without a real secret."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from recon_site.env import env
from recon_site.settings.base import *  # noqa: F403

if env.str("SECRET_KEY", default="") == "":
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
