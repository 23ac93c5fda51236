"""Payment runs (#19 item 4): what a proposal takes and leaves out (with why), a clerk's edits, the
four eyes, the invoices' moves to payment_scheduled and back with their audit events, and the
bank file: XSD-valid, one transfer per vendor, every invoice number in its remittance, amounts to
the cent of what is open."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from audit.models import AuditEvent
from core.exceptions import DocumentInvalid
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.exceptions import FourEyesRequired, PaymentRunConflict
from payments.models import PaymentRun, PaymentRunItem, PaymentRunStatus
from payments.reconciliation.services import reconciliation_run_for_tenant
from payments.runs import files
from payments.runs.proposals import IN_OTHER_RUN, NOTHING_OPEN, OVER_MAX_TOTAL
from payments.runs.services import (
    FOUR_EYES,
    payment_run_approve,
    payment_run_cancel,
    payment_run_line_add,
    payment_run_line_remove,
)
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, PaymentFactory, VendorFactory
from tests.payments.run_books import (
    DEBTOR_BIC,
    DEBTOR_IBAN,
    DUE_BY,
    actor_of,
    approved_invoice,
    paying_vendor,
    people,
    run_proposed,
)
from vendors.selectors import NOT_PAYABLE_REASONS

pytestmark = pytest.mark.django_db


def _propose(tenant: Tenant, clerk: Any, **options: Any) -> PaymentRun:
    return run_proposed(tenant, clerk, **options)


def _lines(run: PaymentRun) -> dict[str, int]:
    return dict(
        PaymentRunItem.objects.for_tenant(run.tenant_id)
        .filter(run=run)
        .values_list("invoice__invoice_number", "amount")
    )


def _excluded(run: PaymentRun) -> dict[str, str]:
    return {row["invoice_number"]: row["reason"] for row in run.excluded}


def _status(invoice: Invoice) -> str:
    return Invoice.objects.for_tenant(invoice.tenant_id).get(pk=invoice.pk).status


@pytest.fixture
def books(tenant: Tenant) -> dict[str, Any]:
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    south = paying_vendor(tenant, "Southwind GmbH", 2, clerk=clerk, approver=approver)
    pending = paying_vendor(tenant, "Pending Parts", 3, clerk=clerk, approver=approver, approve=False)
    nobody = VendorFactory(tenant=tenant, name="No Account Ltd")
    return {
        "clerk": clerk,
        "approver": approver,
        "north": north,
        "south": south,
        "n1": approved_invoice(north, "N-1", 1000_00),
        "n2": approved_invoice(north, "N-2", 250_50, due=dt.date(2026, 11, 1)),
        "s1": approved_invoice(south, "S-1", 99_99),
        "later": approved_invoice(north, "N-LATER", 500_00, due=dt.date(2026, 12, 31)),
        "usd": approved_invoice(north, "N-USD", 500_00, currency="USD"),
        "review": InvoiceFactory(tenant=tenant, vendor=north, invoice_number="N-REVIEW", due_date=DUE_BY),
        "pending": approved_invoice(pending, "P-1", 10_00),
        "nobody": approved_invoice(nobody, "X-1", 10_00),
    }


def test_a_proposal_takes_approved_invoices_due_by_the_date_and_says_why_others_are_left_out(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _propose(tenant, books["clerk"])
    assert run.status == PaymentRunStatus.PROPOSED
    assert _lines(run) == {"N-1": 1000_00, "N-2": 250_50, "S-1": 99_99}
    assert _excluded(run) == {
        "P-1": NOT_PAYABLE_REASONS["pending"],
        "X-1": NOT_PAYABLE_REASONS["no_account"],
    }
    # One transfer per vendor: its invoices share the EndToEndId the statement brings back.
    ids = dict(PaymentRunItem.objects.for_tenant(tenant).filter(run=run).values_list("invoice_id", "end_to_end_id"))
    assert ids[books["n1"].pk] == ids[books["n2"].pk] != ids[books["s1"].pk]
    [event] = AuditEvent.objects.for_tenant(tenant).filter(entity_type="payment_run", action="payment_run_proposed")
    assert event.after["invoices"] == 3 and event.after["total"] == 1350_49 and event.after["excluded"] == 2
    # Nothing moved yet: a proposal is only a proposal.
    assert _status(books["n1"]) == InvoiceStatus.APPROVED


def test_the_run_pays_what_is_open_net_of_credit_notes_and_payments_within_its_maximum(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    north = books["north"]
    InvoiceFactory(
        tenant=tenant,
        vendor=north,
        invoice_number="CN-1",
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice=books["n1"],
        credited_invoice_number="N-1",
        total_amount=300_00,
        status=InvoiceStatus.APPROVED,
    )
    credited_in_full = approved_invoice(north, "N-3", 40_00)
    InvoiceFactory(
        tenant=tenant,
        vendor=north,
        invoice_number="CN-3",
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice=credited_in_full,
        credited_invoice_number="N-3",
        total_amount=40_00,
        status=InvoiceStatus.APPROVED,
    )
    run = _propose(tenant, books["clerk"], max_total=800_00)
    # Earliest due first: N-2 (1 Nov), then N-1 for its 700.00 left is over 800.00; S-1 fits.
    assert _lines(run) == {"N-2": 250_50, "S-1": 99_99}
    assert _excluded(run)["N-1"] == OVER_MAX_TOTAL
    assert _excluded(run)["N-3"] == NOTHING_OPEN
    assert [row["amount"] for row in run.excluded if row["invoice_number"] == "N-1"] == [700_00]


def test_a_clerk_removes_and_adds_back_a_line_and_an_invoice_is_in_one_live_run_only(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    clerk = books["clerk"]
    run = _propose(tenant, clerk)
    payment_run_line_remove(tenant=tenant, run=run, invoice_id=books["n2"].pk, actor=actor_of(clerk))
    run.refresh_from_db()
    assert "N-2" not in _lines(run)
    assert _excluded(run)["N-2"] == f"Removed from the proposal by {clerk.get_username()}."
    second = _propose(tenant, clerk)
    assert _lines(second) == {"N-2": 250_50}
    assert _excluded(second)["N-1"].startswith(IN_OTHER_RUN.split("(")[0])
    with pytest.raises(PaymentRunConflict, match="Already in another payment run"):
        payment_run_line_add(tenant=tenant, run=run, invoice_id=books["n2"].pk, actor=actor_of(clerk))
    payment_run_cancel(tenant=tenant, run=second, actor=actor_of(clerk))
    payment_run_line_add(tenant=tenant, run=run, invoice_id=books["n2"].pk, actor=actor_of(clerk))
    run.refresh_from_db()
    assert _lines(run) == {"N-1": 1000_00, "N-2": 250_50, "S-1": 99_99}
    ids = dict(PaymentRunItem.objects.for_tenant(tenant).filter(run=run).values_list("invoice_id", "end_to_end_id"))
    assert ids[books["n1"].pk] == ids[books["n2"].pk]
    with pytest.raises(PaymentRunConflict, match="it is received, not approved"):
        payment_run_line_add(tenant=tenant, run=run, invoice_id=books["review"].pk, actor=actor_of(clerk))
    actions = list(
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_id=str(run.pk))
        .order_by("xid", "append_seq")
        .values_list("action", flat=True)
    )
    assert actions == ["payment_run_proposed", "payment_run_line_removed", "payment_run_line_added"]


def test_the_proposer_cannot_approve_and_nothing_moves(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"])
    with pytest.raises(FourEyesRequired, match=FOUR_EYES) as refused:
        payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["clerk"]))
    assert refused.value.status_code == 403
    run.refresh_from_db()
    assert run.status == PaymentRunStatus.PROPOSED and not run.file_content
    assert _status(books["n1"]) == InvoiceStatus.APPROVED


def test_another_person_approves_the_invoices_are_scheduled_and_the_file_is_valid_pain_001_09(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = _propose(tenant, books["clerk"], debtor_bic=DEBTOR_BIC)
    approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    assert approved.status == PaymentRunStatus.APPROVED and approved.approved_by_label == books["approver"].username
    for key in ("n1", "n2", "s1"):
        assert _status(books[key]) == InvoiceStatus.PAYMENT_SCHEDULED
        [move] = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(books[key].pk), action="transition")
        assert (move.before["status"], move.after["status"]) == ("approved", "payment_scheduled")
        assert move.after["payment_run_id"] == str(run.pk) and move.actor_id == str(books["approver"].pk)
    content = approved.file_content.encode()
    assert files.pain001_errors(content, version="pain.001.001.09") == []
    document = etree.fromstring(content)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=ns) == "1350.49"
    assert document.findtext(".//p:DbtrAcct/p:Id/p:IBAN", namespaces=ns) == DEBTOR_IBAN
    assert document.findtext(".//p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=ns) == DEBTOR_BIC
    transfers = {
        tx.findtext("p:Cdtr/p:Nm", namespaces=ns): (
            tx.findtext("p:Amt/p:InstdAmt", namespaces=ns),
            tx.findtext("p:PmtId/p:EndToEndId", namespaces=ns),
            [line.text for line in tx.findall("p:RmtInf/p:Ustrd", namespaces=ns)],
        )
        for tx in document.iterfind(".//p:CdtTrfTxInf", namespaces=ns)
    }
    north_e2e = PaymentRunItem.objects.for_tenant(tenant).get(invoice=books["n1"]).end_to_end_id
    assert transfers == {
        "Northwind Traders": ("1250.50", north_e2e, ["N-1, N-2"]),
        "Southwind GmbH": ("99.99", transfers["Southwind GmbH"][1], ["S-1"]),
    }
    assert PaymentRunItem.objects.for_tenant(tenant).get(invoice=books["n1"]).creditor_account_mask.startswith("****")


def test_the_older_pain_001_03_is_an_option_and_valid_too(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"], file_format="pain.001.001.03")
    approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    assert "pain.001.001.03" in approved.file_content
    assert files.pain001_errors(approved.file_content.encode(), version="pain.001.001.03") == []


def test_a_non_sepa_currency_gets_a_csv_with_the_same_payments(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"], currency="USD")
    approved = payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    assert approved.file_name.endswith(".csv")
    header, row = approved.file_content.strip().splitlines()
    assert header.split(",") == list(files.CSV_COLUMNS)
    assert ",500.00,USD," in row and "N-USD" in row


def test_an_invoice_changed_since_the_proposal_refuses_the_approval(tenant: Tenant, books: dict[str, Any]) -> None:
    run = _propose(tenant, books["clerk"])
    InvoiceFactory(
        tenant=tenant,
        vendor=books["north"],
        invoice_number="CN-LATE",
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice=books["n1"],
        credited_invoice_number="N-1",
        total_amount=100_00,
        status=InvoiceStatus.APPROVED,
    )
    with pytest.raises(PaymentRunConflict, match=r"changed since the proposal.*N-1"):
        payment_run_approve(tenant=tenant, run=run, actor=actor_of(books["approver"]))
    assert _status(books["n2"]) == InvoiceStatus.APPROVED


def test_cancelling_an_approved_run_puts_its_invoices_back_to_approved(tenant: Tenant, books: dict[str, Any]) -> None:
    run = payment_run_approve(tenant=tenant, run=_propose(tenant, books["clerk"]), actor=actor_of(books["approver"]))
    payment_run_cancel(tenant=tenant, run=run, actor=actor_of(books["clerk"]), reason="Bank holiday")
    run.refresh_from_db()
    assert run.status == PaymentRunStatus.CANCELLED and run.cancel_reason == "Bank holiday"
    assert _status(books["n1"]) == InvoiceStatus.APPROVED
    moves = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(books["n1"].pk)).order_by("xid", "append_seq")
    assert [(e.before["status"], e.after["status"]) for e in moves] == [
        ("approved", "payment_scheduled"),
        ("payment_scheduled", "approved"),
    ]
    # Free for the next run.
    assert set(_lines(_propose(tenant, books["clerk"]))) == {"N-1", "N-2", "S-1"}
    with pytest.raises(PaymentRunConflict):
        payment_run_cancel(tenant=tenant, run=run, actor=actor_of(books["clerk"]))


def test_a_scheduled_invoice_is_paid_by_the_statement_and_its_run_can_no_longer_be_cancelled(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = payment_run_approve(tenant=tenant, run=_propose(tenant, books["clerk"]), actor=actor_of(books["approver"]))
    PaymentFactory(tenant=tenant, amount=99_99, counterparty_name="Southwind GmbH", remittance_text="S-1")
    assert reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR).invoices_reconciled == 1
    assert _status(books["s1"]) == InvoiceStatus.RECONCILED
    with pytest.raises(PaymentRunConflict, match=r"already paid.*S-1"):
        payment_run_cancel(tenant=tenant, run=run, actor=actor_of(books["clerk"]))
    assert _status(books["n1"]) == InvoiceStatus.PAYMENT_SCHEDULED


def test_bad_input_is_refused_beside_its_field(tenant: Tenant, books: dict[str, Any]) -> None:
    with pytest.raises(DocumentInvalid) as refused:
        _propose(tenant, books["clerk"], debtor_iban="DE89370400440532013001", currency="EURO", max_total=0)
    details = refused.value.details or {}
    assert set(details) == {"debtor_iban", "currency", "max_total"}
    assert not PaymentRun.objects.for_tenant(tenant).exists()


def test_another_tenant_s_invoices_are_never_proposed(
    tenant: Tenant, other_tenant: Tenant, books: dict[str, Any]
) -> None:
    clerk, approver = people(other_tenant)
    theirs = paying_vendor(other_tenant, "Their Vendor", 9, clerk=clerk, approver=approver)
    approved_invoice(theirs, "THEIRS-1", 10_00)
    run = _propose(tenant, books["clerk"])
    assert "THEIRS-1" not in _lines(run) and "THEIRS-1" not in _excluded(run)
    assert set(_lines(_propose(other_tenant, clerk))) == {"THEIRS-1"}


def test_amounts_are_written_exactly_from_minor_units() -> None:
    created = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    transfer = files.CreditTransfer("E2E", "V", "NL91ABNA0417164300", "", 10_000_000_000_01, ("A",))
    payment_file = files.PaymentFile("M", created, dt.date(2026, 12, 8), "EUR", "D", DEBTOR_IBAN, "", (transfer,))
    content = files.pain001_write(payment_file)
    assert files.file_amounts(content) == {"E2E": Decimal("10000000000.01")}
    assert files.remittance_lines(("X" * 150,)) == ["X" * 140, "X" * 10]


def test_tier_0_a_statement_line_with_a_run_s_end_to_end_id_pays_exactly_that_transfer_s_invoices(
    tenant: Tenant, books: dict[str, Any]
) -> None:
    run = payment_run_approve(tenant=tenant, run=_propose(tenant, books["clerk"]), actor=actor_of(books["approver"]))
    north_e2e = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["n1"]).end_to_end_id
    south_e2e = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=books["s1"]).end_to_end_id
    # No remittance, no known account: only the EndToEndId says what it pays.
    PaymentFactory(tenant=tenant, amount=1250_50, counterparty_name="NW", remittance_text="", end_to_end_id=north_e2e)
    # Another amount under the south id: not tier 0's (a partial execution is for the clerk).
    PaymentFactory(tenant=tenant, amount=50_00, counterparty_name="SW", remittance_text="", end_to_end_id=south_e2e)
    report = reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)
    assert report.payments_matched == 1
    assert _status(books["n1"]) == _status(books["n2"]) == InvoiceStatus.RECONCILED
    assert _status(books["s1"]) == InvoiceStatus.PAYMENT_SCHEDULED
    notes = AuditEvent.objects.for_tenant(tenant).filter(action="allocated").values_list("after", flat=True)
    assert any(north_e2e in str(after) for after in notes)
