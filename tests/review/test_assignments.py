"""Who works which invoice and how late it is (review.assignments), and the daily digest
(review.digest): hand-overs audited and notified, refused for work that is done, for someone who
is not a member, for a clerk on the escalated queue and when the page showed another assignee;
service levels as every list shows them; one digest a day to each member who asked for one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from core.actors import Actor
from core.exceptions import DocumentInvalid
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.assignments import (
    AssignmentChanged,
    assigned_invoices,
    invoice_assign,
    invoice_sla,
)
from review.digest import digests_send
from review.models import Dispute, DisputeReason, Notification
from review.tasks import send_daily_digests
from tenants.models import Membership, Role, Tenant
from tenants.services import DIGEST_NEEDS_EMAIL, membership_digest_set
from tests.factories import InvoiceFactory, MembershipFactory, UserFactory
from tests.matching.runs import reload

pytestmark = pytest.mark.django_db

S = InvoiceStatus


def actor_of(membership: Membership) -> Actor:
    return Actor(kind="user", id=str(membership.user.pk), label=membership.user.get_username())


@pytest.fixture
def alice(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.CLERK, user=UserFactory(username="alice"))


@pytest.fixture
def bob(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.CLERK, user=UserFactory(username="bob"))


@pytest.fixture
def vera(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.APPROVER, user=UserFactory(username="vera"))


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(tenant=tenant, status=S.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD, **fields)


def assignment_events(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="assigned")
        .order_by("xid", "append_seq")
    )


def test_a_handover_is_audited_and_the_new_assignee_is_told(tenant: Tenant, alice: Membership, bob: Membership) -> None:
    invoice = in_review(tenant)
    invoice_assign(
        tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=bob.user.pk, expected_assignee_id=None
    )
    invoice = reload(invoice)
    assert invoice.assigned_to == bob.user and invoice.assigned_at is not None
    [event] = assignment_events(invoice)
    assert (event.before, event.after, event.actor_label) == ({"assigned_to": None}, {"assigned_to": "bob"}, "alice")
    [note] = Notification.objects.for_tenant(tenant).filter(user=bob.user)
    assert note.text == f"alice assigned invoice {invoice.invoice_number} to you." and note.invoice == invoice
    # Taking it oneself: audited, nobody to tell; the same hand-over again changes nothing.
    invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=alice.user.pk)
    invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=alice.user.pk)
    assert [event.after for event in assignment_events(invoice)] == [{"assigned_to": "bob"}, {"assigned_to": "alice"}]
    assert not Notification.objects.for_tenant(tenant).filter(user=alice.user).exists()
    invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id="")
    assert reload(invoice).assigned_to is None and reload(invoice).assigned_at is None
    assert assignment_events(invoice)[-1].after == {"assigned_to": None}


def test_a_page_that_showed_someone_else_changes_nothing(tenant: Tenant, alice: Membership, bob: Membership) -> None:
    invoice = in_review(tenant, assigned_to=bob.user)
    with pytest.raises(AssignmentChanged) as refused:
        # Alice's page still showed the invoice unassigned: bob took it meanwhile.
        invoice_assign(
            tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=alice.user.pk, expected_assignee_id=None
        )
    assert refused.value.status_code == 409 and "bob took it" in refused.value.message
    assert reload(invoice).assigned_to == bob.user and not assignment_events(invoice)


@pytest.mark.parametrize("who", ["other tenant", "deactivated", "not an id", "no such user"])
def test_only_an_active_member_of_the_organisation_is_given_work(
    tenant: Tenant, other_tenant: Tenant, alice: Membership, who: str
) -> None:
    invoice = in_review(tenant)
    if who == "other tenant":
        assignee: Any = MembershipFactory(tenant=other_tenant).user.pk
    elif who == "deactivated":
        assignee = MembershipFactory(tenant=tenant, is_active=False).user.pk
    else:
        assignee = "x'; DROP TABLE--\x00" if who == "not an id" else 987654321
    with pytest.raises(DocumentInvalid) as refused:
        invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=assignee)
    assert refused.value.details == {"assignee": ["Not a member of this organisation."]}
    assert reload(invoice).assigned_to is None and not assignment_events(invoice)


@pytest.mark.parametrize("status", [S.REJECTED, S.RECONCILED, S.VOID])
def test_work_that_is_done_is_not_handed_over(tenant: Tenant, alice: Membership, status: str) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=status)
    with pytest.raises(DocumentInvalid) as refused:
        invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=alice.user.pk)
    assert "nothing left to do" in refused.value.message
    assert reload(invoice).assigned_to is None


def test_an_escalated_invoice_goes_to_an_approver_not_a_clerk(
    tenant: Tenant, alice: Membership, vera: Membership
) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=S.PENDING_REVIEW, review_queue=ReviewQueue.ESCALATED)
    with pytest.raises(DocumentInvalid) as refused:
        invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(vera), assignee_id=alice.user.pk)
    assert "alice is a clerk" in refused.value.message
    invoice_assign(tenant=tenant, invoice=invoice, actor=actor_of(alice), assignee_id=vera.user.pk)
    assert reload(invoice).assigned_to == vera.user


def test_my_work_holds_what_can_still_be_done(tenant: Tenant, other_tenant: Tenant, alice: Membership) -> None:
    mine = in_review(tenant, assigned_to=alice.user)
    held = InvoiceFactory(tenant=tenant, status=S.ON_HOLD, assigned_to=alice.user)
    InvoiceFactory(tenant=tenant, status=S.RECONCILED, assigned_to=alice.user)  # done: kept, not listed
    in_review(tenant)  # nobody's
    assert list(assigned_invoices(tenant=tenant, user_id=alice.user.pk)) == sorted(
        [mine, held], key=lambda invoice: (invoice.created_at, invoice.pk)
    )
    assert not assigned_invoices(tenant=other_tenant, user_id=alice.user.pk).exists()


TODAY = dt.date(2026, 12, 7)


def arrived(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(12), tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "days", "due", "review_late", "payment_late"),
    [
        (S.PENDING_REVIEW, 3, None, False, False),  # on the last day of the service level
        (S.PENDING_REVIEW, 4, None, True, False),
        (S.DISPUTED, 10, TODAY - dt.timedelta(days=1), True, True),
        (S.ON_HOLD, 1, TODAY, False, False),  # due today is not late yet
        (S.APPROVED, 30, TODAY - dt.timedelta(days=1), False, True),  # decided: only the payment can be late
        (S.PAYMENT_SCHEDULED, 30, TODAY - dt.timedelta(days=1), False, True),  # in a run, not paid yet
        (S.RECONCILED, 30, TODAY - dt.timedelta(days=9), False, False),  # paid
        (S.RECEIVED, 8, None, False, False),  # the engine's, not a person's, to do
    ],
)
def test_service_levels(status: str, days: int, due: dt.date | None, review_late: bool, payment_late: bool) -> None:
    sla = invoice_sla(status=status, received_at=arrived(days), due_date=due, sla_days=3, today=TODAY)
    assert (sla.age_days, sla.review_overdue, sla.payment_overdue) == (days, review_late, payment_late)
    assert sla.overdue == (review_late or payment_late)
    assert bool(sla.overdue_label) == sla.overdue


# --- the daily digest ------------------------------------------------------------------------------

MORNING = dt.datetime(2026, 12, 7, 7, 5, tzinfo=dt.UTC)


def test_the_digest_is_asked_for_by_the_member_and_audited(tenant: Tenant, alice: Membership) -> None:
    membership_digest_set(tenant=tenant, actor=actor_of(alice), membership=alice, on=True)
    alice.refresh_from_db()
    assert alice.digest_email
    event = AuditEvent.objects.for_tenant(tenant).get(entity_type="membership", entity_id=str(alice.pk))
    assert (event.before, event.after) == (
        {"username": "alice", "digest_email": False},
        {"username": "alice", "digest_email": True},
    )
    nameless = MembershipFactory(tenant=tenant, user=UserFactory(email=""))
    with pytest.raises(DocumentInvalid) as refused:
        membership_digest_set(tenant=tenant, actor=actor_of(nameless), membership=nameless, on=True)
    assert refused.value.message == DIGEST_NEEDS_EMAIL


def test_one_digest_a_day_to_each_member_who_asked_with_something_to_do(
    tenant: Tenant, alice: Membership, bob: Membership, vera: Membership, settings: Any
) -> None:
    settings.DIGEST_HOUR = 7
    settings.APP_BASE_URL = "https://recon.example.com"
    late = in_review(tenant, assigned_to=alice.user, invoice_number="LATE-1")
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(created_at=MORNING - dt.timedelta(days=9))
    in_review(tenant, assigned_to=alice.user, invoice_number="FRESH-2")
    dispute = Dispute.objects.create(
        tenant=tenant,
        invoice=InvoiceFactory(tenant=tenant, status=S.DISPUTED, invoice_number="DISP-3"),
        reason=DisputeReason.PRICE,
        owner=alice.user,
        due_date=MORNING.date() - dt.timedelta(days=1),
    )
    in_review(tenant, invoice_number="NOBODY-4")
    for member in (alice, bob):  # bob asked too, but has nothing of his own: told of the queue
        Membership.objects.for_tenant(tenant).filter(pk=member.pk).update(digest_email=True)
    Membership.objects.for_tenant(tenant).filter(pk=vera.pk).update(digest_email=False)

    assert digests_send(tenant=tenant, now=MORNING - dt.timedelta(hours=1)) == 0  # before the hour
    assert digests_send(tenant=tenant, now=MORNING) == 2
    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == {alice.user.email, bob.user.email}
    mine = by_address[alice.user.email]
    assert mine.subject == f"Recon · {tenant.name}: 3 to work on, 2 overdue"
    assert "LATE-1" in mine.body and "OVERDUE FOR REVIEW" in mine.body and "FRESH-2" in mine.body
    assert mine.body.index("LATE-1") < mine.body.index("FRESH-2")  # the late first
    assert f"https://recon.example.com/app/disputes/{dispute.pk}" in mine.body
    assert f"https://recon.example.com/app/invoices/{late.pk}" in mine.body
    for message in by_address.values():
        assert "Waiting for review with nobody assigned: 1" in message.body
    assert "LATE-1" not in by_address[bob.user.email].body

    # The next pass the same day sends nothing; the next day, again.
    assert digests_send(tenant=tenant, now=MORNING + dt.timedelta(hours=3)) == 0
    assert len(mail.outbox) == 2
    assert digests_send(tenant=tenant, now=MORNING + dt.timedelta(days=1)) == 2


def test_nothing_to_do_is_no_email(tenant: Tenant, alice: Membership, settings: Any) -> None:
    settings.DIGEST_HOUR = 0
    Membership.objects.for_tenant(tenant).filter(pk=alice.pk).update(digest_email=True)
    assert digests_send(tenant=tenant, now=timezone.now()) == 0 and mail.outbox == []


def test_the_schedule_visits_every_tenant(
    tenant: Tenant, other_tenant: Tenant, alice: Membership, settings: Any
) -> None:
    settings.DIGEST_HOUR = 0
    theirs = MembershipFactory(tenant=other_tenant, digest_email=True)
    InvoiceFactory(tenant=other_tenant, status=S.ON_HOLD, assigned_to=theirs.user, invoice_number="THEIRS-1")
    Membership.objects.for_tenant(tenant).filter(pk=alice.pk).update(digest_email=True)
    in_review(tenant, assigned_to=alice.user, invoice_number="OURS-1")
    assert send_daily_digests() == "sent 2 digests"
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert "OURS-1" in bodies[alice.user.email] and "THEIRS-1" not in bodies[alice.user.email]
    assert "THEIRS-1" in bodies[theirs.user.email] and "OURS-1" not in bodies[theirs.user.email]
