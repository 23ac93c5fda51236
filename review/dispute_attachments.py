"""Files in a dispute's thread (#18 item 1): the vendor's corrected quote, a photo of damaged goods,
an e-mail kept as .eml or PDF — attached with a comment or alone, or with the note that opens the
dispute (review.disputes.dispute_comment_add and dispute_open take them), kept by `source_files` like
every other file Recon keeps, and read back by anyone of the tenant from the dispute's page.

What is taken, and why so:

- the kinds an AP desk trades in (`ATTACHMENT_KINDS`): PDF, PNG/JPEG/GIF/TIFF/WebP images, plain
  text, CSV, XML, e-mail (.eml), Word/Excel/PowerPoint and OpenDocument files. The kind is read from
  the name's extension and must agree with the content's first bytes (a PDF starts with %PDF-, a
  .docx is a ZIP, a text has no NUL byte), so the type the file is served with is Recon's reading,
  never the browser's claim. HTML and SVG are not among them: served from this site, either could
  run script.
- at most DISPUTE_ATTACHMENT_MAX_BYTES per file (core.http.uploads' message and limit-by-setting,
  as the Import page refuses a file), none empty, at most `FILES_MAX` at a time;
- the name as the clerk's machine had it, without any folder part, NUL refused (PostgreSQL cannot
  store it), cut to 255 characters with its extension kept.

Every file is checked before anything is written: one refused file refuses the whole post, and
nothing of it — comment, attachment, kept file — is saved.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid
from core.http.uploads import FILE_TOO_LARGE, UPLOAD_EMPTY
from core.text import NUL, NUL_REFUSED
from review.intake.services import IncomingFile
from review.models import Dispute, DisputeAttachment, DisputeComment
from source_files.models import SourceFile, SourceFileDocument
from source_files.selectors import source_file_of_document
from source_files.services import DocumentRef, source_file_keep
from tenants.models import Tenant

FIELD = "attachments"  # the form field a refusal stands beside
FILES_MAX = 10
MAX_BYTES_SETTING = "DISPUTE_ATTACHMENT_MAX_BYTES"
FILENAME_MAX = 255
_EXTENSION_MAX = 16
_HEAD = 1 << 16  # how much of a file its kind is checked against

ZIP = (b"PK\x03\x04",)
OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # the compound file of .doc, .xls, .ppt


@dataclass(frozen=True)
class AttachmentKind:
    """One kind of file a dispute takes: its type as served, and what its content starts with."""

    content_type: str
    signatures: tuple[bytes, ...] = ()  # one of them starts the file; () for text
    text: bool = False  # no NUL byte (a binary or UTF-16 file named .txt is not one)


_PDF = AttachmentKind("application/pdf", (b"%PDF-",))
_JPEG = AttachmentKind("image/jpeg", (b"\xff\xd8\xff",))
_TIFF = AttachmentKind("image/tiff", (b"II*\x00", b"MM\x00*"))
_OOXML = "application/vnd.openxmlformats-officedocument"

# By extension (lower case, without the dot).
ATTACHMENT_KINDS: dict[str, AttachmentKind] = {
    "pdf": _PDF,
    "png": AttachmentKind("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": _JPEG,
    "jpeg": _JPEG,
    "gif": AttachmentKind("image/gif", (b"GIF87a", b"GIF89a")),
    "tif": _TIFF,
    "tiff": _TIFF,
    "webp": AttachmentKind("image/webp", (b"RIFF",)),  # and "WEBP" at offset 8 (_content_agrees)
    "txt": AttachmentKind("text/plain", text=True),
    "csv": AttachmentKind("text/csv", text=True),
    "xml": AttachmentKind("application/xml", text=True),
    "eml": AttachmentKind("message/rfc822", text=True),
    "docx": AttachmentKind(f"{_OOXML}.wordprocessingml.document", ZIP),
    "xlsx": AttachmentKind(f"{_OOXML}.spreadsheetml.sheet", ZIP),
    "pptx": AttachmentKind(f"{_OOXML}.presentationml.presentation", ZIP),
    "doc": AttachmentKind("application/msword", OLE),
    "xls": AttachmentKind("application/vnd.ms-excel", OLE),
    "ppt": AttachmentKind("application/vnd.ms-powerpoint", OLE),
    "odt": AttachmentKind("application/vnd.oasis.opendocument.text", ZIP),
    "ods": AttachmentKind("application/vnd.oasis.opendocument.spreadsheet", ZIP),
}
# What the page's file input offers (the server checks regardless).
ACCEPT = ",".join(f".{extension}" for extension in ATTACHMENT_KINDS)

# --- messages (tests assert on these) -----------------------------------------------------------
TYPE_REFUSED = (
    "{name}: Recon attaches PDF, images (PNG, JPEG, GIF, TIFF, WebP), text, CSV, XML, e-mails (.eml) "
    "and office documents (Word, Excel, PowerPoint, OpenDocument); this file is none of them."
)
CONTENT_DISAGREES = "{name}: the content is not what a .{extension} file holds; nothing was attached."
NAME_MISSING = "A file has no name; give it one (with its extension) and attach it again."
TOO_MANY = "At most {limit} files at a time; this post has {count}."


@dataclass(frozen=True)
class AttachmentChecked:
    """A file that may be attached: its clean name, its bytes (seekable), and the type it is kept as."""

    name: str
    binary: IO[bytes]
    size: int
    content_type: str


@dataclass(frozen=True)
class AttachmentShown:
    """An attachment as the dispute's page lists it: the row, and the kept file's size and digest."""

    attachment: DisputeAttachment
    source_file: SourceFile


def attachment_name_clean(name: str) -> str:
    """The name without folders or control characters, at most FILENAME_MAX characters, its
    extension kept; a NUL is refused (by field `attachments`)."""
    if NUL in name:
        problem = f"{NUL_REFUSED} (in the file name {name.replace(NUL, '')!r})"
        raise DocumentInvalid(problem, details={FIELD: [problem]})
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(character for character in name if character.isprintable()).strip()
    if len(name) > FILENAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= _EXTENSION_MAX:
            name = f"{stem[: FILENAME_MAX - len(extension) - 1].rstrip()}.{extension}"
        else:
            name = name[:FILENAME_MAX]
    if name in {"", ".", ".."}:
        raise DocumentInvalid(NAME_MISSING, details={FIELD: [NAME_MISSING]})
    return name


def _refused(message: str) -> DocumentInvalid:
    return DocumentInvalid(message, details={FIELD: [message]})


def _content_agrees(kind: AttachmentKind, head: bytes) -> bool:
    if kind.text:
        return NUL.encode() not in head
    if not head.startswith(kind.signatures):
        return False
    return kind.content_type != "image/webp" or head[8:12] == b"WEBP"


def _one_checked(incoming: IncomingFile, limit: int) -> AttachmentChecked:
    name = attachment_name_clean(incoming.name)
    binary = incoming.binary
    binary.seek(0, io.SEEK_END)
    size = binary.tell()
    binary.seek(0)
    if size == 0:
        raise _refused(f"{name}: {UPLOAD_EMPTY}")
    if size > limit:
        raise _refused(f"{name}: {FILE_TOO_LARGE.format(size=size, limit=limit, setting=MAX_BYTES_SETTING)}")
    _, dot, extension = name.rpartition(".")
    kind = ATTACHMENT_KINDS.get(extension.lower()) if dot else None
    if kind is None:
        raise _refused(TYPE_REFUSED.format(name=name))
    head = binary.read(_HEAD)
    binary.seek(0)
    if not _content_agrees(kind, head):
        raise _refused(CONTENT_DISAGREES.format(name=name, extension=extension.lower()))
    return AttachmentChecked(name=name, binary=binary, size=size, content_type=kind.content_type)


def dispute_attachments_checked(files: Sequence[IncomingFile]) -> list[AttachmentChecked]:
    """Every file checked (module docstring), or the first refusal, by field `attachments`; writes nothing."""
    if len(files) > FILES_MAX:
        raise _refused(TOO_MANY.format(limit=FILES_MAX, count=len(files)))
    limit = getattr(settings, MAX_BYTES_SETTING)
    return [_one_checked(incoming, limit) for incoming in files]


def dispute_attachments_write(
    *,
    tenant: Tenant,
    dispute: Dispute,
    comment: DisputeComment | None,
    actor: Actor,
    author: Any,
    files: Sequence[AttachmentChecked],
) -> list[DisputeAttachment]:
    """Attach checked files to `dispute` (in the caller's transaction, which holds the dispute's
    lock): each its row, its kept file linked to the row, and the dispute's `attached` audit event
    naming the file, its size and SHA-256 (the event's actor is who attached it)."""
    written = []
    for checked in files:
        attachment = DisputeAttachment.objects.create(
            tenant=tenant,
            dispute=dispute,
            comment=comment,
            author=author,
            author_label=actor.label or actor.id,
            filename=checked.name,
        )
        source_file = source_file_keep(
            tenant=tenant,
            binary=checked.binary,
            filename=checked.name,
            content_type=checked.content_type,
            actor=actor,
            documents=[DocumentRef(DisputeAttachment._meta.label_lower, attachment.pk)],
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="dispute",
            entity_id=dispute.pk,
            action="attached",
            after={
                "attachment_id": str(attachment.pk),
                "comment_id": str(comment.pk) if comment else None,
                "filename": checked.name,
                "size": source_file.size,
                "sha256": source_file.sha256,
                "content_type": source_file.content_type,
                "source_file_id": str(source_file.pk),
            },
        )
        written.append(attachment)
    return written


def dispute_attachments_shown(*, tenant: Tenant, dispute: Dispute) -> list[AttachmentShown]:
    """The dispute's files, oldest first, each with its kept file (two queries)."""
    attachments = list(DisputeAttachment.objects.for_tenant(tenant).filter(dispute=dispute))
    links = (
        SourceFileDocument.objects.for_tenant(tenant)
        .filter(
            document_model=DisputeAttachment._meta.label_lower,
            document_id__in=[attachment.pk for attachment in attachments],
        )
        .select_related("source_file")
    )
    kept = {link.document_id: link.source_file for link in links}
    return [
        AttachmentShown(attachment=attachment, source_file=kept[attachment.pk])
        for attachment in attachments
        if attachment.pk in kept
    ]


def dispute_attachment_get(
    *, tenant: Tenant, dispute_id: uuid.UUID, attachment_id: uuid.UUID
) -> AttachmentShown | None:
    """One attachment of the tenant's dispute with its kept file, or None (another tenant's, another
    dispute's, or none at all: the same answer)."""
    attachment = DisputeAttachment.objects.for_tenant(tenant).filter(pk=attachment_id, dispute_id=dispute_id).first()
    if attachment is None:
        return None
    source_file = source_file_of_document(
        tenant=tenant, model_label=DisputeAttachment._meta.label_lower, document_id=attachment.pk
    )
    return AttachmentShown(attachment=attachment, source_file=source_file) if source_file else None
