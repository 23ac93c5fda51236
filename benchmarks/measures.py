"""The figures the benchmarks and the load test print: percentiles, peak memory, CPU time.

One definition each, so that a p99 or a peak RSS means the same in every report of the README.
"""

from __future__ import annotations

import math
import os
import resource
import time


def percentile(values: list[int], share: float) -> int:
    """Nearest-rank percentile: a value that occurred, not an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS; this runs on Linux servers).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CpuClock:
    """CPU seconds spent since it started: this process's, and the database server process's
    that serves its connection, read from `/proc` when PostgreSQL runs on this machine.

    On a machine shared with other work, wall time measures the queue for the cores as much as
    the code; CPU time measures the code. The server's share is what its backend process burnt
    for this connection (parsing, planning, executing, triggers, commit), statement timings
    cannot tell that apart from waiting once statements are pipelined. Where the server is
    elsewhere (or `/proc` is not readable) only the process's own share is reported.
    """

    def __init__(self) -> None:
        self.process_started = time.process_time()
        self.database_started = database_backend_cpu()

    def process_seconds(self) -> float:
        return time.process_time() - self.process_started

    def database_seconds(self) -> float | None:
        now = database_backend_cpu()
        if now is None or self.database_started is None:
            return None
        return now - self.database_started

    def describe(self) -> str:
        database = self.database_seconds()
        server = f"{database:.2f} s" if database is not None else "not measured (server not on this machine)"
        return f"CPU: this process {self.process_seconds():.2f} s, database server {server}"


def database_backend_cpu() -> float | None:
    """User + system CPU seconds of the PostgreSQL backend serving the default connection, if it
    is a process of this machine (fields 14 and 15 of /proc/<pid>/stat, in clock ticks)."""
    from django.db import connection

    connection.ensure_connection()
    pid = getattr(connection.connection.info, "backend_pid", None)
    try:
        with open(f"/proc/{pid}/stat") as stat:
            name, _, rest = stat.read().partition("(")[2].rpartition(")")
    except OSError:
        return None
    # A server in a container numbers its processes in its own namespace: the same pid here may
    # be some other program.
    if name != "postgres":
        return None
    fields = rest.split()
    # After the command name: state is field 3, utime 14 and stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
