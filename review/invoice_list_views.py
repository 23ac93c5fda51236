"""The invoice list's pages: the list itself, its CSV and XLSX exports (a large XLSX written in
the background, review.export_jobs: its page and its file), and the clerk's saved views (save,
open, rename, delete).

Thin views over review.invoice_list (what the query string asks for, the query, the rows),
review.invoice_export (the files) and review.saved_views (the audited writes). The list is read
in a fixed number of queries whatever the page size: the count, the page's ids, their rows with
vendor, PO and discrepancies, the vendors for the filter and the user's views.
"""

from __future__ import annotations

import datetime as dt
import io
import uuid
from dataclasses import replace

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from core.exceptions import DomainError, NotFoundError
from core.http.listing import list_page, list_sort
from invoices.models import DocumentType, InvoiceSource, InvoiceStatus, ReviewQueue
from review.assignments import assignee_choices, invoice_sla, review_sla_days
from review.export_jobs import export_in_background, export_job_create, export_jobs_of, export_keep_days
from review.invoice_export import XLSX_CONTENT_TYPE, invoice_csv_response, invoice_export_rows, invoice_xlsx_response
from review.invoice_list import (
    DEFAULT_SORT,
    INVOICE_LIST_SORTS,
    PER_PAGE_CHOICES,
    InvoiceListForm,
    discrepancy_type_choices,
    invoice_list,
    invoice_list_page_ids,
    invoice_list_page_rows,
    invoice_list_query,
)
from review.models import ExportJob, ExportStatus
from review.people import active_members
from review.saved_views import (
    saved_view_create,
    saved_view_delete,
    saved_view_get,
    saved_view_list,
    saved_view_rename,
)
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of
from vendors.selectors import vendor_list

SAVED = "View {name!r} saved."
RENAMED = "View renamed to {name!r}."
DELETED = "View {name!r} deleted."


def _list_url(query: str) -> str:
    return reverse("web:invoices") + (f"?{query}" if query else "")


@tenant_view
def invoice_index(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    form = InvoiceListForm(request.GET, auto_id="f-%s")
    sort = list_sort(query=request.GET, sorts=INVOICE_LIST_SORTS, default_sort=DEFAULT_SORT)
    invoices = invoice_list(tenant=web.tenant, filters=form.filters(me=request.user.pk), sort=sort)
    listed = list_page(
        query=request.GET,
        queryset=invoices.values_list("pk", flat=True),
        per_page=form.page_size(),
        sorts=INVOICE_LIST_SORTS,
        default_sort=DEFAULT_SORT,
    )
    page = listed.page
    sla_days, today = review_sla_days(web.tenant), timezone.localdate()
    page.object_list = [
        replace(
            row,
            sla=invoice_sla(
                status=row.status, received_at=row.received_at, due_date=row.due_date, sla_days=sla_days, today=today
            ),
        )
        for row in invoice_list_page_rows(tenant=web.tenant, invoice_ids=invoice_list_page_ids(page=page))
    ]
    query = invoice_list_query(form=form, sort=listed.sort)
    saved_views = list(saved_view_list(tenant=web.tenant, user=request.user))
    context = {
        "form": form,
        "chosen_statuses": set(form["status"].value() or ()),
        "statuses": InvoiceStatus.choices,
        "queues": ReviewQueue.choices,
        "sources": InvoiceSource.choices,
        "document_types": DocumentType.choices,
        "discrepancy_types": discrepancy_type_choices(),
        "per_page_choices": PER_PAGE_CHOICES,
        "vendors": vendor_list(tenant=web.tenant).order_by("name").values_list("pk", "name"),
        "assignees": assignee_choices(active_members(web.tenant))[1:],
        "page": page,
        "sort": listed.sort,
        "query": query,
        "saved_views": saved_views,
        "active_view": next((view for view in saved_views if view.query == query), None),
        "xlsx_in_background": export_in_background(rows=page.paginator.count),
        "nav": "invoices",
    }
    # htmx swaps only the results (and the saved views beside them) when a filter, sort or page changes.
    if request.htmx and request.htmx.target == "invoice-results":
        return render(request, "invoices/_list_results.html", context)
    return render(request, "invoices/list.html", context)


def _export_rows(request: HttpRequest) -> QuerySet:
    return invoice_export_rows(tenant=web_of(request).tenant, query=request.GET, me=request.user.pk)


def _export_name() -> str:
    return f"invoices-{timezone.now():%Y%m%d-%H%M}"


@tenant_view
def invoice_export_csv(request: HttpRequest) -> HttpResponseBase:
    """Every row the list shows with this query string (all pages), as CSV."""
    return invoice_csv_response(tenant=web_of(request).tenant, invoices=_export_rows(request), filename=_export_name())


@tenant_view
def invoice_export_xlsx(request: HttpRequest) -> HttpResponseBase:
    """Every row the list shows with this query string (all pages), as XLSX; past
    EXPORT_SYNC_MAX_ROWS rows, a page offering to write it in the background (the list's own
    button posts straight to `invoice_export_start`)."""
    rows = _export_rows(request)
    count = rows.count()
    if export_in_background(rows=count):
        query = invoice_list_query(
            form=InvoiceListForm(request.GET),
            sort=list_sort(query=request.GET, sorts=INVOICE_LIST_SORTS, default_sort=DEFAULT_SORT),
        )
        return render(request, "review/export_start.html", {"query": query, "count": count, "nav": "invoices"})
    return invoice_xlsx_response(tenant=web_of(request).tenant, invoices=rows, filename=_export_name())


@tenant_view
@post_only(back="web:invoices", back_label="the invoices")
def invoice_export_start(request: HttpRequest) -> HttpResponse:
    """Have a worker write the XLSX of the list the form was posted from; its page follows it."""
    web = web_of(request)
    job = export_job_create(tenant=web.tenant, user=request.user, query=_shown_query(request), filename=_export_name())
    return redirect("web:invoice-export", export_id=job.pk)


def _export_job(request: HttpRequest, export_id: uuid.UUID) -> ExportJob:
    job = export_jobs_of(tenant=web_of(request).tenant, user=request.user).filter(pk=export_id).first()
    if job is None:
        raise Http404
    return job


@tenant_view
def invoice_export_job(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    """A background export: its progress (htmx polls it every second while it works), then its file."""
    job = _export_job(request, export_id)
    kept_until = job.created_at + dt.timedelta(days=export_keep_days())
    context = {"job": job, "list_url": _list_url(job.query), "kept_until": kept_until, "nav": "invoices"}
    if request.htmx:
        return render(request, "review/_export_job.html", context)
    return render(request, "review/export_job.html", context)


@tenant_view
def invoice_export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    """The file a background export wrote, to the member who asked for it."""
    job = _export_job(request, export_id)
    if job.status != ExportStatus.DONE:
        raise Http404
    content = ExportJob.objects.for_tenant(job.tenant_id).values_list("content", flat=True).get(pk=job.pk)
    return FileResponse(
        io.BytesIO(bytes(content)), as_attachment=True, filename=job.filename, content_type=XLSX_CONTENT_TYPE
    )


@tenant_view
@post_only(back="web:invoices", back_label="the invoices")
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list as it is shown, under the name the clerk gave it."""
    web = web_of(request)
    query = _shown_query(request)
    try:
        saved = saved_view_create(
            tenant=web.tenant, user=request.user, actor=web.actor, name=request.POST.get("name", ""), query=query
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_list_url(query))
    messages.success(request, SAVED.format(name=saved.name))
    return redirect(_list_url(saved.query))


@tenant_view
def saved_view_open(request: HttpRequest, saved_view_id: uuid.UUID) -> HttpResponse:
    """The list with the view's filters and sort (a plain URL: bookmark it, share it, go back)."""
    web = web_of(request)
    try:
        saved = saved_view_get(tenant=web.tenant, user=request.user, saved_view_id=saved_view_id)
    except NotFoundError as exc:
        raise Http404 from exc
    return redirect(_list_url(saved.query))


def _own_saved_views(request: HttpRequest) -> QuerySet:
    """The views a member may address by id, their own (a colleague's is a 404 as another
    tenant's): what a rename or delete form's address opened by GET is checked against before it
    is redirected to the list."""
    return saved_view_list(tenant=web_of(request).tenant, user=request.user)


@tenant_view
@post_only(back="web:invoices", back_label="the invoices", owned=("saved_view_id", _own_saved_views))
def saved_view_rename_view(request: HttpRequest, saved_view_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    try:
        saved = saved_view_rename(
            tenant=web.tenant,
            user=request.user,
            actor=web.actor,
            saved_view_id=saved_view_id,
            name=request.POST.get("name", ""),
        )
    except NotFoundError as exc:
        raise Http404 from exc
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_list_url(_shown_query(request)))
    messages.success(request, RENAMED.format(name=saved.name))
    return redirect(_list_url(_shown_query(request)))


@tenant_view
@post_only(back="web:invoices", back_label="the invoices", owned=("saved_view_id", _own_saved_views))
def saved_view_delete_view(request: HttpRequest, saved_view_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    try:
        deleted = saved_view_delete(tenant=web.tenant, user=request.user, actor=web.actor, saved_view_id=saved_view_id)
    except NotFoundError as exc:
        raise Http404 from exc
    messages.success(request, DELETED.format(name=deleted.name))
    return redirect(_list_url(_shown_query(request)))


def _shown_query(request: HttpRequest) -> str:
    """The canonical query of the list the form was posted from: its `query` field read through
    the list's form again, so only the list's own filters are stored or put in an address."""
    query = QueryDict(request.POST.get("query", ""))
    sort = list_sort(query=query, sorts=INVOICE_LIST_SORTS, default_sort=DEFAULT_SORT)
    return invoice_list_query(form=InvoiceListForm(query), sort=sort)
