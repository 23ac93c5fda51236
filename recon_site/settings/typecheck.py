"""Settings for the type checker: the test settings, with a database URL that is never used.

mypy's django-stubs plugin runs `django.setup()` to learn the models, and the base settings start
the embedded PostgreSQL when no DATABASE_URL is set; `make lint` must need no database. Setting
up Django reads the URL but connects to nothing, so any well-formed postgres:// URL does.
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://recon@127.0.0.1:5432/recon")

from recon_site.settings.test import *  # noqa: F403
