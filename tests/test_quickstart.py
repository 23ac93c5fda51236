"""The quickstart: `make run`'s set-up path from an empty var/ on the embedded PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# Runs inside the same VAR_DIR after set-up: reads the demo data back through the API.
_PROBE = """
import json, os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "recon_site.settings.base"
django.setup()
from django.test import Client
client = Client(HTTP_AUTHORIZATION="Bearer " + sys.argv[1])
counts = {}
for name in ("vendors", "purchase-orders", "goods-receipts", "invoices"):
    url, counts[name] = f"/api/{name}?page_size=500", 0
    while url:
        response = client.get(url)
        if response.status_code != 200:
            counts[name] = response.status_code
            break
        counts[name] += len(response.json()["results"])
        url = response.json()["next"]
print(json.dumps(counts))
"""


def _clean_env(var_dir: Path) -> dict[str, str]:
    """No DATABASE_URL, REDIS_URL or other settings: the embedded default."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "VAR_DIR": str(var_dir)}


def _setup(var_dir: Path) -> tuple[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "recon_site.quickstart", "--setup-only"],
        cwd=BASE_DIR,
        env=_clean_env(var_dir),
        capture_output=True,
        text=True,
        # A guard against a hang, not a timing: migrating and seeding the demo month took over
        # 300 s on this 2-core machine while other test processes and benches shared it.
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api_key = next(
        line.removeprefix("API key: ") for line in result.stdout.splitlines() if line.startswith("API key: ")
    )
    return result.stdout, api_key


def _counts(var_dir: Path, api_key: str) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, api_key],
        cwd=BASE_DIR,
        env=_clean_env(var_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_quickstart_from_empty_var_dir_loads_demo_data_and_reuses_it(tmp_path: Path) -> None:
    """An empty var/ gets a database with the demo tenant; a second run reuses it, not duplicates it."""
    var_dir = tmp_path / "var"
    output, api_key = _setup(var_dir)
    assert "Loaded the demo tenant" in output
    assert "embedded PostgreSQL" in output
    assert "Web login: clerk / " in output
    assert (var_dir / "pgdata" / "PG_VERSION").exists()

    first = _counts(var_dir, api_key)
    # The demo month (tests/test_demo_data.py checks what is in it): read back through the API.
    assert 35 <= first["vendors"] <= 45
    assert 550 <= first["purchase-orders"] <= 650
    assert first["goods-receipts"] >= first["purchase-orders"]
    assert 1300 <= first["invoices"] <= 1700

    output, second_key = _setup(var_dir)
    assert "reusing its data" in output
    assert second_key != api_key  # a fresh key each run; only hashes are stored
    assert _counts(var_dir, second_key) == first
    # The previous run's key was revoked when the new one was issued.
    assert _counts(var_dir, api_key) == dict.fromkeys(first, 401)
    # Each process held the embedded server only while it ran.
    assert not (var_dir / "pgdata" / "postmaster.pid").exists()
