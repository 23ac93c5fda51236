"""Fixtures of the learning tests."""

from __future__ import annotations

from tests.matching.conftest import no_matching_tasks

__all__ = ["no_matching_tasks"]
