"""A statement import queues a reconciliation run once it commits (#18 item 5): new lines are
matched at once, not at the schedule's next turn; a dry run or a file adding nothing queues none."""

from __future__ import annotations

from typing import Any

import pytest

from core.actors import Actor
from payments.services import statement_import
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

ACTOR = Actor(kind="user", id="1", label="clerk")
STATEMENT = (
    b"booking_date,amount,currency,bank_transaction_id,bank_account,counterparty_name\n"
    b"2026-10-12,-4398.00,EUR,T-1,NL91ABNA0417164300,ALPHA Supplies Ltd\n"
)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The payments tasks handed to django-q2 (an audited commit's request for a seal of the tenant's
    audit chain is not sent either, and tested in tests/audit/test_sealing.py)."""
    calls: list[tuple[Any, ...]] = []

    def record(*args: Any, **kwargs: Any) -> None:
        if args[0].startswith("payments."):
            calls.append((args, kwargs))

    monkeypatch.setattr("django_q.tasks.async_task", record)
    return calls


def _import(tenant: Tenant, **options: Any) -> None:
    statement_import(tenant=tenant, binary=STATEMENT, filename="x.csv", actor=ACTOR, format="csv", **options)


def test_an_import_queues_reconciliation_after_commit(
    tenant: Tenant, queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _import(tenant)
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [(("payments.tasks.reconcile_payments", str(tenant.pk)), {"task_name": f"reconcile-{tenant.pk}"})]


def test_a_dry_run_or_a_file_adding_nothing_queues_nothing(
    tenant: Tenant, queued: list[tuple[Any, ...]], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        _import(tenant, dry_run=True)
    assert queued == []
    with django_capture_on_commit_callbacks(execute=True):
        _import(tenant)
    queued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _import(tenant)  # the same lines again: nothing new to reconcile
    assert queued == []


def test_a_broker_that_is_down_does_not_fail_the_import(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr("django_q.tasks.async_task", down)
    with django_capture_on_commit_callbacks(execute=True):
        _import(tenant)  # logged; the schedule reconciles later
