"""Reconciliation against the database: runs, a clerk's split, accept, reverse, learning, the lock."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import payments.reconciliation.services as reconciliation_services
import payments.tasks
from audit.models import AuditEvent, OutboxMessage
from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus
from payments.exceptions import AllocationConflict, AllocationInvalid
from payments.models import (
    AllocationKind,
    CounterpartyAccount,
    PaymentAllocation,
    PaymentStatus,
    PaymentSuggestion,
)
from payments.reconciliation.loading import open_balances
from payments.reconciliation.services import (
    ReconciliationReport,
    allocation_accept_suggestion,
    allocation_reverse,
    allocation_split,
    reconciliation_run_for_tenant,
)
from payments.reconciliation.writing import EXCEEDS_INVOICE, EXCEEDS_PAYMENT, INVOICE_NOT_PAYABLE
from payments.tasks import reconcile_payments as reconcile_payments_task
from tenants.models import Tenant
from tests.factories import (
    TEST_ACTOR,
    InvoiceFactory,
    PaymentAllocationFactory,
    PaymentFactory,
    TenantFactory,
    VendorFactory,
)
from tests.threads import in_thread
from vendors.models import Vendor

CLERK = Actor(kind="user", id="42", label="clerk@example.com")


def approved_invoice(tenant: Tenant, vendor: Vendor, number: str, total: int, **fields: Any) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number=number,
        total_amount=total,
        subtotal_amount=total,
        status=InvoiceStatus.APPROVED,
        **fields,
    )


def run(tenant: Tenant) -> ReconciliationReport:
    return reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)


def reload(row: Any) -> Any:
    return type(row).objects.for_tenant(row.tenant_id).get(pk=row.pk)


def balance(invoice: Invoice) -> int:
    return open_balances(tenant=invoice.tenant, invoices=[reload(invoice)])[invoice.pk]


def events(tenant: Tenant, entity_id: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.action, event.after)
        for event in AuditEvent.objects.for_tenant(tenant)
        .filter(entity_id=str(entity_id))
        .order_by("xid", "append_seq")
    ]


def outbox(tenant: Tenant, event_type: str) -> list[dict[str, Any]]:
    return [
        message.payload["payload"]
        for message in OutboxMessage.objects.for_tenant(tenant).order_by("created_at")
        if message.payload["event_type"] == event_type
    ]


@pytest.fixture
def acme(tenant: Tenant) -> Vendor:
    return VendorFactory(tenant=tenant, name="Acme Supplies Ltd")


def test_runs_move_an_invoice_approved_to_partially_paid_to_reconciled(tenant: Tenant, acme: Vendor) -> None:
    invoice = approved_invoice(tenant, acme, "INV-00421", 1_000_00)
    first = PaymentFactory(tenant=tenant, amount=400_00, counterparty_name="Acme Supplies", remittance_text="INV 421")

    report = run(tenant)
    assert (report.status, report.payments_matched, report.invoices_partially_paid) == ("finished", 1, 1)
    assert reload(invoice).status == InvoiceStatus.PARTIALLY_PAID
    assert reload(first).status == PaymentStatus.MATCHED
    assert balance(invoice) == 600_00
    [allocation] = PaymentAllocation.objects.for_tenant(tenant).filter(payment=first)
    assert (allocation.amount, allocation.tier, allocation.kind) == (400_00, 5, AllocationKind.PAYMENT)

    second = PaymentFactory(tenant=tenant, amount=600_00, counterparty_name="Acme Supplies", remittance_text="INV 421")
    report = run(tenant)
    assert (report.payments_matched, report.invoices_reconciled) == (1, 1)
    assert reload(invoice).status == InvoiceStatus.RECONCILED
    assert balance(invoice) == 0

    transitions = [after["status"] for action, after in events(tenant, invoice.pk) if action == "transition"]
    assert transitions == [InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.RECONCILED]
    assert [action for action, _ in events(tenant, second.pk)] == ["allocated"]
    assert [event["invoice_id"] for event in outbox(tenant, "invoice.reconciled")] == [str(invoice.pk)]
    assert {event["payment_id"] for event in outbox(tenant, "payment.reconciled")} == {str(first.pk), str(second.pk)}

    assert run(tenant).payments_considered == 0  # nothing left: a second run changes nothing


def test_a_run_never_touches_another_tenants_invoices(tenant: Tenant, acme: Vendor, other_tenant: Tenant) -> None:
    foreign = approved_invoice(
        other_tenant, VendorFactory(tenant=other_tenant, name="Acme Supplies Ltd"), "INV-999", 50_00
    )
    payment = PaymentFactory(tenant=tenant, amount=50_00, counterparty_name="Acme Supplies", remittance_text="INV-999")
    assert run(tenant).payments_matched == 0
    assert reload(foreign).status == InvoiceStatus.APPROVED
    assert reload(payment).status == PaymentStatus.UNMATCHED


def test_equal_recurring_amounts_wait_as_a_suggestion_that_a_clerk_accepts(tenant: Tenant, acme: Vendor) -> None:
    months = [approved_invoice(tenant, acme, f"RENT-{month}", 1_500_00) for month in (1, 2, 3)]
    payment = PaymentFactory(tenant=tenant, amount=1_500_00, counterparty_name="Acme Supplies", remittance_text="rent")

    report = run(tenant)
    assert (report.payments_matched, report.payments_suggested) == (0, 1)
    assert reload(payment).status == PaymentStatus.SUGGESTED
    suggestion = PaymentSuggestion.objects.for_tenant(tenant).get(payment=payment)
    assert set(suggestion.candidate_invoice_ids) == {str(month.pk) for month in months}
    assert all(reload(month).status == InvoiceStatus.APPROVED for month in months)

    [allocation] = allocation_accept_suggestion(tenant=tenant, payment=payment, actor=CLERK)
    assert reload(payment).status == PaymentStatus.MATCHED
    assert reload(Invoice.objects.for_tenant(tenant).get(pk=allocation.invoice_id)).status == InvoiceStatus.RECONCILED
    assert not PaymentSuggestion.objects.for_tenant(tenant).filter(payment=payment).exists()
    with pytest.raises(AllocationConflict):
        allocation_accept_suggestion(tenant=tenant, payment=payment, actor=CLERK)


def test_a_short_payment_is_settled_with_a_write_off(tenant: Tenant, acme: Vendor) -> None:
    invoice = approved_invoice(tenant, acme, "INV-777", 2_000_00)
    payment = PaymentFactory(
        tenant=tenant, amount=1_996_50, counterparty_name="Acme Supplies", remittance_text="INV 777"
    )
    run(tenant)
    kinds = sorted(PaymentAllocation.objects.for_tenant(tenant).filter(payment=payment).values_list("kind", "amount"))
    assert kinds == [("payment", 1_996_50), ("write_off", 3_50)]
    assert reload(invoice).status == InvoiceStatus.RECONCILED


def test_a_clerk_splits_a_payment_over_two_invoices(tenant: Tenant, acme: Vendor) -> None:
    first = approved_invoice(tenant, acme, "INV-1", 300_00)
    second = approved_invoice(tenant, acme, "INV-2", 500_00)
    payment = PaymentFactory(tenant=tenant, amount=700_00, counterparty_name="ACME", remittance_text="thanks")

    allocations = allocation_split(
        tenant=tenant, payment=payment, parts=[(first, 300_00), (second, 400_00)], actor=CLERK
    )
    assert sorted(allocation.amount for allocation in allocations) == [300_00, 400_00]
    assert (reload(first).status, reload(second).status) == (InvoiceStatus.RECONCILED, InvoiceStatus.PARTIALLY_PAID)
    assert reload(payment).status == PaymentStatus.MATCHED
    assert all(allocation.tier is None and allocation.made_by_kind == "user" for allocation in allocations)
    assert [action for action, _ in events(tenant, payment.pk)] == ["allocated"]


def test_a_split_never_exceeds_the_payment_or_the_invoice(tenant: Tenant, acme: Vendor) -> None:
    invoice = approved_invoice(tenant, acme, "INV-1", 300_00)
    other = approved_invoice(tenant, acme, "INV-2", 300_00)
    payment = PaymentFactory(tenant=tenant, amount=400_00)

    with pytest.raises(AllocationConflict) as too_much_for_invoice:
        allocation_split(tenant=tenant, payment=payment, parts=[(invoice, 300_01)], actor=CLERK)
    assert too_much_for_invoice.value.message == EXCEEDS_INVOICE.format(
        amount="300.01 EUR", number="INV-1", balance="300.00 EUR"
    )
    with pytest.raises(AllocationConflict) as too_much_for_payment:
        allocation_split(tenant=tenant, payment=payment, parts=[(invoice, 300_00), (other, 100_01)], actor=CLERK)
    assert too_much_for_payment.value.message == EXCEEDS_PAYMENT.format(amount="400.01 EUR", remaining="400.00 EUR")
    with pytest.raises(AllocationInvalid):
        allocation_split(tenant=tenant, payment=payment, parts=[(invoice, 0)], actor=CLERK)
    assert not PaymentAllocation.objects.for_tenant(tenant).exists()
    assert reload(invoice).status == InvoiceStatus.APPROVED


def test_the_database_refuses_an_allocation_beyond_the_invoice(tenant: Tenant, acme: Vendor) -> None:
    """The trigger is the second line, for writes that skip the service."""
    invoice = approved_invoice(tenant, acme, "INV-1", 100_00)
    payment = PaymentFactory(tenant=tenant, amount=500_00)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentAllocationFactory(payment=payment, invoice=invoice, amount=100_01)
    allocation = PaymentAllocationFactory(payment=payment, invoice=invoice, amount=100_00)
    # The app's runtime role may not delete an allocation at all; any other role meets the trigger.
    with pytest.raises(Exception, match="permission denied"), transaction.atomic():
        PaymentAllocation.objects.for_tenant(tenant).filter(pk=allocation.pk).delete()
    with pytest.raises(Exception, match="history"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
        PaymentAllocation.objects.for_tenant(tenant).filter(pk=allocation.pk).delete()


def test_a_reversal_restores_the_balance_and_the_status(tenant: Tenant, acme: Vendor) -> None:
    invoice = approved_invoice(tenant, acme, "INV-00421", 1_000_00)
    first = PaymentFactory(tenant=tenant, amount=400_00, counterparty_name="Acme Supplies", remittance_text="INV 421")
    second = PaymentFactory(tenant=tenant, amount=600_00, counterparty_name="Acme Supplies", remittance_text="INV 421")
    run(tenant)
    run(tenant)
    assert reload(invoice).status == InvoiceStatus.RECONCILED

    allocation = PaymentAllocation.objects.for_tenant(tenant).get(payment=second)
    [reversal] = allocation_reverse(tenant=tenant, allocation=allocation, actor=CLERK, reason="wrong invoice")
    assert (reversal.reversal_of_id, reversal.amount) == (allocation.pk, 600_00)
    assert balance(invoice) == 600_00
    assert reload(invoice).status == InvoiceStatus.PARTIALLY_PAID
    assert reload(second).status == PaymentStatus.UNMATCHED
    assert PaymentAllocation.objects.for_tenant(tenant).filter(pk=allocation.pk).exists()  # never deleted

    allocation_reverse(
        tenant=tenant, allocation=PaymentAllocation.objects.for_tenant(tenant).get(payment=first), actor=CLERK
    )
    assert balance(invoice) == 1_000_00
    assert reload(invoice).status == InvoiceStatus.APPROVED
    with pytest.raises(AllocationConflict):
        allocation_reverse(tenant=tenant, allocation=allocation, actor=CLERK)
    with pytest.raises(AllocationConflict):
        allocation_reverse(tenant=tenant, allocation=reversal, actor=CLERK)
    transitions = [after["status"] for action, after in events(tenant, invoice.pk) if action == "transition"]
    assert transitions[-2:] == [InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.APPROVED]
    assert len(outbox(tenant, "payment.allocation.reversed")) == 2


def test_reversing_a_payment_also_reverses_its_write_off(tenant: Tenant, acme: Vendor) -> None:
    invoice = approved_invoice(tenant, acme, "INV-777", 2_000_00)
    payment = PaymentFactory(
        tenant=tenant, amount=1_996_50, counterparty_name="Acme Supplies", remittance_text="INV 777"
    )
    run(tenant)
    money = PaymentAllocation.objects.for_tenant(tenant).get(payment=payment, kind=AllocationKind.PAYMENT)
    reversals = allocation_reverse(tenant=tenant, allocation=money, actor=CLERK)
    assert sorted(row.kind for row in reversals) == ["payment", "write_off"]
    assert balance(invoice) == 2_000_00
    assert reload(invoice).status == InvoiceStatus.APPROVED


def test_a_manual_match_teaches_the_account_and_the_next_run_matches_at_tier_2(tenant: Tenant, acme: Vendor) -> None:
    """The bank names the payee "AS GmbH": nothing to go on, until a clerk matches one by hand."""
    april, may = approved_invoice(tenant, acme, "INV-4", 120_00), approved_invoice(tenant, acme, "INV-5", 99_00)
    first = PaymentFactory(
        tenant=tenant, amount=120_00, counterparty_name="AS GmbH", counterparty_account="DE02100100109307118603"
    )
    assert run(tenant).payments_matched == 0
    assert reload(first).status == PaymentStatus.UNMATCHED

    allocation_split(tenant=tenant, payment=first, parts=[(april, 120_00)], actor=CLERK)
    learned = CounterpartyAccount.objects.for_tenant(tenant).get()
    assert (learned.vendor_id, learned.account_hash) == (acme.pk, first.counterparty_account_hash)
    assert acme.aliases.filter(normalized_alias="as").exists()
    assert [action for action, _ in events(tenant, first.counterparty_account_hash)] == ["learned"]

    second = PaymentFactory(
        tenant=tenant, amount=99_00, counterparty_name="", counterparty_account="DE02 1001 0010 9307 1186 03"
    )
    assert run(tenant).payments_matched == 1
    [allocation] = PaymentAllocation.objects.for_tenant(tenant).filter(payment=second)
    assert (allocation.invoice_id, allocation.tier) == (may.pk, 2)


# --- the tenant lock, with real threads and connections ---------------------------------------


@pytest.fixture
def held_inside_the_lock(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    inside, release = threading.Event(), threading.Event()
    real = reconciliation_services.load_reconciliation

    def held(**kwargs: Any) -> Any:
        inside.set()
        if not release.wait(timeout=20):
            raise TimeoutError("never released")
        return real(**kwargs)

    monkeypatch.setattr(reconciliation_services, "load_reconciliation", held)
    yield inside, release
    release.set()


@pytest.mark.django_db(transaction=True)
def test_two_runs_for_one_tenant_one_runs_the_other_skips(
    held_inside_the_lock: tuple[threading.Event, threading.Event],
) -> None:
    inside, release = held_inside_the_lock
    tenant = TenantFactory()
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    invoice = approved_invoice(tenant, vendor, "INV-00421", 1_000_00)
    payment = PaymentFactory(tenant=tenant, amount=1_000_00, remittance_text="INV 421")
    first_reports: list[ReconciliationReport] = []
    second_reports: list[ReconciliationReport] = []
    errors: list[BaseException] = []

    first = in_thread(lambda: run(tenant), first_reports, errors)
    assert inside.wait(timeout=20)
    second = in_thread(lambda: run(tenant), second_reports, errors)
    second.join(timeout=20)
    second_done_while_first_held = not second.is_alive() and first.is_alive()
    release.set()
    first.join(timeout=20)

    assert not errors and second_done_while_first_held
    assert (first_reports[0].status, first_reports[0].payments_matched) == ("finished", 1)
    assert (second_reports[0].status, second_reports[0].payments_matched) == ("skipped", 0)
    assert reload(invoice).status == InvoiceStatus.RECONCILED
    assert PaymentAllocation.objects.for_tenant(tenant).filter(payment=payment).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_clerk_faster_than_the_run_is_not_paid_over(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run proposed from what it loaded; a clerk paid the invoice before it wrote: the run's
    re-check under the row locks refuses its allocation, and the invoice is paid once."""
    computed, release = threading.Event(), threading.Event()
    real = reconciliation_services.reconcile_batch

    def slow(*args: Any) -> Any:
        results = real(*args)
        computed.set()
        if not release.wait(timeout=20):
            raise TimeoutError("never released")
        return results

    monkeypatch.setattr(reconciliation_services, "reconcile_batch", slow)
    tenant = TenantFactory()
    vendor = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    invoice = approved_invoice(tenant, vendor, "INV-00421", 1_000_00)
    by_run = PaymentFactory(tenant=tenant, amount=1_000_00, remittance_text="INV 421")
    reports: list[ReconciliationReport] = []
    errors: list[BaseException] = []
    thread = in_thread(lambda: run(tenant), reports, errors)
    try:
        assert computed.wait(timeout=20)
        by_clerk = PaymentFactory(tenant=tenant, amount=1_000_00)  # booked after the run loaded
        allocation_split(tenant=tenant, payment=by_clerk, parts=[(invoice, 1_000_00)], actor=CLERK)
    finally:
        release.set()
        thread.join(timeout=20)

    assert not errors
    [report] = reports
    assert (report.payments_matched, len(report.failures)) == (0, 1)
    assert report.failures[0]["error"] == INVOICE_NOT_PAYABLE.format(number="INV-00421", status="reconciled")
    assert [row.payment_id for row in PaymentAllocation.objects.for_tenant(tenant).filter(invoice=invoice)] == [
        by_clerk.pk
    ]
    assert reload(by_run).status == PaymentStatus.UNMATCHED
    assert reload(invoice).status == InvoiceStatus.RECONCILED


# --- property: balances under any sequence of allocations and reversals ------------------------

_step = st.one_of(
    st.tuples(st.just("allocate"), st.integers(min_value=0, max_value=2), st.integers(min_value=1, max_value=60_00)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=30), st.just(0)),
)


def example_rolled_back() -> transaction.Atomic:
    """Each example's own block, rolled back at its end: it stands in for a test case's transaction,
    not for an application one, so the services called inside keep the lock order each in its own
    (core/locks.py), as Django's test case marks its own blocks."""
    block = transaction.atomic()
    block._from_testcase = True
    return block


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, min_size=1, max_size=12))
# Always tried: pay in part, pay in full, over-pay (refused), reverse, pay again.
@example(steps=[("allocate", 0, 30_00), ("allocate", 1, 20_00), ("allocate", 2, 60_00), ("reverse", 0, 0)])
@example(steps=[("allocate", 2, 50_00), ("reverse", 0, 0), ("allocate", 0, 50_00), ("reverse", 0, 0)])
def test_open_balance_is_total_minus_allocations_and_never_negative(
    tenant: Tenant, acme: Vendor, steps: list[tuple[str, int, int]]
) -> None:
    with example_rolled_back():
        invoices = [approved_invoice(tenant, acme, f"P-{index}", total) for index, total in enumerate((50_00, 80_00))]
        payments = [PaymentFactory(tenant=tenant, amount=amount) for amount in (70_00, 40_00, 90_00)]
        for action, index, amount in steps:
            try:
                if action == "allocate":
                    invoice = invoices[index % len(invoices)]
                    allocation_split(tenant=tenant, payment=payments[index], parts=[(invoice, amount)], actor=CLERK)
                else:
                    live = list(
                        PaymentAllocation.objects.for_tenant(tenant)
                        .filter(invoice__in=invoices, reversal_of__isnull=True, reversed_by__isnull=True)
                        .order_by("created_at", "id")
                    )
                    if live:
                        allocation_reverse(tenant=tenant, allocation=live[index % len(live)], actor=CLERK)
            except (AllocationConflict, AllocationInvalid):
                pass  # refused: nothing may have changed
            for invoice in invoices:
                current = reload(invoice)
                rows = PaymentAllocation.objects.for_tenant(tenant).filter(invoice=invoice)
                net = sum(row.amount if row.reversal_of_id is None else -row.amount for row in rows)
                assert balance(invoice) == current.total_amount - net >= 0
                expected = {0: InvoiceStatus.RECONCILED, current.total_amount: InvoiceStatus.APPROVED}.get(
                    current.total_amount - net, InvoiceStatus.PARTIALLY_PAID
                )
                assert current.status == expected
            for payment in payments:
                paid = sum(
                    row.amount if row.reversal_of_id is None else -row.amount
                    for row in PaymentAllocation.objects.for_tenant(tenant).filter(payment=payment)
                )
                assert 0 <= paid <= payment.amount
                assert reload(payment).status == {
                    0: PaymentStatus.UNMATCHED,
                    payment.amount: PaymentStatus.MATCHED,
                }.get(paid, PaymentStatus.PARTIALLY_MATCHED)
        transaction.set_rollback(True)


# --- a fixed number of queries, the task and the command ----------------------------------------


def _queries_of_a_run(tenant: Tenant, vendor: Vendor, count: int) -> int:
    for number in range(count):
        approved_invoice(tenant, vendor, f"INV-{7000 + number}", 10_00 + number)
        PaymentFactory(tenant=tenant, amount=10_00 + number, remittance_text=f"INV {7000 + number}")
    with CaptureQueriesContext(connection) as queries:
        report = run(tenant)
    assert report.payments_matched == count
    return len(queries)


def test_a_run_sends_the_same_number_of_queries_for_one_payment_or_many(db: None) -> None:
    one, many = TenantFactory(), TenantFactory()
    few = _queries_of_a_run(one, VendorFactory(tenant=one), 1)
    assert _queries_of_a_run(many, VendorFactory(tenant=many), 12) == few


def test_a_run_locks_and_reads_the_invoices_it_pays_once(tenant: Tenant, acme: Vendor) -> None:
    """The allocations are checked and the invoices moved on the same locked rows: one `FOR NO KEY
    UPDATE` of invoices per run (the moves do not lock and read them again)."""
    for number in range(3):
        approved_invoice(tenant, acme, f"INV-{7100 + number}", 10_00 + number)
        PaymentFactory(tenant=tenant, amount=10_00 + number, remittance_text=f"INV {7100 + number}")
    with CaptureQueriesContext(connection) as queries:
        report = run(tenant)
    assert (report.payments_matched, report.invoices_reconciled) == (3, 3)
    invoice_locks = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith('SELECT "invoices_invoice"') and "FOR NO KEY UPDATE" in query["sql"]
    ]
    assert len(invoice_locks) == 1, invoice_locks


def test_the_task_and_the_command_run_the_same_reconciliation(tenant: Tenant, acme: Vendor) -> None:
    first = approved_invoice(tenant, acme, "INV-8001", 10_00)
    second = approved_invoice(tenant, acme, "INV-8002", 20_00)
    PaymentFactory(tenant=tenant, amount=10_00, remittance_text="INV-8001")
    assert reconcile_payments_task(str(tenant.pk)).startswith("finished: 1 payments, 1 matched")
    assert reload(first).status == InvoiceStatus.RECONCILED

    PaymentFactory(tenant=tenant, amount=20_00, remittance_text="INV-8002")
    out = io.StringIO()
    call_command("reconcile_payments", "--tenant", tenant.slug, stdout=out)
    assert json.loads(out.getvalue())["payments_matched"] == 1
    assert reload(second).status == InvoiceStatus.RECONCILED


def test_the_schedule_queues_only_tenants_with_unmatched_payments(
    tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(payments.tasks, "async_task", lambda *args, **kwargs: queued.append(args))
    PaymentFactory(tenant=tenant)
    PaymentFactory(tenant=other_tenant, status=PaymentStatus.MATCHED)
    assert payments.tasks.reconcile_payments_all() == "queued reconciliation for 1 tenants"
    assert queued == [("payments.tasks.reconcile_payments", str(tenant.pk))]


def test_payments_no_tier_answers_cannot_hide_newer_ones(tenant: Tenant, acme: Vendor) -> None:
    """Runs take the least recently considered payments first, so a full window of noise rotates."""
    noise = [
        PaymentFactory(tenant=tenant, amount=123_45 + n, counterparty_name=f"Nobody {n}", remittance_text="rent",
                       booking_date=dt.date(2026, 9, 1 + n))
        for n in range(3)
    ]  # fmt: skip
    invoice = approved_invoice(tenant, acme, "INV-00777", 250_00)
    newer = PaymentFactory(
        tenant=tenant, amount=250_00, counterparty_name="Acme Supplies", remittance_text="INV-00777",
        booking_date=dt.date(2026, 10, 1),
    )  # fmt: skip

    first = reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR, limit=3)
    assert (first.payments_considered, first.allocations_created) == (3, 0)  # the three oldest: noise
    assert reload(newer).status == PaymentStatus.UNMATCHED

    second = reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR, limit=3)
    assert second.payments_matched == 1
    assert (reload(newer).status, reload(invoice).status) == (PaymentStatus.MATCHED, InvoiceStatus.RECONCILED)
    assert all(reload(payment).status == PaymentStatus.UNMATCHED for payment in noise)


# Invoice numbers with slashes, as Polish invoices print them: found whole, never inside another.
TAG = "K7Q2"


def test_slashed_invoice_numbers_are_reconciled_by_exact_and_partial_payments(tenant: Tenant, acme: Vendor) -> None:
    exact = approved_invoice(tenant, acme, f"FV/{TAG}/09/2026", 1_230_00)
    approved_invoice(tenant, acme, f"FV/{TAG}/10/2026", 1_230_00)  # the next month, the same amount
    partial = approved_invoice(tenant, acme, f"EP/{TAG}/2026/118", 1_000_00)
    paid = PaymentFactory(tenant=tenant, amount=1_230_00, remittance_text=f"Zaplata za fakture FV/{TAG}/09/2026")
    part = PaymentFactory(
        tenant=tenant,
        amount=400_00,
        counterparty_name="Acme Supplies",
        remittance_text=f"Partial payment EP/{TAG}/2026/118",
    )

    report = run(tenant)
    assert (report.payments_matched, report.invoices_reconciled, report.invoices_partially_paid) == (2, 1, 1)
    assert reload(exact).status == InvoiceStatus.RECONCILED
    assert (reload(partial).status, balance(partial)) == (InvoiceStatus.PARTIALLY_PAID, 600_00)
    allocations = PaymentAllocation.objects.for_tenant(tenant).values_list("payment_id", "invoice_id", "amount", "tier")
    assert sorted(allocations, key=lambda row: row[3]) == [
        (paid.pk, exact.pk, 1_230_00, 1),
        (part.pk, partial.pk, 400_00, 5),
    ]


def test_a_number_inside_another_number_is_never_allocated(tenant: Tenant, acme: Vendor) -> None:
    # Each decoy has exactly the payment's amount, so a wrong reading would pay it in full.
    short = approved_invoice(tenant, acme, "118", 400_00)
    inv = approved_invoice(tenant, acme, "INV-123", 77_00)
    fv = approved_invoice(tenant, acme, "FV/1/09/2026", 55_00)
    named = approved_invoice(tenant, acme, f"EP/{TAG}/2026/118", 1_000_00)
    PaymentFactory(tenant=tenant, amount=77_00, remittance_text="Payment INV-1234")
    PaymentFactory(tenant=tenant, amount=55_00, remittance_text="Zaplata za fakture FV/1/09/20261")
    part = PaymentFactory(
        tenant=tenant,
        amount=400_00,
        counterparty_name="Acme Supplies",
        remittance_text=f"Partial payment EP/{TAG}/2026/118",
    )

    run(tenant)
    assert list(PaymentAllocation.objects.for_tenant(tenant).values_list("payment_id", "invoice_id", "amount")) == [
        (part.pk, named.pk, 400_00)
    ]
    assert {reload(invoice).status for invoice in (short, inv, fv)} == {InvoiceStatus.APPROVED}
    assert reload(named).status == InvoiceStatus.PARTIALLY_PAID
