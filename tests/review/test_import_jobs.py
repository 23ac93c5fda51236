"""The Import page's jobs (review.intake.services): an upload is checked with the API's own dry run
and imported through the API's own services, all or nothing, with the API's messages; what
cannot be read is a job that says why, never an exception; large uploads go to a worker."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from core import csv_reading
from core.http.uploads import FILE_TOO_LARGE, UPLOAD_EMPTY
from core.quantities import MUST_BE_POSITIVE
from core.text import NUL_REFUSED
from invoices.models import Invoice, InvoiceSource
from payments.models import Payment, StatementImport
from purchasing.models import PurchaseOrder
from review.intake import services as intake
from review.intake.kinds import READ_NOTHING_KNOWN
from review.intake.selectors import import_batch_get, import_job_documents
from review.intake.tasks import import_job_run
from review.models import ImportBatch, ImportJob, ImportKind, ImportStatus
from source_files.models import SourceFileDocument
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, ImportJobFactory, VendorFactory

TESTS = Path(__file__).resolve().parents[1]
SAMPLES = TESTS.parent / "docs" / "samples"
CAMT053 = TESTS / "payments" / "testdata" / "test-camt053.xml"
UBL = TESTS / "invoices" / "testdata" / "ubl" / "base-example.xml"
HEADER = "invoice_number,vendor_name,currency,invoice_date,total_amount,description,quantity,unit_price"
BAD_INVOICES = (
    f"{HEADER}\n"
    "INV-1,Acme Industrial Supplies,EUR,2026-10-01,10.00,Bolts,1,10.00\n"
    "INV-2,Acme Industrial Supplies,EUR,2026-10-02,20.00,Nuts,-2,10.00\n"
    "INV-3,Acme Industrial Supplies,EUR,not a date,30.00,Washers,3,10.00\n"
)


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    settings.MATCH_ON_INGEST = False


@pytest.fixture
def vendors(tenant: Tenant) -> None:
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB", tax_id="SE556677889901")
    VendorFactory(tenant=tenant, name="Acme Industrial Supplies GmbH", tax_id="DE811234567")


def upload(tenant: Tenant, *files: tuple[str, bytes], kind: str = "") -> list[ImportJob]:
    batch = intake.import_batch_create(
        tenant=tenant,
        actor=TEST_ACTOR,
        files=[intake.IncomingFile(name=name, binary=io.BytesIO(content)) for name, content in files],
        chosen_kind=kind,
    )
    return list(ImportJob.objects.for_tenant(tenant).filter(batch=batch).order_by("position"))


def reload(job: ImportJob) -> ImportJob:
    return ImportJob.objects.for_tenant(job.tenant_id).get(pk=job.pk)


def import_all(tenant: Tenant, job: ImportJob) -> ImportJob:
    batch = ImportBatch.objects.for_tenant(tenant).get(pk=job.batch_id)
    intake.import_batch_import(tenant=tenant, batch=batch)
    return reload(job)


# --- invoices CSV: check, then import --------------------------------------------------------------


def test_a_good_invoice_csv_is_checked_without_writing_then_imported_and_kept(tenant: Tenant, vendors: None) -> None:
    [job] = upload(tenant, ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()))
    assert (job.status, job.kind, job.kind_detected) == (ImportStatus.READY, ImportKind.INVOICES, True)
    assert {key: job.preview[key] for key in ("rows", "documents", "new", "duplicates")} == {
        "rows": 3,
        "documents": 2,
        "new": 2,
        "duplicates": 0,
    }
    # 250.63 + 328.44: the stated totals of the two invoices that would be created.
    assert job.preview["totals"] == [{"currency": "EUR", "minor": 57907, "direction": ""}]
    assert job.table["header"][0] == "invoice_number" and [row["number"] for row in job.table["rows"]] == [2, 3, 4]
    assert not Invoice.objects.for_tenant(tenant).exists(), "a check writes nothing"

    job = import_all(tenant, job)
    assert job.status == ImportStatus.IMPORTED and job.content == b""
    invoices = Invoice.objects.for_tenant(tenant).order_by("invoice_number")
    assert [(invoice.invoice_number, invoice.source) for invoice in invoices] == [
        ("AIS-5531", InvoiceSource.CSV),
        ("NF-10288", InvoiceSource.CSV),
    ]
    assert sorted(job.outcome["created_ids"]) == sorted(str(invoice.pk) for invoice in invoices)
    links = import_job_documents(tenant=tenant, job=job)
    assert sorted(link.label for link in links.created) == ["AIS-5531", "NF-10288"]
    assert {link.url_name for link in links.created} == {"web:invoice-detail"}
    # The original is kept once, linked to both invoices it created (source_files).
    kept = SourceFileDocument.objects.for_tenant(tenant).filter(document_model="invoices.invoice")
    assert sorted(str(row.document_id) for row in kept) == sorted(job.outcome["created_ids"])


def test_the_same_file_again_finds_its_invoices_already_stored(tenant: Tenant, vendors: None) -> None:
    content = (SAMPLES / "invoices.csv").read_bytes()
    import_all(tenant, upload(tenant, ("invoices.csv", content))[0])
    [again] = upload(tenant, ("invoices.csv", content))
    assert (again.preview["new"], again.preview["duplicates"], again.preview["totals"]) == (0, 2, [])
    again = import_all(tenant, again)
    assert Invoice.objects.for_tenant(tenant).count() == 2
    assert len(import_job_documents(tenant=tenant, job=again).duplicates) == 2


def test_a_bad_csv_lists_each_problem_by_row_and_column_as_the_api_does(
    tenant: Tenant, api: APIClient, vendors: None
) -> None:
    [job] = upload(tenant, ("invoices.csv", BAD_INVOICES.encode()))
    assert job.status == ImportStatus.INVALID and job.content == b""
    assert job.message == csv_reading.INVALID_SUMMARY.format(count=2)
    assert {(problem["row"], problem["column"]) for problem in job.problems} == {(3, "quantity"), (4, "invoice_date")}
    assert next(p for p in job.problems if p["column"] == "quantity")["messages"] == [MUST_BE_POSITIVE]
    # The rows the problems name, as the file has them, to show beside them.
    assert [(row["number"], row["cells"][0], row["cells"][6]) for row in job.table["rows"]] == [
        (3, "INV-2", "-2"),
        (4, "INV-3", "3"),
    ]
    assert not Invoice.objects.for_tenant(tenant).exists()

    handle = io.BytesIO(BAD_INVOICES.encode())
    handle.name = "invoices.csv"
    response = api.post("/api/invoices/import/csv?dry_run=true", {"file": handle}, format="multipart")
    api_error = response.json()["error"]
    assert api_error["message"] == job.message
    assert api_error["details"] == {problem["location"]: problem["messages"] for problem in job.problems}


# --- files that cannot be read: a job that says why ---------------------------------------------


def test_a_file_of_another_kind_than_the_one_chosen_is_refused_unread(tenant: Tenant) -> None:
    [job] = upload(tenant, ("orders.csv", (SAMPLES / "invoices.csv").read_bytes()), kind=ImportKind.PURCHASE_ORDERS)
    assert job.status == ImportStatus.INVALID and job.kind == ImportKind.INVOICES
    assert job.message.startswith("You chose “Purchase orders (CSV)”, but this file is a CSV whose header names")
    assert "“Invoices (CSV)”" in job.message
    assert not PurchaseOrder.objects.for_tenant(tenant).exists()


def test_a_file_whose_kind_cannot_be_told_asks_for_it_and_a_choice_then_decides(tenant: Tenant) -> None:
    content = b"name,colour\nbolt,grey\n"
    [unknown] = upload(tenant, ("notes.csv", content))
    assert unknown.status == ImportStatus.INVALID
    assert unknown.message == intake.KIND_UNKNOWN.format(read_as=READ_NOTHING_KNOWN)
    [chosen] = upload(tenant, ("notes.csv", content), kind=ImportKind.INVOICES)
    assert (chosen.kind, chosen.kind_detected, chosen.status) == (ImportKind.INVOICES, False, ImportStatus.INVALID)
    # The importer's own words from here on.
    assert "row 1, column name" in {problem["location"] for problem in chosen.problems}


def test_empty_and_too_large_files_are_refused_naming_the_limit(tenant: Tenant, settings: Any) -> None:
    settings.CSV_MAX_BYTES = 100
    content = (SAMPLES / "invoices.csv").read_bytes()
    empty, csv_too_large = upload(tenant, ("empty.csv", b""), ("invoices.csv", content))
    assert (empty.status, empty.message) == (ImportStatus.INVALID, UPLOAD_EMPTY)
    assert csv_too_large.message == FILE_TOO_LARGE.format(size=len(content), limit=100, setting="CSV_MAX_BYTES")
    settings.XML_MAX_BYTES, settings.PAYMENT_STATEMENT_MAX_BYTES = 150, 120
    [unread] = upload(tenant, ("huge.bin", b"x" * 151))  # no kind of file may be this large: not read
    assert unread.message == FILE_TOO_LARGE.format(size=151, limit=150, setting="XML_MAX_BYTES")
    assert ImportJob.objects.for_tenant(tenant).filter(content=b"").count() == 3


def test_nul_characters_are_problems_of_their_cells_and_shown_not_stored(tenant: Tenant, vendors: None) -> None:
    content = f"{HEADER}\nINV-1,Acme Industrial Supplies,EUR,2026-10-01,10.00,Bo\x00lts,1,10.00\n".encode()
    [job] = upload(tenant, ("nul.csv", content))
    assert job.status == ImportStatus.INVALID
    assert [(p["location"], p["messages"]) for p in job.problems] == [("row 2, column description", [NUL_REFUSED])]
    assert job.table["rows"][0]["cells"][5] == "Bo\u2400lts"  # jsonb cannot hold U+0000: shown as ␀


def test_non_utf8_csvs_are_read_as_windows_1252_with_a_warning_or_refused_clearly(
    tenant: Tenant, vendors: None
) -> None:
    latin = f"{HEADER}\nINV-1,Acme Industrial Supplies,EUR,2026-10-01,10.00,Rondelle é,1,10.00\n".encode("cp1252")
    [job] = upload(tenant, ("latin.csv", latin))
    assert job.status == ImportStatus.READY
    assert job.preview["warnings"] == [csv_reading.WARN_CP1252.format(offset=latin.index(b"\xe9"))]
    assert job.table["rows"][0]["cells"][5] == "Rondelle é"

    utf16 = "\ufeff" + HEADER + "\n"
    [refused] = upload(tenant, ("utf16.csv", utf16.encode("utf-16")), kind=ImportKind.INVOICES)
    assert (refused.status, refused.message) == (ImportStatus.INVALID, csv_reading.FILE_UTF16)
    undecodable = f"{HEADER}\n".encode() + b"INV-1,Acme\x81,EUR,2026-10-01,10.00,Bolts,1,10.00\n"
    [refused] = upload(tenant, ("bad.csv", undecodable))
    assert refused.message == csv_reading.FILE_UNDECODABLE.format(offset=undecodable.index(b"\x81"))


def test_an_unexpected_error_is_a_job_that_says_so(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(intake, "_kind_run", broken)
    [job] = upload(tenant, ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()))
    assert (job.status, job.message) == (ImportStatus.INVALID, intake.STEP_CRASHED.format(job_id=job.pk))


def test_an_upload_without_files_or_with_too_many_is_refused_whole(tenant: Tenant) -> None:
    with pytest.raises(intake.ImportRefused, match="Choose one or more files"):
        upload(tenant)
    with pytest.raises(intake.ImportRefused, match="At most 50 files"):
        upload(tenant, *[("a.csv", b"x")] * 51)
    with pytest.raises(intake.ImportRefused, match="Unknown kind"):
        upload(tenant, ("a.csv", b"x"), kind="spreadsheet")
    assert not ImportBatch.objects.for_tenant(tenant).exists()


# --- e-invoices and bank statements ---------------------------------------------------------------


def test_an_e_invoice_is_checked_and_imported_through_the_e_invoice_door(tenant: Tenant) -> None:
    [job] = upload(tenant, ("invoice.xml", UBL.read_bytes()))
    assert (job.status, job.kind) == (ImportStatus.READY, ImportKind.E_INVOICE)
    assert job.preview["document"]["number"] == "Snippet1"
    assert (job.preview["new"], job.preview["created_ids"]) == (1, [])
    assert not Invoice.objects.for_tenant(tenant).exists()
    job = import_all(tenant, job)
    invoice = Invoice.objects.for_tenant(tenant).get()
    assert (invoice.source, job.outcome["created_ids"]) == (InvoiceSource.XML, [str(invoice.pk)])
    assert invoice.invoice_number == "Snippet1"
    assert [link.pk for link in import_job_documents(tenant=tenant, job=job).created] == [invoice.pk]


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("ubl/base-example.xml", "Snippet1"),
        ("cii/CII_example1.xml", None),
        ("pdf/EN16931_Einfach.pdf", None),
    ],
)
def test_ubl_cii_and_factur_x_files_all_go_through_the_one_e_invoice_door(
    tenant: Tenant, name: str, number: str | None
) -> None:
    path = TESTS / "invoices" / "testdata" / name
    [job] = upload(tenant, (path.name, path.read_bytes()))
    assert (job.status, job.kind, job.preview["new"]) == (ImportStatus.READY, ImportKind.E_INVOICE, 1), job.message
    job = import_all(tenant, job)
    invoice = Invoice.objects.for_tenant(tenant).get()
    assert invoice.invoice_number == (number or job.preview["document"]["number"])
    kept = SourceFileDocument.objects.for_tenant(tenant).get(document_id=invoice.pk)
    assert job.outcome["source_file_id"] == str(kept.source_file_id)


def test_purchase_orders_then_their_receipts_link_to_their_pages(tenant: Tenant, vendors: None) -> None:
    [orders] = upload(tenant, ("orders.csv", (SAMPLES / "purchase-orders.csv").read_bytes()))
    orders = import_all(tenant, orders)
    assert {link.url_name for link in import_job_documents(tenant=tenant, job=orders).created} == {
        "web:purchase-order-detail"
    }
    # The receipts' check finds the POs now stored (checked before, it would name them missing).
    [receipts] = upload(tenant, ("receipts.csv", (SAMPLES / "goods-receipts.csv").read_bytes()))
    receipts = import_all(tenant, receipts)
    links = import_job_documents(tenant=tenant, job=receipts).created
    assert sorted(link.label for link in links) == ["GR-7781", "GR-7790"]
    assert {link.url_name for link in links} == {"web:receipt-detail"}


def test_an_mt940_statement_is_imported_through_statement_import(tenant: Tenant) -> None:
    path = TESTS / "payments" / "testdata" / "abnamro.sta"
    [job] = upload(tenant, (path.name, path.read_bytes()))
    assert (job.status, job.preview["format"]) == (ImportStatus.READY, "mt940"), job.message
    job = import_all(tenant, job)
    assert Payment.objects.for_tenant(tenant).count() == job.outcome["new"] > 0


def test_a_camt053_statement_is_previewed_with_its_money_then_imported(tenant: Tenant) -> None:
    [job] = upload(tenant, ("statement.xml", CAMT053.read_bytes()))
    assert (job.status, job.kind) == (ImportStatus.READY, ImportKind.BANK_STATEMENT)
    assert job.preview["format"] == "camt053" and job.preview["new"] == job.preview["documents"] > 0
    assert {total["direction"] for total in job.preview["totals"]} <= {"credit", "debit"}
    assert job.table["header"][:2] == ["Booked", "Amount"] and job.table["rows"]
    assert not Payment.objects.for_tenant(tenant).exists()

    job = import_all(tenant, job)
    payments = Payment.objects.for_tenant(tenant)
    assert payments.count() == job.outcome["new"] == job.preview["new"]
    assert job.outcome["import_id"] == str(StatementImport.objects.for_tenant(tenant).get().pk)
    links = import_job_documents(tenant=tenant, job=job)
    assert {link.pk for link in links.created} == set(payments.values_list("pk", flat=True))


def test_several_files_in_one_upload_are_each_their_own_job(tenant: Tenant, vendors: None) -> None:
    jobs = upload(
        tenant,
        ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()),
        ("statement.xml", CAMT053.read_bytes()),
        ("bad.csv", BAD_INVOICES.encode()),
    )
    assert [(job.kind, job.status) for job in jobs] == [
        (ImportKind.INVOICES, ImportStatus.READY),
        (ImportKind.BANK_STATEMENT, ImportStatus.READY),
        (ImportKind.INVOICES, ImportStatus.INVALID),
    ]
    assert intake.import_batch_import(tenant=tenant, batch=jobs[0].batch) == 2
    assert [reload(job).status for job in jobs] == [ImportStatus.IMPORTED, ImportStatus.IMPORTED, ImportStatus.INVALID]
    with pytest.raises(intake.ImportRefused, match="No file of this upload is ready"):
        intake.import_batch_import(tenant=tenant, batch=jobs[0].batch)


# --- large files: a worker, its claim, its progress -----------------------------------------------


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def record(func: str, *args: Any, **kwargs: Any) -> str:
        calls.append((func, *args))
        return uuid.uuid4().hex

    monkeypatch.setattr("django_q.tasks.async_task", record)
    return calls


def test_a_large_upload_is_checked_and_imported_by_a_worker(
    tenant: Tenant,
    vendors: None,
    settings: Any,
    queued: list[tuple[Any, ...]],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    settings.IMPORT_SYNC_MAX_BYTES = 100  # the sample is 600 bytes
    with django_capture_on_commit_callbacks(execute=True):
        [job] = upload(tenant, ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()))
    assert job.status == ImportStatus.CHECKING and job.preview == {}
    assert queued == [("review.intake.tasks.import_job_run", str(tenant.pk), str(job.pk))]

    assert import_job_run(str(tenant.pk), str(job.pk)) == f"import job {job.pk}: ready"
    assert import_job_run(str(tenant.pk), str(job.pk)).endswith("not waiting (done, or taken by another worker)")
    with django_capture_on_commit_callbacks(execute=True):
        job = import_all(tenant, job)
    assert job.status == ImportStatus.IMPORTING and len(queued) == 2
    import_job_run(str(tenant.pk), str(job.pk))
    job = reload(job)
    assert (job.status, job.rows_done, job.rows_total) == (ImportStatus.IMPORTED, 3, 3)
    assert Invoice.objects.for_tenant(tenant).count() == 2


def test_a_step_taken_by_a_worker_is_left_alone_unless_that_worker_is_long_gone(tenant: Tenant, settings: Any) -> None:
    from django.utils import timezone

    job = ImportJobFactory(tenant=tenant, status=ImportStatus.CHECKING, started_at=timezone.now())
    assert intake.import_job_work(tenant=tenant, job_id=job.pk) is None
    gone = timezone.now() - timezone.timedelta(seconds=settings.Q_CLUSTER["timeout"] + 1)
    ImportJob.objects.for_tenant(tenant).filter(pk=job.pk).update(started_at=gone)
    assert intake.import_job_work(tenant=tenant, job_id=job.pk) is not None
    job = reload(job)  # checked: the factory's file is a header without rows
    assert (job.status, job.preview["documents"]) == (ImportStatus.READY, 0)


def test_a_worker_that_cannot_be_reached_leaves_a_job_that_says_so(
    tenant: Tenant,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr("django_q.tasks.async_task", unreachable)
    settings.IMPORT_SYNC_MAX_BYTES = 0
    with django_capture_on_commit_callbacks(execute=True):
        [job] = upload(tenant, ("invoices.csv", (SAMPLES / "invoices.csv").read_bytes()))
    job = reload(job)
    assert (job.status, job.message) == (ImportStatus.INVALID, intake.WORKER_UNREACHABLE.format(step="checked"))


def test_another_tenants_upload_is_not_found(tenant: Tenant, other_tenant: Tenant) -> None:
    job = ImportJobFactory(tenant=other_tenant)
    assert import_batch_get(tenant=tenant, batch_id=job.batch_id) is None
    assert import_batch_get(tenant=other_tenant, batch_id=job.batch_id) == job.batch


@pytest.mark.django_db(transaction=True)
def test_progress_counts_are_seen_while_the_import_transaction_is_still_open() -> None:
    """The counts commit on a connection of their own: a reader sees them mid-import (module
    docstring of review.intake.progress), not only when the import's transaction ends."""
    import time

    from django.db import transaction

    from review.intake.progress import JobProgress
    from tests.factories import TenantFactory

    tenant = TenantFactory()
    job = ImportJobFactory(tenant=tenant, status=ImportStatus.IMPORTING)
    seen: tuple[int, int | None] = (0, None)
    with transaction.atomic():  # the import's transaction, still open while the counts are read
        tracker = JobProgress(tenant_id=tenant.pk, job_id=job.pk, interval=0.05)
        tracker.started(1001)  # physical lines: the header and 1,000 rows
        tracker.advanced(500)
        deadline = time.monotonic() + 5
        while seen != (500, 1000) and time.monotonic() < deadline:
            time.sleep(0.05)
            seen = ImportJob.objects.for_tenant(tenant).values_list("rows_done", "rows_total").get(pk=job.pk)
        tracker.close()
    assert seen == (500, 1000)
