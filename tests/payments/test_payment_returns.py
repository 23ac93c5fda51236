"""A run's transfer returned by the bank (payments.runs.returns): the statement brings it back, the
invoices are open again with a `payment_returned` discrepancy, and they wait for a new account."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from audit.models import AuditEvent, OutboxMessage
from core.money import from_minor
from invoices.models import Invoice, InvoiceStatus
from matching.models import Discrepancy, MatchResult
from payments.models import Payment, PaymentAllocation, PaymentRun, PaymentRunItem, PaymentStatus
from payments.reconciliation.loading import open_balances
from payments.reconciliation.services import reconciliation_run_for_tenant
from payments.runs.returns import return_reason_text
from payments.runs.services import payment_run_approve, payment_run_line_add
from payments.services import statement_import
from payments.statements import parse_statement_file
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, MatchRunFactory
from tests.payments.run_books import (
    actor_of,
    approved_invoice,
    paying_vendor,
    people,
    run_proposed,
    vendor_iban,
)
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose

pytestmark = pytest.mark.django_db

RETURN_FIXTURE = Path(__file__).resolve().parent / "testdata" / "camt053_run_return.xml"


def return_statement(*, end_to_end_id: str, amount: int, executed: bool = True) -> bytes:
    """The fixture with a run's transfer filled in; without `executed`, the credit only (a bank
    that returns before booking the debit)."""
    text = RETURN_FIXTURE.read_text(encoding="utf-8").format(
        end_to_end_id=end_to_end_id, amount=format(from_minor(amount, "EUR"), "f")
    )
    if not executed:
        start = text.index("<Ntry>")
        text = text[:start] + text[text.index("</Ntry>") + len("</Ntry>") :]
        # Opening + the credit = closing.
        text = text.replace('<Amt Ccy="EUR">50000.00</Amt>', '<Amt Ccy="EUR">49000.00</Amt>', 1)
        closing = format(Decimal("49000.00") + from_minor(amount, "EUR"), "f")
        text = text.replace('<Amt Ccy="EUR">50000.00</Amt>', f'<Amt Ccy="EUR">{closing}</Amt>', 1)
    return text.encode("utf-8")


def matched(invoice: Invoice) -> Invoice:
    """Give the invoice a latest match result, as the engine's approval would have."""
    result = MatchResult.objects.create(
        tenant_id=invoice.tenant_id,
        invoice=invoice,
        run=MatchRunFactory(tenant=invoice.tenant),
        vendor_id=invoice.vendor_id,
        confidence=Decimal("0.9700"),
        breakdown={"po_match": "1.0000", "line_match": "1.0000", "receipt_match": "1.0000", "price_match": "0.8500"},
        decision=InvoiceStatus.APPROVED,
        decision_reason="Approved",
        engine_version="test",
    )
    Invoice.objects.for_tenant(invoice.tenant_id).filter(pk=invoice.pk).update(latest_match=result)
    return invoice


@pytest.fixture
def books(tenant: Tenant) -> dict[str, Any]:
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    return {
        "clerk": clerk,
        "approver": approver,
        "north": north,
        "n1": matched(approved_invoice(north, "N-1", 1000_00)),
        "n2": matched(approved_invoice(north, "N-2", 250_50, due=dt.date(2026, 11, 1))),
    }


def _approved_run(tenant: Tenant, books: dict[str, Any]) -> PaymentRun:
    run = run_proposed(tenant, books["clerk"])
    return payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))


def _import(tenant: Tenant, content: bytes) -> None:
    statement_import(tenant=tenant, binary=io.BytesIO(content), filename="return.xml", actor=TEST_ACTOR)
    reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)


def _statuses(tenant: Tenant, *invoices: Invoice) -> list[str]:
    return [Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status for invoice in invoices]


def test_the_fixture_is_read_as_a_debit_and_a_credit_returning_it_with_the_bank_s_reason() -> None:
    parsed = parse_statement_file(io.BytesIO(return_statement(end_to_end_id="RCN00AA", amount=1250_50)))
    debit, credit = parsed.entries
    assert (debit.direction, debit.end_to_end_id, debit.return_reason) == ("debit", "RCN00AA", "")
    assert (credit.direction, credit.end_to_end_id, credit.return_reason) == ("credit", "RCN00AA", "AC04")
    assert credit.amount == debit.amount == 1250_50
    assert return_reason_text("AC04") == "account closed (AC04)"
    assert return_reason_text("") == "no reason given"


def test_a_settled_transfer_returned_by_the_bank_reopens_its_invoices_with_a_discrepancy(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _approved_run(tenant, books)
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    _import(tenant, return_statement(end_to_end_id=end_to_end_id, amount=1250_50))

    # The debit paid them (tier 0), the credit brought the money back: open for their full amount.
    assert _statuses(tenant, books["n1"], books["n2"]) == [InvoiceStatus.APPROVED, InvoiceStatus.APPROVED]
    invoices = list(Invoice.objects.for_tenant(tenant).filter(pk__in=[books["n1"].pk, books["n2"].pk]))
    assert sorted(open_balances(tenant=tenant, invoices=invoices).values()) == [250_50, 1000_00]
    assert PaymentAllocation.objects.for_tenant(tenant).filter(reversal_of__isnull=False).count() == 2
    items = PaymentRunItem.objects.for_tenant(tenant).filter(run=run)
    assert {(item.is_live, item.return_reason, item.returned_at is not None) for item in items} == {
        (False, "AC04", True)
    }
    credit = Payment.objects.for_tenant(tenant).get(direction="credit")
    assert credit.status == PaymentStatus.IGNORED
    assert {item.return_payment_id for item in items} == {credit.pk}

    found = Discrepancy.objects.for_tenant(tenant).filter(type="payment_returned", invoice=books["n1"]).get()
    assert found.severity == "high"
    assert found.message == (
        "The bank returned the payment: account closed (AC04). Check the vendor's bank details before paying again."
    )
    assert found.match_result_id == Invoice.objects.for_tenant(tenant).get(pk=books["n1"].pk).latest_match_id
    events = OutboxMessage.objects.for_tenant(tenant).filter(subject__endswith="discrepancy.detected")
    assert {event.payload["payload"]["discrepancy_type"] for event in events} == {"payment_returned"}
    trail = AuditEvent.objects.for_tenant(tenant).filter(entity_type="invoice", entity_id=str(books["n1"].pk))
    last_move = trail.filter(action="transition").order_by("-xid", "-append_seq").first()
    assert last_move is not None and last_move.after["status"] == InvoiceStatus.APPROVED
    returned = trail.get(action="payment_returned")
    assert returned.after["reason"] == "account closed (AC04)"
    assert returned.after["end_to_end_id"] == end_to_end_id
    # The debit the credit cancels out is set aside too: no tier pays the reopened invoices with it.
    assert Payment.objects.for_tenant(tenant).get(direction="debit").status == PaymentStatus.IGNORED


def test_a_transfer_returned_before_it_was_booked_moves_scheduled_invoices_back_to_approved(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _approved_run(tenant, books)
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    _import(tenant, return_statement(end_to_end_id=end_to_end_id, amount=1250_50, executed=False))
    assert _statuses(tenant, books["n1"], books["n2"]) == [InvoiceStatus.APPROVED, InvoiceStatus.APPROVED]
    last = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(books["n2"].pk), action="transition")
        .order_by("-xid", "-append_seq")
        .first()
    )
    assert last is not None
    assert (last.before["status"], last.after["status"], last.after["return_reason"]) == (
        InvoiceStatus.PAYMENT_SCHEDULED,
        InvoiceStatus.APPROVED,
        "AC04",
    )


def test_a_credit_for_more_than_the_transfer_or_another_id_is_not_a_return(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _approved_run(tenant, books)
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    _import(tenant, return_statement(end_to_end_id=end_to_end_id, amount=2000_00, executed=False))
    _import(tenant, return_statement(end_to_end_id="RCN-NOT-OURS", amount=1250_50, executed=False))
    assert _statuses(tenant, books["n1"], books["n2"]) == [InvoiceStatus.PAYMENT_SCHEDULED] * 2
    assert not PaymentRunItem.objects.for_tenant(tenant).filter(returned_at__isnull=False).exists()


def test_a_returned_invoice_waits_for_the_vendor_s_new_account_before_a_proposal_pays_it_again(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _approved_run(tenant, books)
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    _import(tenant, return_statement(end_to_end_id=end_to_end_id, amount=1250_50))

    again = run_proposed(tenant, books["clerk"])
    reasons = {row["invoice_number"]: row["reason"] for row in again.excluded}
    assert not PaymentRunItem.objects.for_tenant(tenant).filter(run=again).exists()
    assert reasons["N-1"].startswith("The bank returned its last payment (account closed (AC04)")

    account = vendor_bank_account_propose(
        tenant=tenant, vendor=books["north"], actor=actor_of(books["clerk"]), role=Role.CLERK, iban=vendor_iban(9)
    )
    vendor_bank_account_approve(tenant=tenant, account=account, actor=actor_of(books["approver"]), role=Role.APPROVER)
    after_change = run_proposed(tenant, books["clerk"])
    assert PaymentRunItem.objects.for_tenant(tenant).filter(run=after_change).count() == 2


def test_a_clerk_who_checked_the_account_adds_a_returned_invoice_to_a_run_by_hand(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _approved_run(tenant, books)
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    _import(tenant, return_statement(end_to_end_id=end_to_end_id, amount=1250_50))
    again = run_proposed(tenant, books["clerk"])
    assert not PaymentRunItem.objects.for_tenant(tenant).filter(run=again).exists()

    payment_run_line_add(tenant=tenant, run=again, invoice_id=books["n1"].pk, actor=actor_of(books["clerk"]))

    assert PaymentRunItem.objects.for_tenant(tenant).get(run=again).invoice_id == books["n1"].pk
