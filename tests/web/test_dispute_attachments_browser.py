"""A clerk puts the vendor's corrected quote into a dispute's thread in Chromium: disputes the invoice,
adds a comment with a PDF through the file input, sees the file listed (name, size, who), opens it
from its link and gets the very bytes, as a PDF; a file of a kind Recon does not take is refused
beside the file input, and the approver, signed in after, opens the same file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from invoices.models import Invoice
from review.models import DisputeAttachment
from tenants.models import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in
from tests.web.conftest import build_scenario

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

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
    return {"tenant": tenant, "invoice": scenario.price_mismatch}


def file_opened(page: Any, name: str) -> tuple[Any, bytes]:
    """Click the file's link in the Files list: the response the browser got for it, and the bytes
    at that address read with the browser's own session (the PDF viewer stands in for a PDF's
    body once it is shown)."""
    link = page.get_by_test_id("dispute-files").get_by_role("link", name=name)
    with page.expect_response(lambda response: "/files/" in response.url) as opened:
        link.click()
    page.wait_for_url(opened.value.url)
    return opened.value, page.context.request.get(opened.value.url).body()


def test_a_clerk_attaches_the_corrected_quote_and_opens_it(live_server: Any, books: dict[str, Any]) -> None:
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
        dispute_url = page.url

        # A file Recon does not take: refused beside the file input, the comment kept.
        comment = page.get_by_test_id("comment-form")
        comment.get_by_label("Comment").fill("The vendor's page.")
        comment.get_by_label("Files").set_input_files(
            files=[{"name": "quote.html", "mimeType": "text/html", "buffer": b"<script>alert(1)</script>"}]
        )
        comment.get_by_role("button", name="Add to the thread").click()
        page.get_by_test_id("error-attachments").wait_for()
        assert "quote.html: Recon attaches PDF" in page.get_by_test_id("error-attachments").inner_text()
        assert page.get_by_test_id("comment-form").get_by_label("Comment").input_value() == "The vendor's page."
        assert page.get_by_test_id("dispute-files").count() == 0
        assert page.console_errors == [
            "Failed to load resource: the server responded with a status of 400 (Bad Request)"
        ]
        page.console_errors.clear()  # the refusal's own 400, as expected

        comment = page.get_by_test_id("comment-form")
        comment.get_by_label("Kind").select_option(label="Message to the vendor")
        comment.get_by_label("Comment").fill("Corrected quote from the vendor: 18.40 a hose.")
        comment.get_by_label("Files").set_input_files(
            files=[{"name": "Corrected quote 2291.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}]
        )
        comment.get_by_role("button", name="Add to the thread").click()
        page.get_by_text("Added to the thread with 1 file.").wait_for()

        row = page.get_by_test_id("attachment-row")
        assert row.count() == 1
        cells = row.locator("td").all_inner_texts()
        assert cells[0] == "Corrected quote 2291.pdf" and cells[1] == f"{len(PDF_BYTES)}\xa0bytes"
        assert cells[2] == "cleo-clerk"
        entry = page.get_by_test_id("dispute-comment").last
        assert "Corrected quote from the vendor" in entry.inner_text()
        assert entry.get_by_test_id("thread-attachment").inner_text().startswith("Corrected quote 2291.pdf")
        page.screenshot(path=str(SCREENSHOTS / "dispute-attachments.png"), full_page=True)
        assert page.console_errors == []

        response, body = file_opened(page, "Corrected quote 2291.pdf")
        assert response.status == 200
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"].startswith("inline;")
        assert body == PDF_BYTES

        page.goto(dispute_url)
        page.get_by_role("button", name="Log out").click()
        log_in(page, "ada")
        page.goto(dispute_url)
        response, body = file_opened(page, "Corrected quote 2291.pdf")
        assert response.status == 200 and body == PDF_BYTES

    attachment = DisputeAttachment.objects.for_tenant(books["tenant"]).get()
    event = AuditEvent.objects.for_tenant(books["tenant"]).get(action="attached", entity_id=str(attachment.dispute_id))
    assert event.after["filename"] == "Corrected quote 2291.pdf" and event.actor_label == "cleo-clerk"
