"""The dispute pages: open a dispute from an invoice in review (reason, owner, due date, first
note), talk in its thread (@mentions notify), hand it over, end it; refusals beside their field;
another tenant's dispute is the 404 page; the invoice page shows the dispute."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.disputes import COMMENT_REQUIRED, CORRECTION_UNKNOWN
from review.models import Dispute, DisputeStatus, Notification
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, UserFactory
from tests.matching.runs import reload

pytestmark = pytest.mark.django_db

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def in_review(tenant: Tenant, **fields: Any) -> Invoice:
    return InvoiceFactory(tenant=tenant, status=S.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD, **fields)


def open_one(client: Client, invoice: Invoice, **fields: str) -> Any:
    data = {"reason": "price", "comment": "19.00 billed, 18.40 ordered.", "expected_status": "pending_review"}
    return client.post(reverse("web:invoice-dispute", args=[invoice.pk]), {**data, **fields})


def test_a_clerk_opens_a_dispute_and_the_invoice_page_shows_it(clerk: Client, tenant: Tenant) -> None:
    invoice = in_review(tenant)
    page = clerk.get(reverse("web:invoice-detail", args=[invoice.pk])).content.decode()
    assert 'data-testid="dispute-start"' in page
    response = open_one(clerk, invoice, due_date=(dt.date.today() + dt.timedelta(days=5)).isoformat())
    dispute = Dispute.objects.for_tenant(tenant).get()
    assert response.status_code == 302 and response["Location"] == reverse("web:dispute-detail", args=[dispute.pk])
    assert reload(invoice).status == S.DISPUTED
    page = clerk.get(reverse("web:invoice-detail", args=[invoice.pk])).content.decode()
    assert 'data-testid="dispute-open-link"' in page and "Price" in page
    assert clerk.get(reverse("web:disputes")).content.decode().count('data-testid="dispute-row"') == 1


def test_refusals_stand_beside_their_field(clerk: Client, tenant: Tenant) -> None:
    invoice = in_review(tenant)
    response = open_one(clerk, invoice, reason="", comment="")
    assert response.status_code == 400
    page = response.content.decode()
    assert 'data-testid="error-reason"' in page and 'data-testid="error-comment"' in page
    assert reload(invoice).status == S.PENDING_REVIEW
    open_one(clerk, invoice)
    dispute = Dispute.objects.for_tenant(tenant).get()
    refused = clerk.post(reverse("web:dispute-comment", args=[dispute.pk]), {"kind": "internal", "body": " "})
    assert refused.status_code == 400 and 'data-testid="error-body"' in refused.content.decode()
    ended = clerk.post(reverse("web:dispute-resolve", args=[dispute.pk]),
                       {"outcome": "superseded", "document_number": "NOPE-1", "comment": "Corrected."})  # fmt: skip
    assert ended.status_code == 400 and CORRECTION_UNKNOWN in ended.content.decode()
    assert COMMENT_REQUIRED  # the service's own message for an empty comment (tests/review/test_disputes.py)


def test_a_mention_notifies_and_shows_in_the_header(clerk: Client, tenant: Tenant) -> None:
    approver_user = MembershipFactory(tenant=tenant, user=UserFactory(username="ada"), role=Role.APPROVER).user
    approver = Client()
    approver.force_login(approver_user)
    invoice = in_review(tenant)
    open_one(clerk, invoice)
    dispute = Dispute.objects.for_tenant(tenant).get()
    clerk.post(reverse("web:dispute-comment", args=[dispute.pk]), {"kind": "vendor", "body": "@ada please call them"})
    page = approver.get(reverse("web:dashboard")).content.decode()
    assert 'data-testid="notifications-unread">1<' in page
    assert "mentioned you" in approver.get(reverse("web:notifications")).content.decode()
    approver.post(reverse("web:notifications-read"))
    assert not Notification.objects.for_tenant(tenant).filter(user=approver_user, read_at__isnull=True).exists()


def test_ending_back_in_review_returns_to_the_invoice(clerk: Client, tenant: Tenant) -> None:
    invoice = in_review(tenant)
    open_one(clerk, invoice)
    dispute = Dispute.objects.for_tenant(tenant).get()
    response = clerk.post(reverse("web:dispute-resolve", args=[dispute.pk]),
                          {"outcome": "back_to_review", "comment": "Vendor explained the surcharge."})  # fmt: skip
    assert response.status_code == 302 and response["Location"] == reverse("web:invoice-detail", args=[invoice.pk])
    assert reload(invoice).status == S.PENDING_REVIEW
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED


def test_another_tenants_dispute_is_the_404_page(clerk: Client, other_tenant: Tenant) -> None:
    theirs_client = Client()
    theirs_client.force_login(MembershipFactory(tenant=other_tenant, role=Role.CLERK).user)
    invoice = in_review(other_tenant)
    open_one(theirs_client, invoice)
    dispute = Dispute.objects.for_tenant(other_tenant).get()
    assert clerk.get(reverse("web:dispute-detail", args=[dispute.pk])).status_code == 404
    assert (
        clerk.post(reverse("web:dispute-comment", args=[dispute.pk]), {"kind": "internal", "body": "x"}).status_code
        == 404
    )
    assert clerk.post(reverse("web:dispute-resolve", args=[dispute.pk]),
                      {"outcome": "voided", "comment": "x"}).status_code == 404  # fmt: skip
    assert clerk.get(reverse("web:invoice-dispute", args=[invoice.pk])).status_code == 404
    assert reload(invoice).status == S.DISPUTED
