"""The invoice page shows the original it was imported from: a PDF beside the 3-way comparison,
an XML e-invoice printed readable; the file itself is served to the tenant's users only, with
headers that let it be nothing but displayed (review/originals.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from invoices.ingest.e_invoices import e_invoice_import
from invoices.models import Invoice
from review.originals import ORIGINAL_CONTENT_SECURITY_POLICY
from tenants.models import Role, Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

TESTDATA = Path(__file__).resolve().parent.parent / "invoices" / "testdata"
FACTUR_X = TESTDATA / "pdf" / "EN16931_Einfach.pdf"
CII = TESTDATA / "cii" / "CII_example4.xml"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def imported(tenant: Tenant, path: Path, content: bytes | None = None) -> Invoice:
    binary = io.BytesIO(path.read_bytes() if content is None else content)
    return e_invoice_import(tenant=tenant, binary=binary, filename=path.name, actor=TEST_ACTOR).invoice


def original_url(invoice: Invoice) -> str:
    return reverse("web:invoice-original", kwargs={"invoice_id": invoice.pk})


def test_a_pdf_original_is_embedded_beside_the_comparison_and_served_inline(clerk: Client, tenant: Tenant) -> None:
    invoice = imported(tenant, FACTUR_X)
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'<object class="original-pdf" data="{original_url(invoice)}" type="application/pdf"' in html
    assert 'class="with-original has-original"' in html
    # The page may embed its own PDF, and nothing else changes in its policy.
    policy = page["Content-Security-Policy"]
    assert "object-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy

    served = clerk.get(original_url(invoice))
    assert served.status_code == 200
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"] == 'inline; filename="EN16931_Einfach.pdf"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served["Content-Security-Policy"] == ORIGINAL_CONTENT_SECURITY_POLICY
    assert served["X-Frame-Options"] == "SAMEORIGIN"
    assert b"".join(served.streaming_content) == FACTUR_X.read_bytes()


def test_an_xml_original_is_shown_as_escaped_text_and_downloaded(clerk: Client, tenant: Tenant) -> None:
    hostile = CII.read_bytes().replace(
        b"<ram:Name>American Cookies</ram:Name>", b"<ram:Name>&lt;script&gt;alert(1)&lt;/script&gt;</ram:Name>"
    )
    invoice = imported(tenant, CII, hostile)
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    html = page.content.decode()
    assert 'data-testid="original-xml"' in html
    # Pretty-printed and escaped: the markup is text, the item's "<script>" twice escaped.
    assert "&lt;rsm:CrossIndustryInvoice" in html and "<rsm:" not in html
    assert "&amp;lt;script&amp;gt;alert(1)" in html and "<script>alert(1)" not in html
    assert "object-src 'none'" in page["Content-Security-Policy"]

    served = clerk.get(original_url(invoice))
    assert (served.status_code, served["Content-Type"]) == (200, "application/xml")
    assert served["Content-Disposition"] == 'attachment; filename="CII_example4.xml"'
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == hostile


def test_an_invoice_without_a_kept_file_has_no_original(clerk: Client, tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant)
    page = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
    assert 'data-testid="original"' not in page.content.decode()
    assert clerk.get(original_url(invoice)).status_code == 404


def test_another_tenants_original_is_a_404(foreign_clerk: Client, clerk: Client, tenant: Tenant) -> None:
    invoice = imported(tenant, FACTUR_X)
    response = foreign_clerk.get(original_url(invoice))
    assert response.status_code == 404
    assert b"%PDF" not in response.content
    assert clerk.get(original_url(invoice)).status_code == 200


def test_only_get_reads_an_original(clerk: Client, tenant: Tenant) -> None:
    invoice = imported(tenant, FACTUR_X)
    response = clerk.post(original_url(invoice))
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


@pytest.mark.django_db(transaction=True)
def test_the_clerk_sees_the_factur_x_pdf_beside_the_comparison(
    live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-original"), role=Role.CLERK)
    invoice = imported(tenant, FACTUR_X)
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-original")
        with page.expect_response(lambda response: response.url.endswith(original_url(invoice))) as loaded:
            page.goto(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk}))
        assert loaded.value.status == 200
        assert loaded.value.headers["content-type"] == "application/pdf"
        document = page.get_by_test_id("original-pdf")
        comparison = page.get_by_role("region", name="3-way comparison")
        document_box, comparison_box = document.bounding_box(), comparison.bounding_box()
        # Beside it: to its right, side by side, on a desktop screen.
        assert document_box["x"] >= comparison_box["x"] + comparison_box["width"]
        assert document_box["y"] < comparison_box["y"] + comparison_box["height"]
        assert page.get_by_role("heading", name="Original PDF").is_visible()
        assert page.console_errors == []
