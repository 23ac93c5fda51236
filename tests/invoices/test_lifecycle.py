"""The invoice lifecycle: the table is the only way to move, illegal moves change nothing,
every move leaves its audit event, and reviewers act through the API."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from audit.models import AuditEvent, OutboxMessage
from core.exceptions import NotFoundError
from core.state_machine import IllegalTransition, StaleState
from invoices.lifecycle import (
    INVOICE_LIFECYCLE,
    ONLY_BY_PAYMENT_RUN,
    ONLY_BY_REMATCH,
    PAYMENT_REVERSAL_ONLY,
    REMATCH_ONLY,
    RUN_ONLY,
    InvoiceMove,
    invoice_transition,
    invoice_transition_many,
)
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.decisions import APPROVE_OVER_SERIOUS_NEEDS_COMMENT
from tenants.models import Role, Tenant
from tests.factories import BOLTS, TEST_ACTOR, InvoiceFactory, MembershipFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import run_matching

pytestmark = pytest.mark.django_db

S = InvoiceStatus
ALL = list(S.values)
ALLOWED = {(source, target) for source, targets in INVOICE_LIFECYCLE.moves.items() for target in targets}


def _invoice_in(tenant: Tenant, status: str) -> Invoice:
    queue = ReviewQueue.STANDARD if status == S.PENDING_REVIEW else None
    return InvoiceFactory(tenant=tenant, status=status, review_queue=queue)


def _queue_for(source: str, target: str) -> str | None:
    if target != S.PENDING_REVIEW:
        return None
    return ReviewQueue.ESCALATED if source == S.PENDING_REVIEW else ReviewQueue.STANDARD


def _events(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id).filter(entity_id=str(invoice.pk)).order_by("xid", "append_seq")
    )


def test_the_table_is_the_design() -> None:
    """DESIGN.md §4, move for move."""
    assert {
        (S.RECEIVED, S.APPROVED), (S.RECEIVED, S.PENDING_REVIEW), (S.RECEIVED, S.ON_HOLD),
        (S.RECEIVED, S.REJECTED), (S.ON_HOLD, S.RECEIVED), (S.ON_HOLD, S.PENDING_REVIEW),
        (S.PENDING_REVIEW, S.APPROVED), (S.PENDING_REVIEW, S.REJECTED), (S.PENDING_REVIEW, S.DISPUTED),
        (S.PENDING_REVIEW, S.PENDING_REVIEW), (S.DISPUTED, S.PENDING_REVIEW), (S.DISPUTED, S.REJECTED),
        (S.APPROVED, S.PARTIALLY_PAID), (S.APPROVED, S.RECONCILED), (S.PARTIALLY_PAID, S.RECONCILED),
        # A payment allocation reversed (payments.reconciliation.services.allocation_reverse).
        (S.PARTIALLY_PAID, S.APPROVED), (S.RECONCILED, S.PARTIALLY_PAID), (S.RECONCILED, S.APPROVED),
        # A draft entered by hand is submitted or discarded (invoices.services.invoice_draft_*).
        (S.DRAFT, S.RECEIVED), (S.DRAFT, S.VOID),
        # A re-match (matching.rematch): the facts it was matched against changed.
        (S.PENDING_REVIEW, S.RECEIVED), (S.DISPUTED, S.RECEIVED),
        # A payment run approved (payments.runs) and cancelled; paid by the statement line.
        (S.APPROVED, S.PAYMENT_SCHEDULED), (S.PAYMENT_SCHEDULED, S.APPROVED),
        (S.PAYMENT_SCHEDULED, S.PARTIALLY_PAID), (S.PAYMENT_SCHEDULED, S.RECONCILED),
        *((state, S.VOID) for state in (S.RECEIVED, S.ON_HOLD, S.PENDING_REVIEW, S.DISPUTED, S.APPROVED,
                                        S.PAYMENT_SCHEDULED, S.PARTIALLY_PAID)),
    } == ALLOWED  # fmt: skip
    assert INVOICE_LIFECYCLE.final_states == {S.REJECTED, S.VOID}


@pytest.mark.parametrize(("source", "target"), sorted(ALLOWED - PAYMENT_REVERSAL_ONLY - REMATCH_ONLY - RUN_ONLY))
def test_every_allowed_move_changes_the_status_and_writes_one_audit_event(
    tenant: Tenant, source: str, target: str
) -> None:
    invoice = _invoice_in(tenant, source)
    invoice_transition(
        tenant=tenant,
        invoice=invoice,
        to_status=target,
        queue=_queue_for(source, target),
        actor=TEST_ACTOR,
        reason="because",
    )
    invoice.refresh_from_db()
    assert invoice.status == target
    [event] = _events(invoice)
    assert event.action == "transition"
    assert event.before == {
        "status": source,
        "review_queue": ReviewQueue.STANDARD if source == S.PENDING_REVIEW else None,
    }
    assert event.after["status"] == target and event.after["reason"] == "because"
    assert (event.actor_kind, event.actor_id) == ("system", "test")


@pytest.mark.parametrize(("source", "target"), [pair for pair in itertools.product(ALL, ALL) if pair not in ALLOWED])
def test_every_other_move_is_refused_and_changes_nothing(tenant: Tenant, source: str, target: str) -> None:
    invoice = _invoice_in(tenant, source)
    with pytest.raises(IllegalTransition) as refused:
        invoice_transition(
            tenant=tenant, invoice=invoice, to_status=target, queue=_queue_for(source, target), actor=TEST_ACTOR
        )
    assert refused.value.status_code == 409
    invoice.refresh_from_db()
    assert invoice.status == source
    assert _events(invoice) == []
    assert not OutboxMessage.objects.for_tenant(tenant).exists()


def test_in_review_only_standard_to_escalated_is_a_move(tenant: Tenant) -> None:
    invoice = _invoice_in(tenant, S.PENDING_REVIEW)
    invoice_transition(tenant=tenant, invoice=invoice, to_status=S.PENDING_REVIEW, queue="escalated", actor=TEST_ACTOR)
    with pytest.raises(IllegalTransition):
        invoice_transition(
            tenant=tenant, invoice=invoice, to_status=S.PENDING_REVIEW, queue="standard", actor=TEST_ACTOR
        )
    invoice.refresh_from_db()
    assert invoice.review_queue == ReviewQueue.ESCALATED


def test_a_stale_expected_status_is_refused(tenant: Tenant) -> None:
    invoice = _invoice_in(tenant, S.PENDING_REVIEW)
    invoice_transition(tenant=tenant, invoice=invoice, to_status=S.APPROVED, actor=TEST_ACTOR)
    with pytest.raises(StaleState, match="someone else acted first"):
        invoice_transition(
            tenant=tenant, invoice=invoice, to_status=S.REJECTED, actor=TEST_ACTOR, expected_status=S.PENDING_REVIEW
        )


def test_approval_is_published_through_the_outbox_with_the_change(tenant: Tenant) -> None:
    invoice = _invoice_in(tenant, S.PENDING_REVIEW)
    invoice_transition(tenant=tenant, invoice=invoice, to_status=S.APPROVED, actor=TEST_ACTOR)
    message = OutboxMessage.objects.for_tenant(tenant).get()
    assert message.payload["event_type"] == "invoice.approved"
    assert message.payload["payload"]["invoice_id"] == str(invoice.pk)


class TestReviewApi:
    """POST /api/invoices/{id}/approve|reject|escalate|dispute."""

    def test_an_illegal_move_is_a_409_in_the_envelope_and_changes_nothing(self, api: APIClient, tenant: Tenant) -> None:
        invoice = _invoice_in(tenant, S.RECEIVED)
        response = api.post(f"/api/invoices/{invoice.pk}/dispute", {"comment": "wrong price"}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "illegal_transition"
        invoice.refresh_from_db()
        assert invoice.status == S.RECEIVED and _events(invoice) == []

    def test_approve_records_the_api_key_and_the_request_id(self, api: APIClient, tenant: Tenant) -> None:
        invoice = _invoice_in(tenant, S.PENDING_REVIEW)
        response = api.post(f"/api/invoices/{invoice.pk}/approve", {"comment": "ok"}, format="json")
        assert response.status_code == 200 and response.json()["status"] == "approved"
        [event] = _events(invoice)
        assert event.actor_kind == "api_key"
        assert event.request_id == response["X-Request-Id"]
        assert event.after["review_action"] == "approve"

    def test_reject_and_dispute_need_a_comment(self, api: APIClient, tenant: Tenant) -> None:
        invoice = _invoice_in(tenant, S.PENDING_REVIEW)
        for action in ("reject", "dispute"):
            response = api.post(f"/api/invoices/{invoice.pk}/{action}", {"comment": "  "}, format="json")
            assert response.status_code == 400
            assert "comment" in response.json()["error"]["details"]
        invoice.refresh_from_db()
        assert invoice.status == S.PENDING_REVIEW

    def test_a_stale_page_gets_a_clear_conflict(self, api: APIClient, tenant: Tenant) -> None:
        invoice = _invoice_in(tenant, S.PENDING_REVIEW)
        assert api.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json").status_code == 200
        response = api.post(
            f"/api/invoices/{invoice.pk}/reject", {"comment": "no", "expected_status": "pending_review"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "stale_state"

    @pytest.mark.parametrize(("role", "allowed"), [(Role.CLERK, False), (Role.APPROVER, True), (Role.ADMIN, True)])
    def test_only_approvers_act_on_the_escalated_queue(self, tenant: Tenant, role: str, allowed: bool) -> None:
        invoice = _invoice_in(tenant, S.PENDING_REVIEW)
        invoice_transition(
            tenant=tenant, invoice=invoice, to_status=S.PENDING_REVIEW, queue="escalated", actor=TEST_ACTOR
        )
        membership = MembershipFactory(tenant=tenant, role=role)
        client = APIClient(enforce_csrf_checks=False)
        client.force_login(membership.user)
        response = client.post(f"/api/invoices/{invoice.pk}/approve", {"comment": "fine"}, format="json")
        assert response.status_code == (200 if allowed else 403)
        invoice.refresh_from_db()
        assert invoice.status == (S.APPROVED if allowed else S.PENDING_REVIEW)
        if allowed:
            assert _events(invoice)[-1].actor_id == str(membership.user.pk)


def test_approving_over_a_high_discrepancy_needs_a_comment_through_the_api_too(api: APIClient, tenant: Tenant) -> None:
    """The rule lives in invoice_review, so the API, the web app and any script share it."""
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd", tax_id="DE123")
    PurchaseOrderFactory(vendor=acme, po_number="PO-77", lines=[BOLTS], received=True)
    # 0.125 ordered, 0.20 billed: 60 % over a 2 % tolerance, beyond 5 tolerances → high, escalated.
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-77", po_number="PO-77", lines=[BOLTS.at("0.20")])
    run_matching(tenant)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_queue) == ("pending_review", "escalated")

    refused = api.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["comment"] == [APPROVE_OVER_SERIOUS_NEEDS_COMMENT]
    invoice.refresh_from_db()
    assert invoice.status == "pending_review"

    approved = api.post(f"/api/invoices/{invoice.pk}/approve", {"comment": "Agreed new price by phone"}, format="json")
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "approved"


@pytest.mark.parametrize(("source", "target"), sorted(PAYMENT_REVERSAL_ONLY))
def test_a_paid_invoice_reopens_only_through_a_payment_reversal(tenant: Tenant, source: str, target: str) -> None:
    """A reviewer's move (invoice_transition) is refused; the reversal service's batch move is not
    (tests/payments/test_reconciliation.py::test_a_reversal_restores_the_balance_and_the_status)."""
    invoice = _invoice_in(tenant, source)
    with pytest.raises(IllegalTransition):
        invoice_transition(tenant=tenant, invoice=invoice, to_status=target, actor=TEST_ACTOR)
    invoice.refresh_from_db()
    assert invoice.status == source and not _events(invoice)


@pytest.mark.parametrize(("source", "target"), sorted(REMATCH_ONLY))
def test_back_to_received_only_through_a_rematch(tenant: Tenant, source: str, target: str) -> None:
    """A reviewer's move (invoice_transition) and a batch move without the flag are refused; a
    re-match's move is made, with its audit event."""
    invoice = _invoice_in(tenant, source)
    with pytest.raises(IllegalTransition, match="only to be matched again"):
        invoice_transition(tenant=tenant, invoice=invoice, to_status=target, actor=TEST_ACTOR)
    with transaction.atomic():
        [refused] = invoice_transition_many(
            tenant=tenant, moves=[InvoiceMove(invoice.pk, target, reason="no flag")], actor=TEST_ACTOR
        )
    assert str(refused.error) == ONLY_BY_REMATCH.format(current=str(source), target=str(target))
    invoice.refresh_from_db()
    assert invoice.status == source and not _events(invoice)

    with transaction.atomic():
        move = InvoiceMove(invoice.pk, target, reason="facts changed", rematch=True)
        [done] = invoice_transition_many(tenant=tenant, moves=[move], actor=TEST_ACTOR)
    assert done.ok
    invoice.refresh_from_db()
    assert (invoice.status, invoice.review_queue) == (S.RECEIVED, None)
    [event] = _events(invoice)
    assert event.before["status"] == source and event.after["reason"] == "facts changed"


@pytest.mark.parametrize(("source", "target"), sorted(RUN_ONLY))
def test_into_and_out_of_a_payment_run_only_through_the_run(tenant: Tenant, source: str, target: str) -> None:
    """A reviewer's "approve" cannot take an invoice out of a run whose file may be at the bank, nor
    can anything but a run schedule a payment; the run's batch move (payment_run=True) is made."""
    invoice = _invoice_in(tenant, source)
    with pytest.raises(IllegalTransition, match="only through a payment run"):
        invoice_transition(tenant=tenant, invoice=invoice, to_status=target, actor=TEST_ACTOR)
    with transaction.atomic():
        [refused] = invoice_transition_many(tenant=tenant, moves=[InvoiceMove(invoice.pk, target)], actor=TEST_ACTOR)
    assert str(refused.error) == ONLY_BY_PAYMENT_RUN.format(current=str(source), target=str(target))
    invoice.refresh_from_db()
    assert invoice.status == source and not _events(invoice)

    with transaction.atomic():
        move = InvoiceMove(invoice.pk, target, reason="run", payment_run=True)
        [done] = invoice_transition_many(tenant=tenant, moves=[move], actor=TEST_ACTOR)
    assert done.ok
    invoice.refresh_from_db()
    assert invoice.status == target
    [event] = _events(invoice)
    assert (event.before["status"], event.after["status"]) == (source, target)


def test_moves_of_rows_the_caller_locked_use_them_without_reading_them_again(tenant: Tenant) -> None:
    """`locked=`: the caller's rows, locked and read in its transaction, are checked and moved as
    they are (no second lock and read); a move of an invoice not among them is refused as not found."""
    paid, other = _invoice_in(tenant, S.APPROVED), _invoice_in(tenant, S.APPROVED)
    with transaction.atomic():
        rows = {
            invoice.pk: invoice
            for invoice in Invoice.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .filter(pk=paid.pk)
            .only("id", "tenant_id", "status", "review_queue", "invoice_number")
        }
        with CaptureQueriesContext(connection) as queries:
            done, missing = invoice_transition_many(
                tenant=tenant,
                moves=[InvoiceMove(paid.pk, S.RECONCILED, reason="paid"), InvoiceMove(other.pk, S.RECONCILED)],
                actor=TEST_ACTOR,
                locked=rows,
            )
    assert done.ok and done.from_status == S.APPROVED
    assert isinstance(missing.error, NotFoundError)
    assert not any(query["sql"].startswith('SELECT "invoices_invoice"') for query in queries.captured_queries)
    assert rows[paid.pk].status == S.RECONCILED  # the caller's row follows the move, as a locked read's would
    paid.refresh_from_db()
    other.refresh_from_db()
    assert (paid.status, other.status) == (S.RECONCILED, S.APPROVED)
    [event] = _events(paid)
    assert (event.before["status"], event.after["status"], event.after["reason"]) == (S.APPROVED, S.RECONCILED, "paid")
    assert not _events(other)
