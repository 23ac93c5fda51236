"""Fixtures of the fault tests: the test database's URL for spawned processes, and the slow mark."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.db import connection

from core.tenancy.roles import runtime_database_url


def _require_binary(name: str, path: str) -> None:
    """A private server needs its binary: missing, a failure in CI (REQUIRE_SERVICES=1), else a skip."""
    if Path(path).exists() or shutil.which(name):
        return
    reason = f"{name} is not installed ({path})"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"REQUIRE_SERVICES=1 and {reason}")
    pytest.skip(reason)


@pytest.fixture
def require_nats_server() -> None:
    _require_binary("nats-server", "/usr/sbin/nats-server")


@pytest.fixture
def require_redis_server() -> None:
    _require_binary("redis-server", "/usr/bin/redis-server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def test_database_url(transactional_db: None) -> str:
    """A URL of the database this test writes to (committed, not rolled back), for a child process,
    as the runtime role the app's processes use."""
    return runtime_database_url(connection.settings_dict)
