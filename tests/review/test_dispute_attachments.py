"""Files in a dispute's thread (review.dispute_attachments through review.disputes.dispute_comment_add):
attached with a comment or alone, kept by source_files, each an `attached` audit event of the dispute
naming the file, its size and SHA-256; refused files (empty, too large, of a kind an AP desk does not
trade in, not what their name says, a NUL in the name, too many) leave nothing behind."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest

from audit.models import AuditEvent
from audit.verify import audit_chain_verify
from core.exceptions import DocumentInvalid
from core.text import NUL_REFUSED
from invoices.models import InvoiceStatus, ReviewQueue
from review.dispute_attachments import (
    FILENAME_MAX,
    FILES_MAX,
    TOO_MANY,
    attachment_name_clean,
    dispute_attachment_get,
    dispute_attachments_shown,
)
from review.disputes import (
    ALREADY_RESOLVED,
    COMMENT_REQUIRED,
    DisputeEnd,
    dispute_comment_add,
    dispute_open,
    dispute_resolve,
)
from review.intake.services import IncomingFile
from review.models import Dispute, DisputeAttachment, DisputeComment
from source_files.models import SourceFile
from source_files.selectors import source_file_open
from tenants.models import Role, Tenant
from tests.audit.sealing import seal
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _no_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


@pytest.fixture
def clerk(tenant: Tenant) -> Any:
    return MembershipFactory(tenant=tenant, user=UserFactory(username="cleo"), role=Role.CLERK).user


@pytest.fixture
def dispute(tenant: Tenant, clerk: Any) -> Dispute:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    return dispute_open(tenant=tenant, invoice=invoice, actor=TEST_ACTOR, role=Role.CLERK, author=clerk,
                        reason="price", comment="19.00 billed, 18.40 ordered.")  # fmt: skip


def incoming(name: str, content: bytes) -> IncomingFile:
    return IncomingFile(name=name, binary=io.BytesIO(content))


def add(tenant: Tenant, dispute: Dispute, clerk: Any, *files: IncomingFile, body: str = "") -> DisputeComment | None:
    return dispute_comment_add(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, author=clerk, body=body, files=files)


def written(tenant: Tenant) -> tuple[int, int, int, int]:
    """Attachments, kept files, comments and audit events of the tenant: unchanged = nothing written."""
    return (
        DisputeAttachment.objects.for_tenant(tenant).count(),
        SourceFile.objects.for_tenant(tenant).count(),
        DisputeComment.objects.for_tenant(tenant).count(),
        AuditEvent.objects.for_tenant(tenant).count(),
    )


def test_a_comment_carries_files_each_kept_and_audited(tenant: Tenant, dispute: Dispute, clerk: Any) -> None:
    comment = add(tenant, dispute, clerk, incoming("corrected-quote.pdf", PDF_BYTES),
                  incoming("damaged.png", PNG_BYTES), body="Corrected quote and a photo attached.")  # fmt: skip
    assert comment is not None
    shown = dispute_attachments_shown(tenant=tenant, dispute=dispute)
    assert [(s.attachment.filename, s.source_file.size, s.source_file.content_type) for s in shown] == [
        ("corrected-quote.pdf", len(PDF_BYTES), "application/pdf"),
        ("damaged.png", len(PNG_BYTES), "image/png"),
    ]
    assert all(s.attachment.comment_id == comment.pk and s.attachment.author == clerk for s in shown)
    with source_file_open(shown[0].source_file) as binary:
        assert binary.read() == PDF_BYTES
    events = AuditEvent.objects.for_tenant(tenant).filter(entity_type="dispute", entity_id=str(dispute.pk),
                                                          action="attached").order_by("xid", "append_seq")  # fmt: skip
    assert [event.after["filename"] for event in events] == ["corrected-quote.pdf", "damaged.png"]
    first = events[0]
    assert first.after["sha256"] == hashlib.sha256(PDF_BYTES).hexdigest()
    assert first.after["size"] == len(PDF_BYTES)
    assert first.after["comment_id"] == str(comment.pk)
    assert first.actor_id == TEST_ACTOR.id
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_file_may_stand_alone_but_not_nothing(tenant: Tenant, dispute: Dispute, clerk: Any) -> None:
    assert add(tenant, dispute, clerk, incoming("vendor-mail.eml", b"From: a@b.c\r\nSubject: Re\r\n\r\nOK\r\n")) is None
    [shown] = dispute_attachments_shown(tenant=tenant, dispute=dispute)
    assert shown.attachment.comment is None and shown.source_file.content_type == "message/rfc822"
    with pytest.raises(DocumentInvalid) as refused:
        add(tenant, dispute, clerk)
    assert refused.value.details == {"body": [COMMENT_REQUIRED]}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pdf", b"", "empty.pdf: The file is empty."),
        ("page.html", b"<html><script>alert(1)</script></html>", "page.html: Recon attaches PDF"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg: Recon attaches PDF"),
        ("tool.exe", b"MZ\x90\x00", "tool.exe: Recon attaches PDF"),
        ("no-extension", b"%PDF-1.4", "no-extension: Recon attaches PDF"),
        ("quote.pdf", b"<html>not a pdf</html>", "quote.pdf: the content is not what a .pdf file holds"),
        ("notes.txt", b"\xff\xfeh\x00i\x00", "notes.txt: the content is not what a .txt file holds"),
        ("evil\x00.pdf", PDF_BYTES, NUL_REFUSED),
        ("../..", PDF_BYTES, "A file has no name"),
    ],
)
def test_refused_files_leave_nothing_behind(
    tenant: Tenant, dispute: Dispute, clerk: Any, name: str, content: bytes, message: str
) -> None:
    before = written(tenant)
    with pytest.raises(DocumentInvalid) as refused:
        # A good file first, and a comment: one refused file refuses the whole post.
        add(tenant, dispute, clerk, incoming("fine.pdf", PDF_BYTES), incoming(name, content), body="Both files.")
    assert refused.value.details["attachments"][0].startswith(message)
    assert written(tenant) == before


def test_a_file_over_the_limit_is_refused_naming_the_setting(
    tenant: Tenant, dispute: Dispute, clerk: Any, settings: Any
) -> None:
    settings.DISPUTE_ATTACHMENT_MAX_BYTES = 64
    before = written(tenant)
    with pytest.raises(DocumentInvalid) as refused:
        add(tenant, dispute, clerk, incoming("big.pdf", PDF_BYTES + b" " * 64))
    [message] = refused.value.details["attachments"]
    assert message.startswith("big.pdf: The file is ") and "at most 64 bytes (DISPUTE_ATTACHMENT_MAX_BYTES)" in message
    assert written(tenant) == before


def test_too_many_files_at_once(tenant: Tenant, dispute: Dispute, clerk: Any) -> None:
    files = [incoming(f"p{number}.pdf", PDF_BYTES) for number in range(FILES_MAX + 1)]
    with pytest.raises(DocumentInvalid) as refused:
        add(tenant, dispute, clerk, *files)
    assert refused.value.details == {"attachments": [TOO_MANY.format(limit=FILES_MAX, count=FILES_MAX + 1)]}


def test_names_lose_folders_and_long_ones_keep_their_extension() -> None:
    assert attachment_name_clean("C:\\Users\\cleo\\Desktop\\quote.pdf") == "quote.pdf"
    assert attachment_name_clean("../../etc/passwd.txt") == "passwd.txt"
    assert attachment_name_clean("tab\there\r\n.pdf") == "tabhere.pdf"
    long_name = attachment_name_clean("q" * 400 + ".pdf")
    assert len(long_name) == FILENAME_MAX and long_name.endswith("q.pdf")


def test_same_bytes_twice_are_one_kept_file_under_two_names(tenant: Tenant, dispute: Dispute, clerk: Any) -> None:
    add(tenant, dispute, clerk, incoming("first.pdf", PDF_BYTES))
    add(tenant, dispute, clerk, incoming("again.pdf", PDF_BYTES))
    shown = dispute_attachments_shown(tenant=tenant, dispute=dispute)
    assert [s.attachment.filename for s in shown] == ["first.pdf", "again.pdf"]
    assert shown[0].source_file == shown[1].source_file
    assert SourceFile.objects.for_tenant(tenant).count() == 1


def test_an_ended_dispute_takes_no_more_files(tenant: Tenant, dispute: Dispute, clerk: Any) -> None:
    dispute_resolve(tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.CLERK,
                    end=DisputeEnd("back_to_review", "Vendor explained."))  # fmt: skip
    before = written(tenant)
    with pytest.raises(DocumentInvalid) as refused:
        add(tenant, dispute, clerk, incoming("late.pdf", PDF_BYTES))
    assert ALREADY_RESOLVED in str(refused.value)
    assert written(tenant) == before


def test_another_tenants_attachment_is_not_found(
    tenant: Tenant, other_tenant: Tenant, dispute: Dispute, clerk: Any
) -> None:
    add(tenant, dispute, clerk, incoming("ours.pdf", PDF_BYTES))
    attachment = DisputeAttachment.objects.for_tenant(tenant).get()
    assert dispute_attachment_get(tenant=tenant, dispute_id=dispute.pk, attachment_id=attachment.pk) is not None
    assert dispute_attachment_get(tenant=other_tenant, dispute_id=dispute.pk, attachment_id=attachment.pk) is None


def test_the_opening_note_may_carry_files(tenant: Tenant, clerk: Any) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    opened = dispute_open(tenant=tenant, invoice=invoice, actor=TEST_ACTOR, role=Role.CLERK, author=clerk,
                          reason="quantity", comment="150 missing, see the delivery note.",
                          files=[incoming("delivery-note.pdf", PDF_BYTES)])  # fmt: skip
    [shown] = dispute_attachments_shown(tenant=tenant, dispute=opened)
    assert shown.attachment.comment == DisputeComment.objects.for_tenant(tenant).get(dispute=opened)
    assert AuditEvent.objects.for_tenant(tenant).filter(action="attached", entity_id=str(opened.pk)).count() == 1


def test_a_refused_file_refuses_the_opening_too(tenant: Tenant, clerk: Any) -> None:
    invoice = InvoiceFactory(tenant=tenant, status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD)
    before = written(tenant)
    with pytest.raises(DocumentInvalid):
        dispute_open(tenant=tenant, invoice=invoice, actor=TEST_ACTOR, role=Role.CLERK, author=clerk,
                     reason="price", comment="Wrong price.", files=[incoming("x.pdf", b"")])  # fmt: skip
    assert written(tenant) == before
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PENDING_REVIEW and not Dispute.objects.for_tenant(tenant).exists()
