"""The load test's served processes: gunicorn instances and django-q2 clusters, as subprocesses.

Their environment is built in one function (`load_services_environment`); `load_services` starts
`instances` of each — as many machines would run them: each gunicorn on a port of its own, every
cluster taking tasks from the one queue on the broker, all on the one PostgreSQL —, waits until
every web server answers `/health`, and stops them all in every case (exception, Ctrl-C,
SIGTERM): SIGTERM, then SIGKILL to their whole process group after a grace period, so no worker
outlives the command.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.core.management.base import CommandError
from django_q.brokers import get_broker

BASE_DIR = Path(settings.BASE_DIR)
BOOT_TIMEOUT_S = 60.0
STOP_GRACE_S = 20.0

BOOT_FAILED = "{name} exited with status {status} while starting; its log: {log}"
BOOT_TIMED_OUT = "The web server {name} did not answer /health within {seconds:.0f} s; its log: {log}"


def load_services_environment(*, database_url: str, redis_url: str, cluster_name: str) -> dict[str, str]:
    """The environment of the web server and the worker, built in one place.

    They run the real settings (`recon_site.settings.base`, not the test ones) against
    `database_url`. `Q_CLUSTER_NAME` gives the workers a queue of their own, shared by all the
    clusters of the run (django-q2 reads it).
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "recon_site.settings.base",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "Q_CLUSTER_NAME": cluster_name,
        "DEBUG": "false",
        "MATCH_ON_INGEST": "true",
        "THROTTLE_TENANT_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    # Tracing would measure the exporter too.
    environment.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each (a graceful stop for both gunicorn and qcluster, all at once, so they stop
    side by side), then SIGKILL to each one's group."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        # Each child leads its own process group (start_new_session): this reaches its workers
        # too, even when the leader has already exited without waiting for them.
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM while the children are stopped would interrupt the stopping
    and leave some running; it is bounded anyway (STOP_GRACE_S, then SIGKILL)."""
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass(frozen=True)
class RunningServices:
    base_urls: list[str]  # one per web server
    logs: dict[str, Path]  # by name: web-1, web-2, …, worker-1, worker-2, …
    process_groups: list[int]  # each child's (it leads its own); all gone once the block ends

    def logs_of(self, kind: str) -> dict[str, Path]:
        """The logs of the web servers (`web`) or of the clusters (`worker`), by name."""
        return {name: path for name, path in self.logs.items() if name.startswith(f"{kind}-")}


@contextmanager
def load_services(
    *, environment: dict[str, str], instances: int = 1, web_workers: int | None, log_dir: Path
) -> Iterator[RunningServices]:
    """`instances` gunicorn servers on free loopback ports and as many django-q2 clusters, running
    until the block ends.

    The clusters log at INFO, whatever the environment says: each matching run's line
    (`Matching run …: finished, …`) is how the report tells which cluster ran what.
    """
    ports = [free_port() for _ in range(instances)]
    commands: dict[str, list[str]] = {}
    environments: dict[str, dict[str, str]] = {}
    for number, port in enumerate(ports, start=1):
        commands[f"web-{number}"] = [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            str(BASE_DIR / "recon_site" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            *(["--workers", str(web_workers)] if web_workers else []),
        ]
        environments[f"web-{number}"] = environment
    for number in range(1, instances + 1):
        commands[f"worker-{number}"] = [sys.executable, str(BASE_DIR / "manage.py"), "qcluster"]
        environments[f"worker-{number}"] = {**environment, "LOG_LEVEL": "INFO"}
    logs = {name: log_dir / f"{name}.log" for name in commands}
    base_urls = {f"web-{number}": f"http://127.0.0.1:{port}" for number, port in enumerate(ports, start=1)}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                # Own session: a terminal's Ctrl-C reaches only this command, which stops each
                # child once (a second SIGINT would interrupt their clean-up).
                processes[name] = subprocess.Popen(
                    command,
                    cwd=BASE_DIR,
                    env=environments[name],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        waiting = dict(base_urls)
        while waiting:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise CommandError(
                        BOOT_FAILED.format(name=name, status=process.returncode, log=logs[name])
                        + "\n"
                        + _log_tail(logs[name])
                    )
            for name, base_url in list(waiting.items()):
                try:
                    if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                        del waiting[name]
                except httpx.TransportError:
                    pass
            if waiting and time.monotonic() > deadline:
                name = next(iter(waiting))
                raise CommandError(BOOT_TIMED_OUT.format(name=name, seconds=BOOT_TIMEOUT_S, log=logs[name]))
            if waiting:
                time.sleep(0.2)
        yield RunningServices(
            base_urls=list(base_urls.values()),
            logs=logs,
            process_groups=[process.pid for process in processes.values()],
        )
    finally:
        with _signals_ignored():
            _stop(list(processes.values()))
            # Drains still queued behind the last one would find nothing to do; on a shared
            # Redis their list would stay forever.
            get_broker(environment["Q_CLUSTER_NAME"]).delete_queue()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the `finally` that stops the subprocesses runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
