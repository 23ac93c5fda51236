"""The embedded default database: a private PostgreSQL from the `pgserver` wheel under `var/`.

Used only when `DATABASE_URL` is unset, so `make run` and `make test` work on a machine with
nothing but Python. It is a real PostgreSQL (16), so there is one SQL dialect everywhere.

pgserver counts the processes holding a handle on the data directory and stops the server when
the last one exits, so `make run`'s children (web, worker) and a test session share one server
and Ctrl-C leaves nothing running. The data directory survives, so the next run reuses it.

It is laid out as production should be (core.tenancy.roles): the bootstrap superuser creates
the owner role, which migrates, and the runtime role, which the app and workers connect as.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

DATABASE_NAME = "recon"

# The handle must live as long as the process: pgserver stops the server when the last
# handle's process exits.
_server: Any = None


def embedded_database_settings(var_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start (or join) the embedded server; Django settings for the runtime role and the owner."""
    global _server
    var_dir.mkdir(parents=True, exist_ok=True)
    # pgserver asks platformdirs for a runtime dir (a fallback socket location for long paths)
    # when it is imported; give it one of ours rather than a warning about the missing variable.
    runtime_dir = var_dir / "run"
    runtime_dir.mkdir(mode=0o700, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pgserver  # imported here: only the embedded path needs it
    import psycopg

    from core.tenancy.roles import OWNER_ROLE, RUNTIME_ROLE, roles_ensure

    _server = pgserver.get_server(var_dir / "pgdata", cleanup_mode="stop")
    # pgserver listens on a Unix socket only; its URI carries the socket directory as `host`.
    socket_dir = parse_qs(urlparse(_server.get_uri()).query)["host"][0]
    with psycopg.connect(host=socket_dir, user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    # Every process that loads settings passes here; the bootstrap is idempotent and cheap.
    with psycopg.connect(host=socket_dir, user="postgres", dbname=DATABASE_NAME, autocommit=True) as conn:
        roles_ensure(conn, database=DATABASE_NAME)
    runtime = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": RUNTIME_ROLE,
        "PASSWORD": "",
        "HOST": socket_dir,
        "PORT": "",
    }
    return runtime, {**runtime, "USER": OWNER_ROLE}
