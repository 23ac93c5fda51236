"""Approve, reject, escalate, dispute from the invoice page: roles, comments, stale pages, audit."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice
from review.decisions import APPROVE_OVER_SERIOUS_NEEDS_COMMENT
from tests.matching.runs import reload
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def _act(
    client: Client,
    invoice: Invoice,
    action: str,
    comment: str = "",
    expected: str | None = "pending_review",
    *,
    confirm: bool = False,
) -> HttpResponse:
    """The decision form sent; `confirm` ticks the box confirming the discrepancies the page listed."""
    data = {"action": action, "comment": comment}
    if expected is not None:
        data["expected_status"] = expected
    if confirm:
        data["confirm_discrepancies"] = str(invoice.latest_match_id)
    return client.post(reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}), data)


def _last_review_event(invoice: Invoice) -> AuditEvent:
    return (
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .latest("xid", "append_seq")
    )


@pytest.mark.parametrize(
    ("action", "comment", "status", "queue"),
    [
        ("approve", "", "approved", None),
        ("reject", "Vendor billed the wrong price list.", "rejected", None),
        ("dispute", "Asked the vendor for a credit note.", "disputed", None),
        ("escalate", "Price rise not on the PO.", "pending_review", "escalated"),
    ],
)
def test_each_action_moves_the_invoice_and_audits_the_user(
    clerk: Client, scenario: Scenario, action: str, comment: str, status: str, queue: str | None
) -> None:
    invoice = scenario.price_mismatch
    response = _act(clerk, invoice, action, comment, confirm=True)
    assert response.status_code == 302
    # Nothing else waits in the standard queue: back to it (tests/web/test_decisions.py: the next one).
    assert response["Location"] == reverse("web:queue", kwargs={"queue": "standard"})
    moved = reload(invoice)
    assert (moved.status, moved.review_queue) == (status, queue)
    event = _last_review_event(invoice)
    user = clerk.session["_auth_user_id"]
    assert (event.actor_kind, event.actor_id) == ("user", str(user))
    assert event.after["review_action"] == action
    assert event.after.get("reason", "") == comment
    # The page after the redirect says what happened; the invoice's timeline shows the event.
    assert f"Invoice {invoice.invoice_number}" in clerk.get(response["Location"]).content.decode()
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})).content.decode()
    assert action.capitalize() in page


@pytest.mark.parametrize("action", ["reject", "dispute", "escalate"])
def test_reject_dispute_and_escalate_need_a_comment(clerk: Client, scenario: Scenario, action: str) -> None:
    response = _act(clerk, scenario.price_mismatch, action, "  ")
    assert response.status_code == 400
    assert f"A comment is required to {action} an invoice." in response.content.decode()
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_approving_over_a_high_discrepancy_needs_a_comment(approver: Client, scenario: Scenario) -> None:
    response = _act(approver, scenario.duplicate, "approve", confirm=True)
    assert response.status_code == 400
    assert APPROVE_OVER_SERIOUS_NEEDS_COMMENT in response.content.decode()
    assert reload(scenario.duplicate).status == "pending_review"

    reason = "Confirmed with the vendor: a second delivery."
    response = _act(approver, scenario.duplicate, "approve", reason, confirm=True)
    assert response.status_code == 302
    assert reload(scenario.duplicate).status == "approved"


def test_a_clerk_cannot_act_on_the_escalated_queue(clerk: Client, scenario: Scenario) -> None:
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": scenario.duplicate.pk})).content.decode()
    assert 'name="action"' not in page
    assert "Only an approver or an administrator" in page
    # The server refuses a hand-made POST too, whatever the page showed.
    response = _act(clerk, scenario.duplicate, "reject", "Duplicate.")
    assert response.status_code == 403
    assert "Only an approver or an administrator can act on the escalated queue." in response.content.decode()
    assert reload(scenario.duplicate).status == "pending_review"


def test_an_approver_can_reject_an_escalated_duplicate(approver: Client, scenario: Scenario) -> None:
    response = _act(approver, scenario.duplicate, "reject", "Same delivery billed twice.")
    assert response.status_code == 302
    assert reload(scenario.duplicate).status == "rejected"


def test_a_stale_page_gets_a_clear_message_not_an_overwrite(
    clerk: Client, approver: Client, scenario: Scenario
) -> None:
    invoice = scenario.price_mismatch
    # The approver acted first; the clerk's page still shows pending_review.
    assert _act(approver, invoice, "reject", "Wrong price list.").status_code == 302
    response = _act(clerk, invoice, "approve", "Looks fine.", confirm=True)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Someone else acted on invoice INV-100" in html
    assert "Nothing was changed" in html
    assert reload(invoice).status == "rejected"
    assert _last_review_event(invoice).after["review_action"] == "reject"


def test_an_unknown_action_is_refused(clerk: Client, scenario: Scenario) -> None:
    response = _act(clerk, scenario.price_mismatch, "pay")
    assert response.status_code == 400
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_another_tenants_invoice_is_a_404_for_actions(foreign_clerk: Client, scenario: Scenario) -> None:
    response = _act(foreign_clerk, scenario.price_mismatch, "approve", "mine now", confirm=True)
    assert response.status_code == 404
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_actions_are_post_only(clerk: Client, scenario: Scenario) -> None:
    url = reverse("web:invoice-action", kwargs={"invoice_id": scenario.price_mismatch.pk})
    response = clerk.get(url, {"action": "approve"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:invoice-detail", kwargs={"invoice_id": scenario.price_mismatch.pk})
    assert reload(scenario.price_mismatch).status == "pending_review"
