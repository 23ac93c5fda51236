"""The Import page's writes: an upload becomes a batch of jobs, one per file; each job is checked
(a dry run) and then imported, in the request for small uploads, by a django-q2 worker otherwise.

Each kind of file goes to the one service its API endpoint calls, with the same arguments,
all-or-nothing rules and messages (`_kind_run`, the one dispatch): CSV documents to
source_files.services.csv_file_import (core.csv_reading, which keeps the file too), e-invoices to
invoices.ingest.e_invoices.e_invoice_import, bank statements to payments.services.statement_import.
A check is that service's dry run; an import is the same call for real, on the very bytes that
were checked (`ImportJob.content`).

A step is taken with a compare-and-set on `started_at` (STYLE.md: workers claim work), so a task
delivered twice runs once; a step taken longer ago than a task may live (Q_TIMEOUT) was lost
with its worker and may be taken again. An import and the job's `imported` state commit together.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.actors import Actor
from core.csv_reading import MAX_BYTES_SETTING as CSV_MAX_BYTES_SETTING
from core.csv_reading import Created, CsvDocument, CsvKind, Duplicate, csv_cells_read
from core.exceptions import DomainError
from core.http.uploads import FILE_TOO_LARGE, UPLOAD_EMPTY, UploadTooLarge, file_size_check
from core.money import from_minor, to_minor
from core.text import NUL
from invoices.ingest.csv_import import KINDS, InvoicesCsv
from invoices.ingest.e_invoices import e_invoice_import
from invoices.ingest.xml_reading import MAX_BYTES_SETTING as E_INVOICE_MAX_BYTES_SETTING
from payments.models import PaymentDirection
from payments.services import MAX_BYTES_SETTING as STATEMENT_MAX_BYTES_SETTING
from payments.services import statement_import
from payments.statements import parse_statement_file
from review.intake.kinds import import_kind_detect
from review.intake.progress import JobProgress
from review.models import IMPORT_WORKING, ImportBatch, ImportJob, ImportKind, ImportStatus
from source_files.services import csv_file_import
from tenants.models import Tenant

logger = logging.getLogger(__name__)

# Uploads up to this many bytes in all are checked and imported within the request.
SYNC_MAX_BYTES_SETTING = "IMPORT_SYNC_MAX_BYTES"
MAX_FILES_PER_UPLOAD = 50
SAMPLE_ROWS = 10
PROBLEM_ROWS_SHOWN = 200
FILENAME_MAX = 255

# The setting that bounds each kind of file: the one its API endpoint and its importer name.
SIZE_SETTINGS = {
    ImportKind.INVOICES: CSV_MAX_BYTES_SETTING,
    ImportKind.PURCHASE_ORDERS: CSV_MAX_BYTES_SETTING,
    ImportKind.GOODS_RECEIPTS: CSV_MAX_BYTES_SETTING,
    ImportKind.E_INVOICE: E_INVOICE_MAX_BYTES_SETTING,
    ImportKind.BANK_STATEMENT: STATEMENT_MAX_BYTES_SETTING,
}

# --- messages (tests assert on these) -----------------------------------------------------------
NO_FILES = "Choose one or more files to import."
TOO_MANY_FILES = "At most {limit} files at a time; this upload has {count}. Import them in parts."
KIND_INVALID = "Unknown kind of file {value!r}."
KIND_UNKNOWN = "Recon cannot tell what this file holds: it is {read_as}. Choose its kind and upload it again."
KIND_MISMATCH = (
    "You chose “{chosen}”, but this file is {read_as}: it holds {detected}. Nothing was checked; "
    "upload it again as “{detected}” or let Recon detect the kind."
)
STEP_CRASHED = (
    "Recon could not finish this file because of an unexpected error (logged for the operators as "
    "import job {job_id}). Nothing was imported."
)
WORKER_UNREACHABLE = "The background worker could not be reached, so this file was not {step}. Try again later."
NOTHING_READY = "No file of this upload is ready to import."

_ROW_LOCATION = re.compile(r"^row (\d+)(?:, column (.+))?$")
_NUL_SHOWN = "\u2400"  # ␀: jsonb cannot hold U+0000, and a clerk should see where it was


class ImportRefused(DomainError):
    """An upload the page cannot take at all (no file, too many files)."""


@dataclass(frozen=True)
class IncomingFile:
    """One uploaded file: its name as the browser sent it, and its bytes (seekable)."""

    name: str
    binary: IO[bytes]


@dataclass
class _StepResult:
    summary: dict[str, Any]
    table: dict[str, Any] = field(default_factory=dict)
    rows: int | None = None


def _storable(value: Any) -> Any:
    """`value` with every NUL character shown as ␀ (jsonb refuses U+0000)."""
    if isinstance(value, str):
        return value.replace(NUL, _NUL_SHOWN)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    return value


def import_actor(batch: ImportBatch) -> Actor:
    return Actor(kind=batch.actor_kind, id=batch.actor_id, label=batch.actor_label)


# --- an upload ----------------------------------------------------------------------------------


def _largest_limit() -> tuple[int, str]:
    return max((getattr(settings, setting), setting) for setting in SIZE_SETTINGS.values())


def _job_received(*, batch: ImportBatch, position: int, incoming: IncomingFile) -> ImportJob:
    """The job of one uploaded file: its kind decided and its size checked, or refused with why."""
    binary = incoming.binary
    binary.seek(0, io.SEEK_END)
    size = binary.tell()
    binary.seek(0)
    job = ImportJob(
        tenant_id=batch.tenant_id,
        batch=batch,
        position=position,
        filename=_storable(incoming.name.replace("\\", "/").rsplit("/", 1)[-1])[:FILENAME_MAX],
        size=size,
        status=ImportStatus.INVALID,
    )
    limit, setting = _largest_limit()
    if size == 0:
        job.message = UPLOAD_EMPTY
    elif size > limit:
        # Not read at all: no kind of file may be this large.
        job.message = FILE_TOO_LARGE.format(size=size, limit=limit, setting=setting)
    else:
        _job_kind_decide(job=job, binary=binary, chosen=batch.chosen_kind)
    if job.kind and not job.message:
        try:
            file_size_check(binary=binary, setting=SIZE_SETTINGS[ImportKind(job.kind)])
        except UploadTooLarge as exc:
            job.message = exc.message
    if not job.message:
        content = binary.read()
        binary.seek(0)
        job.content, job.sha256, job.status = content, hashlib.sha256(content).hexdigest(), ImportStatus.CHECKING
    job.finished_at = None if job.status == ImportStatus.CHECKING else timezone.now()
    job.save()
    return job


def _job_kind_decide(*, job: ImportJob, binary: IO[bytes], chosen: str) -> None:
    """The content decides where it can; the clerk's choice where it cannot (module docstring)."""
    reading = import_kind_detect(binary=binary)
    if reading.kind and reading.certain and chosen and chosen != reading.kind:
        job.message = KIND_MISMATCH.format(
            chosen=ImportKind(chosen).label, read_as=reading.read_as, detected=ImportKind(reading.kind).label
        )
        job.kind, job.kind_detected = reading.kind, True
    elif reading.kind and (reading.certain or not chosen):
        job.kind, job.kind_detected = reading.kind, True
    elif chosen:
        job.kind = chosen
    else:
        job.message = KIND_UNKNOWN.format(read_as=reading.read_as)


def import_batch_create(
    *, tenant: Tenant, actor: Actor, files: Sequence[IncomingFile], chosen_kind: str
) -> ImportBatch:
    """Take an upload: one job per file, each refused at once (empty, too large, of no known kind,
    not the kind chosen) or checked — now while the upload's running total stays within
    IMPORT_SYNC_MAX_BYTES, by a worker for the rest."""
    if not files:
        raise ImportRefused(NO_FILES)
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise ImportRefused(TOO_MANY_FILES.format(limit=MAX_FILES_PER_UPLOAD, count=len(files)))
    if chosen_kind and chosen_kind not in ImportKind.values:
        raise ImportRefused(KIND_INVALID.format(value=chosen_kind))
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            tenant=tenant,
            actor_kind=actor.kind,
            actor_id=str(actor.id)[:64],
            actor_label=actor.label[:150],
            chosen_kind=chosen_kind,
        )
        jobs = [
            _job_received(batch=batch, position=position, incoming=incoming) for position, incoming in enumerate(files)
        ]
    _steps_start(tenant=tenant, jobs=[job for job in jobs if job.status == ImportStatus.CHECKING])
    return batch


def import_batch_import(*, tenant: Tenant, batch: ImportBatch, job_id: uuid.UUID | None = None) -> int:
    """Import every file of `batch` that its check found ready (or only `job_id`); how many began.

    Each file is imported on its own, all or nothing, as its API endpoint would; a file that is
    not ready (or already taken by another click) is left as it is.
    """
    ready = ImportJob.objects.for_tenant(tenant).filter(batch=batch, status=ImportStatus.READY)
    if job_id is not None:
        ready = ready.filter(pk=job_id)
    taken = []
    for job in ready.defer("content"):
        # Compare-and-set: two clicks (or two clerks) import a file once.
        moved = (
            ImportJob.objects.for_tenant(tenant)
            .filter(pk=job.pk, status=ImportStatus.READY)
            .update(status=ImportStatus.IMPORTING, started_at=None, finished_at=None, rows_done=0, message="")
        )
        if moved:
            job.status = ImportStatus.IMPORTING
            taken.append(job)
    if not taken:
        raise ImportRefused(NOTHING_READY)
    _steps_start(tenant=tenant, jobs=taken)
    return len(taken)


def _steps_start(*, tenant: Tenant, jobs: Sequence[ImportJob]) -> None:
    budget = getattr(settings, SYNC_MAX_BYTES_SETTING)
    for job in jobs:
        if job.size <= budget:
            budget -= job.size
            import_job_work(tenant=tenant, job_id=job.pk)
        else:
            callback = functools.update_wrapper(functools.partial(_enqueue, str(tenant.pk), str(job.pk)), _enqueue)
            transaction.on_commit(callback, robust=True)


def _enqueue(tenant_id: str, job_id: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task("review.intake.tasks.import_job_run", tenant_id, job_id, task_name=f"import-{job_id}")
    except Exception:
        logger.exception("Could not queue import job %s", job_id)
        job = ImportJob.objects.for_tenant(tenant_id).defer("content").get(pk=job_id)
        checking = job.status == ImportStatus.CHECKING
        _job_refused(
            job=job,
            message=WORKER_UNREACHABLE.format(step="checked" if checking else "imported"),
            problems=[],
            table={},
        )


# --- a step: the check or the import ------------------------------------------------------------


def import_job_work(*, tenant: Tenant, job_id: uuid.UUID | str, progress: bool = False) -> ImportJob | None:
    """Take the job's current step (check or import) and run it to its end; None when it is not
    waiting (done, or another worker has it). `progress`: write the counts as it goes."""
    now = timezone.now()
    lost_before = now - dt.timedelta(seconds=cast(int, settings.Q_CLUSTER["timeout"]))
    claimed = (
        ImportJob.objects.for_tenant(tenant)
        .filter(pk=job_id, status__in=IMPORT_WORKING)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=lost_before))
        .update(started_at=now)
    )
    if not claimed:
        return None
    job = ImportJob.objects.for_tenant(tenant).select_related("batch").get(pk=job_id)
    job.tenant = tenant
    dry_run = job.status == ImportStatus.CHECKING
    tracker = JobProgress(tenant_id=tenant.pk, job_id=job.pk) if progress else None
    binary = io.BytesIO(bytes(job.content))
    try:
        with transaction.atomic():
            try:
                result = _kind_run(job=job, binary=binary, dry_run=dry_run, tracker=tracker)
            finally:
                if tracker is not None:
                    tracker.close()
            _job_succeeded(job=job, result=result, dry_run=dry_run)
    except DomainError as exc:
        _job_refused(job=job, message=exc.message, problems=_problems_of(exc), table=_problem_rows(exc, binary))
    except Exception:
        logger.exception("Import job %s failed", job.pk)
        _job_refused(job=job, message=STEP_CRASHED.format(job_id=job.pk), problems=[], table={})
    return job


# What a step's end writes; `content` only where the bytes go (a ready file keeps them unrewritten).
_STEP_FIELDS = ["status", "message", "problems", "rows_done", "rows_total", "finished_at", "updated_at"]


def _job_succeeded(*, job: ImportJob, result: _StepResult, dry_run: bool) -> None:
    job.finished_at = timezone.now()
    job.message, job.problems = "", []
    if result.rows is not None:
        job.rows_done = job.rows_total = result.rows
    if dry_run:
        job.status, job.preview, job.table = ImportStatus.READY, _storable(result.summary), _storable(result.table)
        job.save(update_fields=[*_STEP_FIELDS, "preview", "table"])
        return
    # The original is kept by source_files from now on, linked to what it created.
    job.status, job.outcome, job.content = ImportStatus.IMPORTED, _storable(result.summary), b""
    job.save(update_fields=[*_STEP_FIELDS, "outcome", "content"])


def _job_refused(*, job: ImportJob, message: str, problems: list[dict[str, Any]], table: dict[str, Any]) -> None:
    """Nothing was written: the job says why, where, and shows the rows concerned."""
    job.status = ImportStatus.INVALID if job.status == ImportStatus.CHECKING else ImportStatus.FAILED
    job.message, job.problems, job.table = _storable(message), _storable(problems), _storable(table)
    job.content, job.finished_at = b"", timezone.now()
    job.save(update_fields=[*_STEP_FIELDS, "table", "content"])


# --- the one dispatch: which service reads which kind -------------------------------------------


def _kind_run(*, job: ImportJob, binary: IO[bytes], dry_run: bool, tracker: JobProgress | None) -> _StepResult:
    actor = import_actor(job.batch)
    tenant = job.tenant
    if job.kind in KINDS:
        return _csv_documents(job=job, binary=binary, actor=actor, dry_run=dry_run, tracker=tracker)
    if job.kind == ImportKind.E_INVOICE:
        outcome = e_invoice_import(tenant=tenant, binary=binary, filename=job.filename, actor=actor, dry_run=dry_run)
        invoice = outcome.invoice
        summary: dict[str, Any] = {
            "documents": 1,
            "new": int(outcome.created),
            "duplicates": int(not outcome.created),
            "totals": [_total(invoice.currency, invoice.total_amount)] if outcome.created and invoice.currency else [],
            "document": {
                # A PDF with no e-invoice inside: kept in a draft for a clerk to type in.
                "needs_entry": outcome.needs_entry,
                "number": invoice.invoice_number,
                "document_type": invoice.document_type,
                "vendor": invoice.vendor.name if invoice.vendor is not None else invoice.vendor_name_raw,
                "invoice_date": invoice.invoice_date.isoformat() if invoice.invoice_date else None,
                "lines": len(invoice.lines.all()),
            },
            # In a dry run the new invoice's id is no row's; a duplicate's is the stored one.
            "created_ids": [str(invoice.pk)] if outcome.created and not dry_run else [],
            "duplicate_ids": [] if outcome.created else [str(invoice.pk)],
            "source_file_id": str(outcome.source_file.pk) if outcome.source_file else None,
        }
        return _StepResult(summary=summary)
    report = statement_import(tenant=tenant, binary=binary, filename=job.filename, actor=actor, dry_run=dry_run)
    summary = {
        "documents": report.entries,
        "statements": report.statements,
        "format": report.format,
        "new": report.created,
        "duplicates": report.duplicates,
        "warnings": report.warnings,
        "import_id": report.import_id,
    }
    table: dict[str, Any] = {}
    if dry_run:
        summary["totals"], table = _statement_preview(binary)
    return _StepResult(summary=summary, table=table, rows=report.entries)


def _tallying(kind: type[CsvKind], totals: dict[str, int]) -> type[CsvKind]:
    """`kind`, adding up the stated total of every invoice it creates, by currency (the other
    kinds state no amount): what a preview shows beside the counts."""
    if kind is not InvoicesCsv:
        return kind

    class Tallying(InvoicesCsv):
        def create_many(self, documents: list[CsvDocument]) -> list[Created | Duplicate | DomainError]:
            outcomes = super().create_many(documents)
            for document, outcome in zip(documents, outcomes, strict=True):
                if isinstance(outcome, Created):
                    # The door stored it, so its total fits its currency: to_minor cannot refuse it here.
                    currency = document.header("currency", "")
                    totals[currency] = totals.get(currency, 0) + to_minor(document.header("total_amount"), currency)
            return outcomes

    return Tallying


def _csv_documents(
    *, job: ImportJob, binary: IO[bytes], actor: Actor, dry_run: bool, tracker: JobProgress | None
) -> _StepResult:
    totals: dict[str, int] = {}
    kind = _tallying(KINDS[job.kind], totals)(tenant=job.tenant, actor=actor)
    # The one call that imports a CSV file and keeps it (source_files), as the API's action does.
    report, source_file = csv_file_import(
        kind=kind,
        binary=binary,
        filename=job.filename,
        dry_run=dry_run,
        progress=tracker.advanced if tracker else None,
        on_start=tracker.started if tracker else None,
    )
    summary = {
        "rows": report.rows,
        "documents": report.documents,
        "new": len(report.created_ids),
        "duplicates": len(report.duplicates),
        "totals": [_total(currency, minor) for currency, minor in sorted(totals.items())],
        "warnings": report.warnings,
        "created_ids": [] if dry_run else report.created_ids,
        "duplicate_ids": [duplicate["id"] for duplicate in report.duplicates],
        "source_file_id": str(source_file.pk) if source_file else None,
    }
    table: dict[str, Any] = {}
    if dry_run:
        cells = csv_cells_read(binary=binary, first=SAMPLE_ROWS)
        table = _table(cells.header, cells.rows)
    return _StepResult(summary=summary, table=table, rows=report.rows)


def _total(currency: str, minor: int, direction: str = "") -> dict[str, Any]:
    return {"currency": currency, "minor": minor, "direction": direction}


def _table(header: list[str], rows: dict[int, list[str]]) -> dict[str, Any]:
    return {"header": header, "rows": [{"number": number, "cells": cells} for number, cells in sorted(rows.items())]}


def _statement_preview(binary: IO[bytes]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Money in and out per currency, and the first entries, of a statement the dry run read."""
    parsed = parse_statement_file(binary)
    sums: dict[tuple[str, str], int] = {}
    for entry in parsed.entries:
        sums[(entry.currency, entry.direction)] = sums.get((entry.currency, entry.direction), 0) + entry.amount
    totals = [_total(currency, minor, direction) for (currency, direction), minor in sorted(sums.items())]
    directions = dict(PaymentDirection.choices)
    rows = {
        number: [
            entry.booking_date.isoformat(),
            f"{from_minor(entry.amount, entry.currency):,} {entry.currency}",
            directions.get(entry.direction, entry.direction),
            entry.counterparty_name,
            entry.remittance_text,
        ]
        for number, entry in enumerate(parsed.entries[:SAMPLE_ROWS], start=1)
    }
    return totals, _table(["Booked", "Amount", "Direction", "Counterparty", "Remittance"], rows)


# --- problems, where they are -------------------------------------------------------------------


def _problems_of(exc: DomainError) -> list[dict[str, Any]]:
    """The exception's problems by location, as the API lists them in `details` (its list values;
    the others — truncation counts, an XML line and column, a root — are facts about the list)."""
    problems = []
    for location, messages in exc.details.items():
        if not isinstance(messages, list):
            continue
        match = _ROW_LOCATION.match(str(location))
        problems.append(
            {
                "location": str(location),
                "row": int(match.group(1)) if match else None,
                "column": match.group(2) if match else None,
                "messages": [str(message) for message in messages],
            }
        )
    return problems or [{"location": "file", "row": None, "column": None, "messages": [exc.message]}]


def _problem_rows(exc: DomainError, binary: IO[bytes]) -> dict[str, Any]:
    """The CSV rows the problems name (`row 7, column quantity`), as the file has them."""
    numbers = sorted({problem["row"] for problem in _problems_of(exc) if problem["row"]})[:PROBLEM_ROWS_SHOWN]
    if not numbers:
        return {}
    cells = csv_cells_read(binary=binary, rows=numbers)
    return _table(cells.header, {number: cells.rows[number] for number in numbers if number in cells.rows})
