"""Fixtures of the matching tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def no_matching_tasks(settings: Any) -> None:
    """Runs are started by the tests themselves, never queued by ingestion or receipts."""
    settings.MATCH_ON_INGEST = False
