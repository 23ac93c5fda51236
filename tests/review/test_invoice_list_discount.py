"""The invoice list's "Discount available" filter (issue #19 item 3): the invoices whose
early-payment discount can still be taken today — offered, its last day today or later, the
invoice not final, something of it still to pay — with the row's indicator and the exports'
column saying the same; and the open balance it reads, tied to payments' own."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.http import QueryDict
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice
from payments.reconciliation.loading import open_balance_expression, open_balances
from review.invoice_list import InvoiceListForm, invoice_list, invoice_list_query, invoice_list_row, invoice_list_values
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, PaymentAllocationFactory, PaymentFactory, VendorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def discounts(tenant: Tenant, other_tenant: Tenant) -> Tenant:
    today = timezone.localdate()
    acme = VendorFactory(tenant=tenant, name="Acme")

    def offered(number: str, *, until: dt.date = today + dt.timedelta(days=5), **fields: object) -> Invoice:
        invoice: Invoice = InvoiceFactory(
            vendor=acme,
            invoice_number=number,
            total_amount=100_00,
            discount_amount=2_00,
            discount_pct="2.00",
            discount_due_date=until,
            **fields,
        )
        return invoice

    offered("OPEN", status="approved")
    offered("LAST-DAY", until=today, status="pending_review", review_queue="standard")
    offered("PAST", until=today - dt.timedelta(days=1), status="approved")
    offered("PAID", status="reconciled")
    offered("VOID", status="void")
    offered("DRAFT", status="draft")
    InvoiceFactory(vendor=acme, invoice_number="NONE", status="approved")
    # Paid in part: 40.00 of 100.00 allocated, a reversed allocation that counts for nothing.
    partly = offered("PART-PAID", status="partially_paid")
    payment = PaymentFactory(tenant=tenant, amount=100_00)
    PaymentAllocationFactory(payment=payment, invoice=partly, amount=40_00)
    reversed_one = PaymentAllocationFactory(payment=payment, invoice=partly, amount=10_00)
    PaymentAllocationFactory(payment=payment, invoice=partly, amount=10_00, reversal_of=reversed_one)
    # Credited in full by a live credit note; credited in part (a void credit note takes nothing off).
    credited = offered("CREDITED", status="approved")
    InvoiceFactory(
        vendor=acme, invoice_number="CN-1", document_type="credit_note", credited_invoice=credited, total_amount=100_00
    )
    half = offered("HALF-CREDITED", status="approved")
    InvoiceFactory(
        vendor=acme, invoice_number="CN-2", document_type="credit_note", credited_invoice=half, total_amount=50_00
    )
    InvoiceFactory(
        vendor=acme,
        invoice_number="CN-3",
        document_type="credit_note",
        credited_invoice=half,
        total_amount=50_00,
        status="void",
    )
    theirs = VendorFactory(tenant=other_tenant, name="Acme")
    InvoiceFactory(
        vendor=theirs, invoice_number="THEIRS", discount_amount=1, discount_due_date=today, status="approved"
    )
    return tenant


AVAILABLE = ["HALF-CREDITED", "LAST-DAY", "OPEN", "PART-PAID"]


def _listed(tenant: Tenant, query: str) -> list[tuple[str, bool]]:
    form = InvoiceListForm(QueryDict(query))
    invoices = invoice_list(tenant=tenant, filters=form.filters()).order_by("invoice_number")
    return [
        (row.invoice_number, row.discount_open)
        for row in map(invoice_list_row, invoice_list_values(tenant=tenant, invoices=invoices))
    ]


def test_the_filter_keeps_the_discounts_that_can_still_be_taken_today(discounts: Tenant) -> None:
    assert _listed(discounts, "discount=on") == [(number, True) for number in AVAILABLE]
    everything = dict(_listed(discounts, ""))
    assert sorted(number for number, available in everything.items() if available) == AVAILABLE
    assert "THEIRS" not in everything


def test_the_box_is_in_the_lists_query_only_when_ticked(discounts: Tenant) -> None:
    assert invoice_list_query(form=InvoiceListForm(QueryDict("discount=on&status=approved")), sort="-received") == (
        "status=approved&discount=on"
    )
    assert invoice_list_query(form=InvoiceListForm(QueryDict("status=approved")), sort="-received") == "status=approved"


def test_the_page_marks_them_and_the_export_says_so(discounts: Tenant) -> None:
    client = Client()
    client.force_login(MembershipFactory(tenant=discounts, role=Role.CLERK).user)
    page = client.get(reverse("web:invoices"), {"discount": "on"})
    assert page.content.count(b'data-testid="discount-due"') == len(AVAILABLE)
    assert page.content.count(b'data-testid="invoice-row"') == len(AVAILABLE)
    # Unfiltered, only those carry the indicator: a paid or past discount is not offered any more.
    assert client.get(reverse("web:invoices")).content.count(b'data-testid="discount-due"') == len(AVAILABLE)
    export = client.get(reverse("web:invoices-export-csv"), {"sort": "number"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(row["Invoice number"] for row in rows if row["Discount available"] == "Yes") == AVAILABLE
    assert {row["Discount available"] for row in rows} == {"Yes", ""}


def test_the_open_balance_expression_is_the_payments_open_balance(discounts: Tenant) -> None:
    invoices = list(Invoice.objects.for_tenant(discounts).annotate(balance=open_balance_expression(tenant=discounts)))
    assert {invoice.pk: invoice.balance for invoice in invoices} == open_balances(tenant=discounts, invoices=invoices)
    by_number = {invoice.invoice_number: invoice.balance for invoice in invoices}
    assert (by_number["PART-PAID"], by_number["CREDITED"], by_number["HALF-CREDITED"]) == (60_00, 0, 50_00)
