"""POST /api/invoices/{id}/escalate|reject|dispute|approve: the reasons a decision needs (#18 item 6),
in the error envelope by field, and the API's own 405 for any other method."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import HOSES, InvoiceFactory
from tests.matching.runs import reload
from tests.web.conftest import build_scenario

pytestmark = pytest.mark.django_db


def _in_review(tenant: Tenant) -> Invoice:
    return InvoiceFactory(tenant=tenant, lines=[HOSES], status="pending_review", review_queue="standard")


def _events(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .order_by("xid", "append_seq")
    )


@pytest.mark.parametrize("action", ["escalate", "reject", "dispute"])
@pytest.mark.parametrize("body", [{}, {"comment": ""}, {"comment": " \n\t "}])
def test_a_decision_without_a_reason_is_a_400_naming_the_comment(
    api: APIClient, tenant: Tenant, action: str, body: dict[str, str]
) -> None:
    invoice = _in_review(tenant)
    response = api.post(f"/api/invoices/{invoice.pk}/{action}", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    message = f"A comment is required to {action} an invoice."
    assert (error["code"], error["message"], error["details"]) == ("validation_error", message, {"comment": [message]})
    moved = reload(invoice)
    assert (moved.status, moved.review_queue) == ("pending_review", "standard")
    assert _events(invoice) == []


def test_escalating_with_a_reason_keeps_it_for_the_approver(api: APIClient, tenant: Tenant) -> None:
    invoice = _in_review(tenant)
    reason = "Price rise of 3 % not on the PO."
    response = api.post(f"/api/invoices/{invoice.pk}/escalate", {"comment": reason}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["review_queue"], body["review_queue_label"]) == (
        "pending_review",
        "escalated",
        "Escalated",
    )
    [event] = _events(invoice)
    assert event.after["review_action"] == "escalate" and event.after["reason"] == reason


def test_the_api_approves_over_a_medium_discrepancy_without_the_pages_confirmation(
    api: APIClient, tenant: Tenant
) -> None:
    """The confirmation is the page's step (it lists the discrepancies); an integration reads them in
    the answer's `match`, and the comment rule for high and critical ones applies to it as to anyone."""
    invoice = build_scenario(tenant).price_mismatch
    response = api.post(f"/api/invoices/{invoice.pk}/approve", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    assert [d["type"] for d in response.json()["match"]["discrepancies"]] == ["price_mismatch"]


@pytest.mark.parametrize("action", ["approve", "reject", "escalate", "dispute"])
def test_the_api_keeps_its_405_for_a_get_on_a_decision(api: APIClient, tenant: Tenant, action: str) -> None:
    invoice = _in_review(tenant)
    response = api.get(f"/api/invoices/{invoice.pk}/{action}")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


def test_another_tenants_invoice_is_a_404_before_the_comment_rule(foreign_api: APIClient, tenant: Tenant) -> None:
    invoice = _in_review(tenant)
    response = foreign_api.post(f"/api/invoices/{invoice.pk}/escalate", {}, format="json")
    assert response.status_code == 404
    assert reload(invoice).review_queue == "standard"
