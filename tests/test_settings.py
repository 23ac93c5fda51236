"""Configuration fails at start-up with a message naming the variable; the docs work offline."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from core.tenancy.roles import runtime_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
# A URL is enough for settings to load: nothing connects at import.
UNREACHABLE_DB = "postgres://nobody@127.0.0.1:1/none"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


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
        ({"LOGIN_FAILURE_LIMIT": "0"}, "LOGIN_FAILURE_LIMIT must be at least 1, got 0"),
        ({"LOGIN_COOLOFF_MINUTES": "a while"}, "LOGIN_COOLOFF_MINUTES must be a whole number"),
        (
            {"SOURCE_FILES_S3_ENDPOINT_URL": "http://minio:9000"},
            "SOURCE_FILES_S3_ENDPOINT_URL is set but SOURCE_FILES_S3_BUCKET is not",
        ),
        (
            {"SOURCE_FILES_S3_BUCKET": "b", "SOURCE_FILES_S3_ENDPOINT_URL": "minio:9000"},
            "SOURCE_FILES_S3_ENDPOINT_URL must be an http(s):// URL, got 'minio:9000'",
        ),
        (
            {"SOURCE_FILES_S3_BUCKET": "b", "SOURCE_FILES_S3_ENCRYPTION": "yes"},
            "SOURCE_FILES_S3_ENCRYPTION must be AES256, aws:kms or empty, got 'yes'",
        ),
        (
            {"SOURCE_FILES_S3_BUCKET": "b", "SOURCE_FILES_S3_ENCRYPTION": "AES256", "SOURCE_FILES_S3_KMS_KEY_ID": "k"},
            "SOURCE_FILES_S3_KMS_KEY_ID needs SOURCE_FILES_S3_ENCRYPTION=aws:kms",
        ),
        (
            {"SOURCE_FILES_S3_BUCKET": "b", "SOURCE_FILES_S3_ADDRESSING_STYLE": "dns"},
            "SOURCE_FILES_S3_ADDRESSING_STYLE must be auto, path or virtual, got 'dns'",
        ),
    ],
)
def test_bad_values_stop_the_app_naming_the_variable(env: dict[str, str], message: str) -> None:
    result = _load("recon_site.settings.base", **{"DATABASE_URL": UNREACHABLE_DB, **env})
    assert result.returncode != 0
    assert message in result.stderr


SOURCE_FILES_STORAGE = """
import json, recon_site.settings.base as settings
print(json.dumps(settings.STORAGES["source_files"]))
"""


def _source_files_storage(**env: str) -> dict[str, Any]:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_URL": UNREACHABLE_DB, **env}
    result = subprocess.run(
        [sys.executable, "-c", SOURCE_FILES_STORAGE], cwd=BASE_DIR, env=clean, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    storage: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return storage


def test_kept_files_go_to_a_directory_unless_a_bucket_is_named(tmp_path: Path) -> None:
    on_disk = _source_files_storage(SOURCE_FILES_DIR=str(tmp_path))
    assert on_disk["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert on_disk["OPTIONS"]["location"] == str(tmp_path.resolve())
    assert on_disk["OPTIONS"]["file_permissions_mode"] == 0o600

    in_bucket = _source_files_storage(
        SOURCE_FILES_DIR=str(tmp_path),
        SOURCE_FILES_S3_BUCKET="acme-recon-files",
        SOURCE_FILES_S3_ENDPOINT_URL="https://s3.example.net",
        SOURCE_FILES_S3_REGION="eu-central-1",
        SOURCE_FILES_S3_ADDRESSING_STYLE="path",
        SOURCE_FILES_S3_ENCRYPTION="aws:kms",
        SOURCE_FILES_S3_KMS_KEY_ID="alias/recon-files",
    )
    assert in_bucket["BACKEND"] == "source_files.storage.SourceFileS3Storage"
    assert in_bucket["OPTIONS"] == {
        "bucket_name": "acme-recon-files",
        "endpoint_url": "https://s3.example.net",
        "region_name": "eu-central-1",
        "addressing_style": "path",
        "file_overwrite": False,
        "default_acl": None,
        "querystring_auth": True,
        "custom_domain": None,
        "object_parameters": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/recon-files"},
    }
    # A bucket alone: AWS's endpoint and the region boto3 finds, no encryption header (the bucket's own default).
    bare = _source_files_storage(SOURCE_FILES_S3_BUCKET="acme-recon-files")["OPTIONS"]
    assert (bare["endpoint_url"], bare["region_name"], bare["object_parameters"]) == (None, None, {})


# Any 32 bytes, url-safe base64: an Ed25519 private key signing the audit checkpoints.
CHECKPOINT_KEY = "3q2-7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhs="


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "REDIS_URL", "AUDIT_CHECKPOINT_KEY"]
)
def test_production_refuses_to_start_without_its_essentials(missing: str) -> None:
    env = {"SECRET_KEY": "s3cret", "DATABASE_URL": UNREACHABLE_DB, "ALLOWED_HOSTS": "recon.example.com",
           "REDIS_URL": UNREACHABLE_REDIS, "AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY}  # fmt: skip
    del env[missing]
    result = _load("recon_site.settings.production", **env)
    assert result.returncode != 0
    assert f"{missing} must be set in production" in result.stderr


def test_production_loads_with_them() -> None:
    env = {"SECRET_KEY": "s3cret", "DATABASE_URL": UNREACHABLE_DB, "ALLOWED_HOSTS": "recon.example.com",
           "REDIS_URL": UNREACHABLE_REDIS, "AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY}  # fmt: skip
    assert _load("recon_site.settings.production", **env).returncode == 0


def _production(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python ARGV` with the production settings, their essentials, and `env` over them."""
    essentials = {
        "DJANGO_SETTINGS_MODULE": "recon_site.settings.production",
        "SECRET_KEY": secrets.token_urlsafe(50),  # what check --deploy asks of a key
        "DATABASE_URL": UNREACHABLE_DB,
        "ALLOWED_HOSTS": "recon.example.com",
        "REDIS_URL": UNREACHABLE_REDIS,
        "AUDIT_CHECKPOINT_KEY": CHECKPOINT_KEY,
    }
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **essentials, **env}
    return subprocess.run(
        [sys.executable, *argv], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=120, check=False
    )


def test_production_defaults_pass_the_deploy_check() -> None:
    """HTTPS redirect, HSTS, secure cookies: `check --deploy` has nothing to say (issue #15)."""
    result = _production("manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_each_https_default_can_be_turned_off_and_the_deploy_check_then_says_so() -> None:
    result = _production(
        "manage.py", "check", "--deploy",
        SECURE_SSL_REDIRECT="false", SESSION_COOKIE_SECURE="false", CSRF_COOKIE_SECURE="false", SECURE_HSTS_SECONDS="0",
    )  # fmt: skip
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr


def test_a_malformed_proxy_ssl_header_stops_production_naming_it() -> None:
    result = _production("-c", "import recon_site.settings.production", SECURE_PROXY_SSL_HEADER="https")
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto: https'" in result.stderr


HTTPS_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
health = client.get("/health")
login = client.get("/login")
secure = client.get("/login", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "health": health.status_code,
    "login": [login.status_code, login.get("Location")],
    "secure": [secure.status_code, secure.get("Strict-Transport-Security"), secure.cookies["csrftoken"]["secure"]],
}))
"""


@pytest.mark.django_db
def test_production_sends_browsers_to_https_but_health_answers_over_plain_http() -> None:
    """A load balancer's or container's probe speaks plain HTTP to the app: /health must answer
    it, not redirect it."""
    result = _production(
        "-c", HTTPS_PROBE, DATABASE_URL=runtime_database_url(connection.settings_dict), ALLOWED_HOSTS="testserver"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["health"] == 200
    assert answers["login"] == [301, "https://testserver/login"]
    assert answers["secure"] == [200, "max-age=31536000; includeSubDomains", True]


# --- docker compose --------------------------------------------------------------------------------

COMPOSE = (BASE_DIR / "docker-compose.yml").read_text()
ENV_EXAMPLE = (BASE_DIR / ".env.example").read_text()
DATABASE_PASSWORDS = ("POSTGRES_PASSWORD", "RECON_OWNER_PASSWORD", "RECON_APP_PASSWORD")


@pytest.mark.parametrize("password", DATABASE_PASSWORDS)
def test_compose_refuses_to_start_without_real_database_passwords(password: str) -> None:
    """Every use of a database password in docker-compose.yml is `${NAME:?message}` (compose then
    stops, naming it, when it is unset or empty), never a default anyone could know."""
    uses = re.findall(r"\$\{" + password + r"([^}]*)\}", COMPOSE)
    assert uses, f"{password} is not used in docker-compose.yml"
    assert all(use.startswith(":?") for use in uses), uses
    # .env.example leaves it unset, so copying it as is does not start a stack with a known one.
    assert not re.search(rf"^{password}=", ENV_EXAMPLE, re.MULTILINE)


def test_every_variable_compose_fills_in_is_documented_in_env_example() -> None:
    variables = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE))
    undocumented = {name for name in variables if not re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.MULTILINE)}
    assert not undocumented


def test_env_example_lists_the_database_role_variables() -> None:
    for name in ("SUPERUSER_DATABASE_URL", *DATABASE_PASSWORDS):
        assert re.search(rf"^#? ?{name}=", ENV_EXAMPLE, re.MULTILINE), name


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_other_hosts(client: Client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.content.decode())
    assert assets and all(asset.startswith("/static/") for asset in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200


def _compose_app_block() -> str:
    """The `x-app` anchor every app container (web, worker, db-roles) is built from."""
    return COMPOSE.split("x-app: &app", 1)[1].split("\nservices:", 1)[0]


def test_a_setting_written_in_env_reaches_the_app_containers() -> None:
    """.env.example is the list of settings, and it says to copy it to .env for compose: each one
    set there (FIELD_ENCRYPTION_KEY, WEBHOOK_SECRET, ...) must reach the app, not only the few
    compose names in `${...}` (a production stack otherwise encrypted with a key derived from
    SECRET_KEY and refused every webhook, whatever .env said)."""
    app = _compose_app_block()
    assert re.search(r"^  env_file:\n    - path: \.env\n      required: false$", app, re.MULTILINE), app
    # What compose fixes for its own stack wins over a .env written for a local run.
    fixed = dict(re.findall(r"^    ([A-Z_][A-Z0-9_]*): (.+)$", app, re.MULTILINE))
    assert fixed["VAR_DIR"] == "/app/var" and fixed["PORT"] == '"8000"'
    assert fixed["REDIS_URL"] == "redis://redis:6379/0" and fixed["NATS_URL"] == "nats://nats:4222"
    assert "@postgres:5432/recon" in fixed["DATABASE_URL"] and "@postgres:5432/recon" in fixed["MIGRATE_DATABASE_URL"]
    # db-roles replaces the environment with its own (it inherits env_file): VAR_DIR again.
    db_roles = COMPOSE.split("\n  db-roles:\n", 1)[1].split("\n  web:\n", 1)[0]
    assert re.search(r"^      VAR_DIR: /app/var$", db_roles, re.MULTILINE), db_roles
