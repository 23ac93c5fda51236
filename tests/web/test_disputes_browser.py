"""A clerk disputes an invoice in Chromium: from the invoice in review, opens a dispute with a
reason, writes to the vendor and mentions an approver (who sees the notification), hears back,
ends the dispute back in review, and approves the invoice. Or the vendor answers with a credit
note for the price difference, which the clerk types in and names when ending the dispute: the
invoice is back in review, approved, and what is left to pay is the total less the credit. A
credit note for the whole invoice voids it on arrival, and the dispute is ended naming it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.reconciliation.loading import open_balances
from review.models import Dispute, DisputeOutcome, DisputeStatus
from tenants.models import Role
from tests.audit.sealing import seal
from tests.factories import MembershipFactory, PaymentFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import build_scenario

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada"), role=Role.APPROVER)
    scenario = build_scenario(tenant)
    # The vendor's next transfer, on the bank statement: its page lists what is still open to pay.
    payment = PaymentFactory(tenant=tenant, amount=1_045_00, counterparty_name="Acme Industrial Supplies")
    return {"tenant": tenant, "invoice": scenario.price_mismatch, "payment": payment}


def test_dispute_then_back_to_review_then_approve(live_server: Any, books: dict[str, Any]) -> None:
    invoice: Invoice = books["invoice"]
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{invoice.pk}")
        page.get_by_test_id("dispute-start").click()
        form = page.get_by_test_id("dispute-form")
        form.get_by_label("What is disputed").select_option(label="Price")
        form.get_by_label("What is wrong").fill("Hoses billed at 19.00, ordered at 18.40.")
        form.get_by_role("button", name="Dispute the invoice").click()
        page.get_by_text(f"Invoice {invoice.invoice_number} is disputed with the vendor.").wait_for()
        assert page.get_by_test_id("dispute-reason").inner_text() == "Price"

        comment = page.get_by_test_id("comment-form")
        comment.get_by_label("Kind").select_option(label="Message to the vendor")
        comment.get_by_label("Comment").fill("Please send a corrected invoice at 18.40. @ada for your information.")
        comment.get_by_role("button", name="Add to the thread").click()
        page.get_by_text("Added to the thread.").wait_for()
        assert page.get_by_test_id("dispute-comment").count() == 2
        page.screenshot(path=str(SCREENSHOTS / "dispute.png"), full_page=True)

        end = page.get_by_test_id("resolve-form")
        end.get_by_label("How it ends").select_option(label="Back to review")
        end.get_by_label("Why").fill("Vendor confirmed 18.40; the difference is credited on the next invoice.")
        end.get_by_role("button", name="End the dispute").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{invoice.pk}$"))
        page.get_by_text("Dispute ended: back to review.", exact=True).wait_for()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")

        decision = page.get_by_test_id("review-form")
        confirm = decision.locator("#confirm_discrepancies")
        if confirm.count():
            confirm.check()
        decision.locator("#comment").fill("Approved after the vendor's confirmation.")
        decision.get_by_role("button", name="Approve").click()
        page.get_by_text("Approved").first.wait_for()
        page.get_by_role("button", name="Log out").click()

        log_in(page, "ada")
        page.get_by_test_id("notifications-unread").wait_for()
        page.get_by_test_id("notifications-link").click()
        page.get_by_text("mentioned you in the dispute").wait_for()
        assert page.console_errors == []
    assert Invoice.objects.for_tenant(books["tenant"]).get(pk=invoice.pk).status == InvoiceStatus.APPROVED
    assert Dispute.objects.for_tenant(books["tenant"]).get().status == DisputeStatus.RESOLVED


def _open_the_dispute(page: Any, invoice: Invoice, why: str) -> None:
    page.goto(f"/app/invoices/{invoice.pk}")
    page.get_by_test_id("dispute-start").click()
    form = page.get_by_test_id("dispute-form")
    form.get_by_label("What is disputed").select_option(label="Price")
    form.get_by_label("What is wrong").fill(why)
    form.get_by_role("button", name="Dispute the invoice").click()
    page.get_by_text(f"Invoice {invoice.invoice_number} is disputed with the vendor.").wait_for()


def _type_in_credit_note(page: Any, *, number: str, credits: str, amount: str) -> None:
    """The vendor's credit note, typed in from the invoice list's "New invoice" as a clerk does."""
    page.goto("/app/invoices")
    page.get_by_role("link", name="New invoice").click()
    form = page.get_by_test_id("entry-form")
    form.get_by_label("Kind").select_option(label="Credit note")
    form.get_by_label("Vendor", exact=True).fill("Acme Industrial Supplies")
    form.get_by_label("Number").fill(number)
    form.get_by_label("Invoice it credits").fill(credits)
    form.get_by_label("Currency").fill("EUR")
    form.get_by_label("Date", exact=True).fill("2026-11-05")
    form.get_by_label("Description, line 1").fill("Price difference, hydraulic hoses")
    form.get_by_label("Quantity, line 1").fill("1")
    form.get_by_label("Unit price, line 1").fill(amount)
    form.get_by_role("button", name="Submit for matching").click()
    page.get_by_text(f"{number} is submitted").wait_for()


def test_a_partial_credit_note_ends_the_dispute_and_less_is_owed(live_server: Any, books: dict[str, Any]) -> None:
    invoice: Invoice = books["invoice"]
    tenant = books["tenant"]
    assert invoice.total_amount == 1_075_00  # 1000 bolts at 0.125 and 50 hoses at 19.00 (the PO says 18.40)
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        _open_the_dispute(page, invoice, "Hoses billed at 19.00, ordered at 18.40: 30.00 too much.")
        _type_in_credit_note(page, number="CN-100", credits="INV-100", amount="30.00")
        # A credit for less than the invoice changes nothing by itself: the dispute still waits.
        page.goto(f"/app/invoices/{invoice.pk}")
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Disputed")

        page.get_by_test_id("dispute-open-link").click()
        end = page.get_by_test_id("resolve-form")
        end.get_by_label("How it ends").select_option(label="Offset by a credit note")
        end.get_by_label("Corrected invoice or credit note").fill("CN-999")
        end.get_by_label("Why").fill("The vendor credited the 30.00 price difference.")
        end.get_by_role("button", name="End the dispute").click()
        # A number the vendor never credited this invoice under: refused beside its field.
        page.get_by_test_id("error-document_number").wait_for()
        end = page.get_by_test_id("resolve-form")
        end.get_by_label("Corrected invoice or credit note").fill("cn 100")  # typed as numbers are said
        end.get_by_role("button", name="End the dispute").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{invoice.pk}$"))
        page.get_by_text("Dispute ended: offset by a credit note.", exact=True).wait_for()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")
        assert "Offset by a credit note" in page.get_by_test_id("dispute-card").inner_text()
        # The reviewer sees what is left to pay, not only the total.
        assert page.get_by_test_id("still-owed").inner_text() == "1,045.00"

        decision = page.get_by_test_id("review-form")
        confirm = decision.locator("#confirm_discrepancies")
        if confirm.count():
            confirm.check()
        decision.locator("#comment").fill("Approved: the price difference is credited by CN-100.")
        decision.get_by_role("button", name="Approve").click()
        page.get_by_text("Invoice INV-100 approved.").wait_for()  # and on to what is left in the queue

        # The dispute's page names the credit note; the payment's open items owe the rest only.
        page.goto(f"/app/invoices/{invoice.pk}")
        page.get_by_test_id("dispute-card").get_by_role("link", name="Offset by a credit note").click()
        assert "Offset by a credit note" in page.get_by_test_id("dispute-status").inner_text()
        page.get_by_role("link", name="CN-100").wait_for()
        page.goto(f"/app/payments/{books['payment'].pk}")
        item = page.get_by_test_id("open-item").filter(has_text="INV-100")
        assert item.locator("td.num .amount").inner_text() == "1,045.00", item.inner_text()
        assert page.console_errors == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ], "only the refused credit note number"

    invoice = Invoice.objects.for_tenant(tenant).get(pk=invoice.pk)
    credit_note = Invoice.objects.for_tenant(tenant).get(invoice_number="CN-100")
    assert (credit_note.document_type, credit_note.credited_invoice_id) == (DocumentType.CREDIT_NOTE, invoice.pk)
    assert invoice.status == InvoiceStatus.APPROVED and invoice.total_amount == 1_075_00
    assert open_balances(tenant=tenant, invoices=[invoice]) == {invoice.pk: 1_045_00}
    dispute = Dispute.objects.for_tenant(tenant).get()
    assert (dispute.status, dispute.outcome, dispute.credit_note_id) == (
        DisputeStatus.RESOLVED,
        DisputeOutcome.CREDITED,
        credit_note.pk,
    )
    moves = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(invoice.pk), action="transition")
    back = moves.get(before__status=InvoiceStatus.DISPUTED)
    assert back.after["status"] == InvoiceStatus.PENDING_REVIEW
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_credit_note_in_full_voids_the_invoice_and_ends_the_dispute(live_server: Any, books: dict[str, Any]) -> None:
    invoice: Invoice = books["invoice"]
    tenant = books["tenant"]
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        _open_the_dispute(page, invoice, "Hoses never ordered at this price: cancel the invoice.")
        _type_in_credit_note(page, number="CN-101", credits="INV-100", amount="1075.00")
        # Credited in full at the door: void at once; the dispute waits for the clerk to end it.
        page.goto(f"/app/invoices/{invoice.pk}")
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Void")
        page.get_by_test_id("dispute-open-link").click()
        end = page.get_by_test_id("resolve-form")
        end.get_by_label("How it ends").select_option(label="Offset by a credit note")
        end.get_by_label("Corrected invoice or credit note").fill("CN-101")
        end.get_by_label("Why").fill("The vendor credited the whole invoice.")
        end.get_by_role("button", name="End the dispute").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{invoice.pk}$"))
        page.get_by_text("Dispute ended: offset by a credit note.", exact=True).wait_for()
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Void")
        assert page.get_by_test_id("dispute-open-link").count() == 0
        assert page.console_errors == []

    invoice = Invoice.objects.for_tenant(tenant).get(pk=invoice.pk)
    credit_note = Invoice.objects.for_tenant(tenant).get(invoice_number="CN-101")
    assert invoice.status == InvoiceStatus.VOID
    assert open_balances(tenant=tenant, invoices=[invoice]) == {invoice.pk: 0}  # nothing left to pay
    dispute = Dispute.objects.for_tenant(tenant).get()
    assert (dispute.status, dispute.outcome, dispute.credit_note_id) == (
        DisputeStatus.RESOLVED,
        DisputeOutcome.CREDITED,
        credit_note.pk,
    )
    ended = AuditEvent.objects.for_tenant(tenant).filter(entity_id=str(dispute.pk), action="transition").get()
    assert ended.after["outcome"] == DisputeOutcome.CREDITED
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact
