"""Properties of payment runs over generated books (hypothesis): a run never pays an invoice twice
(not within a run, not across live runs), never more than its open amount net of credit notes, never
over its maximum, never to a vendor without a payable account; every amount in the file equals the
sum of its invoices in exact minor units."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.money import from_minor
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.models import PaymentRunItem
from payments.reconciliation.loading import open_balances
from payments.runs import files
from payments.runs.services import payment_run_approve, payment_run_propose
from tests.factories import InvoiceFactory, TenantFactory
from tests.payments.run_books import DEBTOR_IBAN, DUE_BY, actor_of, approved_invoice, paying_vendor, people

pytestmark = pytest.mark.django_db

invoice_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # vendor (2: one without an approved account)
        st.integers(min_value=1, max_value=5_000_00),  # total
        st.integers(min_value=0, max_value=100),  # credited, in % of the total
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=invoice_specs, max_total=st.one_of(st.none(), st.integers(min_value=1, max_value=10_000_00)))
def test_a_run_pays_each_open_invoice_at_most_once_and_the_file_adds_up(
    specs: list[tuple[int, int, int]], max_total: int | None
) -> None:
    tenant = TenantFactory()
    clerk, approver = people(tenant)
    vendors = [
        paying_vendor(tenant, "Alpha", 1, clerk=clerk, approver=approver),
        paying_vendor(tenant, "Beta", 2, clerk=clerk, approver=approver),
        paying_vendor(tenant, "Gamma", 3, clerk=clerk, approver=approver, approve=False),
    ]
    invoices = []
    for number, (vendor_index, total, credited_pct) in enumerate(specs):
        invoice = approved_invoice(vendors[vendor_index], f"INV-{number}", total)
        credited = total * credited_pct // 100
        if credited:
            InvoiceFactory(
                tenant=tenant,
                vendor=vendors[vendor_index],
                invoice_number=f"CN-{number}",
                document_type=DocumentType.CREDIT_NOTE,
                credited_invoice=invoice,
                credited_invoice_number=invoice.invoice_number,
                total_amount=credited,
                status=InvoiceStatus.APPROVED,
            )
        invoices.append(invoice)
    open_before = open_balances(tenant=tenant, invoices=invoices)
    common = {"currency": "EUR", "due_by": DUE_BY, "debtor_name": "Acme", "debtor_iban": DEBTOR_IBAN}
    first = payment_run_propose(tenant=tenant, actor=actor_of(clerk), max_total=max_total, **common)
    second = payment_run_propose(tenant=tenant, actor=actor_of(clerk), **common)
    items = list(PaymentRunItem.objects.for_tenant(tenant).filter(is_live=True).select_related("vendor"))
    paid = [item.invoice_id for item in items]
    assert len(paid) == len(set(paid))  # never twice, across both live runs
    for item in items:
        assert 0 < item.amount == open_before[item.invoice_id]
        assert item.vendor.name != "Gamma"
    first_items = [item for item in items if item.run_id == first.pk]
    if max_total is not None:
        assert sum(item.amount for item in first_items) <= max_total
    # Everything payable is in one of the two runs or listed with its reason.
    listed = {row["invoice_id"] for run in (first, second) for row in run.excluded}
    for invoice in invoices:
        payable = open_before[invoice.pk] > 0 and invoice.vendor.name != "Gamma"
        assert (invoice.pk in paid) == payable or str(invoice.pk) in listed

    for run in (first, second):
        run_items = [item for item in items if item.run_id == run.pk]
        if not run_items:
            continue
        approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
        content = approved.file_content.encode()
        assert files.pain001_errors(content, version=approved.file_format) == []
        expected: dict[str, int] = defaultdict(int)
        for item in run_items:
            expected[item.end_to_end_id] += item.amount
        assert files.file_amounts(content) == {key: from_minor(value, "EUR") for key, value in expected.items()}
        assert sum(files.file_amounts(content).values(), Decimal(0)) == from_minor(sum(expected.values()), "EUR")
    scheduled = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.PAYMENT_SCHEDULED)
    assert set(scheduled.values_list("id", flat=True)) == set(paid)
