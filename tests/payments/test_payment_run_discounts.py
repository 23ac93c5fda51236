"""Early-payment discounts in payment runs (#19 items 3 and 4): a run that takes discounts pays an
invoice whose discount is still available on the execution date its open balance less the
discount, records the discount on the line, shows it in the API; the bank file's amounts are the
discounted ones and its remittance still names every invoice; tier 0 settles the invoice in full
(the transfer plus a write-off of the discount). A discount that has ended, a run told not to take
discounts, and a discount that would leave nothing to pay all pay the open balance. Property: a
run never pays more than the open balance net of credit notes and discounts, and the file's
amounts are the sums of their lines in exact minor units."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core.money import from_minor
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.exceptions import PaymentRunConflict
from payments.models import AllocationKind, PaymentAllocation, PaymentRun, PaymentRunItem
from payments.reconciliation.loading import open_balances
from payments.reconciliation.services import reconciliation_run_for_tenant
from payments.runs import files
from payments.runs.discounts import discount_taken
from payments.runs.services import payment_run_approve, payment_run_propose
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, PaymentFactory, TenantFactory
from tests.payments.run_books import DEBTOR_IBAN, DUE_BY, actor_of, approved_invoice, paying_vendor, people

pytestmark = pytest.mark.django_db


def _today() -> dt.date:
    return timezone.localdate()


def _propose(tenant: Tenant, clerk: Any, **options: Any) -> PaymentRun:
    arguments = {"currency": "EUR", "due_by": DUE_BY, "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    return payment_run_propose(tenant=tenant, actor=actor_of(clerk), **(arguments | options))


def _lines(run: PaymentRun) -> dict[str, tuple[int, int]]:
    rows = PaymentRunItem.objects.for_tenant(run.tenant_id).filter(run=run)
    return {number: (amount, discount) for number, amount, discount in
            rows.values_list("invoice__invoice_number", "amount", "discount_amount")}  # fmt: skip


@pytest.fixture
def books(tenant: Tenant) -> dict[str, Any]:
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    in_time = _today() + dt.timedelta(days=5)
    return {
        "clerk": clerk,
        "approver": approver,
        "north": north,
        # 2 % of 620.00 = 12.40, until five days from now.
        "open": approved_invoice(north, "D-OPEN", 620_00, discount_amount=12_40, discount_due_date=in_time),
        "ended": approved_invoice(
            north, "D-ENDED", 500_00, discount_amount=10_00, discount_due_date=_today() - dt.timedelta(days=1)
        ),
        "plain": approved_invoice(north, "D-NONE", 300_00),
    }


def test_a_run_takes_the_discounts_still_available_and_the_file_pays_the_rest(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _propose(tenant, books["clerk"])
    assert run.take_discounts
    assert _lines(run) == {"D-OPEN": (607_60, 12_40), "D-ENDED": (500_00, 0), "D-NONE": (300_00, 0)}
    approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    content = approved.file_content.encode()
    assert files.pain001_errors(content, version=approved.file_format) == []
    assert sum(files.file_amounts(content).values()) == Decimal("1407.60")
    for number in ("D-OPEN", "D-ENDED", "D-NONE"):  # one transfer, every invoice in its remittance
        assert number in approved.file_content


def test_a_run_told_not_to_take_discounts_pays_open_balances_in_full(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"], take_discounts=False)
    assert _lines(run)["D-OPEN"] == (620_00, 0)


def test_an_execution_date_after_the_discount_deadline_pays_in_full(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"], execution_date=_today() + dt.timedelta(days=6))
    assert _lines(run)["D-OPEN"] == (620_00, 0)


def test_a_discount_that_ended_before_the_approval_refuses_it(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"])
    Invoice.objects.for_tenant(tenant).filter(pk=books["open"].pk).update(
        discount_due_date=_today() - dt.timedelta(days=1)
    )
    with pytest.raises(PaymentRunConflict) as refused:
        payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    assert "D-OPEN" in refused.value.message
    assert Invoice.objects.for_tenant(tenant).get(pk=books["open"].pk).status == InvoiceStatus.APPROVED


def test_tier_0_settles_the_invoice_with_the_transfer_and_the_discount_written_off(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = payment_run_approve(tenant=tenant, run=_propose(tenant, books["clerk"]), actor=actor_of(books["approver"]))
    end_to_end = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["open"]).end_to_end_id
    PaymentFactory(tenant=tenant, amount=1407_60, counterparty_name="NW", remittance_text="", end_to_end_id=end_to_end)
    report = reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)
    assert report.payments_matched == 1
    invoice = Invoice.objects.for_tenant(tenant).get(pk=books["open"].pk)
    assert invoice.status == InvoiceStatus.RECONCILED
    allocations = PaymentAllocation.objects.for_tenant(tenant).filter(invoice=invoice)
    assert sorted(allocations.values_list("kind", "amount")) == [
        (AllocationKind.PAYMENT, 607_60),
        (AllocationKind.WRITE_OFF, 12_40),
    ]
    assert open_balances(tenant=tenant, invoices=[invoice])[invoice.pk] == 0
    assert "Early-payment discount" in allocations.get(kind=AllocationKind.WRITE_OFF).explanation


def test_the_api_proposes_with_discounts_and_shows_each_lines_discount(
    tenant: Tenant, books: dict[str, Any], api: APIClient
) -> None:
    body = {"currency": "EUR", "due_by": DUE_BY.isoformat(), "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    created = api.post("/api/payment-runs", body, format="json")
    assert created.status_code == 201, created.json()
    run = created.json()
    assert run["take_discounts"] is True
    lines = {item["invoice_number"]: (item["amount"], item["discount"]) for item in run["items"]}
    assert lines["D-OPEN"] == ("607.60", "12.40")
    assert run["total"] == "1407.60"


def test_a_discount_that_would_leave_nothing_to_pay_is_not_taken() -> None:
    on = dt.date(2026, 12, 7)
    common = {"discount_due_date": on, "paid_on": on, "take_discounts": True}
    assert discount_taken(open_amount=1000, discount_amount=20, **common) == 20
    assert discount_taken(open_amount=20, discount_amount=20, **common) == 0
    assert discount_taken(open_amount=0, discount_amount=20, **common) == 0
    assert discount_taken(open_amount=1000, discount_amount=20, **(common | {"paid_on": on + dt.timedelta(1)})) == 0


invoice_specs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5_000_00),  # total
        st.integers(min_value=0, max_value=100),  # credited, in % of the total
        st.integers(min_value=0, max_value=10),  # discount, in % of the total
        st.booleans(),  # discount still available
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=invoice_specs)
def test_a_run_never_pays_more_than_open_net_of_credit_notes_and_discounts(
    specs: list[tuple[int, int, int, bool]],
) -> None:
    tenant = TenantFactory()
    clerk, approver = people(tenant)
    vendors = [
        paying_vendor(tenant, "Alpha", 1, clerk=clerk, approver=approver),
        paying_vendor(tenant, "Beta", 2, clerk=clerk, approver=approver),
    ]
    invoices = []
    for number, (total, credited_pct, discount_pct, available) in enumerate(specs):
        vendor = vendors[number % 2]
        deadline = _today() + dt.timedelta(days=3 if available else -1)
        discount = total * discount_pct // 100
        invoice = approved_invoice(
            vendor, f"INV-{number}", total, discount_amount=discount, discount_due_date=deadline if discount else None
        )
        credited = total * credited_pct // 100
        if credited:
            InvoiceFactory(
                tenant=tenant,
                vendor=vendor,
                invoice_number=f"CN-{number}",
                document_type=DocumentType.CREDIT_NOTE,
                credited_invoice=invoice,
                credited_invoice_number=invoice.invoice_number,
                total_amount=credited,
                status=InvoiceStatus.APPROVED,
            )
        invoices.append(invoice)
    open_before = open_balances(tenant=tenant, invoices=invoices)
    run = _propose(tenant, clerk)
    items = list(PaymentRunItem.objects.for_tenant(tenant).filter(run=run).select_related("invoice"))
    for item in items:
        invoice = item.invoice
        available = invoice.discount_amount and invoice.discount_due_date >= run.execution_date
        expected_discount = (
            invoice.discount_amount if available and invoice.discount_amount < open_before[invoice.pk] else 0
        )
        assert item.discount_amount == expected_discount
        assert 0 < item.amount == open_before[invoice.pk] - expected_discount <= open_before[invoice.pk]
    paid = {item.invoice_id for item in items}
    assert paid == {invoice.pk for invoice in invoices if open_before[invoice.pk] > 0}
    if not items:  # every invoice credited in full: nothing to pay, and a run paying nothing is refused
        with pytest.raises(PaymentRunConflict):
            payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
        return
    approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
    per_transfer: dict[str, int] = defaultdict(int)
    for item in items:
        per_transfer[item.end_to_end_id] += item.amount
    amounts = files.file_amounts(approved.file_content.encode())
    assert amounts == {e2e: from_minor(total, "EUR") for e2e, total in per_transfer.items()}
