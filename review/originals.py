"""The original an invoice was imported from, on the invoice's page: the PDF beside the 3-way
comparison, or the XML printed readable, and the file itself, served to the tenant's users only.

The file is served by `invoice_original` under the invoice's own URL, so the invoice's tenant
scoping decides who may read it (another tenant's invoice, or one without a kept file, is a 404).
What is served is the kept bytes with the Content-Type the importer recognised (never a guess
from the content: `X-Content-Type-Options: nosniff`), under a Content-Security-Policy that lets
the response do nothing but be displayed as a PDF inside this site's own pages (`frame-ancestors
'self'`; no script, style, image, font or connection of its own). A PDF is `inline`, for the
page's <object>; anything else (XML, CSV, a bank statement) is an `attachment`: a browser that
rendered an XML file as a document would run what its stylesheet processing instruction names.
The page shows an XML original as text: pretty-printed by the same hardened parser the import
used, and escaped by the template like any other text.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from lxml import etree

from invoices.ingest.xml_reading import XmlImportInvalid, xml_root
from invoices.models import Invoice
from source_files.models import SourceFile
from source_files.selectors import source_file_of_document, source_file_open
from source_files.services import PDF, XML
from tenants.http.error_pages import method_not_allowed_page
from tenants.http.web import tenant_view, web_of
from tenants.models import Tenant

# What a served original may do: be shown (a PDF, by the browser's viewer) inside this site's
# pages, and nothing else.
ORIGINAL_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; object-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
# The most of an XML original the page prints; past it, the page says so and links the file.
XML_SHOWN_MAX_CHARACTERS = 200_000
XML_UNREADABLE = "The original cannot be shown as text; download it instead."


@dataclass(frozen=True)
class Original:
    """What the invoice page shows of the file an invoice was imported from."""

    source_file: SourceFile
    xml_text: str = ""  # the XML, pretty-printed (cut at XML_SHOWN_MAX_CHARACTERS)
    xml_cut: int = 0  # characters left out of `xml_text`
    xml_problem: str = ""

    @property
    def is_pdf(self) -> bool:
        return self.source_file.content_type == PDF

    @property
    def is_xml(self) -> bool:
        return self.source_file.content_type == XML


def invoice_original_read(*, tenant: Tenant, invoice: Invoice) -> Original | None:
    """The original of `invoice` as its page shows it, or None when it was not imported from a file."""
    source_file = source_file_of_document(tenant=tenant, model_label=Invoice._meta.label_lower, document_id=invoice.pk)
    if source_file is None:
        return None
    if source_file.content_type != XML:
        return Original(source_file=source_file)
    try:
        with source_file_open(source_file) as binary:
            text = etree.tostring(xml_root(binary), pretty_print=True, encoding="unicode")
    except (XmlImportInvalid, OSError):
        return Original(source_file=source_file, xml_problem=XML_UNREADABLE)
    cut = max(len(text) - XML_SHOWN_MAX_CHARACTERS, 0)
    return Original(source_file=source_file, xml_text=text[:XML_SHOWN_MAX_CHARACTERS], xml_cut=cut)


@tenant_view
@xframe_options_sameorigin
def invoice_original(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The file the invoice was imported from, as it arrived (module docstring: how it is served)."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed_page(
            request, allowed=("GET", "HEAD"), back_url=reverse("web:dashboard"), back_label="the dashboard"
        )
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    source_file = (
        source_file_of_document(tenant=web.tenant, model_label=Invoice._meta.label_lower, document_id=invoice.pk)
        if invoice is not None
        else None
    )
    if source_file is None:
        raise Http404
    return kept_file_response(source_file, filename=source_file.filename or f"{invoice.invoice_number}-original")


def kept_file_response(source_file: SourceFile, *, filename: str) -> FileResponse:
    """A kept file served as the module docstring says (a PDF inline, anything else an attachment,
    under its recognised type, `nosniff` and the CSP), named `filename`: the invoice's original,
    and a dispute's attachments (review.dispute_views). The view decides who may read it."""
    response = FileResponse(
        source_file_open(source_file),
        content_type=source_file.content_type,
        as_attachment=source_file.content_type != PDF,
        filename=filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = ORIGINAL_CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "private, no-cache"
    return response
