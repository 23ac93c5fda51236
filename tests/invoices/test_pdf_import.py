"""Hybrid PDFs (Factur-X, ZUGFeRD 2.x) through the e-invoice door, and the PDFs it refuses.

The real files under testdata/pdf/ (see its README; their facts are the project's shared
SOURCES.md, read there from the XML that `factur-x` extracts) are imported as published. A
hostile or broken PDF is a clear 4xx, never a 500, and leaves nothing behind: no invoice, no kept
file, no blob in the storage.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfWriter
from rest_framework.test import APIClient

from invoices.ingest import e_invoices, xml_reading
from invoices.models import Invoice, InvoiceStatus
from source_files.models import SourceFile
from source_files.selectors import source_file_open
from tenants.models import Tenant
from tests.invoices.test_cii_import import minimal_cii

PDF = Path(__file__).resolve().parent / "testdata" / "pdf"
IMPORT = "/api/invoices/import/xml"
WITHOUT_XML = "MustangGnuaccountingBeispielRE-20201121_508blanko.pdf"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def upload(client: APIClient, content: bytes, *, name: str = "invoice.pdf") -> Any:
    handle = io.BytesIO(content)
    handle.name = name
    return client.post(IMPORT, {"file": handle}, format="multipart")


def raw(client: APIClient, content: bytes) -> Any:
    return client.generic("POST", IMPORT, content, content_type="application/pdf")


def sample(name: str) -> bytes:
    return (PDF / name).read_bytes()


def refusal(response: Any, *, code: str = "pdf_invalid", status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


# file → (kind, number, currency, lines, total, amount due), as SOURCES.md's PDF table states them.
HYBRIDS = {
    "EN16931_Einfach.pdf": ("invoice", "471102", "EUR", 2, "529.87", "529.87"),
    "zugferd_2p0_BASIC_Taxifahrt.pdf": ("invoice", "TX-471102", "EUR", 2, "18.08", "18.08"),
    "Avoir_FR_type381_BASIC.pdf": ("credit_note", "AV-2017-0005", "EUR", 2, "233.47", "233.47"),
}


@pytest.mark.parametrize("name", sorted(HYBRIDS))
def test_each_hybrid_pdf_imports_its_embedded_invoice_and_keeps_the_pdf(
    name: str, api: APIClient, tenant: Tenant
) -> None:
    kind, number, currency, line_count, total, amount_due = HYBRIDS[name]
    response = upload(api, sample(name), name=name)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["document_type"], body["invoice_number"], body["currency"]) == (kind, number, currency)
    assert (len(body["lines"]), body["total_amount"], body["amount_due"]) == (line_count, total, amount_due)
    invoice = Invoice.objects.for_tenant(tenant).get(pk=body["id"])
    assert invoice.subtotal_amount + invoice.tax_amount + invoice.shipping_amount == invoice.total_amount
    # The original kept is the PDF itself, byte for byte, not the XML inside it.
    kept = SourceFile.objects.for_tenant(tenant).get(documents__document_id=invoice.pk)
    assert (kept.content_type, kept.filename) == ("application/pdf", name)
    with source_file_open(kept) as stored:
        assert stored.read() == sample(name)


def test_a_raw_pdf_body_works_like_an_upload(api: APIClient) -> None:
    response = raw(api, sample("EN16931_Einfach.pdf"))
    assert response.status_code == 201, response.content
    assert response.json()["invoice_number"] == "471102"


def test_the_factur_x_credit_note_names_the_invoice_it_credits(api: APIClient, tenant: Tenant) -> None:
    invoice = api.post(
        "/api/invoices",
        {
            "invoice_number": "FA-2017-0010",
            "vendor_name": "Au bon moulin",
            "vendor_tax_id": "FR11999999998",
            "currency": "EUR",
            "invoice_date": "2017-11-10",
            "total_amount": "233.47",
            "lines": [{"description": "Huile d'olive", "quantity": "1", "unit_price": "233.47"}],
        },
        format="json",
    ).json()
    credit_note = upload(api, sample("Avoir_FR_type381_BASIC.pdf")).json()
    assert (credit_note["credited_invoice_number"], credit_note["credited_invoice_id"]) == (
        "FA-2017-0010",
        invoice["id"],
    )
    # For the invoice's full total: it is voided, as any credit note in full does.
    assert Invoice.objects.for_tenant(tenant).get(pk=invoice["id"]).status == InvoiceStatus.VOID


def test_a_pdf_without_an_e_invoice_is_kept_in_a_draft_to_type_in(
    api: APIClient, tenant: Tenant, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = upload(api, sample(WITHOUT_XML), name=WITHOUT_XML)
    assert response.status_code == 201, response.content
    draft = response.json()
    assert (draft["status"], draft["invoice_number"], draft["invoice_date"], draft["source"]) == (
        "draft",
        "",
        None,
        "manual",
    )
    kept = SourceFile.objects.for_tenant(tenant).get()
    assert (kept.content_type, kept.filename) == ("application/pdf", WITHOUT_XML)
    assert [str(link.document_id) for link in kept.documents.all()] == [draft["id"]]
    after = document_counts()
    assert after["Invoice"] == before["Invoice"] + 1 and after["SourceFile"] == before["SourceFile"] + 1
    # The same PDF again: the same kept file and the same draft, nothing new.
    again = upload(api, sample(WITHOUT_XML))
    assert (again.status_code, again.json()["id"]) == (200, draft["id"])
    assert document_counts() == after


def test_a_dry_run_of_a_pdf_without_an_e_invoice_writes_nothing(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    handle = io.BytesIO(sample(WITHOUT_XML))
    handle.name = WITHOUT_XML
    response = api.post(f"{IMPORT}?dry_run=true", {"file": handle}, format="multipart")
    assert (response.status_code, response.json()["status"]) == (200, "draft")
    assert document_counts() == before


def test_a_zugferd_1_pdf_is_refused_saying_why(api: APIClient, document_counts: Callable[[], dict[str, int]]) -> None:
    before = document_counts()
    error = refusal(upload(api, sample("ZUGFeRD_1p0_COMFORT_Einfach.pdf")), code="xml_invalid")
    assert error["message"] == e_invoices.ZUGFERD_1
    assert document_counts() == before


# --- hostile and broken PDFs: a clear 4xx, nothing written ----------------------------------


def _encrypted(content: bytes) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(content))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_attachment(name: str, content: bytes, *, compressed: bool = False) -> bytes:
    """The PDF without XML, carrying `content` as an embedded file (Flate-compressed if asked)."""
    writer = PdfWriter(clone_from=io.BytesIO(sample(WITHOUT_XML)))
    attachment = writer.add_attachment(name, content)
    if compressed:  # pypdf stores an attachment as it is given; swap in the compressed stream
        stream = attachment.pdf_object["/EF"].raw_get("/F")
        writer._objects[stream.idnum - 1] = stream.get_object().flate_encode()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


HOSTILE = {
    "truncated": (lambda: sample("EN16931_Einfach.pdf")[:20_000], e_invoices.PDF_TRUNCATED),
    "encrypted": (lambda: _encrypted(sample("EN16931_Einfach.pdf")), e_invoices.PDF_ENCRYPTED),
    "damaged": (
        lambda: b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n%%EOF\n",
        e_invoices.PDF_DAMAGED.format(reason="PdfReadError"),
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_an_unreadable_pdf_is_a_400_and_writes_nothing(
    case: str, api: APIClient, document_counts: Callable[[], dict[str, int]], settings: Any
) -> None:
    make, message = HOSTILE[case]
    before, blobs = document_counts(), _blobs(settings)
    assert refusal(upload(api, make()))["message"] == message
    assert document_counts() == before
    assert _blobs(settings) == blobs


def test_a_file_that_is_neither_xml_nor_a_pdf_is_a_400(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    before = document_counts()
    response = raw(api, b"GIF89a\x01\x00\x01\x00 definitely not an invoice")
    assert refusal(response, code="xml_invalid")["message"] == e_invoices.NEITHER_XML_NOR_PDF
    assert document_counts() == before


def test_a_huge_pdf_is_a_413_before_it_is_read(
    api: APIClient, settings: Any, document_counts: Callable[[], dict[str, int]]
) -> None:
    settings.XML_MAX_BYTES = 32_768
    before = document_counts()
    refusal(upload(api, sample("EN16931_Einfach.pdf")), code="payload_too_large", status=413)  # 37,897 bytes
    assert document_counts() == before


def test_an_embedded_xml_past_the_limit_is_a_413(
    api: APIClient, settings: Any, document_counts: Callable[[], dict[str, int]]
) -> None:
    """A small PDF whose embedded file inflates past XML_MAX_BYTES (a compressed stream)."""
    xml = minimal_cii().replace(b"<ram:Name>Hex bolt M8</ram:Name>", b"<ram:Name>" + b"x" * 400_000 + b"</ram:Name>")
    pdf = _with_attachment("factur-x.xml", xml, compressed=True)
    settings.XML_MAX_BYTES = 200_000
    assert len(pdf) < settings.XML_MAX_BYTES
    before = document_counts()
    error = refusal(upload(api, pdf), code="payload_too_large", status=413)
    assert error["message"] == e_invoices.EMBEDDED_XML_TOO_LARGE.format(
        size=len(xml), limit=200_000, setting="XML_MAX_BYTES"
    )
    assert document_counts() == before


def test_an_embedded_factur_x_is_read_like_any_cii(api: APIClient) -> None:
    response = upload(api, _with_attachment("factur-x.xml", minimal_cii(number="PDF-1")))
    assert response.status_code == 201, response.content
    assert (response.json()["invoice_number"], response.json()["total_amount"]) == ("PDF-1", "125.00")


def test_an_embedded_xml_bomb_or_external_entity_is_refused_fast(
    api: APIClient, document_counts: Callable[[], dict[str, int]]
) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">'
        for level in range(1, 10)
    )
    bomb = minimal_cii(number="&lol9;", prolog=f"<!DOCTYPE x [{entities}]>")
    external = minimal_cii(number="&e;", prolog='<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>')
    before = document_counts()
    for xml in (bomb, external):
        response = upload(api, _with_attachment("factur-x.xml", xml))
        assert response.status_code == 400, response.content
        assert b"root:" not in response.content
        # Refused by factur-x's reader (then named as unreadable) or by the hardened parser.
        assert response.json()["error"]["message"] in {
            xml_reading.XML_DOCTYPE_REFUSED,
            e_invoices.EMBEDDED_XML_UNREADABLE.format(name="factur-x.xml"),
        }
    assert Invoice.objects.unscoped().count() == before["Invoice"]


def _blobs(settings: Any) -> set[Path]:
    """Every blob in the kept files' storage (of the whole test run: a test's rows roll back, its
    blobs stay, so a test compares before and after)."""
    root = Path(settings.STORAGES["source_files"]["OPTIONS"]["location"])
    return {path for path in root.rglob("*") if path.is_file()}
