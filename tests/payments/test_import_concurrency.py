"""Two imports of one file at the same time, on real connections: one stores, the other skips."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import payments.services
from payments.models import Payment
from payments.services import StatementImportReport, statement_import
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, TenantFactory
from tests.threads import in_thread

STATEMENT = (Path(__file__).resolve().parent / "testdata" / "ming-ing-provided-example-single-message.txt").read_bytes()


@pytest.fixture
def held_inside_the_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The first import to build its rows (under the tenant's import lock) waits for `release`."""
    inside, release = threading.Event(), threading.Event()
    real = payments.services._payments
    calls = 0

    def held(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            inside.set()
            if not release.wait(timeout=20):
                raise TimeoutError("never released")
        return real(*args, **kwargs)

    monkeypatch.setattr(payments.services, "_payments", held)
    yield inside, release
    release.set()


def _import(tenant: Tenant) -> Callable[[], StatementImportReport]:
    return lambda: statement_import(tenant=tenant, binary=STATEMENT, filename="ing.txt", actor=TEST_ACTOR)


@pytest.mark.django_db(transaction=True)
def test_the_second_import_waits_and_then_finds_every_line_stored(
    held_inside_the_lock: tuple[threading.Event, threading.Event],
) -> None:
    inside, release = held_inside_the_lock
    tenant = TenantFactory()
    first_reports: list[StatementImportReport] = []
    second_reports: list[StatementImportReport] = []
    errors: list[BaseException] = []

    first = in_thread(_import(tenant), first_reports, errors)
    assert inside.wait(timeout=20), "the first import never got inside the lock"
    second = in_thread(_import(tenant), second_reports, errors)
    second.join(timeout=1)
    second_waited = second.is_alive()
    release.set()
    first.join(timeout=20)
    second.join(timeout=20)

    assert not errors, errors
    assert second_waited, "the second import must wait for the first one's lock"
    assert (first_reports[0].created, first_reports[0].duplicates) == (9, 0)
    assert (second_reports[0].created, second_reports[0].duplicates) == (0, 9)
    assert Payment.objects.for_tenant(tenant).count() == 9
