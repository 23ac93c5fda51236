"""The Import page over HTTP (review.intake.views): who may upload and import, what every refused
file says on the page (never a 500), the rows beside their problems, the result's links, the
polling fragment, and another tenant's upload as a 404."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from core import csv_reading
from core.quantities import MUST_BE_POSITIVE
from core.text import NUL_REFUSED
from invoices.models import Invoice
from review.intake.services import NO_FILES
from review.intake.views import IMPORTERS_ONLY
from review.models import ImportBatch, ImportJob, ImportStatus
from tenants.models import Role, Tenant
from tests.factories import ImportJobFactory, InvoiceFactory, MembershipFactory, VendorFactory

SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples"
HEADER = "invoice_number,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price"
BAD = f"{HEADER}\nINV-1,Acme,EUR,2026-10-01,10.00,Bolts,1,10.00\nINV-2,Acme,EUR,2026-10-02,20.00,Nuts,-2,10.00\n"


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


def member(tenant: Tenant, role: str) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


@pytest.fixture
def admin(tenant: Tenant) -> Client:
    return member(tenant, Role.ADMIN)


def send(client: Client, *files: tuple[str, bytes], kind: str = "") -> Any:
    uploads = []
    for name, content in files:
        handle = io.BytesIO(content)
        handle.name = name
        uploads.append(handle)
    return client.post(reverse("web:imports"), {"files": uploads, "kind": kind}, follow=True)


def text_of(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def the_batch(tenant: Tenant) -> ImportBatch:
    return ImportBatch.objects.for_tenant(tenant).get()


def test_a_clerk_checks_a_file_then_imports_it_and_follows_the_links(clerk: Client, tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    page = clerk.get(reverse("web:imports"))
    assert page.status_code == 200
    assert b'type="file" name="files" multiple' in page.content
    assert b'href="/app/imports" aria-current="page">Import</a>' in page.content

    checked = send(clerk, ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()))
    batch = the_batch(tenant)
    assert checked.redirect_chain == [(reverse("web:import-batch", kwargs={"batch_id": batch.pk}), 302)]
    text = text_of(checked)
    assert "Invoices (CSV) · detected from the file" in text and "Ready to import" in text
    assert "579.07 EUR" in text  # the two new invoices' totals
    assert not Invoice.objects.for_tenant(tenant).exists()

    job = batch.jobs.get()
    done = clerk.post(reverse("web:import-run", kwargs={"batch_id": batch.pk}), {"job": str(job.pk)}, follow=True)
    assert "Importing 1 file(s)." in text_of(done) and "Imported" in text_of(done)
    for invoice in Invoice.objects.for_tenant(tenant):
        link = reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})
        assert f'<a href="{link}">{invoice.invoice_number}</a>' in done.content.decode()
    again = clerk.post(reverse("web:import-run", kwargs={"batch_id": batch.pk}), follow=True)
    assert "No file of this upload is ready to import." in text_of(again)

    # The invoice list, filtered to what the file created (and only that).
    InvoiceFactory(tenant=tenant, invoice_number="OLDER-1")
    listed = re.search(r'href="([^"]+)" data-testid="job-invoice-list"', done.content.decode())
    assert listed is not None
    invoice_list = clerk.get(listed.group(1).replace("&amp;", "&"))
    shown = re.findall(r'data-invoice="([^"]+)"', invoice_list.content.decode())
    assert sorted(shown) == ["AIS-5531", "NF-10288"]
    assert "Only the invoices created from the imported file" in text_of(invoice_list)


def test_the_problems_of_a_bad_file_stand_beside_their_rows_and_nothing_is_written(
    admin: Client, tenant: Tenant
) -> None:
    response = send(admin, ("bad.csv", BAD.encode()))
    assert response.status_code == 200
    html = response.content.decode()
    row = re.search(r'<tr data-row="3" class="row-problem">(.*?)</tr>', html, re.S)
    assert row is not None, html
    assert "INV-2" in row.group(1) and f"quantity: {MUST_BE_POSITIVE}" in row.group(1)
    assert re.search(r'<td class="has-problem" title="[^"]*">-2</td>', row.group(1))
    assert '<tr data-row="2"' not in html  # a good row is not shown among the problems
    assert csv_reading.INVALID_SUMMARY.format(count=1) in text_of(response)
    assert "Import bad.csv" not in html
    assert not Invoice.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(
    ("name", "content", "kind", "said"),
    [
        ("huge.csv", b"x" * 2001, "", "The file is 2001 bytes; at most 2000 bytes (XML_MAX_BYTES) are accepted."),
        ("orders.csv", (SAMPLES / "invoices.csv").read_bytes(), "goods-receipts", "You chose “Goods receipts (CSV)”"),
        ("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "", "it holds NUL bytes"),
        ("nul.csv", f"{HEADER}\nINV-1,Acme,EUR,2026-10-01,1.00,B\x00lts,1,1.00\n".encode(), "", NUL_REFUSED),
        ("utf16.csv", (HEADER + "\n").encode("utf-16"), "invoices", csv_reading.FILE_UTF16),
        ("bad-bytes.csv", f"{HEADER}\n".encode() + b"INV-1,Acme\x81\n", "", "neither UTF-8 nor Windows-1252"),
        ("empty.csv", b"", "", "The file is empty."),
        ("note.txt", b"Please pay by Friday.\n", "", "Recon cannot tell what this file holds"),
    ],
    ids=["too-large", "wrong-kind", "binary", "nul", "utf-16", "not-utf-8", "empty", "unknown"],
)
def test_a_file_that_cannot_be_imported_says_why_on_the_page(
    clerk: Client, tenant: Tenant, settings: Any, name: str, content: bytes, kind: str, said: str
) -> None:
    settings.CSV_MAX_BYTES = settings.XML_MAX_BYTES = settings.PAYMENT_STATEMENT_MAX_BYTES = 2000
    response = send(clerk, (name, content), kind=kind)
    assert response.status_code == 200
    assert said in response.content.decode().replace("&#x27;", "'")
    assert the_batch(tenant).jobs.get().status == ImportStatus.INVALID
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_an_upload_without_a_file_is_the_form_again_with_the_reason(clerk: Client) -> None:
    response = clerk.post(reverse("web:imports"), {"kind": ""})
    assert response.status_code == 400 and NO_FILES in text_of(response)


def test_an_approver_sees_what_came_in_but_cannot_bring_files_in(tenant: Tenant) -> None:
    job = ImportJobFactory(tenant=tenant, filename="october.csv")
    approver = member(tenant, Role.APPROVER)
    page = approver.get(reverse("web:imports"))
    assert page.status_code == 200 and IMPORTERS_ONLY in text_of(page) and "october.csv" in text_of(page)
    assert b'type="file"' not in page.content and b">Import</a>" not in page.content
    assert approver.get(reverse("web:import-batch", kwargs={"batch_id": job.batch_id})).status_code == 200
    refused = send(approver, ("invoices.csv", b"x"))
    assert refused.status_code == 403
    run = approver.post(reverse("web:import-run", kwargs={"batch_id": job.batch_id}))
    assert run.status_code == 403
    assert ImportJob.objects.for_tenant(tenant).get().status == ImportStatus.READY


def test_another_tenants_upload_is_a_404_to_see_and_to_import(clerk: Client, other_tenant: Tenant) -> None:
    job = ImportJobFactory(tenant=other_tenant, filename="theirs.csv")
    page = clerk.get(reverse("web:import-batch", kwargs={"batch_id": job.batch_id}))
    assert page.status_code == 404 and b"theirs.csv" not in page.content
    run = clerk.post(reverse("web:import-run", kwargs={"batch_id": job.batch_id}), {"job": str(job.pk)})
    assert run.status_code == 404
    assert ImportJob.objects.for_tenant(other_tenant).get().status == ImportStatus.READY
    assert b"theirs.csv" not in clerk.get(reverse("web:imports")).content


def test_opening_the_import_button_s_address_leads_to_the_import(clerk: Client, tenant: Tenant) -> None:
    job = ImportJobFactory(tenant=tenant)
    response = clerk.get(reverse("web:import-run", kwargs={"batch_id": job.batch_id}))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:import-batch", kwargs={"batch_id": job.batch_id})


def test_the_cards_poll_themselves_only_while_a_file_is_being_worked_on(clerk: Client, tenant: Tenant) -> None:
    job = ImportJobFactory(tenant=tenant, status=ImportStatus.IMPORTING, rows_done=500, rows_total=2000)
    url = reverse("web:import-batch", kwargs={"batch_id": job.batch_id})
    fragment = clerk.get(url, HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.lstrip().startswith("<div") and "<html" not in html
    assert 'hx-trigger="every 1s"' in html and f'hx-get="{url}"' in html
    assert '<progress value="500" max="2000"' in html and "500 of about 2000 rows" in html
    ImportJob.objects.for_tenant(tenant).filter(pk=job.pk).update(status=ImportStatus.IMPORTED)
    assert "hx-trigger" not in clerk.get(url, HTTP_HX_REQUEST="true").content.decode()
