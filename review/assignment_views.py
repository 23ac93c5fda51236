"""The pages of who works what (review.assignments): the hand-over form of the invoice page and of
the queues' rows ("Assign to me"), and "My work" — the invoices and disputes a member has, the
most late first, with the daily digest e-mail switched on or off there."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from core.exceptions import DomainError
from invoices.models import Invoice, InvoiceStatus
from review.assignments import (
    ASSIGNED,
    CLAIMED,
    UNASSIGNED,
    assigned_invoices,
    invoice_assign,
    owned_disputes,
    review_sla_days,
    sla_of,
)
from review.digest import DIGEST_OFF, DIGEST_ON
from review.views import invoice_page, invoice_page_context
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of
from tenants.models import Membership
from tenants.services import membership_digest_set

MY_WORK_LIMIT = 200  # a member with more has a queue, not a desk: the lists link to the rest


def _back_url(request: HttpRequest) -> str | None:
    """The page of the app a row's button came from (`back`), or None for the invoice's page."""
    back = request.POST.get("back") or request.GET.get("back") or ""
    if back.startswith("/app/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return None


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_assign_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """POST: hand the invoice over. `claim` (a row's "Assign to me") takes an invoice the page
    showed as unassigned; otherwise `assignee` (a member's id, "" for nobody; "me", or the
    `assign_to_me` button, for oneself) replaces the `expected` one the page showed. A refusal
    on the invoice page re-renders it with the reason beside the picker; from a list (`back`),
    the list says it."""
    web = web_of(request)
    invoice = get_object_or_404(Invoice.objects.for_tenant(web.tenant), pk=invoice_id)
    claim = "claim" in request.POST
    mine = claim or "assign_to_me" in request.POST or request.POST.get("assignee") == "me"
    assignee = web.actor.id if mine else request.POST.get("assignee", "")
    expected: Any = "" if claim else request.POST.get("expected", ...)
    back = _back_url(request)
    try:
        updated = invoice_assign(
            tenant=web.tenant, invoice=invoice, actor=web.actor, assignee_id=assignee, expected_assignee_id=expected
        )
    except DomainError as exc:
        if back is None:
            context = invoice_page_context(request, invoice_id)
            context["assign_error"] = exc.message
            return invoice_page(request, context, status=exc.status_code)
        messages.error(request, f"{invoice.invoice_number}: {exc.message}")
        return redirect(back)
    number = updated.invoice_number
    if updated.assigned_to is None:
        messages.success(request, UNASSIGNED.format(number=number))
    elif str(updated.assigned_to_id) == web.actor.id:
        messages.success(request, CLAIMED.format(number=number))
    else:
        messages.success(request, ASSIGNED.format(number=number, name=updated.assigned_to.get_username()))
    return redirect(back or f"{invoice_page_url(invoice_id)}#work-title")


def invoice_page_url(invoice_id: uuid.UUID) -> str:
    return reverse("web:invoice-detail", kwargs={"invoice_id": invoice_id})


@tenant_view
def my_work(request: HttpRequest) -> HttpResponse:
    """The signed-in member's invoices and open disputes, each with its age, due date and lateness."""
    web = web_of(request)
    today = timezone.localdate()
    sla_days = review_sla_days(web.tenant)
    invoices = list(assigned_invoices(tenant=web.tenant, user_id=request.user.pk)[: MY_WORK_LIMIT + 1])
    for invoice in invoices:
        invoice.sla = sla_of(invoice, sla_days=sla_days, today=today)
    # The late first, then the oldest: what the member should open first is on top.
    invoices.sort(key=lambda invoice: (not invoice.sla.overdue, invoice.created_at))
    disputes = list(owned_disputes(tenant=web.tenant, user_id=request.user.pk)[: MY_WORK_LIMIT + 1])
    for dispute in disputes:
        dispute.overdue = dispute.due_date is not None and dispute.due_date < today
    # The request's own membership, read already by tenant_view (web.memberships).
    membership = next((own for own in web.memberships if own.tenant_id == web.tenant.pk), None)
    unassigned = (
        Invoice.objects.for_tenant(web.tenant)
        .filter(status=InvoiceStatus.PENDING_REVIEW, assigned_to__isnull=True)
        .count()
    )
    context = {
        "invoices": invoices[:MY_WORK_LIMIT],
        "more_invoices": len(invoices) > MY_WORK_LIMIT,
        "disputes": disputes[:MY_WORK_LIMIT],
        "more_disputes": len(disputes) > MY_WORK_LIMIT,
        "overdue_count": sum(invoice.sla.overdue for invoice in invoices) + sum(d.overdue for d in disputes),
        "unassigned_in_review": unassigned,
        "sla_days": sla_days,
        "digest_on": bool(membership and membership.digest_email),
        "has_email": bool(request.user.email),
        "nav": "my-work",
    }
    return render(request, "review/my_work.html", context)


@tenant_view
@post_only(back="web:my-work", back_label="My work")
def my_digest(request: HttpRequest) -> HttpResponse:
    """POST: the daily digest e-mail on (`digest=on`) or off, for the signed-in member."""
    web = web_of(request)
    on = request.POST.get("digest") == "on"
    membership = get_object_or_404(Membership.objects.for_tenant(web.tenant), user=request.user, is_active=True)
    try:
        membership_digest_set(tenant=web.tenant, actor=web.actor, membership=membership, on=on)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, DIGEST_ON if on else DIGEST_OFF)
    return redirect("web:my-work")
