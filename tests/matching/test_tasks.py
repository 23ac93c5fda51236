"""Matching in the background (DESIGN.md §5): what gets queued and when, the scheduled tasks and
their schedules, the operator command, and one task through a real django-q2 Redis broker."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import re
import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.documents import InvoiceDocument
from invoices.models import Invoice, InvoiceSource, InvoiceStatus, ReviewQueue
from invoices.services import invoice_create
from matching import tasks as matching_tasks
from matching.holds import HOLD_EXPIRED, matching_escalate_stale_holds
from matching.management.commands.run_matching import NAME_A_TENANT
from matching.models import MatchRun
from purchasing.models import PurchaseOrder
from recon_site.schedules import schedules_ensure
from tenants.models import Tenant, TenantSettings
from tests.document_factories import InvoiceDocumentFactory
from tests.factories import (
    TEST_ACTOR,
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    Line,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    TenantFactory,
)

RUN_MATCHING = "matching.tasks.run_matching"

# One call of `async_task`: (func, args, kwargs).
Queued = tuple[str, tuple[Any, ...], dict[str, Any]]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Queued]:
    """Every matching task handed to django-q2, recorded instead of sent to a broker.

    Both doors are covered: `matching.services._enqueue_now` imports `django_q.tasks.async_task`
    when it runs, `matching.tasks` imported it once at module level. Other tasks are not sent
    either, and not recorded: every audited commit also asks for a seal of the tenant's audit
    chain (tests/audit/test_sealing.py), which is not what these tests are about.
    """
    calls: list[Queued] = []

    def record(func: str, *args: Any, **kwargs: Any) -> str:
        if func.startswith("matching."):
            calls.append((func, args, kwargs))
        return uuid.uuid4().hex

    monkeypatch.setattr("django_q.tasks.async_task", record)
    monkeypatch.setattr(matching_tasks, "async_task", record)
    return calls


def drain_call(tenant: Tenant, trigger: str) -> Queued:
    return (
        RUN_MATCHING,
        (str(tenant.pk),),
        {"run_id": None, "trigger": trigger, "task_name": f"matching-{tenant.pk}"},
    )


def invoice_body() -> dict[str, Any]:
    return {
        "invoice_number": "INV-Q-1",
        "vendor_name": "Initech Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "20.00",
        "lines": [{"description": "Paper", "quantity": "2", "unit_price": "10.00"}],
    }


def post_invoice(client: APIClient) -> None:
    response = client.post("/api/invoices", data=json.dumps(invoice_body()), content_type="application/json")
    assert response.status_code == 201, response.content


def received_invoice(tenant: Tenant, number: str = "INV-R-1") -> Invoice:
    """An invoice waiting in `received` (no PO: it will be matched to missing_po and escalated)."""
    created = InvoiceFactory(tenant=tenant, invoice_number=number, subtotal_amount=12500, total_amount=12500)
    InvoiceLineFactory(invoice=created, line_number=1)
    return created


# --- queued on ingest --------------------------------------------------------------------------


def test_an_invoice_created_through_the_api_queues_one_run_on_commit(
    api: APIClient, tenant: Tenant, settings: Any, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    settings.MATCH_ON_INGEST = True
    with django_capture_on_commit_callbacks(execute=True):
        post_invoice(api)
        assert queued == [], "queued before the invoice was committed"

    assert queued == [drain_call(tenant, "ingest")]


def test_many_invoices_in_one_transaction_queue_one_run_per_tenant(
    tenant: Tenant, other_tenant: Tenant, settings: Any, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    """An import of many invoices queues one drain per tenant, not one per invoice."""
    settings.MATCH_ON_INGEST = True

    def document(number: int) -> InvoiceDocument:
        return InvoiceDocumentFactory(
            invoice_number=f"INV-IMP-{number}", vendor_name="Initech Supplies", lines=[Line("", "Paper", "1", "10.00")]
        )

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for number in range(5):
            invoice_create(tenant=tenant, document=document(number), actor=TEST_ACTOR, source=InvoiceSource.CSV)
        invoice_create(tenant=other_tenant, document=document(99), actor=TEST_ACTOR, source=InvoiceSource.CSV)

    assert Invoice.objects.for_tenant(tenant).count() == 5
    assert sorted(queued) == sorted([drain_call(tenant, "ingest"), drain_call(other_tenant, "ingest")])


def test_nothing_is_queued_when_match_on_ingest_is_off(
    api: APIClient, tenant: Tenant, settings: Any, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    settings.MATCH_ON_INGEST = False
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        post_invoice(api)

    assert callbacks == []
    assert queued == []
    assert Invoice.objects.for_tenant(tenant).get().status == InvoiceStatus.RECEIVED


@pytest.fixture
def waiting_for_goods(tenant: Tenant) -> Invoice:
    """PO-900 with one line and no receipt yet, and an invoice of it on hold for the goods."""
    order = PurchaseOrderFactory(tenant=tenant, po_number="PO-900")
    PurchaseOrderLineFactory(purchase_order=order, line_number=1)
    return InvoiceFactory(
        tenant=tenant, vendor=order.vendor, purchase_order=order, po_number="PO-900", status=InvoiceStatus.ON_HOLD
    )


def post_receipt(client: APIClient, po_number: str = "PO-900") -> None:
    body = {
        "receipt_number": f"GR-{po_number}",
        "po_number": po_number,
        "received_date": "2026-10-20",
        "lines": [{"po_line_number": 1, "quantity": "10"}],
    }
    response = client.post("/api/goods-receipts", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content


def test_a_receipt_that_releases_a_held_invoice_queues_a_receipt_run(
    api: APIClient,
    tenant: Tenant,
    waiting_for_goods: Invoice,
    settings: Any,
    queued: list[Queued],
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MATCH_ON_INGEST = True
    with django_capture_on_commit_callbacks(execute=True):
        post_receipt(api)

    waiting_for_goods.refresh_from_db()
    assert waiting_for_goods.status == InvoiceStatus.RECEIVED
    assert queued == [drain_call(tenant, "receipt")]


def test_a_receipt_that_releases_nothing_queues_nothing(
    api: APIClient, tenant: Tenant, settings: Any, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    settings.MATCH_ON_INGEST = True
    PurchaseOrderLineFactory(purchase_order=PurchaseOrderFactory(tenant=tenant, po_number="PO-901"), line_number=1)
    with django_capture_on_commit_callbacks(execute=True):
        post_receipt(api, "PO-901")
    assert queued == []


def test_a_released_invoice_is_not_queued_when_match_on_ingest_is_off(
    api: APIClient,
    waiting_for_goods: Invoice,
    settings: Any,
    queued: list[Queued],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """It goes back to `received` all the same, for the scheduled pass."""
    settings.MATCH_ON_INGEST = False
    with django_capture_on_commit_callbacks(execute=True):
        post_receipt(api)
    waiting_for_goods.refresh_from_db()
    assert waiting_for_goods.status == InvoiceStatus.RECEIVED
    assert queued == []


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr("django_q.tasks.async_task", refuse)


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_does_not_fail_the_request(
    api: APIClient, tenant: Tenant, broker_down: None, settings: Any
) -> None:
    """matching_enqueue: "a broker that is down loses nothing ... the caller's request still
    succeeds". Real commits here (not the test helper), as in production."""
    settings.MATCH_ON_INGEST = True
    api.raise_request_exception = False

    response = api.post("/api/invoices", data=json.dumps(invoice_body()), content_type="application/json")

    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert response.status_code == 201, response.content


def test_a_run_whose_task_never_arrived_does_not_stay_queued_forever(
    api: APIClient, tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    waiting = received_invoice(tenant)
    with django_capture_on_commit_callbacks(execute=False):  # the task never reaches a worker
        response = api.post("/api/matching/runs", data="{}", content_type="application/json")
    assert response.status_code == 202, response.content

    matching_tasks.run_matching(str(tenant.pk), trigger=MatchRun.Trigger.SCHEDULE)

    waiting.refresh_from_db()
    assert waiting.status != InvoiceStatus.RECEIVED  # the invoices were picked up, as documented
    run = api.get(f"/api/matching/runs/{response.json()['id']}").json()
    assert run["status"] != "queued"


# --- the scheduled tasks -----------------------------------------------------------------------


def test_run_matching_all_queues_one_drain_per_active_tenant_with_received_invoices(
    tenant: Tenant, queued: list[Queued]
) -> None:
    busy = tenant
    received_invoice(busy, "INV-B-1")
    received_invoice(busy, "INV-B-2")
    also_busy = TenantFactory(name="Also Busy")
    received_invoice(also_busy)
    idle = TenantFactory(name="Idle")
    InvoiceFactory(tenant=idle, status=InvoiceStatus.APPROVED)
    inactive = TenantFactory(name="Closed Down", is_active=False)
    received_invoice(inactive)

    assert matching_tasks.run_matching_all() == "queued matching for 2 tenants"

    assert sorted(queued) == sorted(
        (
            RUN_MATCHING,
            (str(owner.pk),),
            {"trigger": "schedule", "task_name": f"matching-{owner.pk}"},
        )
        for owner in (busy, also_busy)
    )


def test_a_drain_task_that_used_its_budget_queues_itself_again_while_invoices_wait(
    tenant: Tenant, settings: Any, queued: list[Queued], django_capture_on_commit_callbacks: Any
) -> None:
    """Drains queued while it ran were skipped, so what is left must not wait for the schedule;
    once nothing is left, nothing more is queued (no endless chain of tasks)."""
    settings.MATCH_MAX_BATCHES_PER_TASK = 1
    TenantSettings.objects.filter(tenant=tenant).update(max_invoices_per_run=1)
    received_invoice(tenant, "INV-B-1")
    received_invoice(tenant, "INV-B-2")

    with django_capture_on_commit_callbacks(execute=True):
        matching_tasks.run_matching(str(tenant.pk), trigger="ingest")
    assert queued == [drain_call(tenant, "ingest")]
    assert Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        matching_tasks.run_matching(str(tenant.pk), trigger="ingest")
    assert queued == [drain_call(tenant, "ingest")]
    assert not Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED).exists()


def test_run_matching_task_skips_an_inactive_tenant(tenant: Tenant) -> None:
    received_invoice(tenant)
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert matching_tasks.run_matching(str(tenant.pk)) == f"tenant {tenant.pk} is gone or inactive"
    assert not MatchRun.objects.for_tenant(tenant).exists()


def age(invoice: Invoice, days: int) -> None:
    Invoice.objects.for_tenant(invoice.tenant_id).filter(pk=invoice.pk).update(
        updated_at=timezone.now() - dt.timedelta(days=days)
    )


def test_escalate_stale_holds_escalates_invoices_on_hold_past_hold_max_days(tenant: Tenant) -> None:
    """Default hold_max_days is 14: 15 days on hold is escalated, 13 is left waiting; another
    tenant's own limit (30) applies to its invoices. Run twice, the second does nothing."""
    stale = InvoiceFactory(tenant=tenant, status=InvoiceStatus.ON_HOLD)
    fresh = InvoiceFactory(tenant=tenant, status=InvoiceStatus.ON_HOLD)
    patient = TenantFactory(name="Patient")
    TenantSettings.objects.filter(tenant=patient).update(hold_max_days=30)
    theirs = InvoiceFactory(tenant=patient, status=InvoiceStatus.ON_HOLD)
    age(stale, 15)
    age(fresh, 13)
    age(theirs, 15)

    assert matching_tasks.escalate_stale_holds() == "escalated 1 invoices"

    for invoice in (stale, fresh, theirs):
        invoice.refresh_from_db()
    assert (stale.status, stale.review_queue) == (InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)
    assert fresh.status == theirs.status == InvoiceStatus.ON_HOLD
    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(stale.pk), action="transition")
    assert (event.actor_kind, event.actor_label) == ("system", "hold_escalation")
    assert event.before == {"status": "on_hold", "review_queue": None}
    assert event.after == {
        "status": "pending_review",
        "review_queue": "escalated",
        "reason": HOLD_EXPIRED.format(days=14),
    }

    assert matching_tasks.escalate_stale_holds() == "escalated 0 invoices"


def test_a_matched_hold_is_timed_from_its_match_not_from_updated_at(tenant: Tenant) -> None:
    """An invoice put on hold by matching waits from its latest result (results are immutable,
    so the service's `now` moves instead of the result's time)."""
    order = PurchaseOrderFactory(tenant=tenant, po_number="PO-950")
    PurchaseOrderLineFactory(purchase_order=order, line_number=1, sku="WS-1", quantity=Decimal(10))
    invoice = InvoiceFactory(tenant=tenant, vendor=order.vendor, po_number="PO-950")
    InvoiceLineFactory(invoice=invoice, line_number=1, sku="WS-1")
    matching_tasks.run_matching(str(tenant.pk), trigger=MatchRun.Trigger.SCHEDULE)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ON_HOLD and invoice.latest_match_id is not None
    age(invoice, 30)  # would be stale by updated_at; the match is what counts

    now = timezone.now()
    assert matching_escalate_stale_holds(tenant=tenant, now=now) == 0
    assert matching_escalate_stale_holds(tenant=tenant, now=now + dt.timedelta(days=13)) == 0
    assert matching_escalate_stale_holds(tenant=tenant, now=now + dt.timedelta(days=15)) == 1
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_queue) == (InvoiceStatus.PENDING_REVIEW, ReviewQueue.ESCALATED)


# --- schedules ---------------------------------------------------------------------------------


def _schedules() -> dict[str, Any]:
    from django_q.models import Schedule

    return {
        schedule.name: schedule
        for schedule in Schedule.objects.filter(name__in=["match-all-tenants", "escalate-stale-holds"])
    }


def test_schedules_exist_after_migrate_with_the_minutes_from_settings(db: None) -> None:
    from django_q.models import Schedule

    schedules = _schedules()
    assert set(schedules) == {"match-all-tenants", "escalate-stale-holds"}
    assert (schedules["match-all-tenants"].func, schedules["match-all-tenants"].minutes) == (
        "matching.tasks.run_matching_all",
        django_settings.MATCHING_SCHEDULE_MINUTES,
    )
    assert (schedules["escalate-stale-holds"].func, schedules["escalate-stale-holds"].minutes) == (
        "matching.tasks.escalate_stale_holds",
        django_settings.MATCH_HOLD_ESCALATION_MINUTES,
    )
    assert {schedule.schedule_type for schedule in schedules.values()} == {Schedule.MINUTES}


def test_schedules_follow_changed_settings_and_keep_an_operators_pause(db: None, settings: Any) -> None:
    """Re-synced at every migrate: new minutes are taken, one row per job stays, and a job an
    operator paused (repeats=0) stays paused."""
    from django_q.models import Schedule

    Schedule.objects.filter(name="escalate-stale-holds").update(repeats=0)
    settings.MATCHING_SCHEDULE_MINUTES = 7
    settings.MATCH_HOLD_ESCALATION_MINUTES = 90

    schedules_ensure()
    schedules_ensure()

    schedules = _schedules()
    assert schedules["match-all-tenants"].minutes == 7
    assert schedules["escalate-stale-holds"].minutes == 90
    assert schedules["escalate-stale-holds"].repeats == 0
    assert Schedule.objects.filter(name__in=["match-all-tenants", "escalate-stale-holds"]).count() == 2


# --- manage.py run_matching --------------------------------------------------------------------

RUN_LINE = re.compile(
    r"^(?P<slug>[\w-]+): run (?P<run_id>[0-9a-f-]{36}) (?P<status>\w+): (?P<matched>\d+) matched, "
    r"(?P<failed>\d+) failed, \d+ ms \(load \d+, engine \d+, write \d+\), (?P<queries>\d+) queries$"
)


def run_command(*args: str) -> list[re.Match[str]]:
    out = StringIO()
    # Returning (no CommandError) is what manage.py turns into exit status 0.
    call_command("run_matching", *args, stdout=out)
    lines = out.getvalue().splitlines()
    matches = [RUN_LINE.match(line) for line in lines]
    assert all(matches), lines
    return [match for match in matches if match is not None]


def test_run_matching_command_for_one_tenant(tenant: Tenant, other_tenant: Tenant) -> None:
    received_invoice(tenant, "INV-C-1")
    received_invoice(tenant, "INV-C-2")
    foreign = received_invoice(other_tenant)

    [line] = run_command("--tenant", tenant.slug)

    assert (line["slug"], line["status"], line["matched"], line["failed"]) == (tenant.slug, "finished", "2", "0")
    assert int(line["queries"]) > 0
    run = MatchRun.objects.for_tenant(tenant).get()
    assert (str(run.pk), run.trigger) == (line["run_id"], "command")
    assert not Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.RECEIVED).exists()
    foreign.refresh_from_db()
    assert foreign.status == InvoiceStatus.RECEIVED


@pytest.mark.parametrize("args", [(), ("--tenant", "acme", "--all")])
def test_run_matching_command_needs_exactly_one_of_tenant_or_all(args: tuple[str, ...], db: None) -> None:
    with pytest.raises(CommandError, match=re.escape(NAME_A_TENANT)) as raised:
        call_command("run_matching", *args, stdout=StringIO())
    assert raised.value.returncode == 1


def test_run_matching_command_for_all_active_tenants(tenant: Tenant, other_tenant: Tenant) -> None:
    received_invoice(tenant)
    inactive = TenantFactory(name="Closed Down", is_active=False)
    left_alone = received_invoice(inactive)

    lines = run_command("--all")

    by_slug = {line["slug"]: line for line in lines}
    active_slugs = set(Tenant.objects.filter(is_active=True).values_list("slug", flat=True))
    assert set(by_slug) == active_slugs
    assert {tenant.slug, other_tenant.slug} <= active_slugs
    assert (by_slug[tenant.slug]["matched"], by_slug[other_tenant.slug]["matched"]) == ("1", "0")
    assert inactive.slug not in by_slug
    left_alone.refresh_from_db()
    assert left_alone.status == InvoiceStatus.RECEIVED


def test_run_matching_command_fails_when_a_run_fails(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    received_invoice(tenant)

    def broken_loader(**kwargs: Any) -> Any:
        raise RuntimeError("loader down")

    monkeypatch.setattr("matching.services.load_batch", broken_loader)
    out = StringIO()
    with pytest.raises(CommandError, match="1 runs failed") as raised:
        call_command("run_matching", "--tenant", tenant.slug, stdout=out)
    assert raised.value.returncode == 1
    assert out.getvalue().rstrip().endswith("; RuntimeError: loader down")


# --- through a real django-q2 Redis broker -----------------------------------------------------


@pytest.fixture
def redis_broker(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """django-q2 talking to the test Redis on a queue of this test's own.

    django-q2 reads Q_CLUSTER once, into `django_q.conf.Conf`, when it is imported, so
    overriding settings.Q_CLUSTER would change nothing: the Conf attributes are patched.
    """
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "REDIS", redis_url)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"recon-test-{uuid.uuid4().hex}")
    broker = get_broker()
    assert broker.ping()
    broker.delete_queue()
    yield broker
    broker.delete_queue()


def work_one(broker: Any) -> dict[str, Any]:
    """What a cluster does with one message: the pusher dequeues and unsigns it, a worker runs
    it, the monitor saves the result. The same functions, in this process."""
    from django_q.monitor import monitor
    from django_q.signing import SignedPackage
    from django_q.worker import worker

    messages = broker.dequeue()
    assert messages, "nothing was queued"
    [(ack_id, payload)] = messages
    task = SignedPackage.loads(payload)
    task["ack_id"] = ack_id
    task_queue: Any = multiprocessing.Queue()
    result_queue: Any = multiprocessing.Queue()
    task_queue.put(task)
    task_queue.put("STOP")
    worker(task_queue, result_queue, multiprocessing.Value("f", -1))
    result_queue.put("STOP")
    monitor(result_queue, broker)
    for queue in (task_queue, result_queue):
        queue.close()
        queue.join_thread()
    return task


def broker_size(broker: Any) -> int:
    return int(broker.queue_size())


@pytest.mark.django_db(transaction=True)
def test_an_ingested_invoice_is_matched_through_the_redis_broker(
    api: APIClient, tenant: Tenant, redis_broker: Any, settings: Any
) -> None:
    """POST an invoice; its commit queues the task on Redis; a worker runs it; the invoice is matched."""
    from django_q.models import Task

    settings.MATCH_ON_INGEST = True
    order = PurchaseOrderFactory(tenant=tenant, po_number="PO-Q-1")
    po_line = PurchaseOrderLineFactory(
        purchase_order=order, line_number=1, sku="PP-A4", quantity=Decimal(2), unit_price=Decimal("10.00")
    )
    GoodsReceiptLineFactory(
        goods_receipt=GoodsReceiptFactory(purchase_order=order), purchase_order_line=po_line, quantity=Decimal(2)
    )
    body = {
        **invoice_body(),
        "vendor_id": str(order.vendor_id),
        "po_number": "PO-Q-1",
        "lines": [{"sku": "PP-A4", "description": "Paper", "quantity": "2", "unit_price": "10.00"}],
    }
    response = api.post("/api/invoices", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    assert broker_size(redis_broker) == 1

    task = work_one(redis_broker)

    assert task["func"] == RUN_MATCHING
    stored = Task.objects.get(id=task["id"])
    assert stored.success, stored.result
    invoice = Invoice.objects.for_tenant(tenant).get(pk=response.json()["id"])
    run = MatchRun.objects.for_tenant(tenant).get()
    assert (run.status, run.trigger, run.invoices_matched) == ("finished", "ingest", 1)
    assert invoice.latest_match is not None and invoice.latest_match.run_id == run.pk
    # 20.00 EUR, clean 3-way match, under the auto-approve limit.
    assert invoice.status == InvoiceStatus.APPROVED
    assert invoice.purchase_order_id == PurchaseOrder.objects.for_tenant(tenant).get().pk
    assert broker_size(redis_broker) == 0
