"""Matching runs against the real PostgreSQL: the tenant lock under real concurrency (threads
with their own connections).

The engine's rules have their own tests (test_engine.py); these test what the database path adds.
Every expected value is worked out by hand in the comments.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import matching.engine.batch
import matching.services
import matching.writer
from core.actors import system_actor
from matching.models import MatchResult, MatchRun
from matching.services import matching_run_for_tenant
from purchasing.models import GoodsReceipt
from purchasing.services import goods_receipt_create
from tenants.models import Tenant
from tests.document_factories import GoodsReceiptDocumentFactory
from tests.factories import BOLTS, TEST_ACTOR, InvoiceFactory, PurchaseOrderFactory, TenantFactory
from tests.matching.runs import acme_vendor, reload, results_of, run_matching
from tests.threads import in_thread

pytestmark = pytest.mark.usefixtures("no_matching_tasks")


# --- the tenant lock, with real threads and connections ---------------------------------


def _worker_run(tenant: Tenant, worker: str) -> Callable[[], MatchRun]:
    return lambda: matching_run_for_tenant(
        tenant=tenant, trigger=MatchRun.Trigger.SCHEDULE, actor=system_actor(f"worker-{worker}")
    )


@pytest.fixture
def held_inside_the_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """`load_batch` (called with the tenant's lock held) signals `inside` and waits for `release`."""
    inside, release = threading.Event(), threading.Event()
    real = matching.services.load_batch

    def held(**kwargs: Any) -> Any:
        inside.set()
        if not release.wait(timeout=20):
            raise TimeoutError("never released")
        return real(**kwargs)

    monkeypatch.setattr(matching.services, "load_batch", held)
    yield inside, release
    release.set()  # never leave a thread hanging, whatever failed


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_tenant_one_runs_the_other_skips(
    held_inside_the_lock: tuple[threading.Event, threading.Event],
) -> None:
    inside, release = held_inside_the_lock
    tenant = TenantFactory()
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-1000", lines=[BOLTS], received=True)
    invoices = [
        InvoiceFactory(vendor=acme, invoice_number=f"INV-10{n}", po_number="PO-1000", lines=[BOLTS.times(f"{n}0")])
        for n in range(1, 7)
    ]  # 10 … 60 bolts: 1.25 … 7.50, each approved
    first_runs: list[MatchRun] = []
    second_runs: list[MatchRun] = []
    errors: list[BaseException] = []

    first = in_thread(_worker_run(tenant, "1"), first_runs, errors)
    assert inside.wait(timeout=20), "the first run never got inside the lock"
    second = in_thread(_worker_run(tenant, "2"), second_runs, errors)
    second.join(timeout=20)  # returns at once: the lock is taken
    second_done_while_first_held = not second.is_alive() and first.is_alive()
    release.set()
    first.join(timeout=20)

    assert not errors and second_done_while_first_held
    [first_run], [second_run] = first_runs, second_runs
    assert (first_run.status, first_run.invoices_matched) == ("finished", 6)
    assert (second_run.status, second_run.invoices_matched) == ("skipped", 0)
    assert not MatchResult.objects.for_tenant(tenant).filter(run_id=second_run.pk).exists()
    for invoice in invoices:
        assert [result.run_id for result in results_of(invoice)] == [first_run.pk]
        assert reload(invoice).status == "approved"
    assert MatchRun.objects.for_tenant(tenant).get(pk=second_run.pk).status == "skipped"


@pytest.mark.django_db(transaction=True)
def test_runs_of_two_tenants_at_the_same_time_both_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    tenants = [TenantFactory(), TenantFactory()]
    invoices = []
    for tenant in tenants:
        acme = acme_vendor(tenant)
        PurchaseOrderFactory(vendor=acme, po_number="PO-1100", lines=[BOLTS], received=True)
        invoices.append(InvoiceFactory(vendor=acme, invoice_number="INV-1100", po_number="PO-1100", lines=[BOLTS]))
    # Both runs must be inside their tenant's lock at once to get past this barrier; a lock that
    # served both tenants would make one skip and leave the other waiting until it breaks.
    barrier = threading.Barrier(2, timeout=20)
    real = matching.services.load_batch

    def together(**kwargs: Any) -> Any:
        barrier.wait()
        return real(**kwargs)

    monkeypatch.setattr(matching.services, "load_batch", together)
    runs: list[MatchRun] = []
    errors: list[BaseException] = []
    threads = [in_thread(_worker_run(tenant, str(n)), runs, errors) for n, tenant in enumerate(tenants)]
    for thread in threads:
        thread.join(timeout=30)

    assert not errors
    assert sorted((str(run.tenant_id), run.status, run.invoices_matched) for run in runs) == sorted(
        (str(tenant.pk), "finished", 1) for tenant in tenants
    )
    for invoice in invoices:
        assert reload(invoice).status == "approved" and len(results_of(invoice)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_receipt_booked_while_a_run_is_matching_is_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = TenantFactory()
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-1200", lines=[BOLTS])
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-1200", po_number="PO-1200", lines=[BOLTS])
    booked: list[GoodsReceipt] = []
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []
    real = matching.services.load_batch

    def load_then_book_the_receipt_elsewhere(**kwargs: Any) -> Any:
        batch = real(**kwargs)
        # A clerk books the goods receipt, on another connection, while the engine works.
        book = in_thread(
            lambda: goods_receipt_create(
                tenant=tenant,
                document=GoodsReceiptDocumentFactory(
                    po_number="PO-1200", receipt_number="GR-1200", quantities={1: "1000"}
                ),
                actor=TEST_ACTOR,
            ),
            booked,
            errors,
        )
        threads.append(book)
        book.join(timeout=2)  # a fix that makes the receipt wait for the run may keep it waiting
        return batch

    monkeypatch.setattr(matching.services, "load_batch", load_then_book_the_receipt_elsewhere)
    run_matching(tenant)
    monkeypatch.undo()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors

    # The goods are in and the invoice bills exactly them: the next run must approve it.
    run_matching(tenant)
    assert reload(invoice).status == "approved"
