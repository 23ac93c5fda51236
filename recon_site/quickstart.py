"""`make run`: set up and serve Recon on one machine, with demo data.

    python -m recon_site.quickstart [--setup-only]

1. Settings start the embedded PostgreSQL under `var/` when `DATABASE_URL` is unset (this
   process holds a handle on it, so it lives as long as we do).
2. Migrate, load the demo tenant (once), print the demo API key and the web logins.
3. Serve the app on http://$HOST:$PORT (default 127.0.0.1:8000) and run a django-q2 worker.

Ctrl-C stops the web server and the worker (each once), then this process, the last holding the
embedded database, stops it. The data under `var/` stays for next time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _setup() -> str:
    """Migrate and seed; returns the demo API key."""
    import django
    from django.core.management import call_command

    django.setup()
    print("Recon: migrating the database…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    output = StringIO()
    call_command("seed_demo", stdout=output)
    lines = output.getvalue().strip().splitlines()
    for line in lines[:-2]:  # the last two: seed_demo's heading for the key, and the key
        print(line, flush=True)
    return lines[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup-only", action="store_true", help="migrate and load demo data, then exit")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recon_site.settings.base")
    # A local run: Django serves the admin's static files and shows helpful error pages.
    os.environ.setdefault("DEBUG", "true")
    os.chdir(BASE_DIR)
    api_key = _setup()
    from django.conf import settings

    database = "embedded PostgreSQL under " + str(settings.VAR_DIR) if not settings.DATABASE_URL else "DATABASE_URL"
    print(f"Database: {database}", flush=True)
    print("Demo API key, sent as 'Authorization: Bearer <key>':", flush=True)
    print(f"API key: {api_key}", flush=True)
    if args.setup_only:
        return 0

    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Each child in its own session: Ctrl-C reaches only this launcher, which then stops each
    # child exactly once. (A second SIGINT, from the terminal and from us, would interrupt a
    # child's own clean-up half way.)
    children = [
        subprocess.Popen([*manage, "runserver", f"{host}:{port}", "--noreload"], env=child_env, start_new_session=True),
        subprocess.Popen([*manage, "qcluster"], env=child_env, start_new_session=True),
    ]
    print(
        f"Recon is running at http://{host}:{port}/ (API docs at /api/docs/, admin at /admin/). Ctrl-C stops.",
        flush=True,
    )

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:
            return  # already stopping: let the children finish their clean-up
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while any(child.poll() is None for child in children):
        time.sleep(0.2)
        if not stopping and any(child.poll() is not None for child in children):
            # One of them died on its own: take the other down too instead of half-running.
            stop(signal.SIGTERM, None)
            exit_code = 1
    deadline = time.monotonic() + 20
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    print("Recon stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
