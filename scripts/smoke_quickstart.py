"""Quickstart smoke check: `make run`'s launcher from a clean state with no services configured.

Boots the launcher in a new process group with an empty VAR_DIR and no DATABASE_URL/REDIS_URL
(so the embedded PostgreSQL is used), waits for /health, calls the API with the printed demo
key, then sends Ctrl-C (SIGINT to the group, as a terminal does) and checks that everything
stopped cleanly, the embedded database included. Exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The first boot migrates and seeds the demo month (about a minute; longer on a busy machine).
BOOT_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, api_key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def main() -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="recon-smoke-"))
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "VAR_DIR": str(var_dir),
        "PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "recon_site.quickstart"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    api_key: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            print("  | " + line, end="", flush=True)
            if line.startswith("API key: "):
                api_key.append(line.removeprefix("API key: ").strip())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(f"FAIL: the launcher exited early with {process.returncode}")
            try:
                if get(f"{base}/health")[0] == 200 and api_key:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"FAIL: not serving after {BOOT_TIMEOUT_S}s")
            time.sleep(0.5)

        status, body = get(f"{base}/api/invoices", api_key[0])
        invoices = json.loads(body).get("results", [])
        if status != 200 or not invoices:
            raise SystemExit(f"FAIL: GET /api/invoices gave {status} with {len(invoices)} invoices")
        status, _ = get(f"{base}/api/invoices")
        if status != 401:
            raise SystemExit(f"FAIL: an anonymous call gave {status}, expected 401")
        if get(f"{base}/api/docs/")[0] != 200 or get(f"{base}/admin/login/")[0] != 200:
            raise SystemExit("FAIL: /api/docs/ or /admin/login/ is not served")
        print(f"OK: serving on {base}; the demo API key lists {len(invoices)} invoices")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise SystemExit("FAIL: Ctrl-C did not stop the launcher within 60 s") from None
        reader.join(timeout=5)

    if process.returncode != 0:
        raise SystemExit(f"FAIL: the launcher exited with {process.returncode} after Ctrl-C")
    time.sleep(1)
    if (var_dir / "pgdata" / "postmaster.pid").exists():
        raise SystemExit("FAIL: the embedded PostgreSQL is still running after Ctrl-C")
    print("OK: Ctrl-C stopped the web server, the worker and the embedded PostgreSQL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
