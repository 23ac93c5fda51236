"""The Import page's views: upload (one file or many, by file input or dropped), the upload's page
(each file's check, then its import, then what it created), polled by htmx while a file is being
checked or imported.

Any member may look at what came in; only a clerk or an administrator may upload or import
(tenants.http.web.IMPORTER_ROLES), checked here on every POST, not only by hiding the form. An
upload of another tenant is a 404 before any role check, as for one that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.http.listing import list_page
from review.intake.display import JobLayout, job_layout
from review.intake.selectors import JobDocuments, import_batch_get, import_batch_list, import_job_documents
from review.intake.services import (
    MAX_FILES_PER_UPLOAD,
    ImportRefused,
    IncomingFile,
    import_batch_create,
    import_batch_import,
)
from review.models import ImportBatch, ImportJob, ImportKind, ImportStatus
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of

PAGE_SIZE = 20
FILE_FIELD = "files"
IMPORTERS_ONLY = "Only a clerk or an administrator can import files."
IMPORTING = "Importing {count} file(s)."


def _importer(web: WebContext) -> None:
    if not web.can_import:
        raise PermissionDenied(IMPORTERS_ONLY)


# What one document of each kind is called in a card's counts.
DOCUMENT_NOUNS = {
    ImportKind.INVOICES: "invoice",
    ImportKind.PURCHASE_ORDERS: "purchase order",
    ImportKind.GOODS_RECEIPTS: "goods receipt",
    ImportKind.E_INVOICE: "invoice",
    ImportKind.BANK_STATEMENT: "payment",
}


INVOICE_KINDS = (ImportKind.INVOICES, ImportKind.E_INVOICE)


@dataclass(frozen=True)
class JobShown:
    """A file as its card shows it: the job, its rows beside their problems, what it created."""

    job: ImportJob
    layout: JobLayout
    documents: JobDocuments | None

    @property
    def summary(self) -> dict[str, Any]:
        """What the import did once it has, else what the check found."""
        return self.job.outcome if self.job.status == ImportStatus.IMPORTED else self.job.preview

    @property
    def invoice_list_url(self) -> str:
        """The invoice list showing the invoices this file created, once it created some."""
        created_from = self.job.outcome.get("source_file_id")
        if self.job.kind not in INVOICE_KINDS or not created_from or not self.job.outcome.get("created_ids"):
            return ""
        return f"{reverse('web:invoices')}?{urlencode({'file': created_from})}"

    @property
    def noun(self) -> str:
        return DOCUMENT_NOUNS.get(ImportKind(self.job.kind), "document") if self.job.kind else "document"


def _index_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    web = web_of(request)
    page = list_page(query=request.GET, queryset=import_batch_list(tenant=web.tenant), per_page=PAGE_SIZE).page
    return {
        "page": page,
        "kinds": ImportKind.choices,
        "max_files": MAX_FILES_PER_UPLOAD,
        "importers_only": IMPORTERS_ONLY,
        "nav": "imports",
        **extra,
    }


@tenant_view
def import_index(request: HttpRequest) -> HttpResponse:
    """GET: the upload form and the recent uploads. POST: take the files, check them, show the upload."""
    web = web_of(request)
    if request.method != "POST":
        return render(request, "review/imports.html", _index_context(request))
    _importer(web)
    chosen_kind = request.POST.get("kind", "")
    files = [IncomingFile(name=upload.name or "", binary=upload) for upload in request.FILES.getlist(FILE_FIELD)]
    try:
        batch = import_batch_create(tenant=web.tenant, actor=web.actor, files=files, chosen_kind=chosen_kind)
    except ImportRefused as exc:
        context = _index_context(request, error=exc.message, chosen_kind=chosen_kind)
        return render(request, "review/imports.html", context, status=400)
    return redirect("web:import-batch", batch_id=batch.pk)


def _batch_context(request: HttpRequest, batch: ImportBatch) -> dict[str, Any]:
    tenant = web_of(request).tenant
    jobs = list(batch.jobs.all())
    shown = [
        JobShown(
            job=job,
            layout=job_layout(job),
            documents=import_job_documents(tenant=tenant, job=job) if job.status == ImportStatus.IMPORTED else None,
        )
        for job in jobs
    ]
    return {
        "batch": batch,
        "jobs": shown,
        "working": any(job.working for job in jobs),
        "ready": sum(job.status == ImportStatus.READY for job in jobs),
        "nav": "imports",
    }


def _batch(request: HttpRequest, batch_id: uuid.UUID) -> ImportBatch:
    batch = import_batch_get(tenant=web_of(request).tenant, batch_id=batch_id)
    if batch is None:
        raise Http404
    return batch


@tenant_view
def import_batch_detail(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    """The upload's files: checked, ready, imported, or what stopped them. htmx polls the cards
    every second while a file is being checked or imported (`_import_jobs.html`)."""
    context = _batch_context(request, _batch(request, batch_id))
    if request.htmx:
        return render(request, "review/_import_jobs.html", context)
    return render(request, "review/import_batch.html", context)


@tenant_view
@post_only(back="web:import-batch", back_label="the import", back_kwargs=("batch_id",), back_model=ImportBatch)
def import_batch_run(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    """Import every file of the upload that is ready, or the one the form names (`job`)."""
    batch = _batch(request, batch_id)
    web = web_of(request)
    _importer(web)
    try:
        job_id = uuid.UUID(request.POST["job"]) if request.POST.get("job") else None
    except ValueError:
        job_id = None
    try:
        count = import_batch_import(tenant=web.tenant, batch=batch, job_id=job_id)
    except ImportRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, IMPORTING.format(count=count))
    return redirect("web:import-batch", batch_id=batch.pk)
