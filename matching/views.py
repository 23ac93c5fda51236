"""The matching runs page: recent runs with counts, durations and failures; start a run."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from core.http.listing import list_page
from matching.models import MatchRun
from matching.selectors import match_run_list
from matching.services import matching_run_request
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of
from tenants.models import Tenant

PAGE_SIZE = 25
RUN_QUEUED = "Matching run queued; it starts in the background in a moment."
RUN_NOT_ALLOWED = "Only an approver or an administrator can start a matching run."


def _runs_context(tenant: Tenant, query: QueryDict) -> dict[str, Any]:
    runs = match_run_list(tenant=tenant).order_by("-created_at", "id")
    page = list_page(query=query, queryset=runs, per_page=PAGE_SIZE).page
    active = any(run.status in (MatchRun.Status.QUEUED, MatchRun.Status.RUNNING) for run in page.object_list)
    return {"page": page, "active": active, "nav": "runs"}


@tenant_view
def match_run_index(request: HttpRequest) -> HttpResponse:
    context = _runs_context(web_of(request).tenant, request.GET)
    # The table refreshes itself through htmx while a run is queued or running.
    if request.htmx:
        return render(request, "matching/_runs_table.html", context)
    return render(request, "matching/runs.html", context)


@tenant_view
@post_only(back="web:runs", back_label="the matching runs")
def match_run_start(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    # Checked here, not only by hiding the button: a clerk's hand-made POST is refused too.
    if not web.is_approver:
        messages.error(request, RUN_NOT_ALLOWED)
        return render(request, "matching/runs.html", _runs_context(web.tenant, QueryDict()), status=403)
    matching_run_request(tenant=web.tenant, actor=web.actor)
    messages.success(request, RUN_QUEUED)
    return redirect("web:runs")
