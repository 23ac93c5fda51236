"""Bulk approval: a confirmation first, listing every chosen invoice with its discrepancies and the
sum per currency; then only the clean invoices (no discrepancy at all) are approved."""

from __future__ import annotations

import re

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice
from tests.matching.runs import reload
from tests.web.conftest import Scenario
from tests.web.test_decisions import clean_in_review

pytestmark = pytest.mark.django_db


def _bulk(client: Client, queue: str, invoices: list[Invoice], confirm: bool) -> HttpResponse:
    data: dict[str, object] = {"invoice_ids": [str(invoice.pk) for invoice in invoices]}
    if confirm:
        data["confirm"] = "yes"
    return client.post(reverse("web:bulk-approve", kwargs={"queue": queue}), data)


def test_only_invoices_without_any_discrepancy_get_a_checkbox(clerk: Client, scenario: Scenario) -> None:
    clean = clean_in_review(scenario.tenant, "C-1")
    html = clerk.get(reverse("web:queue", kwargs={"queue": "standard"})).content.decode()
    assert f'name="invoice_ids" value="{clean.pk}"' in html
    # A medium price difference is not clean: no checkbox, the reason on hover.
    assert f'value="{scenario.price_mismatch.pk}"' not in html
    assert 'title="Has a discrepancy: approve it on its own page"' in html


def test_the_confirmation_lists_every_chosen_invoice_its_discrepancies_and_the_sum_per_currency(
    clerk: Client, scenario: Scenario
) -> None:
    chosen = [
        clean_in_review(scenario.tenant, "C-1"),
        clean_in_review(scenario.tenant, "C-2"),
        clean_in_review(scenario.tenant, "C-3", currency="USD"),
        scenario.price_mismatch,
    ]
    response = _bulk(clerk, "standard", chosen, confirm=False)
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 clean invoices will be approved" in html
    rows = re.findall(r'data-testid="bulk-row" data-invoice="([^"]+)"', html)
    assert rows == ["C-1", "C-2", "C-3", "INV-100"]
    # The medium discrepancy by its label, with why the invoice is left out.
    skipped = html[html.index('data-invoice="INV-100"') :]
    assert "Price differs from PO" in skipped and "price_mismatch" not in html
    assert "Left out: Not clean (Price differs from PO): approve it on its own page" in skipped
    assert f'name="invoice_ids" value="{scenario.price_mismatch.pk}"' not in html
    # 1,045.00 each (1000 × 0.125 + 50 × 18.40): two in EUR, one in USD, never added together.
    totals = dict(re.findall(r'data-testid="bulk-total" data-currency="(\w+)">.*?<span class="amount">([^<]+)<', html))
    assert totals == {"EUR": "2,090.00", "USD": "1,045.00"}
    assert all(reload(invoice).status == "pending_review" for invoice in chosen)


def test_only_clean_invoices_are_approved(approver: Client, scenario: Scenario) -> None:
    clean = clean_in_review(scenario.tenant, "C-1")
    chosen = [clean, scenario.price_mismatch, scenario.duplicate]
    plan = _bulk(approver, "standard", chosen, confirm=False).content.decode()
    assert "1 clean invoice will be approved" in plan
    assert (
        "Left out: Not clean (More billed than ordered, More billed than received, Possible duplicate): "
        "approve it on its own page, where each discrepancy is shown." in plan
    )

    # Even if the confirmation is hand-made with every id, those with a discrepancy are refused, with why.
    response = _bulk(approver, "standard", chosen, confirm=True)
    assert response.status_code == 302
    assert reload(clean).status == "approved"
    assert reload(scenario.price_mismatch).status == "pending_review"
    assert reload(scenario.duplicate).status == "pending_review"
    event = (
        AuditEvent.objects.for_tenant(scenario.tenant)
        .filter(entity_type="invoice", entity_id=str(clean.pk))
        .latest("xid", "append_seq")
    )
    assert event.actor_kind == "user" and event.after["review_action"] == "approve"
    page = approver.get(response["Location"]).content.decode()
    assert "1 invoice(s) approved; 2 left for individual review." in page
    assert "INV-100: Not clean (Price differs from PO): approve it on its own page" in page


def test_a_clerk_cannot_bulk_approve_escalated_invoices(clerk: Client, approver: Client, scenario: Scenario) -> None:
    # A clean invoice an approver escalated: clean, but in the escalated queue.
    clean = clean_in_review(scenario.tenant, "C-1")
    approver.post(
        reverse("web:invoice-action", kwargs={"invoice_id": clean.pk}),
        {"action": "escalate", "comment": "Vendor asked us to hold it.", "expected_status": "pending_review"},
    )
    assert reload(clean).review_queue == "escalated"
    plan = _bulk(clerk, "escalated", [clean], confirm=False).content.decode()
    assert "0 clean invoices will be approved" in plan
    # A hand-made confirmation is refused by the review itself.
    response = _bulk(clerk, "escalated", [clean], confirm=True)
    assert response.status_code == 302
    assert reload(clean).review_queue == "escalated" and reload(clean).status == "pending_review"
    assert "Only an approver or an administrator" in clerk.get(response["Location"]).content.decode()


def test_another_tenants_invoices_are_ignored(foreign_clerk: Client, scenario: Scenario) -> None:
    response = _bulk(foreign_clerk, "standard", [scenario.price_mismatch], confirm=True)
    assert response.status_code == 302
    assert reload(scenario.price_mismatch).status == "pending_review"


def test_nothing_chosen_is_a_message(clerk: Client, scenario: Scenario) -> None:
    response = clerk.post(reverse("web:bulk-approve", kwargs={"queue": "standard"}), {"confirm": "yes"}, follow=True)
    assert "Choose at least one invoice" in response.content.decode()
