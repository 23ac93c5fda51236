"""Invoices on hold, worked by a person: the ageing list (longest waiting first, with what the PO
received and when each escalates by itself), and stopping the wait — released to review or
escalated — with a reason required beside its field and the move audited."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.models import Tenant
from tests.factories import BOLTS, InvoiceFactory, PurchaseOrderFactory
from tests.matching.runs import reload

pytestmark = pytest.mark.django_db

S = InvoiceStatus


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def on_hold(tenant: Tenant, **fields: Any) -> Invoice:
    purchase_order = PurchaseOrderFactory(tenant=tenant, lines=[BOLTS])
    return InvoiceFactory(tenant=tenant, status=S.ON_HOLD, purchase_order=purchase_order,
                          vendor=purchase_order.vendor, po_number=purchase_order.po_number, **fields)  # fmt: skip


def test_the_ageing_list_shows_each_hold_with_its_po_receipts(clerk: Client, tenant: Tenant) -> None:
    invoice = on_hold(tenant)
    InvoiceFactory(tenant=tenant, status=S.APPROVED)
    page = clerk.get(reverse("web:holds")).content.decode()
    assert page.count('data-testid="hold-row"') == 1
    assert invoice.invoice_number in page and "0 / 1000" in page
    detail = clerk.get(reverse("web:invoice-detail", args=[invoice.pk])).content.decode()
    assert 'data-testid="hold-card"' in detail


@pytest.mark.parametrize(("action", "queue"), [("release", ReviewQueue.STANDARD), ("escalate", ReviewQueue.ESCALATED)])
def test_stopping_the_wait_moves_it_to_review_with_the_reason(
    clerk: Client, tenant: Tenant, action: str, queue: str
) -> None:
    invoice = on_hold(tenant)
    url = reverse("web:invoice-hold", args=[invoice.pk])
    refused = clerk.post(url, {"action": action, "comment": ""})
    assert refused.status_code == 400 and 'data-testid="error-comment"' in refused.content.decode()
    assert reload(invoice).status == S.ON_HOLD
    response = clerk.post(url, {"action": action, "comment": "Goods arrived, receipt not booked yet."})
    assert response.status_code == 302
    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue) == (S.PENDING_REVIEW, queue)
    event = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(invoice.pk), action="transition").get()
    assert event.after["review_action"] == f"hold_{action}"
    assert event.after["reason"] == "Goods arrived, receipt not booked yet."
    again = clerk.post(url, {"action": action, "comment": "Twice"})
    assert again.status_code == 409


def test_another_tenants_hold_is_the_404_page(clerk: Client, other_tenant: Tenant) -> None:
    theirs = on_hold(other_tenant)
    assert clerk.get(reverse("web:invoice-hold", args=[theirs.pk])).status_code == 404
    release = {"action": "release", "comment": "x"}
    assert clerk.post(reverse("web:invoice-hold", args=[theirs.pk]), release).status_code == 404
    assert reload(theirs).status == S.ON_HOLD
    assert theirs.invoice_number not in clerk.get(reverse("web:holds")).content.decode()


def test_the_service_wants_a_reason(tenant: Tenant) -> None:
    from core.exceptions import DocumentInvalid
    from review.holds import REASON_REQUIRED, hold_release
    from tests.factories import TEST_ACTOR

    invoice = on_hold(tenant)
    with pytest.raises(DocumentInvalid) as refused:
        hold_release(tenant=tenant, invoice=invoice, actor=TEST_ACTOR, action="release", comment=" ")
    assert refused.value.details == {"comment": [REASON_REQUIRED]}
