"""Configuration fails at start-up with a message naming the variable; the docs work offline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

BASE_DIR = Path(__file__).resolve().parent.parent
# A URL is enough for settings to load: nothing connects at import.
UNREACHABLE_DB = "postgres://nobody@127.0.0.1:1/none"


def _load(module: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=BASE_DIR, env=clean, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NATS_ENABLED": "enabled"}, "NATS_ENABLED must be true or false, got 'enabled'"),
        ({"Q_WORKERS": "two"}, "Q_WORKERS must be a whole number"),
        ({"DB_CONN_MAX_AGE": "-5"}, "DB_CONN_MAX_AGE must be at least 0, got -5"),
        ({"Q_TIMEOUT": "600"}, "Q_RETRY must be greater than Q_TIMEOUT"),
        ({"THROTTLE_TENANT_RATE": "lots"}, "THROTTLE_TENANT_RATE must look like '600/min'"),
        ({"NATS_DISCREPANCY_SUBJECT": "other.discrepancy"}, "NATS_DISCREPANCY_SUBJECT must start with"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must be a postgres:// URL"),
        ({"AUDIT_CHECKPOINT_KEY": "not-a-key"}, "AUDIT_CHECKPOINT_KEY must be url-safe base64 of 32 bytes"),
        ({"AUDIT_CHECKPOINT_PUBLIC_KEYS": "c2hvcnQ="}, "AUDIT_CHECKPOINT_PUBLIC_KEYS must be url-safe base64"),
    ],
)
def test_bad_values_stop_the_app_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = _load("recon_site.settings.base", **{"DATABASE_URL": UNREACHABLE_DB, **env})
    assert result.returncode != 0
    assert message in result.stderr


# Any 32 bytes, url-safe base64: an Ed25519 private key signing the audit checkpoints.
CHECKPOINT_KEY = "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "AUDIT_CHECKPOINT_KEY"])
def test_production_refuses_to_start_without_its_essentials(missing: str) -> None:
    env = {"SECRET_KEY": "s3cret", "DATABASE_URL": UNREACHABLE_DB, "ALLOWED_HOSTS": "recon.example.com",
           "AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY}  # fmt: skip
    del env[missing]
    result = _load("recon_site.settings.production", **env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_loads_with_them() -> None:
    env = {"SECRET_KEY": "s3cret", "DATABASE_URL": UNREACHABLE_DB, "ALLOWED_HOSTS": "recon.example.com",
           "AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY}  # fmt: skip
    assert _load("recon_site.settings.production", **env).returncode == 0


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_other_hosts(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200
