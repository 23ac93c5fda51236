"""The "Payment runs" pages: the list with the proposal form, a run's page (its lines, the invoices
left out and why, remove / add back, approve, cancel) and its bank file's download.

Thin: every write is a payments.runs.services call; a refusal is shown beside its field (the
proposal form) or on top of the run's page with nothing written. Approving needs an approver or an
administrator who is not the proposer (the service refuses the proposer, whatever the role).
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import DomainError
from core.http.forms import currency_cleaned, date_input, errors_add
from core.http.listing import list_page
from core.money import MoneyError, to_minor
from payments.accounts import decrypt_account
from payments.models import PaymentFileFormat, PaymentRun, PaymentRunItem, PaymentRunStatus
from payments.runs import files
from payments.runs.services import (
    payment_run_approve,
    payment_run_cancel,
    payment_run_line_add,
    payment_run_line_remove,
    payment_run_propose,
)
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of
from tenants.models import Role

RUN_ROLES = frozenset({Role.CLERK, Role.APPROVER, Role.ADMIN})
APPROVE_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
NOT_AN_APPROVER = "Only an approver or an administrator approves a payment run."
PROPOSED = "Run proposed: {count} invoice(s), {excluded} left out (see why below)."
REMOVED = "Invoice removed from the run."
ADDED = "Invoice added to the run."
APPROVED = "Run approved: the invoices are scheduled for payment and the bank file is ready to download."
CANCELLED = "Run cancelled: its invoices are approved again and may be paid by another run."
NOTHING_WRITTEN = "Nothing was written."
NO_INVOICE = "Choose an invoice of the list."
MAX_TOTAL_FORMAT = "Type an amount such as 25000.00 in the run's currency."


class ProposeForm(forms.Form):
    due_by = forms.DateField(label="Pay invoices due by", widget=date_input())
    currency = forms.CharField(label="Currency", max_length=3, initial="EUR")
    max_total = forms.CharField(
        label="Maximum total", required=False, max_length=24, help_text="Optional, in the run's currency."
    )
    execution_date = forms.DateField(
        label="Execution date", required=False, widget=date_input(), help_text="When the bank pays; today if empty."
    )
    debtor_name = forms.CharField(label="Paying account holder", max_length=70)
    debtor_iban = forms.CharField(label="Paying account (IBAN)", max_length=64)
    debtor_bic = forms.CharField(label="Paying bank's BIC", max_length=32, required=False)
    file_format = forms.ChoiceField(
        label="File format", choices=PaymentFileFormat.choices, initial=PaymentFileFormat.PAIN_001_09
    )
    take_discounts = forms.BooleanField(
        label="Take every early-payment discount still available",
        required=False,
        initial=True,
        help_text="Pays those invoices their open amount less the discount, by the execution date.",
    )

    def clean_currency(self) -> str:
        return currency_cleaned(self.cleaned_data["currency"])


def _run_or_404(web: WebContext, run_id: uuid.UUID) -> PaymentRun:
    run = PaymentRun.objects.for_tenant(web.tenant).filter(pk=run_id).first()
    if run is None:
        raise Http404
    return run


def _initial(web: WebContext) -> dict[str, Any]:
    """The last run's paying account, so a clerk does not type it every time."""
    initial: dict[str, Any] = {"debtor_name": web.tenant.name[:70], "currency": "EUR"}
    last = PaymentRun.objects.for_tenant(web.tenant).order_by("-created_at").first()
    if last is not None:
        initial |= {
            "debtor_name": last.debtor_name,
            "debtor_iban": decrypt_account(last.debtor_account_encrypted),
            "debtor_bic": last.debtor_bic,
            "currency": last.currency,
        }
    return initial


def _index(request: HttpRequest, form: ProposeForm, status: int = 200) -> HttpResponse:
    web = web_of(request)
    runs = (
        PaymentRun.objects.for_tenant(web.tenant)
        .annotate(invoice_count=Count("items"), total=Sum("items__amount"))
        .order_by("-created_at", "-id")
    )
    page = list_page(query=request.GET, queryset=runs, per_page=25).page
    context = {"page": page, "runs": list(page.object_list), "form": form, "can_act": web.role in RUN_ROLES}
    return render(request, "payments/runs.html", context | {"nav": "payment-runs"}, status=status)


@tenant_view
def payment_run_index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _propose(request)
    return _index(request, ProposeForm(initial=_initial(web_of(request))))


def _propose(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    form = ProposeForm(request.POST)
    if web.role not in RUN_ROLES:
        form.add_error(None, "Your role cannot propose payment runs.")
        return _index(request, form, status=403)
    if not form.is_valid():
        return _index(request, form, status=400)
    data = form.cleaned_data
    max_total = None
    if data["max_total"].strip():
        try:
            max_total = to_minor(data["max_total"].strip().replace(",", ""), data["currency"])
        except MoneyError:
            form.add_error("max_total", MAX_TOTAL_FORMAT)
            return _index(request, form, status=400)
    try:
        run = payment_run_propose(
            tenant=web.tenant,
            actor=web.actor,
            currency=data["currency"],
            due_by=data["due_by"],
            max_total=max_total,
            execution_date=data["execution_date"],
            debtor_name=data["debtor_name"],
            debtor_iban=data["debtor_iban"],
            debtor_bic=data["debtor_bic"],
            file_format=data["file_format"],
            take_discounts=data["take_discounts"],
        )
    except DomainError as exc:
        errors_add(form=form, error=exc)
        return _index(request, form, status=exc.status_code)
    count = PaymentRunItem.objects.for_tenant(web.tenant).filter(run=run).count()
    messages.success(request, PROPOSED.format(count=count, excluded=len(run.excluded)))
    return redirect("web:payment-run", run_id=run.pk)


def _detail_context(web: WebContext, run: PaymentRun) -> dict[str, Any]:
    items = list(
        PaymentRunItem.objects.for_tenant(web.tenant)
        .filter(run=run)
        .select_related("invoice", "vendor")
        .order_by("vendor__name", "invoice__due_date", "invoice__invoice_number")
    )
    transfers: dict[str, dict[str, Any]] = {}
    for item in items:
        transfer = transfers.setdefault(
            item.end_to_end_id, {"vendor": item.vendor, "end_to_end_id": item.end_to_end_id, "items": [], "total": 0}
        )
        transfer["items"].append(item)
        transfer["total"] += item.amount
    proposed = run.status == PaymentRunStatus.PROPOSED
    return {
        "run": run,
        "transfers": list(transfers.values()),
        "total": sum(item.amount for item in items),
        "discounts": sum(item.discount_amount for item in items),
        "count": len(items),
        "can_edit": proposed and web.role in RUN_ROLES,
        "can_approve": proposed and web.role in APPROVE_ROLES,
        "is_proposer": (run.proposed_by_kind, run.proposed_by_id) == (web.actor.kind, str(web.actor.id)),
        "can_cancel": run.status != PaymentRunStatus.CANCELLED and web.role in RUN_ROLES,
        "csv_note": files.CSV_NOTE.format(currency=run.currency) if run.currency != files.SEPA_CURRENCY else "",
        "nav": "payment-runs",
    }


@tenant_view
def payment_run_detail(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    return render(request, "payments/run_detail.html", _detail_context(web, _run_or_404(web, run_id)))


def _refused(request: HttpRequest, run: PaymentRun, exc: DomainError) -> HttpResponse:
    web = web_of(request)
    context = _detail_context(web, run)
    context["errors"] = [exc.message, NOTHING_WRITTEN]
    return render(request, "payments/run_detail.html", context, status=exc.status_code)


def _acted(request: HttpRequest, run_id: uuid.UUID, action: Any, done: str, roles: frozenset[str]) -> HttpResponse:
    web = web_of(request)
    run = _run_or_404(web, run_id)
    if web.role not in roles:
        context = _detail_context(web, run)
        context["errors"] = [NOT_AN_APPROVER if roles == APPROVE_ROLES else "Your role cannot change payment runs."]
        return render(request, "payments/run_detail.html", context, status=403)
    try:
        action(web, run)
    except DomainError as exc:
        return _refused(request, run, exc)
    messages.success(request, done)
    return redirect("web:payment-run", run_id=run.pk)


def _invoice_id(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("invoice_id", ""))
    except ValueError:
        return None


def _no_invoice(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    context = _detail_context(web, _run_or_404(web, run_id))
    context["errors"] = [NO_INVOICE, NOTHING_WRITTEN]
    return render(request, "payments/run_detail.html", context, status=400)


_BACK = {
    "back": "web:payment-run",
    "back_label": "the payment run",
    "back_kwargs": ("run_id",),
    "back_model": PaymentRun,
}


@tenant_view
@post_only(**_BACK)  # type: ignore[arg-type]
def payment_run_remove(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    invoice_id = _invoice_id(request)
    if invoice_id is None:
        return _no_invoice(request, run_id)

    def remove(web: WebContext, run: PaymentRun) -> None:
        payment_run_line_remove(tenant=web.tenant, run=run, invoice_id=invoice_id, actor=web.actor)

    return _acted(request, run_id, remove, REMOVED, RUN_ROLES)


@tenant_view
@post_only(**_BACK)  # type: ignore[arg-type]
def payment_run_add(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    invoice_id = _invoice_id(request)
    if invoice_id is None:
        return _no_invoice(request, run_id)

    def add(web: WebContext, run: PaymentRun) -> None:
        payment_run_line_add(tenant=web.tenant, run=run, invoice_id=invoice_id, actor=web.actor)

    return _acted(request, run_id, add, ADDED, RUN_ROLES)


@tenant_view
@post_only(**_BACK)  # type: ignore[arg-type]
def payment_run_approve_view(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    def approve(web: WebContext, run: PaymentRun) -> None:
        payment_run_approve(tenant=web.tenant, run=run, actor=web.actor)

    return _acted(request, run_id, approve, APPROVED, APPROVE_ROLES)


@tenant_view
@post_only(**_BACK)  # type: ignore[arg-type]
def payment_run_cancel_view(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    reason = request.POST.get("reason", "")

    def cancel(web: WebContext, run: PaymentRun) -> None:
        payment_run_cancel(tenant=web.tenant, run=run, actor=web.actor, reason=reason)

    return _acted(request, run_id, cancel, CANCELLED, RUN_ROLES)


@tenant_view
def payment_run_file(request: HttpRequest, run_id: uuid.UUID) -> HttpResponse:
    """The bank file as it was validated at approval; a run without one is the 404 page."""
    web = web_of(request)
    run = _run_or_404(web, run_id)
    if run.status != PaymentRunStatus.APPROVED or not run.file_content:
        raise Http404
    content_type = "application/xml" if run.file_name.endswith(".xml") else "text/csv"
    response = HttpResponse(run.file_content.encode("utf-8"), content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.file_name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
