"""Large XLSX exports of the invoice list written in the background (review.export_jobs): a list
longer than EXPORT_SYNC_MAX_ROWS becomes a job; the worker writes exactly the rows the list shows
(its filters, its sort, "Assigned to: me" meaning who asked), formula cells escaped, counting its
progress; the file is offered to the member who asked, a 404 to anyone else; a job is written once."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice
from review import export_jobs
from review.export_jobs import EXPORT_CRASHED, WORKER_UNREACHABLE, export_job_create, export_job_work
from review.invoice_export import EXPORT_HEADERS, XLSX_CONTENT_TYPE
from review.models import ExportJob, ExportStatus
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, VendorFactory

pytestmark = pytest.mark.django_db

NUMBER, VENDOR = EXPORT_HEADERS.index("Invoice number"), EXPORT_HEADERS.index("Vendor")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The jobs handed to django-q2, not run (each test runs the worker's step itself)."""
    handed: list[tuple[str, str]] = []

    def async_task(func: str, tenant_id: str, job_id: str, **options: Any) -> str:
        assert func == "review.tasks.export_job_run"
        handed.append((tenant_id, job_id))
        return job_id

    monkeypatch.setattr("django_q.tasks.async_task", async_task)
    return handed


@pytest.fixture
def ledger(tenant: Tenant, other_tenant: Tenant) -> Tenant:
    acme = VendorFactory(tenant=tenant, name="Acme")
    hostile = VendorFactory(tenant=tenant, name='=HYPERLINK("http://x")')
    for number in range(12):
        InvoiceFactory(
            vendor=hostile if number == 3 else acme,
            invoice_number=f"EX-{number:02}",
            total_amount=1000 + (number * 37) % 11,
            status=("approved", "disputed")[number % 2],
        )
    InvoiceFactory(
        vendor=VendorFactory(tenant=other_tenant, name="Acme"), invoice_number="EX-THEIRS", status="approved"
    )
    return tenant


def _member(tenant: Tenant, role: str = Role.CLERK) -> Client:
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=role).user)
    return client


def _sheet_rows(content: bytes) -> list[tuple[Any, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True)["Invoices"]
    return list(sheet.iter_rows(values_only=True))


def test_a_long_list_is_written_by_a_worker_with_exactly_the_rows_the_list_shows(
    ledger: Tenant, settings: Any, queued: list[tuple[str, str]], django_capture_on_commit_callbacks: Any
) -> None:
    settings.EXPORT_SYNC_MAX_ROWS = 5
    clerk = _member(ledger)
    query = "status=approved&sort=-amount"
    listed = clerk.get(reverse("web:invoices"), {"status": "approved", "sort": "-amount"})
    shown = [row.invoice_number for row in listed.context["page"].object_list]
    assert len(shown) == 6 and b'data-testid="export-xlsx"' in listed.content
    assert listed.context["xlsx_in_background"]

    with django_capture_on_commit_callbacks(execute=True):
        response = clerk.post(reverse("web:invoice-export-start"), {"query": query})
    job = ExportJob.objects.for_tenant(ledger).get()
    assert response.status_code == 302 and response["Location"] == reverse("web:invoice-export", args=[job.pk])
    assert queued == [(str(ledger.pk), str(job.pk))]
    assert (job.status, job.query) == (ExportStatus.WAITING, query)
    waiting = clerk.get(response["Location"])
    polling = f'hx-get="{response["Location"]}" hx-trigger="every 1s"'.encode()
    assert b'data-testid="export-progress"' in waiting.content and polling in waiting.content
    assert clerk.get(reverse("web:invoice-export-file", args=[job.pk])).status_code == 404  # not written yet

    done = export_job_work(tenant=ledger, job_id=job.pk)
    assert done is not None and (done.status, done.rows_done, done.rows_total) == (ExportStatus.DONE, 6, 6)
    assert export_job_work(tenant=ledger, job_id=job.pk) is None  # delivered twice: written once
    page = clerk.get(reverse("web:invoice-export", args=[job.pk]))
    assert b'data-testid="export-download"' in page.content and polling not in page.content

    download = clerk.get(reverse("web:invoice-export-file", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == XLSX_CONTENT_TYPE
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    rows = _sheet_rows(b"".join(download.streaming_content))
    assert rows[0] == EXPORT_HEADERS
    assert [row[NUMBER] for row in rows[1:]] == shown


def test_the_job_reads_assigned_to_me_as_whoever_asked(ledger: Tenant, queued: list[tuple[str, str]]) -> None:
    membership = MembershipFactory(tenant=ledger, role=Role.CLERK)
    mine = ["EX-01", "EX-05"]
    Invoice.objects.for_tenant(ledger).filter(invoice_number__in=mine).update(assigned_to=membership.user)
    job = export_job_create(tenant=ledger, user=membership.user, query="assigned=me", filename="mine")
    export_job_work(tenant=ledger, job_id=job.pk)
    content = ExportJob.objects.for_tenant(ledger).values_list("content", flat=True).get(pk=job.pk)
    assert sorted(row[NUMBER] for row in _sheet_rows(bytes(content))[1:]) == mine


def test_a_hostile_cell_is_escaped(ledger: Tenant, queued: list[tuple[str, str]]) -> None:
    membership = MembershipFactory(tenant=ledger, role=Role.CLERK)
    job = export_job_create(tenant=ledger, user=membership.user, query="sort=number", filename="all")
    export_job_work(tenant=ledger, job_id=job.pk)
    content = ExportJob.objects.for_tenant(ledger).values_list("content", flat=True).get(pk=job.pk)
    row = next(row for row in _sheet_rows(bytes(content))[1:] if row[NUMBER] == "EX-03")
    assert row[VENDOR] == '\'=HYPERLINK("http://x")'


def test_a_short_list_is_still_written_within_the_request(ledger: Tenant, settings: Any) -> None:
    settings.EXPORT_SYNC_MAX_ROWS = 100
    clerk = _member(ledger)
    response = clerk.get(reverse("web:invoices-export-xlsx"), {"status": "approved"})
    assert response["Content-Type"] == XLSX_CONTENT_TYPE
    assert len(_sheet_rows(b"".join(response.streaming_content))) == 1 + 6
    assert not ExportJob.objects.for_tenant(ledger).exists()


def test_the_xlsx_address_of_a_long_list_offers_the_background_export(ledger: Tenant, settings: Any) -> None:
    settings.EXPORT_SYNC_MAX_ROWS = 5
    response = _member(ledger).get(reverse("web:invoices-export-xlsx"), {"status": "approved", "bogus": "1"})
    assert response.status_code == 200
    assert b"This list has 6 invoices" in response.content
    assert b'name="query" value="status=approved"' in response.content
    assert not ExportJob.objects.for_tenant(ledger).exists()  # a GET writes nothing


def test_another_member_or_tenant_gets_a_404(
    ledger: Tenant, other_tenant: Tenant, queued: list[tuple[str, str]]
) -> None:
    owner = MembershipFactory(tenant=ledger, role=Role.CLERK)
    job = export_job_create(tenant=ledger, user=owner.user, query="", filename="all")
    export_job_work(tenant=ledger, job_id=job.pk)
    for intruder in (_member(ledger, Role.ADMIN), _member(other_tenant, Role.ADMIN)):
        for name in ("web:invoice-export", "web:invoice-export-file"):
            response = intruder.get(reverse(name, args=[job.pk]))
            assert response.status_code == 404, name
            assert b"EX-" not in response.content
    assert export_job_work(tenant=other_tenant, job_id=job.pk) is None


def test_a_worker_out_of_reach_or_a_crash_says_so(
    ledger: Tenant, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    owner = MembershipFactory(tenant=ledger, role=Role.CLERK)

    def unreachable(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("no broker")

    monkeypatch.setattr("django_q.tasks.async_task", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_job_create(tenant=ledger, user=owner.user, query="", filename="all")
    job.refresh_from_db()
    assert (job.status, job.message) == (ExportStatus.FAILED, WORKER_UNREACHABLE)

    def broken(**kwargs: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_jobs, "invoice_xlsx_write", broken)
    crashed = export_job_create(tenant=ledger, user=owner.user, query="", filename="all")
    done = export_job_work(tenant=ledger, job_id=crashed.pk)
    assert done is not None and (done.status, done.message) == (
        ExportStatus.FAILED,
        EXPORT_CRASHED.format(job_id=crashed.pk),
    )


def test_the_job_counts_its_rows_as_it_writes_them(
    ledger: Tenant, monkeypatch: pytest.MonkeyPatch, queued: list[tuple[str, str]]
) -> None:
    """What the polling page reads while the worker writes: the rows so far of the rows counted."""
    monkeypatch.setattr("review.invoice_export.PROGRESS_ROWS", 5)
    owner = MembershipFactory(tenant=ledger, role=Role.CLERK)
    job = export_job_create(tenant=ledger, user=owner.user, query="", filename="all")
    seen: list[tuple[int, int | None, str]] = []
    write = export_jobs.invoice_xlsx_write

    def watched(**kwargs: Any) -> int:
        told = kwargs["on_rows"]

        def on_rows(rows: int) -> None:
            told(rows)
            seen.append(ExportJob.objects.for_tenant(ledger).values_list("rows_done", "rows_total", "status").get())

        return write(**{**kwargs, "on_rows": on_rows})

    monkeypatch.setattr(export_jobs, "invoice_xlsx_write", watched)
    done = export_job_work(tenant=ledger, job_id=job.pk)
    assert seen == [(5, 12, ExportStatus.WORKING), (10, 12, ExportStatus.WORKING)]
    assert done is not None and (done.rows_done, done.rows_total, done.status) == (12, 12, ExportStatus.DONE)


def test_files_older_than_the_keep_days_are_deleted_by_the_schedule(
    ledger: Tenant, other_tenant: Tenant, settings: Any, queued: list[tuple[str, str]]
) -> None:
    """Each file is a copy of invoice data: kept EXPORT_KEEP_DAYS for whoever asked, then deleted
    (every tenant's, by the schedule), its page and file a 404; a younger one stays."""
    from review.tasks import expire_export_files

    settings.EXPORT_KEEP_DAYS = 7
    owner = MembershipFactory(tenant=ledger, role=Role.CLERK)
    clerk = Client()
    clerk.force_login(owner.user)
    old = export_job_create(tenant=ledger, user=owner.user, query="", filename="old")
    young = export_job_create(tenant=ledger, user=owner.user, query="", filename="young")
    theirs = export_job_create(
        tenant=other_tenant, user=MembershipFactory(tenant=other_tenant).user, query="", filename="theirs"
    )
    for job in (old, young, theirs):
        export_job_work(tenant=job.tenant, job_id=job.pk)
    page = clerk.get(reverse("web:invoice-export", args=[young.pk]))
    kept_until = young.created_at + dt.timedelta(days=7)
    assert f"kept until {timezone.localtime(kept_until):%-d %b %Y}".encode() in page.content
    eight_days_ago = timezone.now() - dt.timedelta(days=8)
    ExportJob.objects.unscoped().filter(pk__in=[old.pk, theirs.pk]).update(created_at=eight_days_ago)

    assert expire_export_files() == "deleted 2 export files"

    assert list(ExportJob.objects.unscoped().values_list("pk", flat=True)) == [young.pk]
    for name in ("web:invoice-export", "web:invoice-export-file"):
        assert clerk.get(reverse(name, args=[old.pk])).status_code == 404
    assert clerk.get(reverse("web:invoice-export-file", args=[young.pk])).status_code == 200
