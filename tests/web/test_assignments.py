"""Who works what, in the web app: the invoice page's "Who works it" card (hand-over, "Assign to
me", the refusal beside the picker), "Assign to me" on a queue's row, the "Assigned to" filters
and columns of the queues and the invoice list, lateness highlighted, "My work" and its digest
switch, and another tenant's invoice a 404 at every address."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.models import Dispute, DisputeReason
from tenants.models import Membership, Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, UserFactory
from tests.matching.runs import reload

pytestmark = pytest.mark.django_db

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


@pytest.fixture
def cleo(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.CLERK, user=UserFactory(username="cleo"))


@pytest.fixture
def dan(tenant: Tenant) -> Membership:
    return MembershipFactory(tenant=tenant, role=Role.CLERK, user=UserFactory(username="dan"))


def signed_in(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(tenant=tenant, status=S.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD, **fields)


def assign_url(invoice: Invoice) -> str:
    return reverse("web:invoice-assign", args=[invoice.pk])


def test_the_invoice_page_hands_the_invoice_over(tenant: Tenant, cleo: Membership, dan: Membership) -> None:
    invoice = in_review(tenant)
    client = signed_in(cleo)
    page = client.get(reverse("web:invoice-detail", args=[invoice.pk])).content.decode()
    assert 'data-testid="work-card"' in page and re.search(
        r'data-testid="assignee">\s*<span class="muted">Nobody', page
    )
    assert ">dan (Clerk)</option>" in page
    response = client.post(assign_url(invoice), {"assignee": str(dan.user.pk), "expected": ""})
    assert response.status_code == 302 and response["Location"].endswith(f"/app/invoices/{invoice.pk}#work-title")
    assert reload(invoice).assigned_to == dan.user
    page = client.get(response["Location"]).content.decode()
    assert f"Invoice {invoice.invoice_number} assigned to dan." in page
    assert re.search(r'data-testid="assignee">dan', page)
    assert 'data-testid="timeline-assigned">Nobody → dan' in page
    # "Assign to me" takes it over from dan, the page having shown dan.
    client.post(assign_url(invoice), {"assignee": str(dan.user.pk), "expected": str(dan.user.pk), "assign_to_me": "1"})
    assert reload(invoice).assigned_to == cleo.user


def test_a_refused_handover_is_said_beside_the_picker(tenant: Tenant, cleo: Membership, dan: Membership) -> None:
    invoice = in_review(tenant, assigned_to=dan.user)
    response = signed_in(cleo).post(assign_url(invoice), {"assignee": str(cleo.user.pk), "expected": ""})
    assert response.status_code == 409
    page = response.content.decode()
    assert re.search(
        r'<select id="assignee" name="assignee" aria-invalid="true" aria-describedby="assignee-error" autofocus', page
    )
    assert 'data-testid="assign-error">dan took it while you were looking at it.' in page
    assert reload(invoice).assigned_to == dan.user
    refused = signed_in(cleo).post(assign_url(invoice), {"assignee": "not-a-number", "expected": str(dan.user.pk)})
    assert refused.status_code == 400 and "Not a member of this organisation." in refused.content.decode()


def test_another_tenants_invoice_is_a_404_at_every_address(
    tenant: Tenant, other_tenant: Tenant, cleo: Membership
) -> None:
    theirs = in_review(other_tenant)
    client = signed_in(cleo)
    assert client.post(assign_url(theirs), {"assignee": "me", "claim": "1"}).status_code == 404
    assert client.get(assign_url(theirs)).status_code == 404
    assert reload(theirs).assigned_to is None
    # GET on the form address of one's own invoice: back to its page, nothing changed.
    mine = in_review(tenant)
    answer = client.get(assign_url(mine))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("web:invoice-detail", args=[mine.pk]))


def test_assign_to_me_from_a_queue_row_and_the_assigned_filter(
    tenant: Tenant, cleo: Membership, dan: Membership
) -> None:
    free = in_review(tenant, invoice_number="FREE-1")
    dans = in_review(tenant, invoice_number="DANS-2", assigned_to=dan.user)
    client = signed_in(cleo)
    queue = reverse("web:queue", args=[ReviewQueue.STANDARD])
    page = client.get(queue).content.decode()
    assert page.count('data-testid="claim"') == 1 and 'data-testid="queue-assignee">dan<' in page
    back = f"{queue}?sort=-amount"
    response = client.post(f"{assign_url(free)}?back={back}", {"claim": "1", "invoice_ids": [str(dans.pk)]})
    assert response.status_code == 302 and response["Location"] == back
    assert reload(free).assigned_to == cleo.user and reload(dans).assigned_to == dan.user
    # A second claim of the same row (a colleague's stale page) is refused, said on the queue.
    again = signed_in(dan).post(f"{assign_url(free)}?back={queue}", {"claim": "1"}, follow=True)
    assert f"{free.invoice_number}: cleo took it while you were looking at it." in again.content.decode()
    assert reload(free).assigned_to == cleo.user

    def listed(query: dict[str, str]) -> set[str]:
        return set(
            re.findall(r'data-testid="queue-row" data-invoice="([^"]+)"', client.get(queue, query).content.decode())
        )

    assert listed({"assigned": "me"}) == {"FREE-1"}
    assert listed({"assigned": str(dan.user.pk)}) == {"DANS-2"}
    in_review(tenant, invoice_number="NOBODYS-3")
    assert listed({"assigned": "none"}) == {"NOBODYS-3"}
    assert listed({"assigned": "bogus"}) == {"FREE-1", "DANS-2", "NOBODYS-3"}  # a bad filter is ignored


def test_a_redirect_after_a_handover_stays_in_the_app(tenant: Tenant, cleo: Membership) -> None:
    invoice = in_review(tenant)
    response = signed_in(cleo).post(f"{assign_url(invoice)}?back=https://evil.example/app/", {"claim": "1"})
    assert response["Location"].startswith(f"/app/invoices/{invoice.pk}")


def test_lateness_is_highlighted_in_the_queue_and_the_list(tenant: Tenant, cleo: Membership) -> None:
    late = in_review(tenant, invoice_number="LATE-1", due_date=timezone.localdate() - dt.timedelta(days=2))
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(days=5))
    in_review(tenant, invoice_number="FRESH-2", assigned_to=cleo.user)
    client = signed_in(cleo)
    queue = client.get(reverse("web:queue", args=[ReviewQueue.STANDARD])).content.decode()
    [late_row] = re.findall(r'<tr data-testid="queue-row" data-invoice="LATE-1"[^>]*>.*?</tr>', queue, re.S)
    assert 'class="flagged flag-high"' in late_row and 'data-testid="review-overdue"' in late_row
    assert 'data-testid="payment-overdue"' in late_row
    [fresh_row] = re.findall(r'<tr data-testid="queue-row" data-invoice="FRESH-2"[^>]*>.*?</tr>', queue, re.S)
    assert "flagged" not in fresh_row
    listing = client.get(reverse("web:invoices"), {"assigned": "me"}).content.decode()
    assert re.findall(r'data-testid="invoice-row" data-invoice="([^"]+)"', listing) == ["FRESH-2"]
    assert 'data-testid="list-assignee">cleo' in listing
    everything = client.get(reverse("web:invoices")).content.decode()
    assert "Overdue for review; payment overdue" in everything
    csv = b"".join(client.get(reverse("web:invoices-export-csv"), {"assigned": "me"}).streaming_content).decode()
    assert csv.splitlines()[0].endswith("Assigned to,Recon id") and ",cleo," in csv.splitlines()[1]


def test_my_work_lists_ones_invoices_and_disputes_the_late_first(
    tenant: Tenant, cleo: Membership, dan: Membership
) -> None:
    fresh = in_review(tenant, invoice_number="MINE-FRESH", assigned_to=cleo.user)
    late = InvoiceFactory(tenant=tenant, status=S.ON_HOLD, invoice_number="MINE-LATE", assigned_to=cleo.user)
    Invoice.objects.for_tenant(tenant).filter(pk=late.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    in_review(tenant, invoice_number="DANS", assigned_to=dan.user)
    InvoiceFactory(tenant=tenant, status=S.VOID, invoice_number="MINE-DONE", assigned_to=cleo.user)
    Dispute.objects.create(
        tenant=tenant,
        invoice=InvoiceFactory(tenant=tenant, status=S.DISPUTED, invoice_number="MINE-DISPUTED"),
        reason=DisputeReason.QUANTITY,
        owner=cleo.user,
        due_date=timezone.localdate() - dt.timedelta(days=1),
    )
    client = signed_in(cleo)
    page = client.get(reverse("web:my-work")).content.decode()
    assert re.findall(r'data-testid="my-invoice" data-invoice="([^"]+)"', page) == ["MINE-LATE", "MINE-FRESH"]
    assert "MINE-DISPUTED" in page and "Quantity" in page and 'data-testid="overdue-count">2 items overdue.' in page
    assert "DANS" not in page and "MINE-DONE" not in page
    # Handing one back from My work.
    client.post(assign_url(fresh), {"assignee": "", "expected": str(cleo.user.pk), "back": reverse("web:my-work")})
    assert reload(fresh).assigned_to is None
    after = client.get(reverse("web:my-work")).content.decode()
    assert re.findall(r'data-testid="my-invoice" data-invoice="([^"]+)"', after) == ["MINE-LATE"]


def test_the_digest_is_switched_on_and_off_on_my_work(tenant: Tenant, cleo: Membership) -> None:
    client = signed_in(cleo)
    assert 'data-testid="digest-on"' in client.get(reverse("web:my-work")).content.decode()
    response = client.post(reverse("web:my-digest"), {"digest": "on"}, follow=True)
    assert "You will get a digest of your work by e-mail each morning." in response.content.decode()
    assert Membership.objects.for_tenant(tenant).get(pk=cleo.pk).digest_email
    assert 'data-testid="digest-off"' in response.content.decode()
    client.post(reverse("web:my-digest"), {"digest": "off"})
    assert not Membership.objects.for_tenant(tenant).get(pk=cleo.pk).digest_email
    assert client.get(reverse("web:my-digest")).status_code == 302  # GET: back to My work
    events = AuditEvent.objects.for_tenant(tenant).filter(entity_type="membership", entity_id=str(cleo.pk))
    assert [event.after["digest_email"] for event in events.order_by("xid", "append_seq")] == [True, False]


def test_the_review_service_level_is_a_setting(tenant: Tenant) -> None:
    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN)
    client = signed_in(admin)
    page = client.get(reverse("web:settings")).content.decode()
    assert "Overdue for review after (days)" in page
