"""Bulk approval: a confirmation first, then only the clean invoices are approved."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice
from tests.matching.runs import reload
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def _bulk(client: Client, queue: str, invoices: list[Invoice], confirm: bool) -> HttpResponse:
    data: dict[str, object] = {"invoice_ids": [str(invoice.pk) for invoice in invoices]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(reverse("web:bulk-approve", kwargs={"queue": queue}), data)


def test_the_first_post_only_asks_for_confirmation(clerk: Client, scenario: Scenario) -> None:
    response = _bulk(clerk, "standard", [scenario.price_mismatch], confirm=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 clean invoice will be approved" in html and "INV-100" in html
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_only_clean_invoices_are_approved(approver: Client, scenario: Scenario) -> None:
    chosen = [scenario.price_mismatch, scenario.duplicate]
    plan = _bulk(approver, "escalated", chosen, confirm=False).content.decode()
    assert "1 clean invoice will be approved" in plan
    assert "INV-200-B</a>: Has a high or critical discrepancy" in plan

    # Even if the confirmation is hand-made with both ids, the serious one is left alone.
    response = _bulk(approver, "escalated", chosen, confirm=True)
    assert response.status_code == 302
    assert reload(scenario.price_mismatch).status == "approved"
    assert reload(scenario.duplicate).status == "pending_review"
    event = (
        AuditEvent.objects.for_tenant(scenario.tenant)
        .filter(entity_type="invoice", entity_id=str(scenario.price_mismatch.pk))
        .latest("sequence")
    )
    assert event.actor_kind == "user" and event.after["review_action"] == "approve"
    page = approver.get(response["Location"]).content.decode()
    assert "1 invoice(s) approved; 1 left for individual review." in page


def test_a_clerk_cannot_bulk_approve_escalated_invoices(clerk: Client, approver: Client, scenario: Scenario) -> None:
    # A clean invoice an approver escalated: clean, but in the escalated queue.
    approver.post(
        reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk}),
        {"action": "escalate", "expected_status": "pending_review"},
    )
    plan = _bulk(clerk, "escalated", [scenario.price_mismatch], confirm=False).content.decode()
    assert "0 clean invoices will be approved" in plan
    # A hand-made confirmation is refused by the review itself.
    response = _bulk(clerk, "escalated", [scenario.price_mismatch], confirm=True)
    assert response.status_code == 302
    assert reload(scenario.price_mismatch).review_queue == "escalated"
    assert "Only an approver or an administrator" in clerk.get(response["Location"]).content.decode()


def test_another_tenants_invoices_are_ignored(foreign_clerk: Client, scenario: Scenario) -> None:
    response = _bulk(foreign_clerk, "standard", [scenario.price_mismatch], confirm=True)
    assert response.status_code == 302
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_nothing_chosen_is_a_message(clerk: Client, scenario: Scenario) -> None:
    response = clerk.post(reverse("web:bulk-approve", kwargs={"queue": "standard"}), {"confirm": "yes"}, follow=True)
    assert "Choose at least one invoice" in response.content.decode()
