"""Fixtures of the invoice tests: the webhook tests' settings and tenant secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import Tenant
from tenants.services import webhook_secret_rotate
from tests.factories import TEST_ACTOR


@pytest.fixture
def webhooks_quiet(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False  # no matching tasks queued by the invoices created here
    settings.WEBHOOK_SECRET = ""


@pytest.fixture
def secret(tenant: Tenant) -> str:
    return webhook_secret_rotate(tenant=tenant, actor=TEST_ACTOR)


@pytest.fixture
def other_secret(other_tenant: Tenant) -> str:
    return webhook_secret_rotate(tenant=other_tenant, actor=TEST_ACTOR)
