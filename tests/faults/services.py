"""Private, killable service instances for the fault tests, and the app launched against them.

The machine's shared PostgreSQL, Redis and NATS are never stopped: each fault test starts its
own server on a free port in a temporary directory and stops, kills or restarts that one. Every
process is started in a session of its own (so a signal reaches its whole group: a qcluster's
workers, gunicorn's workers) and is stopped by the context manager that started it, whatever the
test did, so no orphan outlives the test.

`app_environment` is the one place the environment of a spawned Recon process (web app, worker,
`manage.py`) is built; a change of database role or settings for spawned processes goes there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg

from benchmarks.load.services import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 10
START_TIMEOUT_S = 30


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def wait_until(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(interval)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Process:
    """A child in its own session, its output in `log`."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, argv: list[str], *, log: Path, env: Mapping[str, str] | None = None, user: str | None = None
    ) -> Process:
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
            )
        return cls(name=name, popen=popen, log=log)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> None:
        """Signal the group, wait, then SIGKILL the group if it is still there."""
        if self.alive():
            self.signal_group(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        # Children of the leader (workers) may outlive it: the group is killed either way.
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9 of the whole group, as an OOM killer or a lost node would."""
        self.signal_group(signal.SIGKILL)
        self.popen.wait(timeout=STOP_TIMEOUT_S)

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}, exit {self.popen.poll()}):\n{log_tail(self.log)}"


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"recon-fault-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_bin_dir() -> Path:
    """The `pgserver` wheel's binaries (a requirement, so always there), else the system's."""
    # Found, not imported: importing pgserver sets up its own runtime directory.
    spec = importlib.util.find_spec("pgserver")
    bundled = Path(spec.origin).parent / "pginstall" / "bin" if spec and spec.origin else Path("/nonexistent")
    if (bundled / "postgres").exists():
        return bundled
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    raise RuntimeError("no PostgreSQL binaries: neither pgserver's nor /usr/lib/postgresql/*/bin")


def _postgres_os_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@dataclass
class PrivatePostgres:
    """A throwaway cluster: `start()`, `stop()` (fast shutdown), `start()` again on the same port."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: Process | None = None

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        user = _postgres_os_user()
        if user is not None:
            shutil.chown(self.directory, user=user)
        bin_dir = postgres_bin_dir()
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=60,
            user=user,
            cwd=self.directory,
        )

    def start(self) -> None:
        argv = [
            str(postgres_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.directory}",
            # A scratch cluster: durability across an OS crash is not what these tests are about.
            "-c",
            "fsync=off",
            "-c",
            "max_connections=50",
        ]
        self.process = Process.start("postgres", argv, log=self.directory / "postgres.log", user=_postgres_os_user())
        wait_until(self.ready, timeout=START_TIMEOUT_S, what=f"PostgreSQL on {self.port}: {self.process.describe()}")

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def stop(self) -> None:
        """SIGINT is PostgreSQL's fast shutdown (`pg_ctl stop -m fast`): sessions are cut off."""
        if self.process is not None:
            self.process.stop(signal.SIGINT)
            self.process = None

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    with scratch_dir("pg") as directory:
        server = PrivatePostgres(directory=directory)
        try:
            server.init()
            server.start()
            yield server
        finally:
            server.stop()


# --- NATS and Redis -------------------------------------------------------------------------------


@dataclass
class PrivateServer:
    """A service binary on a port of its own; its directory and port survive `stop()`/`start()`."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: Process | None = None

    name: ClassVar[str]

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        self.process = Process.start(self.name, self.argv(), log=self.directory / f"{self.name}.log")
        wait_until(lambda: port_open(self.port), timeout=START_TIMEOUT_S, what=self.process.describe())

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGTERM)
            self.process = None


@dataclass
class PrivateNats(PrivateServer):
    """nats-server with JetStream, its store in `directory`."""

    name: ClassVar[str] = "nats-server"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        return [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.directory)]


@dataclass
class PrivateRedis(PrivateServer):
    """redis-server keeping nothing on disk."""

    name: ClassVar[str] = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return [binary, *options, "--dir", str(self.directory)]


@contextlib.contextmanager
def _running(server_class: type[PrivateServer], prefix: str) -> Iterator[Any]:
    with scratch_dir(prefix) as directory:
        server = server_class(directory=directory)
        try:
            server.start()
            yield server
        finally:
            server.stop()


def private_nats() -> contextlib.AbstractContextManager[PrivateNats]:
    return _running(PrivateNats, "nats")


def private_redis() -> contextlib.AbstractContextManager[PrivateRedis]:
    return _running(PrivateRedis, "redis")


# --- Recon processes ------------------------------------------------------------------------------


def app_environment(*, database_url: str, redis_url: str = "", nats_url: str = "", **extra: str) -> dict[str, str]:
    """The environment of every Recon process a fault test spawns (web app, worker, manage.py).

    Production-like settings (not the test settings): DEBUG off, so errors reach the handlers a
    deployment runs. No REDIS_URL means the local-memory cache and django-q2's ORM broker on the
    same database, so a worker started here takes tasks only from that database.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "recon_site.settings.base",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "MATCH_ON_INGEST": "false",
        "NATS_ENABLED": "true" if nats_url else "false",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    if nats_url:
        env["NATS_URL"] = nats_url
    env.update(extra)
    return env


def manage(*args: str, env: Mapping[str, str], timeout: float = 120) -> str:
    """`manage.py ARGS` in a child process; its stdout, or a failure with its output."""
    completed = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} exited {completed.returncode}:\n{completed.stderr[-3000:]}")
    return completed.stdout


@dataclass
class WebApp:
    """The real app under gunicorn with one worker (so "the same process" is one pid)."""

    process: Process
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> set[int]:
        import psutil

        return {child.pid for child in psutil.Process(self.process.pid).children()}


@contextlib.contextmanager
def web_app(env: Mapping[str, str], directory: Path) -> Iterator[WebApp]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--config", "recon_site/gunicorn.conf.py"]
    argv += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "30"]
    process = Process.start("gunicorn", argv, log=directory / "web.log", env=env)
    app = WebApp(process=process, port=port)
    try:
        wait_until(
            lambda: not process.alive() or http(f"{app.base}/health").status in (200, 503),
            timeout=60,
            what=f"the web app on {port}",
            interval=0.2,
        )
        assert process.alive(), process.describe()
        yield app
    finally:
        process.stop(signal.SIGTERM)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(url: str, *, method: str = "GET", api_key: str = "", body: Any = None, timeout: float = 15) -> HttpResponse:
    """One request over loopback; connection errors come back as status 0."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 (our own loopback URL)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return HttpResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, dict(exc.headers), exc.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return HttpResponse(0, {}, b"")
