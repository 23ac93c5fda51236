"""The scenario the web tests stand on is what they assume (else every other test lies)."""

from __future__ import annotations

import pytest

from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def test_scenario_puts_each_invoice_where_the_tests_expect(scenario: Scenario) -> None:
    assert (scenario.price_mismatch.status, scenario.price_mismatch.review_queue) == ("pending_review", "standard")
    assert scenario.original.status == "approved"
    assert (scenario.duplicate.status, scenario.duplicate.review_queue) == ("pending_review", "escalated")
