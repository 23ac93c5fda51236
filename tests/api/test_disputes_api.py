"""The API of disputes and of who works an invoice (review.dispute_apis): the thread and its files
read (its files listed), a note added (an @mention notified), the dispute handed over and ended, an invoice assigned
by username with the stale-page check; bad input a 4xx in the error envelope with nothing
written, and another tenant's dispute, file or invoice a 404."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.disputes import dispute_comment_add, dispute_open
from review.intake.services import IncomingFile
from review.models import Dispute, DisputeComment, Notification
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def open_dispute(tenant: Tenant, username: str = "cleo") -> Dispute:
    clerk = MembershipFactory(tenant=tenant, user=UserFactory(username=username), role=Role.CLERK).user
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    dispute = dispute_open(tenant=tenant, invoice=invoice, actor=TEST_ACTOR, role=Role.CLERK, author=clerk,
                           reason="price", comment="19.00 billed, 18.40 ordered.")  # fmt: skip
    dispute_comment_add(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, author=clerk, body="The vendor's quote.",
                        files=[IncomingFile(name="quote.pdf", binary=io.BytesIO(PDF_BYTES))])  # fmt: skip
    return dispute


def test_a_dispute_reads_with_its_thread_and_files(api: APIClient, tenant: Tenant) -> None:
    dispute = open_dispute(tenant)
    listed = api.get("/api/disputes", {"status": "open", "owner": "cleo"})
    assert listed.status_code == 200 and [row["id"] for row in listed.json()["results"]] == [str(dispute.pk)]
    assert api.get("/api/disputes", {"owner": "nobody"}).json()["results"] == []
    body = api.get(f"/api/disputes/{dispute.pk}").json()
    assert (body["reason"], body["reason_label"], body["status_label"], body["owner"]) == (
        "price", "Price", "Open", "cleo",
    )  # fmt: skip
    assert [comment["body"] for comment in body["comments"]] == ["19.00 billed, 18.40 ordered.", "The vendor's quote."]
    [quote] = body["comments"][1]["files"]
    assert quote["filename"] == "quote.pdf" and body["files"] == [quote]


def test_a_note_the_handover_and_the_end(api: APIClient, tenant: Tenant) -> None:
    dispute = open_dispute(tenant)
    dan = MembershipFactory(tenant=tenant, user=UserFactory(username="dan"), role=Role.CLERK).user
    noted = api.post(f"/api/disputes/{dispute.pk}/comments", {"body": "@dan please call them", "kind": "vendor"},
                     format="json")  # fmt: skip
    assert noted.status_code == 200 and noted.json()["comments"][-1]["kind_label"] == "Message to the vendor"
    assert Notification.objects.for_tenant(tenant).filter(user=dan).count() == 1
    handed = api.post(f"/api/disputes/{dispute.pk}/assign", {"owner": "dan", "due_date": "2099-01-31"}, format="json")
    assert handed.status_code == 200 and (handed.json()["owner"], handed.json()["due_date"]) == ("dan", "2099-01-31")
    ended = api.post(f"/api/disputes/{dispute.pk}/resolve", {"outcome": "back_to_review", "comment": "Explained."},
                     format="json")  # fmt: skip
    assert ended.status_code == 200 and ended.json()["outcome_label"] == "Back to review"
    assert Invoice.objects.for_tenant(tenant).get(pk=dispute.invoice_id).status == InvoiceStatus.PENDING_REVIEW
    again = api.post(f"/api/disputes/{dispute.pk}/resolve", {"outcome": "voided", "comment": "x"}, format="json")
    assert again.status_code in (400, 409) and "error" in again.json()
    actions = set(
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="dispute", entity_id=str(dispute.pk))
        .values_list("action", flat=True)
    )
    assert {"created", "commented", "attached", "updated", "transition"} <= actions


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("comments", {"body": ""}, "body"),
        ("comments", {"body": "nul \x00 byte"}, "body"),
        ("comments", {"body": "x", "kind": "shout"}, "kind"),
        ("assign", {"owner": "stranger"}, "owner"),
        ("assign", {"owner": "cleo", "due_date": "2001-01-01"}, "due_date"),
        ("assign", {"owner": "x" * 10_000}, "owner"),
        ("resolve", {"outcome": "won", "comment": "x"}, "outcome"),
        ("resolve", {"outcome": "credited", "comment": "x", "document_number": "NOPE"}, "document_number"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(
    api: APIClient, tenant: Tenant, path: str, payload: dict[str, str], field: str
) -> None:
    dispute = open_dispute(tenant)
    comments_before = DisputeComment.objects.for_tenant(tenant).count()
    response = api.post(f"/api/disputes/{dispute.pk}/{path}", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]
    dispute.refresh_from_db()
    assert dispute.status == "open" and dispute.owner.get_username() == "cleo"
    assert DisputeComment.objects.for_tenant(tenant).count() == comments_before


def test_files_are_attached_and_fetched_through_the_api(api: APIClient, tenant: Tenant) -> None:
    dispute = open_dispute(tenant)
    photo = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    photo.name = "damaged pallet.png"
    note = io.BytesIO(b"Called them: credit note promised by Friday.\n")
    note.name = "call.txt"
    posted = api.post(
        f"/api/disputes/{dispute.pk}/comments",
        {"body": "Photos from the dock.", "kind": "internal", "attachments": [photo, note]},
        format="multipart",
    )
    assert posted.status_code == 200, posted.content
    files = posted.json()["comments"][-1]["files"]
    assert [f["filename"] for f in files] == ["damaged pallet.png", "call.txt"]
    fetched = api.get(files[1]["download_url"])
    assert fetched.status_code == 200 and fetched["Content-Type"].startswith("text/plain")
    assert b"".join(fetched.streaming_content) == b"Called them: credit note promised by Friday.\n"
    assert "attachment" in fetched["Content-Disposition"] and fetched["X-Content-Type-Options"] == "nosniff"
    pdf = api.get(posted.json()["files"][0]["download_url"])  # the quote attached when the dispute opened
    assert pdf["Content-Type"] == "application/pdf" and b"".join(pdf.streaming_content) == PDF_BYTES
    # Files alone, without a note, stand in the thread by themselves.
    alone = io.BytesIO(PDF_BYTES)
    alone.name = "credit-note-draft.pdf"
    bare = api.post(f"/api/disputes/{dispute.pk}/comments", {"attachments": [alone]}, format="multipart")
    assert bare.status_code == 200 and "credit-note-draft.pdf" in [f["filename"] for f in bare.json()["files"]]


def test_a_refused_file_refuses_the_post_and_writes_nothing(api: APIClient, tenant: Tenant, settings: Any) -> None:
    dispute = open_dispute(tenant)
    before = (DisputeComment.objects.for_tenant(tenant).count(), dispute.attachments.count())
    fake = io.BytesIO(b"MZ\x90\x00 not a pdf")
    fake.name = "invoice.pdf"
    good = io.BytesIO(PDF_BYTES)
    good.name = "quote.pdf"
    refused = api.post(
        f"/api/disputes/{dispute.pk}/comments", {"body": "Both files", "attachments": [good, fake]}, format="multipart"
    )
    assert refused.status_code == 400 and "attachments" in refused.json()["error"]["details"]
    settings.DISPUTE_ATTACHMENT_MAX_BYTES = 10
    big = io.BytesIO(PDF_BYTES)
    big.name = "big.pdf"
    too_big = api.post(f"/api/disputes/{dispute.pk}/comments", {"attachments": [big]}, format="multipart")
    assert too_big.status_code == 400 and "DISPUTE_ATTACHMENT_MAX_BYTES" in too_big.json()["error"]["message"]
    # A request that cannot hold files within the limit is refused before its parts are read.
    huge = io.BytesIO(b"%PDF-1.4\n" + b"0" * 200_000)
    huge.name = "huge.pdf"
    refused_whole = api.post(f"/api/disputes/{dispute.pk}/comments", {"attachments": [huge]}, format="multipart")
    assert refused_whole.status_code == 413 and refused_whole.json()["error"]["code"] == "payload_too_large"
    assert (DisputeComment.objects.for_tenant(tenant).count(), dispute.attachments.count()) == before


def test_another_tenants_dispute_and_invoice_are_404(api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = open_dispute(other_tenant, username="theirs")
    assert api.get(f"/api/disputes/{theirs.pk}").status_code == 404
    assert api.get("/api/disputes").json()["results"] == []
    writes = (("comments", {"body": "x"}), ("assign", {"owner": "theirs"}), ("resolve", {"outcome": "voided"}))
    for path, payload in writes:
        assert api.post(f"/api/disputes/{theirs.pk}/{path}", payload, format="json").status_code == 404
    assert api.post(f"/api/invoices/{theirs.invoice_id}/assign", {"assignee": None}, format="json").status_code == 404
    assert theirs.comments.count() == 2
    [their_file] = theirs.attachments.all()
    assert api.get(f"/api/disputes/{theirs.pk}/files/{their_file.pk}").status_code == 404
    mine = open_dispute(tenant, username="mine")
    # Another dispute's file through one's own dispute, and ids that are no file, are 404 too.
    assert api.get(f"/api/disputes/{mine.pk}/files/{their_file.pk}").status_code == 404
    assert api.get(f"/api/disputes/{mine.pk}/files/{'-' * 36}").status_code == 404


def test_an_invoice_is_assigned_by_username_with_the_stale_check(api: APIClient, tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    for name in ("ana", "ben"):
        MembershipFactory(tenant=tenant, user=UserFactory(username=name), role=Role.CLERK)
    url = f"/api/invoices/{invoice.pk}/assign"
    given = api.post(url, {"assignee": "ana", "expected_assignee": None}, format="json")
    assert given.status_code == 200 and given.json()["assigned_to"] == "ana" and given.json()["assigned_at"]
    stale = api.post(url, {"assignee": "ben", "expected_assignee": None}, format="json")
    assert stale.status_code == 409 and "ana took it" in stale.json()["error"]["message"]
    assert api.post(url, {"assignee": "ben", "expected_assignee": "ana"}, format="json").json()["assigned_to"] == "ben"
    unknown = api.post(url, {"assignee": "zoe"}, format="json")
    assert unknown.status_code == 400 and "assignee" in unknown.json()["error"]["details"]
    read = api.get(f"/api/invoices/{invoice.pk}").json()
    assert read["assigned_to"] == "ben" and read["assigned_at"]
    listed = api.get("/api/invoices", {"assigned_to": "ben"}).json()["results"]
    assert [row["id"] for row in listed] == [str(invoice.pk)]
    assert api.get("/api/invoices", {"assigned_to": "ana"}).json()["results"] == []
    cleared = api.post(url, {"assignee": None}, format="json")
    assert cleared.status_code == 200 and cleared.json()["assigned_to"] is None
    assert api.get(url).status_code == 405
