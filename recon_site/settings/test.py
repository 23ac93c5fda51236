"""Test settings: the real database and services, fast password hashing, quiet logs."""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit


def _redis_url_of_worker(url: str, worker: str) -> str:
    """A pytest-xdist worker's own Redis database (`gw0` → the configured one + 1, …): the cache,
    the rate counters and django-q2's queue of one worker never meet another's, as each worker's
    test database is its own. Redis has 16 databases (0–15) unless configured otherwise."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    index = int(worker.removeprefix("gw") or 0)
    return urlunsplit(parts._replace(path=f"/{(base + 1 + index) % 16}"))


# Before base reads it, and in the environment, so processes a test starts see the same one.
if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = _redis_url_of_worker(os.environ["REDIS_URL"], os.environ["PYTEST_XDIST_WORKER"])

from recon_site.settings.base import *  # noqa: E402, F403
from recon_site.settings.base import REST_FRAMEWORK  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# No API rate limits (nothing counted) in ordinary tests; throttle tests set their own. Counting
# would need the counter store, which without Redis is the database: not there for a test without
# database access, nor for the schema a fuzz test loads while tests are being collected.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"tenant": None, "anon": None},
}

# Flushes between transactional tests must get past the audit log's TRUNCATE trigger.
DATABASES["default"]["ENGINE"] = "recon_site.test_db"  # noqa: F405
# The suite connects as a superuser (it creates and flushes the test database) and runs each
# test as the runtime role (tests/conftest.py), which the owner grants to after migrating.
if not DATABASE_URL:  # noqa: F405  (the embedded server: its bootstrap superuser)
    DATABASES["default"]["USER"] = "postgres"  # noqa: F405
DB_RUNTIME_ROLE = env.str("DB_RUNTIME_ROLE", default="recon_app")  # noqa: F405
# No checkpoint file: the suite must not append to the developer's var/ witness; the tests of
# checkpoints give their own file.
AUDIT_CHECKPOINT_FILE = ""
# Kept files go to a directory of this run, not to the developer's var/files, nor to a bucket a
# developer's .env names (SOURCE_FILES_S3_BUCKET): tests/source_files/conftest.py gives the S3
# tests their own endpoint.
STORAGES["source_files"] = {  # noqa: F405
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {
        "location": tempfile.mkdtemp(prefix="recon-test-files-"),
        "file_permissions_mode": 0o600,
        "directory_permissions_mode": 0o700,
    },
}
# A lock taken against the documented order raises in every test (core/locks.py).
LOCK_ORDER_CHECKS = True
