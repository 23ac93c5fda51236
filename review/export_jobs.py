"""XLSX exports of the invoice list too large for a request, written by a django-q2 worker.

An XLSX is a zip written whole before a byte of it can be sent, and 100,000 rows take ~30 s of
CPU (past gunicorn's timeout). So a list of more rows than EXPORT_SYNC_MAX_ROWS is exported as a
job (review.models.ExportJob): the clerk's list is kept as its canonical query string, a worker
reads that list again (the same form, filters and sort as the page: the same rows) and writes the
file with review.invoice_export's writer, counting its rows on the job as it goes, and the page
follows the counts until it offers the file. CSV streams whatever its size and needs no job.

A job is claimed with a compare-and-set on `started_at` (STYLE.md: workers claim work), so a
task delivered twice writes the file once; a job taken longer ago than a task may live
(Q_TIMEOUT) was lost with its worker and may be taken again.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import uuid
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from review.invoice_export import invoice_export_rows, invoice_xlsx_write
from review.models import EXPORT_WORKING, ExportJob, ExportStatus
from tenants.models import Tenant

logger = logging.getLogger(__name__)

SYNC_MAX_ROWS_SETTING = "EXPORT_SYNC_MAX_ROWS"

# --- messages (tests assert on these) -----------------------------------------------------------
WORKER_UNREACHABLE = "The background worker could not be reached, so the file was not written. Try again later."
EXPORT_CRASHED = (
    "Recon could not write this file because of an unexpected error (logged for the operators as "
    "export job {job_id}). Export the list again, or as CSV."
)


def export_in_background(*, rows: int) -> bool:
    """Whether an XLSX of this many rows is written by a worker rather than within the request."""
    return rows > cast(int, getattr(settings, SYNC_MAX_ROWS_SETTING))


def export_job_create(*, tenant: Tenant, user: Any, query: str, filename: str) -> ExportJob:
    """Ask for the XLSX of the list this canonical query string shows; a worker writes it once the
    request's transaction commits."""
    job = ExportJob.objects.create(tenant=tenant, user=user, query=query, filename=f"{filename}.xlsx")
    callback = functools.update_wrapper(functools.partial(_enqueue, str(tenant.pk), str(job.pk)), _enqueue)
    transaction.on_commit(callback, robust=True)
    return job


def _enqueue(tenant_id: str, job_id: str) -> None:
    from django_q.tasks import async_task

    try:
        async_task("review.tasks.export_job_run", tenant_id, job_id, task_name=f"export-{job_id}")
    except Exception:
        logger.exception("Could not queue export job %s", job_id)
        ExportJob.objects.for_tenant(tenant_id).filter(pk=job_id, status=ExportStatus.WAITING).update(
            status=ExportStatus.FAILED, message=WORKER_UNREACHABLE, finished_at=timezone.now()
        )


def export_keep_days() -> int:
    return cast(int, settings.EXPORT_KEEP_DAYS)


def export_jobs_expire(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Delete the tenant's export jobs asked for more than EXPORT_KEEP_DAYS ago, with their files;
    how many. A job that old is done or failed (none works longer than a task may live), and its
    file is a copy of invoice data the list writes again on request, so nothing is lost but space."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=export_keep_days())
    deleted, _ = ExportJob.objects.for_tenant(tenant).filter(created_at__lt=cutoff).delete()
    return deleted


def export_jobs_of(*, tenant: Tenant, user: Any) -> QuerySet:
    """The member's own export jobs: no one else's, of this tenant or another."""
    return ExportJob.objects.for_tenant(tenant).filter(user=user).defer("content")


def export_job_work(*, tenant: Tenant, job_id: uuid.UUID | str) -> ExportJob | None:
    """Write the job's file; None when it is not waiting (done, or another worker has it)."""
    now = timezone.now()
    lost_before = now - dt.timedelta(seconds=cast(int, settings.Q_CLUSTER["timeout"]))
    claimed = (
        ExportJob.objects.for_tenant(tenant)
        .filter(pk=job_id, status__in=EXPORT_WORKING)
        .filter(Q(started_at__isnull=True) | Q(started_at__lt=lost_before))
        .update(status=ExportStatus.WORKING, started_at=now, rows_done=0)
    )
    if not claimed:
        return None
    job = ExportJob.objects.for_tenant(tenant).defer("content").get(pk=job_id)
    jobs = ExportJob.objects.for_tenant(tenant).filter(pk=job.pk, status=ExportStatus.WORKING)
    try:
        invoices = invoice_export_rows(tenant=tenant, query=QueryDict(job.query), me=job.user_id)
        jobs.update(rows_total=invoices.count())
        target = io.BytesIO()
        written = invoice_xlsx_write(
            tenant=tenant, invoices=invoices, target=target, on_rows=lambda rows: jobs.update(rows_done=rows)
        )
    except Exception:
        logger.exception("Export job %s failed", job.pk)
        jobs.update(
            status=ExportStatus.FAILED, message=EXPORT_CRASHED.format(job_id=job.pk), finished_at=timezone.now()
        )
    else:
        # The rows written are the ones counted unless invoices came or went in between: the file's own count wins.
        jobs.update(
            status=ExportStatus.DONE,
            content=target.getvalue(),
            rows_done=written,
            rows_total=written,
            finished_at=timezone.now(),
        )
    job.refresh_from_db(fields=["status", "rows_done", "rows_total", "message", "finished_at"])
    return job
