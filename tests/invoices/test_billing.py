""" "Invoices that no longer bill" is defined once (invoices.billing.NO_LONGER_BILLING): void and
rejected, statuses nothing brings back; every reader agrees on it (the PO page's totals, matching's
already-billed quantities and earlier invoices, open balances and the allocation trigger), and no
second copy of the set creeps back into the code or the SQL. A draft does not bill yet
(NOT_YET_BILLING) and credits nothing, which the database holds."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from invoices.billing import NO_LONGER_BILLING, NOT_BILLING, NOT_YET_BILLING
from invoices.lifecycle import INVOICE_LIFECYCLE
from invoices.line_totals import purchase_order_line_totals
from invoices.models import DocumentType, InvoiceStatus, ReviewQueue
from matching.loading import load_batch
from payments.reconciliation.loading import open_balances
from tenants.models import Tenant
from tests.factories import InvoiceFactory, InvoiceLineFactory, PurchaseOrderLineFactory
from tests.source_scan import app_modules, literal_collections, string_constants

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def test_void_and_rejected_no_longer_bill_and_nothing_brings_them_back() -> None:
    assert {S.VOID, S.REJECTED} == NO_LONGER_BILLING
    # Final: an invoice that stopped billing never bills again, so a quantity it stopped
    # counting for, or a number it stopped holding, never comes back to it.
    assert NO_LONGER_BILLING.issubset(INVOICE_LIFECYCLE.final_states)


@pytest.mark.django_db
def test_the_allocation_trigger_leaves_out_the_same_credit_notes() -> None:
    """The SQL twin (payments.migrations.0007): credit notes it does not subtract."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('payments_allocation_check'::regproc)")
        [(definition,)] = cursor.fetchall()
    [listed] = re.findall(r"status NOT IN \(([^)]*)\)", definition)
    assert set(re.findall(r"'(\w+)'", listed)) == NO_LONGER_BILLING


def _invoice(tenant: Tenant, status: str, **fields: Any) -> Any:
    queue = ReviewQueue.STANDARD if status == S.PENDING_REVIEW else None
    return InvoiceFactory(tenant=tenant, status=status, review_queue=queue, **fields)


# Not `received`: a received invoice is the matching batch itself, which the loader leaves out
# of what was billed before it (its claims are added as the batch is matched).
@pytest.mark.parametrize("status", [status for status in S.values if status != S.RECEIVED])
@pytest.mark.django_db
def test_every_reader_agrees_on_what_still_bills(tenant: Tenant, status: str) -> None:
    bills = status not in NOT_BILLING
    po_line = PurchaseOrderLineFactory(purchase_order__tenant=tenant, quantity=Decimal("10"))
    purchase_order = po_line.purchase_order
    same = {"vendor": purchase_order.vendor, "invoice_number": "INV-7", "po_number": purchase_order.po_number}
    earlier = _invoice(tenant, status, **same)
    InvoiceLineFactory(invoice=earlier, matched_po_line=po_line, quantity=Decimal("4"))
    _invoice(tenant, S.RECEIVED, **same)  # the same number again, the batch to match

    [totals] = purchase_order_line_totals(tenant=tenant, purchase_order=purchase_order)
    assert totals.billed == (Decimal("4") if bills else 0)

    batch = load_batch(tenant=tenant, limit=10)
    [loaded_line] = batch.context.purchase_orders[purchase_order.po_number].lines
    assert loaded_line.billed_quantity == totals.billed
    earlier_ones = batch.context.prior_invoices.get(purchase_order.vendor_id, [])
    assert [record.id for record in earlier_ones] == ([earlier.pk] if bills else [])

    if status in NOT_YET_BILLING:
        return  # a draft credits nothing: test_a_draft_credits_nothing
    payable = _invoice(tenant, S.APPROVED, total_amount=10000, subtotal_amount=10000)
    _invoice(
        tenant,
        status,
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice=payable,
        credited_invoice_number=payable.invoice_number,
        vendor=payable.vendor,
        total_amount=2500,
        subtotal_amount=2500,
    )
    assert open_balances(tenant=tenant, invoices=[payable]) == {payable.pk: 7500 if bills else 10000}


@pytest.mark.django_db
def test_a_draft_credits_nothing(tenant: Tenant) -> None:
    """So open balances and the allocation trigger, which leave out NO_LONGER_BILLING, need not
    name drafts: a draft credit note cannot point at the invoice it will credit."""
    payable = _invoice(tenant, S.APPROVED, total_amount=10000, subtotal_amount=10000)
    with pytest.raises(IntegrityError, match="invoice_draft_credits_nothing"), transaction.atomic():
        _invoice(
            tenant,
            S.DRAFT,
            document_type=DocumentType.CREDIT_NOTE,
            credited_invoice=payable,
            vendor=payable.vendor,
            total_amount=2500,
            subtotal_amount=2500,
        )
    assert open_balances(tenant=tenant, invoices=[payable]) == {payable.pk: 10000}


def test_no_second_copy_of_the_set() -> None:
    """A literal {void, rejected} (strings or InvoiceStatus members) or a SQL `'void', 'rejected'`
    anywhere but invoices/billing.py is a copy that can drift from the one definition."""
    pair = re.compile(r"'(void|rejected)'\s*,\s*'(void|rejected)'")
    copies = [
        f"{path}:{line}"
        for path, tree in app_modules()
        if path != "invoices/billing.py"
        for line, words in literal_collections(tree)
        if words == NO_LONGER_BILLING
    ] + [f"{path}:{line}" for path, tree in app_modules() for line, text in string_constants(tree) if pair.search(text)]
    assert copies == []
