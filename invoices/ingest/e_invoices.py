"""The e-invoice door: one file — a UBL or CII document, or a Factur-X / ZUGFeRD PDF that carries
one — in; one invoice or credit note out, through the one door (`invoice_create`); the file kept.

What the file is, is read from its bytes, never from a name or a Content-Type: a PDF starts with
`%PDF-`; anything else must be XML, whose root element names the syntax (UBL 2.1 `Invoice` /
`CreditNote`: invoices.ingest.ubl; UN/CEFACT CII D16B `CrossIndustryInvoice`: invoices.ingest.cii).

Hybrid PDFs (Factur-X, ZUGFeRD 2.x, XRechnung in a PDF/A-3) carry the XML as an embedded file;
the `factur-x` library finds it (it reads the PDF with pypdf, whose decompression limits stop a
"zip bomb" stream), and the XML is then read like any other, through the same hardened parser. A
PDF is refused before anything is written when it cannot be read: not ending in `%%EOF` (cut
short in transit), encrypted with a password, damaged, or carrying an XML larger than
XML_MAX_BYTES. A readable PDF without an e-invoice inside is kept as it is and becomes an empty
**draft** (DESIGN.md §4) with the PDF as its original, for a clerk to type in beside it; the same
PDF again answers with that draft.

Nothing is written for a file that cannot be read, nor for a document the door refuses; the file
is kept (source_files) in the transaction that creates the invoice, and linked to it.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from django.conf import settings
from django.db import transaction
from facturx import get_xml_from_pdf
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, LimitReachedError

from core.actors import Actor
from core.exceptions import DomainError
from core.http.uploads import UploadTooLarge, file_size_check
from invoices.documents import InvoiceDocument
from invoices.ingest import cii, invoice_already_present, ubl
from invoices.ingest.xml_reading import MAX_BYTES_SETTING, XmlImportInvalid, xml_root
from invoices.models import Invoice, InvoiceSource
from invoices.services import invoice_create, invoice_draft_save
from source_files.models import SourceFile
from source_files.selectors import source_file_documents
from source_files.services import PDF, XML, DocumentRef, source_file_keep, source_file_link
from tenants.models import Tenant
from vendors.ingest import VendorCache

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
PDF_END = b"%%EOF"
# The PDF header may follow a little leading junk, and the end marker some trailing whitespace;
# 1024 bytes is the window readers (and the spec's implementation notes) allow for both.
_PDF_WINDOW = 1024
_XML_START = (b"<", b"\xef\xbb\xbf")  # a tag, or the UTF-8 byte-order mark before one

# --- messages (tests assert on these) -----------------------------------------------------------
NOT_AN_E_INVOICE = (
    "Not an e-invoice Recon reads: the root element is {root}; expected a UBL 2.1 Invoice or CreditNote "
    "({{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}}Invoice, "
    "{{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}}CreditNote) or a UN/CEFACT CII D16B "
    "{{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}}CrossIndustryInvoice."
)
ZUGFERD_1 = (
    "This is a ZUGFeRD 1.0 invoice (rsm:CrossIndustryDocument), which Recon does not read: ask the vendor "
    "for ZUGFeRD 2.x / Factur-X (CII D16B) or UBL, the EN 16931 syntaxes."
)
NEITHER_XML_NOR_PDF = "Not an e-invoice file: it is neither XML (UBL, CII) nor a PDF."
PDF_TRUNCATED = "The PDF is incomplete: it does not end with %%EOF (cut short in transit?). Send the whole file."
PDF_ENCRYPTED = "The PDF is encrypted with a password, so its embedded invoice cannot be read. Send it unencrypted."
PDF_DAMAGED = "The PDF cannot be read: it is damaged or not a PDF ({reason})."
PDF_TOO_COMPLEX = "The PDF cannot be read within Recon's limits (a stream decompresses to too much data)."
EMBEDDED_XML_UNREADABLE = (
    "The PDF carries an XML file ({name}) that is not a readable e-invoice: it is not well-formed, or it "
    "declares a DOCTYPE, which Recon refuses. Send the PDF with a valid Factur-X / ZUGFeRD XML."
)
EMBEDDED_XML_TOO_LARGE = "The XML embedded in the PDF is {size} bytes; at most {limit} bytes ({setting}) are accepted."


class PdfInvalid(DomainError):
    """A PDF that cannot be read: incomplete, encrypted, damaged, or past the limits."""

    status_code = 400
    code = "pdf_invalid"


@dataclass(frozen=True)
class EInvoiceImportOutcome:
    invoice: Invoice
    created: bool  # False: the same document was already stored, and `invoice` is that one
    source_file: SourceFile | None  # None in a dry run
    # A PDF with no e-invoice inside: `invoice` is the draft it waits in, to be typed in by hand.
    needs_entry: bool = False


@dataclass(frozen=True)
class _ReadFile:
    document: InvoiceDocument | None  # None: a PDF with no e-invoice inside
    content_type: str


def e_invoice_import(
    *, tenant: Tenant, binary: IO[bytes], filename: str, actor: Actor, dry_run: bool = False
) -> EInvoiceImportOutcome:
    """Import one e-invoice file through the one door, or find its document already stored.

    `binary` is a seekable binary file. Raises `UploadTooLarge` over XML_MAX_BYTES,
    `XmlImportInvalid` / `PdfInvalid` for a file that cannot be read, and the door's
    `DocumentInvalid` for a document that breaks its rules (nothing written for any of them). A PDF
    with no e-invoice inside is kept and waits in an empty draft (`needs_entry`); the same PDF again
    answers with the invoice it is the original of, as a re-sent e-invoice does.
    The same document again (same kind, vendor, number and content: invoices.ingest.
    invoice_already_present) answers with the stored one, so re-sending a file is safe; another
    document reusing the number is stored, for matching to flag.

    A dry run does everything and rolls it back: its `invoice` is the one that would be stored,
    read with its vendor and lines before the rollback (its id is then no row's).
    """
    file_size_check(binary=binary, setting=MAX_BYTES_SETTING)
    read = _read(binary=binary)
    if read.document is None:
        return _draft_for_pdf(tenant=tenant, binary=binary, filename=filename, actor=actor, dry_run=dry_run)
    with transaction.atomic():
        existing = invoice_already_present(tenant=tenant, document=read.document, vendors=VendorCache(tenant))
        if existing is not None:
            invoice, created = existing, False
        else:
            invoice = invoice_create(tenant=tenant, document=read.document, actor=actor, source=InvoiceSource.XML)
            created = True
        if dry_run:
            invoice = _with_lines(invoice)
            transaction.set_rollback(True)
            return EInvoiceImportOutcome(invoice=invoice, created=created, source_file=None)
        source_file = source_file_keep(
            tenant=tenant,
            binary=binary,
            filename=filename,
            content_type=read.content_type,
            actor=actor,
            documents=[DocumentRef(Invoice._meta.label_lower, invoice.pk)] if created else [],
        )
    return EInvoiceImportOutcome(invoice=invoice, created=created, source_file=source_file)


def e_invoice_parse(binary: IO[bytes]) -> InvoiceDocument:
    """The normalized document of an e-invoice XML file (UBL or CII), by its root element."""
    root = xml_root(binary)
    if root.tag in ubl.ROOTS:
        return ubl.ubl_parse(root)
    if root.tag == cii.ROOT:
        return cii.cii_parse(root)
    if str(root.tag).endswith("}CrossIndustryDocument"):
        raise XmlImportInvalid(ZUGFERD_1, details={"file": [ZUGFERD_1], "root": str(root.tag)})
    message = NOT_AN_E_INVOICE.format(root=root.tag)
    raise XmlImportInvalid(message, details={"root": str(root.tag)})


def _read(*, binary: IO[bytes]) -> _ReadFile:
    binary.seek(0)
    head = binary.read(_PDF_WINDOW)
    binary.seek(0)
    if PDF_MAGIC not in head:
        if not head.lstrip().startswith(_XML_START):
            raise XmlImportInvalid(NEITHER_XML_NOR_PDF, details={"file": [NEITHER_XML_NOR_PDF]})
        return _ReadFile(document=e_invoice_parse(binary), content_type=XML)
    embedded = pdf_embedded_xml(binary)
    if embedded is None:
        return _ReadFile(document=None, content_type=PDF)
    with embedded:
        return _ReadFile(document=e_invoice_parse(embedded), content_type=PDF)


# What a PDF with no e-invoice inside is, until a clerk types it in: nothing but its kind.
_EMPTY_DRAFT = InvoiceDocument(invoice_number="", currency="", invoice_date=None, total_amount=Decimal(0))


def _draft_for_pdf(
    *, tenant: Tenant, binary: IO[bytes], filename: str, actor: Actor, dry_run: bool
) -> EInvoiceImportOutcome:
    """Keep the PDF and open an empty draft with it as the original — or, for a PDF already kept
    as an invoice's original, answer with that invoice (its draft, or what it became)."""
    with transaction.atomic():
        source_file = source_file_keep(tenant=tenant, binary=binary, filename=filename, content_type=PDF, actor=actor)
        earlier = source_file_documents(tenant=tenant, source_file=source_file, model_label=Invoice._meta.label_lower)
        existing = Invoice.objects.for_tenant(tenant).filter(pk__in=earlier).order_by("created_at").first()
        if existing is not None:
            invoice, created = existing, False
        else:
            invoice = invoice_draft_save(tenant=tenant, document=_EMPTY_DRAFT, actor=actor)
            source_file_link(
                tenant=tenant, source_file=source_file, documents=[DocumentRef(Invoice._meta.label_lower, invoice.pk)]
            )
            created = True
        if dry_run:
            invoice = _with_lines(invoice)
            transaction.set_rollback(True)
            return EInvoiceImportOutcome(invoice=invoice, created=created, source_file=None, needs_entry=True)
    return EInvoiceImportOutcome(invoice=invoice, created=created, source_file=source_file, needs_entry=True)


def pdf_embedded_xml(binary: IO[bytes]) -> IO[bytes] | None:
    """The e-invoice XML a PDF carries, as a file; None when it carries none; `PdfInvalid` when
    the PDF cannot be read (module docstring)."""
    binary.seek(0, 2)
    size = binary.tell()
    binary.seek(max(size - _PDF_WINDOW, 0))
    if PDF_END not in binary.read():
        raise PdfInvalid(PDF_TRUNCATED, details={"file": [PDF_TRUNCATED]})
    binary.seek(0)
    try:
        found_name, xml = get_xml_from_pdf(binary, check_xsd=False)
    except FileNotDecryptedError:
        raise PdfInvalid(PDF_ENCRYPTED, details={"file": [PDF_ENCRYPTED]}) from None
    except LimitReachedError:
        raise PdfInvalid(PDF_TOO_COMPLEX, details={"file": [PDF_TOO_COMPLEX]}) from None
    # pypdf raises many kinds of exception on damaged input (ValueError, KeyError, its own); every
    # one is the file's fault, and a 400 rather than a 500.
    except Exception as exc:
        logger.info("pdf unreadable", extra={"error": repr(exc)[:500]})
        message = PDF_DAMAGED.format(reason=type(exc).__name__)
        raise PdfInvalid(message, details={"file": [message]}) from None
    finally:
        binary.seek(0)
    if not found_name or not xml:
        if named := _embedded_xml_names(binary):
            # factur-x reads the XML it finds with lxml and answers "none" when that fails: an
            # e-invoice that is there but unreadable (or hostile) is refused, not typed in by hand.
            message = EMBEDDED_XML_UNREADABLE.format(name=named[0])
            raise PdfInvalid(message, details={"file": [message]})
        return None
    limit = getattr(settings, MAX_BYTES_SETTING)
    if len(xml) > limit:
        raise UploadTooLarge(EMBEDDED_XML_TOO_LARGE.format(size=len(xml), limit=limit, setting=MAX_BYTES_SETTING))
    return io.BytesIO(xml)


def _embedded_xml_names(binary: IO[bytes]) -> list[str]:
    """The names of the XML files a PDF carries as attachments (their bytes are not read)."""
    try:
        names = list(PdfReader(binary).attachments)
    except Exception:  # already read once by factur-x: a failure here is no e-invoice either
        return []
    finally:
        binary.seek(0)
    return [name for name in names if name.lower().endswith(".xml")]


def _with_lines(invoice: Invoice) -> Invoice:
    """The invoice with its vendor and lines read now, while its rows exist (a dry run rolls them
    back): the prefetched lines are what a serializer reads afterwards."""
    return (
        Invoice.objects.for_tenant(invoice.tenant_id)
        .select_related("vendor", "latest_match")
        .prefetch_related("lines")
        .get(pk=invoice.pk)
    )
