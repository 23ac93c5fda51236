"""Gunicorn settings for the web process (`gunicorn --config recon_site/gunicorn.conf.py`).

Read from the environment (documented in `.env.example`):
  PORT              listen port on 0.0.0.0 (default 8000)
  WEB_CONCURRENCY   worker processes (default 2 x CPUs + 1, at most 8)
  GUNICORN_TIMEOUT  seconds a request may run before its worker is killed and replaced (default 30)
  LOG_LEVEL         gunicorn's own log level, the same variable the application uses (default INFO)

A bad value stops gunicorn at start-up with a message naming the variable.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# Each worker keeps its own database connection (CONN_MAX_AGE), so the computed default is
# capped: a large host should not quietly open dozens of PostgreSQL connections per node.
# Set WEB_CONCURRENCY to go past it.
MAX_DEFAULT_WORKERS = 8


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise RuntimeError(f"{name} must be greater than 0, got {value}")
    return value


def _available_cpus() -> int:
    """CPUs this process may use: its affinity set, further limited by a cgroup v2 CPU quota
    (`docker run --cpus`, Kubernetes limits), which `os.cpu_count()` does not see."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


wsgi_app = "recon_site.wsgi:application"
proc_name = "recon-web"

bind = f"0.0.0.0:{_positive_int('PORT', 8000)}"
workers = _positive_int("WEB_CONCURRENCY", min(2 * _available_cpus() + 1, MAX_DEFAULT_WORKERS))
timeout = _positive_int("GUNICORN_TIMEOUT", 30)

# Logs go to stdout/stderr for the container runtime to collect; the access line carries the
# request id the application puts on every response, so it can be joined with the app's logs.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'

# The worker heartbeat file lives on tmpfs when there is one: on a container's overlay
# filesystem the heartbeat's fchmod can stall a worker long enough to get it killed. (Gunicorn
# creates it with mkstemp and unlinks it at once, so a shared directory is safe.)
_TMPFS = "/dev/shm"  # noqa: S108
if Path(_TMPFS).is_dir():
    worker_tmp_dir = _TMPFS
