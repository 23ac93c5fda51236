"""Decisions with reasons (#18 item 6): escalate, reject and dispute need a comment, refused beside
the comment box with the focus there; approving over any discrepancy lists each one and needs a
confirmation naming the match shown; after a decision the reviewer lands on the next invoice of
the same queue (in the queue's sort), or on the queue when nothing else waits."""

from __future__ import annotations

import re
import uuid

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice
from matching.models import Discrepancy
from review.decisions import APPROVE_OVER_SERIOUS_NEEDS_COMMENT, CONFIRM_DISCREPANCIES, DISCREPANCIES_CHANGED
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import reload, run_matching
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db

STANDARD = reverse("web:queue", kwargs={"queue": "standard"})
ESCALATED = reverse("web:queue", kwargs={"queue": "escalated"})


def clean_in_review(tenant: Tenant, number: str, currency: str = "EUR") -> Invoice:
    """A clean invoice the engine still sends to review: no PO number, and two of the vendor's open
    POs fit it equally, so the inferred PO is not unique (confidence 0.94) and nothing is wrong
    with it (no discrepancy): the standard queue, and what bulk approval calls clean."""
    vendor = VendorFactory(tenant=tenant, name=f"Vendor of {number}", tax_id=f"TX-{number}")
    for suffix in ("A", "B"):
        PurchaseOrderFactory(
            vendor=vendor, po_number=f"{number}-PO-{suffix}", currency=currency, lines=[BOLTS, HOSES], received=True
        )
    invoice = InvoiceFactory(vendor=vendor, invoice_number=number, currency=currency, lines=[BOLTS, HOSES])
    run_matching(tenant)
    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "standard")
    assert not Discrepancy.objects.for_tenant(tenant).filter(match_result_id=invoice.latest_match_id).exists()
    return invoice


def detail_url(invoice: Invoice) -> str:
    return reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})


def decide(
    client: Client,
    invoice: Invoice,
    action: str,
    comment: str = "",
    *,
    confirm: uuid.UUID | None = None,
    sort: str | None = None,
) -> HttpResponse:
    data = {"action": action, "comment": comment, "expected_status": "pending_review"}
    if confirm is not None:
        data["confirm_discrepancies"] = str(confirm)
    if sort is not None:
        data["queue_sort"] = sort
    return client.post(reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}), data)


def _events(invoice: Invoice) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(invoice.tenant_id)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .order_by("xid", "append_seq")
    )


def _tag(html: str, element_id: str) -> str:
    """The opening tag of the element with `element_id`."""
    found = re.search(rf'<(?:textarea|input)[^>]*\bid="{element_id}"[^>]*>', html)
    assert found, element_id
    return found.group(0)


@pytest.mark.parametrize("action", ["escalate", "reject", "dispute"])
def test_a_decision_that_needs_a_reason_is_refused_beside_the_comment_box(
    clerk: Client, scenario: Scenario, action: str
) -> None:
    invoice = scenario.price_mismatch
    before = _events(invoice)
    response = decide(clerk, invoice, action, "   ")
    assert response.status_code == 400
    html = response.content.decode()
    message = f"A comment is required to {action} an invoice."
    # Beside the box, which the browser focuses on load (no script needed), and not at the top.
    assert f'<span class="field-error" data-testid="error-comment">{message}</span>' in html
    textarea = _tag(html, "comment")
    assert "autofocus" in textarea and 'aria-invalid="true"' in textarea
    assert 'aria-describedby="comment_error"' in textarea and 'id="comment_error"' in html
    assert 'data-testid="action-error"' not in html
    assert html.count("autofocus") == 1
    assert reload(invoice).status == "pending_review" and reload(invoice).review_queue == "standard"
    assert _events(invoice) == before


def test_escalating_with_a_reason_lands_on_the_next_invoice_of_the_queue(clerk: Client, scenario: Scenario) -> None:
    first, second = clean_in_review(scenario.tenant, "C-1"), clean_in_review(scenario.tenant, "C-2")
    reason = "Price rise of 3 % not on the PO: needs an approver."
    response = decide(clerk, scenario.price_mismatch, "escalate", reason)
    assert response.status_code == 302 and response["Location"] == detail_url(first)
    moved = reload(scenario.price_mismatch)
    assert (moved.status, moved.review_queue) == ("pending_review", "escalated")
    event = _events(moved)[-1]
    assert event.after["review_action"] == "escalate" and event.after["reason"] == reason
    page = clerk.get(response["Location"]).content.decode()
    assert "Invoice INV-100 escalated to an approver. Next in the standard queue: C-1." in page
    # The approver reads the reason on the escalated invoice's timeline.
    assert reason in clerk.get(detail_url(moved)).content.decode()

    # A clean invoice needs no confirmation; the queue is worked to its end, then shown empty.
    assert decide(clerk, first, "approve")["Location"] == detail_url(second)
    last = decide(clerk, second, "approve")
    assert last.status_code == 302 and last["Location"] == STANDARD
    queue = clerk.get(STANDARD).content.decode()
    assert "Invoice C-2 approved. Nothing else is waiting in the standard queue." in queue
    assert (reload(first).status, reload(second).status) == ("approved", "approved")


def test_the_next_invoice_follows_the_sort_the_queue_was_read_in(clerk: Client, scenario: Scenario) -> None:
    clean_in_review(scenario.tenant, "C-1")
    newest = clean_in_review(scenario.tenant, "C-2")
    queue = clerk.get(STANDARD, {"sort": "-age"}).content.decode()
    assert f'href="{detail_url(scenario.price_mismatch)}?sort=-age"' in queue
    page = clerk.get(detail_url(scenario.price_mismatch), {"sort": "-age"}).content.decode()
    assert '<input type="hidden" name="queue_sort" value="-age">' in page

    response = decide(clerk, scenario.price_mismatch, "reject", "Wrong price list.", sort="-age")
    assert response["Location"] == f"{detail_url(newest)}?sort=-age"
    # An unknown sort is the default one (oldest first), not an error.
    response = decide(clerk, newest, "reject", "Sent twice.", sort="'; drop table")
    assert response["Location"] == detail_url(Invoice.objects.for_tenant(scenario.tenant).get(invoice_number="C-1"))


def test_approving_over_a_medium_discrepancy_lists_it_and_asks_for_confirmation(
    clerk: Client, scenario: Scenario
) -> None:
    invoice = scenario.price_mismatch
    before = _events(invoice)
    page = clerk.get(detail_url(invoice)).content.decode()
    confirmation = page[page.index('data-testid="confirm-discrepancies"') : page.index("</fieldset>")]
    assert "To approve, confirm this discrepancy" in confirmation
    assert "Price differs from PO" in confirmation and "price_mismatch" not in confirmation
    assert f'value="{invoice.latest_match_id}"' in confirmation

    refused = decide(clerk, invoice, "approve", "Agreed by phone.")
    assert refused.status_code == 400
    html = refused.content.decode()
    assert f'data-testid="error-confirm_discrepancies">{CONFIRM_DISCREPANCIES}</span>' in html
    checkbox = _tag(html, "confirm_discrepancies")
    assert "autofocus" in checkbox and "checked" not in checkbox
    assert "Agreed by phone." in html, "what the reviewer typed is kept"
    assert reload(invoice).status == "pending_review" and _events(invoice) == before

    approved = decide(clerk, invoice, "approve", "Agreed by phone.", confirm=invoice.latest_match_id)
    assert approved.status_code == 302 and approved["Location"] == STANDARD
    assert reload(invoice).status == "approved"
    assert _events(invoice)[-1].after["reason"] == "Agreed by phone."


def test_a_confirmation_of_another_match_than_the_latest_is_refused(clerk: Client, scenario: Scenario) -> None:
    invoice = scenario.price_mismatch
    response = decide(clerk, invoice, "approve", confirm=uuid.uuid4())
    assert response.status_code == 400
    assert DISCREPANCIES_CHANGED in response.content.decode()
    assert reload(invoice).status == "pending_review"
    # Not an id at all: as if the box was not ticked.
    bad = clerk.post(
        reverse("web:invoice-action", kwargs={"invoice_id": invoice.pk}),
        {"action": "approve", "confirm_discrepancies": "yes"},
    )
    assert bad.status_code == 400 and CONFIRM_DISCREPANCIES in bad.content.decode()


def test_a_clean_invoice_has_nothing_to_confirm(clerk: Client, scenario: Scenario) -> None:
    clean = clean_in_review(scenario.tenant, "C-1")
    page = clerk.get(detail_url(clean)).content.decode()
    assert 'data-testid="confirm-discrepancies"' not in page
    assert decide(clerk, clean, "approve").status_code == 302


def test_a_high_discrepancy_needs_the_confirmation_and_a_comment_each_beside_its_field(
    approver: Client, scenario: Scenario
) -> None:
    duplicate = scenario.duplicate
    html = decide(approver, duplicate, "approve").content.decode()
    assert f'data-testid="error-confirm_discrepancies">{CONFIRM_DISCREPANCIES}</span>' in html
    assert f'data-testid="error-comment">{APPROVE_OVER_SERIOUS_NEEDS_COMMENT}</span>' in html
    # The first refused field in the page's order takes the focus.
    assert "autofocus" in _tag(html, "confirm_discrepancies") and "autofocus" not in _tag(html, "comment")

    confirmed_only = decide(approver, duplicate, "approve", confirm=duplicate.latest_match_id)
    html = confirmed_only.content.decode()
    assert confirmed_only.status_code == 400
    assert "autofocus" in _tag(html, "comment") and "checked" in _tag(html, "confirm_discrepancies")
    assert 'data-testid="error-confirm_discrepancies"' not in html

    done = decide(approver, duplicate, "approve", "A second delivery, confirmed.", confirm=duplicate.latest_match_id)
    assert done.status_code == 302 and done["Location"] == ESCALATED
    assert reload(duplicate).status == "approved"


def test_the_escalated_queue_goes_on_to_its_own_next_invoice(approver: Client, scenario: Scenario) -> None:
    second = InvoiceFactory(
        vendor=scenario.duplicate.vendor,
        invoice_number="INV-300",
        lines=[HOSES.times("1")],
        status="pending_review",
        review_queue="escalated",
    )
    response = decide(approver, scenario.duplicate, "reject", "Same delivery billed twice.")
    assert response["Location"] == detail_url(second)
    assert "Next in the escalated queue: INV-300." in approver.get(response["Location"]).content.decode()


def test_a_decision_on_another_tenants_invoice_is_a_404(foreign_clerk: Client, scenario: Scenario) -> None:
    response = decide(foreign_clerk, scenario.price_mismatch, "escalate", "mine now")
    assert response.status_code == 404
    assert reload(scenario.price_mismatch).review_queue == "standard"
