"""The dispute page's files: a clerk posts a comment with files (or files alone), the page lists
them (name, size, who, when) in the thread and in its Files card, and each opens from its link —
a PDF inline, anything else as a download, under Recon's reading of its type, `nosniff` and the
originals' CSP. Refusals stand beside the file input and save nothing; another tenant's file (or
one addressed under another dispute) is the 404 page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from invoices.models import InvoiceStatus, ReviewQueue
from review.models import Dispute, DisputeAttachment, DisputeComment
from review.originals import ORIGINAL_CONTENT_SECURITY_POLICY
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV_BYTES = b"sku,qty\nHOSE-1,150\n"


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def disputed(client: Client, tenant: Tenant) -> Dispute:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    response = client.post(
        reverse("web:invoice-dispute", args=[invoice.pk]),
        {"reason": "price", "comment": "19.00 billed, 18.40 ordered.", "expected_status": "pending_review"},
    )
    assert response.status_code == 302
    return Dispute.objects.for_tenant(tenant).get(invoice=invoice)


def post_files(client: Client, dispute: Dispute, *files: tuple[str, bytes], body: str = "") -> Any:
    uploads = [SimpleUploadedFile(name, content) for name, content in files]
    return client.post(
        reverse("web:dispute-comment", args=[dispute.pk]), {"kind": "vendor", "body": body, "attachments": uploads}
    )


def file_url(dispute: Dispute, attachment: DisputeAttachment) -> str:
    return reverse("web:dispute-attachment", args=[dispute.pk, attachment.pk])


def test_a_comment_with_files_is_listed_and_each_file_opens(clerk: Client, tenant: Tenant) -> None:
    dispute = disputed(clerk, tenant)
    response = post_files(clerk, dispute, ("Corrected quote.pdf", PDF_BYTES), ("counts.csv", CSV_BYTES),
                          body="Corrected quote attached.")  # fmt: skip
    assert response.status_code == 302
    page = clerk.get(reverse("web:dispute-detail", args=[dispute.pk]))
    text = page.content.decode()
    assert text.count('data-testid="attachment-row"') == 2 and text.count('data-testid="thread-attachment"') == 2
    pdf, csv = DisputeAttachment.objects.for_tenant(tenant).order_by("created_at", "id")
    assert f'href="{file_url(dispute, pdf)}"' in text and "Corrected quote.pdf" in text
    # Its row: the name, the size (as filesizeformat prints it), who added it, and when.
    [row] = re.findall(r'<tr data-testid="attachment-row">(.*?)</tr>', text)[:1]
    assert "Corrected quote.pdf" in row and f"{len(PDF_BYTES)}\xa0bytes" in row
    assert pdf.author_label and f"<td>{pdf.author_label}</td>" in row
    assert timezone.localtime(pdf.created_at).strftime("%Y-%m-%d %H:%M") in row

    opened = clerk.get(file_url(dispute, pdf))
    assert opened.status_code == 200 and b"".join(opened.streaming_content) == PDF_BYTES
    assert opened["Content-Type"] == "application/pdf"
    assert (
        opened["Content-Disposition"].startswith("inline;") and "Corrected quote.pdf" in opened["Content-Disposition"]
    )
    assert opened["X-Content-Type-Options"] == "nosniff"
    assert opened["Content-Security-Policy"] == ORIGINAL_CONTENT_SECURITY_POLICY

    downloaded = clerk.get(file_url(dispute, csv))
    assert downloaded["Content-Type"] == "text/csv"
    assert downloaded["Content-Disposition"] == 'attachment; filename="counts.csv"'
    assert b"".join(downloaded.streaming_content) == CSV_BYTES


def test_a_file_alone_makes_its_own_thread_entry(clerk: Client, tenant: Tenant) -> None:
    dispute = disputed(clerk, tenant)
    assert post_files(clerk, dispute, ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 16)).status_code == 302
    text = clerk.get(reverse("web:dispute-detail", args=[dispute.pk])).content.decode()
    assert 'data-testid="dispute-file-entry"' in text and "photo.jpg" in text
    assert DisputeComment.objects.for_tenant(tenant).count() == 1  # the opening note only


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pdf", b"", "empty.pdf: The file is empty."),
        ("invoice.html", b"<html><script>alert(1)</script></html>", "invoice.html: Recon attaches PDF"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "drawing.svg: Recon attaches"),
        ("quote.pdf", b"MZ\x90\x00 an executable", "quote.pdf: the content is not what a .pdf file holds"),
    ],
)
def test_a_refused_file_is_named_beside_the_file_input_and_nothing_is_saved(
    clerk: Client, tenant: Tenant, name: str, content: bytes, message: str
) -> None:
    dispute = disputed(clerk, tenant)
    events = AuditEvent.objects.for_tenant(tenant).count()
    response = post_files(clerk, dispute, ("fine.pdf", PDF_BYTES), (name, content), body="Keep this text.")
    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-testid="error-attachments"' in text and message in text.replace("&#x27;", "'")
    assert "Keep this text." in text  # the comment typed is given back
    assert not DisputeAttachment.objects.for_tenant(tenant).exists()
    assert DisputeComment.objects.for_tenant(tenant).count() == 1
    assert AuditEvent.objects.for_tenant(tenant).count() == events


def test_a_file_over_the_limit_is_refused(clerk: Client, tenant: Tenant, settings: Any) -> None:
    settings.DISPUTE_ATTACHMENT_MAX_BYTES = 1024
    dispute = disputed(clerk, tenant)
    response = post_files(clerk, dispute, ("scan.pdf", PDF_BYTES + b"0" * 1024))
    assert response.status_code == 400
    assert "at most 1024 bytes (DISPUTE_ATTACHMENT_MAX_BYTES)" in response.content.decode()
    assert not DisputeAttachment.objects.for_tenant(tenant).exists()


def test_a_name_with_folders_or_a_nul_is_kept_as_its_last_part(clerk: Client, tenant: Tenant) -> None:
    # The browser's multipart body names the file; Django's parser drops folders and unprintable
    # characters (a NUL) before the service sees it, which refuses a NUL it still finds.
    dispute = disputed(clerk, tenant)
    assert post_files(clerk, dispute, ("..\\..\\quote\x00.pdf", PDF_BYTES)).status_code == 302
    attachment = DisputeAttachment.objects.for_tenant(tenant).get()
    assert attachment.filename == "quote.pdf"


def test_nothing_posted_asks_for_a_comment(clerk: Client, tenant: Tenant) -> None:
    dispute = disputed(clerk, tenant)
    response = post_files(clerk, dispute)
    assert response.status_code == 400 and 'data-testid="error-body"' in response.content.decode()


def test_another_tenants_file_is_the_404_page(clerk: Client, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = Client()
    theirs.force_login(MembershipFactory(tenant=other_tenant, role=Role.CLERK).user)
    their_dispute = disputed(theirs, other_tenant)
    post_files(theirs, their_dispute, ("secret.pdf", PDF_BYTES))
    their_file = DisputeAttachment.objects.for_tenant(other_tenant).get()
    assert theirs.get(file_url(their_dispute, their_file)).status_code == 200
    assert clerk.get(file_url(their_dispute, their_file)).status_code == 404
    # The file of one of our disputes, addressed under another of ours: also not found.
    ours, other_of_ours = disputed(clerk, tenant), disputed(clerk, tenant)
    post_files(clerk, ours, ("ours.pdf", PDF_BYTES))
    our_file = DisputeAttachment.objects.for_tenant(tenant).get()
    assert clerk.get(file_url(other_of_ours, our_file)).status_code == 404
    assert clerk.get(file_url(ours, our_file)).status_code == 200


def test_the_dispute_form_takes_files_with_the_first_note(clerk: Client, tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    url = reverse("web:invoice-dispute", args=[invoice.pk])
    assert 'enctype="multipart/form-data"' in clerk.get(url).content.decode()
    fields = {"reason": "quantity", "comment": "150 missing.", "expected_status": "pending_review"}
    refused = clerk.post(url, {**fields, "attachments": [SimpleUploadedFile("note.svg", b"<svg/>")]})
    assert refused.status_code == 400 and 'data-testid="error-attachments"' in refused.content.decode()
    assert not Dispute.objects.for_tenant(tenant).exists()
    made = clerk.post(url, {**fields, "attachments": [SimpleUploadedFile("delivery note.pdf", PDF_BYTES)]})
    assert made.status_code == 302
    dispute = Dispute.objects.for_tenant(tenant).get()
    text = clerk.get(reverse("web:dispute-detail", args=[dispute.pk])).content.decode()
    assert text.count('data-testid="attachment-row"') == 1 and "delivery note.pdf" in text
