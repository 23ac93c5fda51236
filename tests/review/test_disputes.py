"""Disputes (#18): opened with a reason, owned, discussed (internal notes, messages to the vendor,
@mentions notify), and ended in one of five ways, each through the lifecycle's one function with
its audit event; a partial credit note sends the invoice back to review with less owed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from core.exceptions import DocumentInvalid
from core.state_machine import IllegalTransition, StaleState
from invoices.models import DocumentType, Invoice, InvoiceStatus, ReviewQueue
from payments.reconciliation.loading import open_balances
from review.disputes import (
    COMMENT_REQUIRED,
    CREDIT_NOTE_UNKNOWN,
    REASON_REQUIRED,
    DisputeEnd,
    dispute_assign,
    dispute_comment_add,
    dispute_open,
    dispute_resolve,
)
from review.models import Dispute, DisputeOutcome, DisputeStatus, Notification
from review.people import NOT_A_MEMBER
from tenants.models import Role, Tenant
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, UserFactory, VendorFactory
from tests.matching.runs import reload

pytestmark = pytest.mark.django_db

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


@pytest.fixture
def clerk(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="cleo"), role=Role.CLERK).user


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(tenant=tenant, status=S.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD, **fields)


def opened(tenant: Tenant, clerk: Any, invoice: Invoice | None = None, **fields: Any) -> Dispute:
    return dispute_open(
        tenant=tenant,
        invoice=invoice or in_review(tenant),
        actor=TEST_ACTOR,
        role=Role.CLERK,
        author=clerk,
        reason=fields.pop("reason", "price"),
        comment=fields.pop("comment", "Unit price 19.00, PO says 18.40."),
        **fields,
    )


def _events(tenant: Tenant, entity_id: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(entity_id)).order_by("xid", "append_seq"))


def test_opening_disputes_the_invoice_with_a_reason_an_owner_and_a_first_note(tenant: Tenant, clerk: Any) -> None:
    dispute = opened(tenant, clerk, due_date=dt.date.today() + dt.timedelta(days=7))
    assert reload(dispute.invoice).status == S.DISPUTED
    assert (dispute.reason, dispute.owner, dispute.status) == ("price", clerk, DisputeStatus.OPEN)
    [note] = dispute.comments.all()
    assert note.body.startswith("Unit price") and note.kind == "internal"
    assert [event.action for event in _events(tenant, dispute.pk)] == ["created", "commented"]
    transition = _events(tenant, dispute.invoice.pk)[-1]
    assert transition.after["dispute_reason"] == "price"


def test_opening_needs_a_reason_and_a_comment_and_a_member_as_owner(tenant: Tenant, clerk: Any) -> None:
    invoice = in_review(tenant)
    for fields, key, message in (
        ({"reason": ""}, "reason", REASON_REQUIRED),
        ({"comment": "  "}, "comment", COMMENT_REQUIRED),
        ({"owner_id": UserFactory().pk}, "owner", NOT_A_MEMBER),
    ):
        with pytest.raises(DocumentInvalid) as refused:
            opened(tenant, clerk, invoice, **fields)
        assert refused.value.details == {key: [message]}
    assert reload(invoice).status == S.PENDING_REVIEW and not Dispute.objects.for_tenant(tenant).exists()


def test_only_an_invoice_in_review_is_disputed(tenant: Tenant, clerk: Any) -> None:
    with pytest.raises(IllegalTransition):
        opened(tenant, clerk, InvoiceFactory(tenant=tenant, status=S.APPROVED))
    invoice = in_review(tenant)
    with pytest.raises(StaleState):
        opened(tenant, clerk, invoice, expected_status=S.APPROVED)


def test_mentions_notify_members_only_and_the_thread_is_audited(tenant: Tenant, clerk: Any) -> None:
    approver = MembershipFactory(tenant=tenant, user=UserFactory(username="ada.approver"), role=Role.APPROVER).user
    stranger = UserFactory(username="mallory")  # not a member: no notification, no error
    dispute = opened(tenant, clerk)
    dispute_comment_add(
        tenant=tenant, dispute=dispute, actor=TEST_ACTOR, author=clerk,
        body="@ada.approver can you call them? cc @mallory", kind="vendor",
    )  # fmt: skip
    [notification] = Notification.objects.for_tenant(tenant).all()
    assert notification.user == approver and "mentioned you" in notification.text
    assert not Notification.objects.for_tenant(tenant).filter(user=stranger).exists()
    commented = _events(tenant, dispute.pk)[-1]
    assert (commented.action, commented.after["kind"], commented.after["mentions"]) == (
        "commented",
        "vendor",
        ["ada.approver"],
    )


def test_handing_a_dispute_over_notifies_and_is_audited(tenant: Tenant, clerk: Any) -> None:
    approver = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    dispute = opened(tenant, clerk)
    due = dt.date.today() + dt.timedelta(days=3)
    dispute_assign(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, owner_id=approver.pk, due_date=due)
    dispute.refresh_from_db()
    assert (dispute.owner, dispute.due_date) == (approver, due)
    assert Notification.objects.for_tenant(tenant).filter(user=approver).count() == 1
    event = _events(tenant, dispute.pk)[-1]
    assert (event.action, event.before["owner"], event.after["owner"]) == ("updated", "cleo", approver.username)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [
        (DisputeOutcome.BACK_TO_REVIEW, S.PENDING_REVIEW),
        (DisputeOutcome.VOIDED, S.VOID),
        (DisputeOutcome.REJECTED, S.REJECTED),
    ],
)
def test_each_end_moves_the_invoice_and_closes_the_dispute(
    tenant: Tenant, clerk: Any, outcome: str, status: str
) -> None:
    dispute = opened(tenant, clerk)
    dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                    end=DisputeEnd(outcome, "Vendor agreed."))  # fmt: skip
    dispute.refresh_from_db()
    assert (dispute.status, dispute.outcome) == (DisputeStatus.RESOLVED, outcome)
    invoice = reload(dispute.invoice)
    assert invoice.status == status
    assert invoice.review_queue == (ReviewQueue.STANDARD if status == S.PENDING_REVIEW else None)
    end = _events(tenant, dispute.pk)[-1]
    assert (end.action, end.after["outcome"]) == ("transition", outcome)
    with pytest.raises(IllegalTransition):
        dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                        end=DisputeEnd(outcome, "Again"))  # fmt: skip


def test_a_corrected_invoice_supersedes_the_disputed_one(tenant: Tenant, clerk: Any) -> None:
    vendor = VendorFactory(tenant=tenant)
    dispute = opened(tenant, clerk, in_review(tenant, vendor=vendor, invoice_number="INV-100"))
    corrected = InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number="INV-100-C")
    dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                    end=DisputeEnd(DisputeOutcome.SUPERSEDED, "Corrected price.", "inv100c"))  # fmt: skip
    dispute.refresh_from_db()
    assert dispute.superseded_by == corrected
    assert reload(dispute.invoice).status == S.VOID
    assert reload(corrected).status == S.RECEIVED  # matched on its own


def test_a_partial_credit_note_sends_it_back_to_review_with_less_owed(tenant: Tenant, clerk: Any) -> None:
    vendor = VendorFactory(tenant=tenant)
    invoice = in_review(tenant, vendor=vendor, invoice_number="INV-200", total_amount=100000, subtotal_amount=100000)
    dispute = opened(tenant, clerk, invoice)
    with pytest.raises(DocumentInvalid) as refused:
        dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                        end=DisputeEnd(DisputeOutcome.CREDITED, "Credit agreed.", "CN-1"))  # fmt: skip
    assert refused.value.details == {"document_number": [CREDIT_NOTE_UNKNOWN]}
    InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number="CN-1", document_type=DocumentType.CREDIT_NOTE,
                   credited_invoice=invoice, total_amount=6000, subtotal_amount=6000)  # fmt: skip
    dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                    end=DisputeEnd(DisputeOutcome.CREDITED, "Credit agreed.", "CN-1"))  # fmt: skip
    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue) == (S.PENDING_REVIEW, ReviewQueue.STANDARD)
    assert open_balances(tenant=tenant, invoices=[invoice]) == {invoice.pk: 94000}


def test_the_chain_verifies_after_a_dispute(tenant: Tenant, clerk: Any) -> None:
    dispute = opened(tenant, clerk)
    dispute_comment_add(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, author=clerk, body="Called them.")
    dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                    end=DisputeEnd(DisputeOutcome.BACK_TO_REVIEW, "Explained."))  # fmt: skip
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact
