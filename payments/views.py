"""The clerk's web pages for payments: a list per status, the suggestions, a payment's workbench.

Thin views like review.views: reads start from the request's tenant, and every write goes
through the reconciliation services (`allocation_accept_suggestion`, `allocation_split`,
`allocation_reverse`, `payment_ignore`, `payment_unignore`, `reconciliation_run_for_tenant`),
which check amounts and states under row locks. Amounts a clerk types are decimal strings turned
into minor units by core.money (never a float). Actions post and redirect (post/redirect/get);
a refused allocation or reversal re-renders the page with the reasons beside the form and
nothing written.

Suggestions are re-validated where they are listed (payments.reconciliation.suggestions): one
whose invoices were paid meanwhile is withdrawn rather than shown.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import DomainError
from core.http.listing import list_page, query_with
from core.money import exponent, format_minor
from invoices.models import Invoice
from payments.accounts import decrypt_account, mask_account
from payments.models import Payment, PaymentAllocation, PaymentDirection, PaymentStatus, PaymentSuggestion
from payments.reconciliation.loading import RECONCILABLE_PAYMENT_STATUSES, open_balances, paid_by_payment
from payments.reconciliation.services import (
    allocation_accept_suggestion,
    allocation_reverse,
    allocation_split,
    payment_ignore,
    payment_unignore,
    reconciliation_run_for_tenant,
)
from payments.reconciliation.suggestions import suggestions_revalidate
from payments.workbench import SCOPE_ALL, AllocationForm, OpenItem, allocation_form_read, open_items, payment_vendor
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of
from tenants.models import Role

PAGE_SIZE = 25
PAYMENT_SORTS = {
    "booked": ("booking_date", "created_at"),
    "-booked": ("-booking_date", "-created_at"),
    "amount": ("amount",),
    "-amount": ("-amount",),
    "counterparty": ("counterparty_name", "-booking_date"),
    "-counterparty": ("-counterparty_name", "-booking_date"),
}
# The lists, in the order a clerk works them: what nobody matched, what is half done, what waits
# for a yes, what is done, what was set aside.
LIST_STATUSES = (
    PaymentStatus.UNMATCHED,
    PaymentStatus.PARTIALLY_MATCHED,
    PaymentStatus.SUGGESTED,
    PaymentStatus.MATCHED,
    PaymentStatus.IGNORED,
)
# Who may allocate, accept, ignore and reverse (checked again on every POST).
PAYMENT_ACT_ROLES = frozenset({Role.CLERK, Role.APPROVER, Role.ADMIN})
# Who may start a reconciliation run from the page (it allocates whatever the engine is sure of).
RECONCILE_ROLES = frozenset({Role.APPROVER, Role.ADMIN})
NOT_ALLOWED = "Your role cannot act on payments."
ACCEPTED = "Suggestion accepted: {count} allocation(s) written."
IGNORED = "Payment ignored."
UNIGNORED = "Payment brought back: it is unmatched again."
SPLIT_DONE = "Payment allocated to {count} invoice(s)."
REVERSED = "Allocation reversed: {amount} {currency} open again on invoice {number}."
REASON_REQUIRED = "Say why the allocation is reversed; the reason goes into the audit trail."
NOTHING_WRITTEN = "Nothing was written."
RECONCILED = (
    "Reconciliation looked at {considered} payment(s): {matched} matched, {partial} partially matched, "
    "{suggested} with a suggestion, {unmatched} left unmatched."
)
RECONCILE_BUSY = "A reconciliation run is already under way for your organisation; try again in a moment."
# Where an action on the suggestions page returns to; anything else returns to the payment.
RETURN_TO_SUGGESTIONS = "suggestions"
# Pages of suggestions read again after withdrawing stale ones, so a page is not left short.
_REVALIDATE_ROUNDS = 3


def _can_act(web: WebContext) -> bool:
    return web.role in PAYMENT_ACT_ROLES


def _masked(token: str) -> str:
    return mask_account(decrypt_account(token))


def _with_masked_accounts(payments: Iterable[Payment]) -> None:
    """Decrypts only the page's rows, and keeps only the last digits for the template."""
    for payment in payments:
        payment.counterparty_account_masked = _masked(payment.counterparty_account_encrypted)  # type: ignore[attr-defined]
        payment.bank_account_masked = _masked(payment.bank_account_encrypted)  # type: ignore[attr-defined]


def _payment_or_404(web: WebContext, payment_id: uuid.UUID) -> Payment:
    payment = Payment.objects.for_tenant(web.tenant).filter(pk=payment_id).first()
    if payment is None:
        raise Http404
    return payment


@dataclass(frozen=True)
class ProposedRow:
    """One invoice of a suggestion as the clerk reads it."""

    invoice: Invoice | None
    invoice_id: str
    amount: int | None
    kind: str


def _proposed_rows(suggestion: PaymentSuggestion, invoices: dict[str, Invoice]) -> list[ProposedRow]:
    rows = [
        ProposedRow(invoices.get(str(item["invoice_id"])), str(item["invoice_id"]), int(item["amount"]), item["kind"])
        for item in suggestion.allocations
    ]
    allocated = {row.invoice_id for row in rows}
    rows += [
        ProposedRow(invoices.get(str(invoice_id)), str(invoice_id), None, "candidate")
        for invoice_id in suggestion.candidate_invoice_ids
        if str(invoice_id) not in allocated
    ]
    return rows


def _with_proposals(web: WebContext, suggestions: list[PaymentSuggestion]) -> None:
    """Attaches `proposed` (allocations, then other candidates) with their invoices, in one query."""
    ids: set[str] = set()
    for suggestion in suggestions:
        ids |= {str(item["invoice_id"]) for item in suggestion.allocations}
        ids |= {str(invoice_id) for invoice_id in suggestion.candidate_invoice_ids}
    invoices = {
        str(invoice.pk): invoice
        for invoice in Invoice.objects.for_tenant(web.tenant).filter(pk__in=ids).select_related("vendor")
    }
    for suggestion in suggestions:
        suggestion.proposed = _proposed_rows(suggestion, invoices)  # type: ignore[attr-defined]


def _list_status(request: HttpRequest) -> str:
    asked = request.GET.get("status", "")
    return asked if asked in LIST_STATUSES else PaymentStatus.UNMATCHED


@tenant_view
def payment_queue(request: HttpRequest) -> HttpResponse:
    """Payments by status (`?status=`, unmatched by default), each list with its count, what is
    left of each payment, sorted and paged like every list."""
    web = web_of(request)
    status = _list_status(request)
    debits = Payment.objects.for_tenant(web.tenant).filter(direction=PaymentDirection.DEBIT)
    for _ in range(_REVALIDATE_ROUNDS):
        listing = list_page(
            query=request.GET,
            queryset=debits.filter(status=status),
            per_page=PAGE_SIZE,
            sorts=PAYMENT_SORTS,
            default_sort="-booked",
        )
        rows = list(listing.page.object_list)
        # A suggested payment whose suggestion no longer holds is unmatched again, not listed here.
        if status != PaymentStatus.SUGGESTED or not _withdrew_stale(web, rows):
            break
    counts = dict(debits.order_by().values("status").annotate(count=Count("id")).values_list("status", "count"))
    _with_masked_accounts(rows)
    paid = paid_by_payment(tenant=web.tenant, payment_ids=[payment.pk for payment in rows])
    for payment in rows:
        payment.allocated = paid.get(payment.pk, 0)  # type: ignore[attr-defined]
        payment.left = max(payment.amount - paid.get(payment.pk, 0), 0)  # type: ignore[attr-defined]
    labels = dict(PaymentStatus.choices)
    tabs = [
        {
            "status": value,
            "label": labels[value],
            "count": counts.get(value, 0),
            "current": value == status,
            "query": query_with(query=request.GET, changes={"status": value, "sort": None}),
        }
        for value in LIST_STATUSES
    ]
    context = {
        "page": listing.page,
        "rows": rows,
        "sort": listing.sort,
        "status": status,
        "status_label": labels[status],
        "tabs": tabs,
        "can_reconcile": web.role in RECONCILE_ROLES,
        "nav": "payments",
    }
    return render(request, "payments/queue.html", context)


def _withdrew_stale(web: WebContext, payments: list[Payment]) -> bool:
    """Re-validates the suggestions of these payments; true when some were withdrawn."""
    suggestions = list(
        PaymentSuggestion.objects.for_tenant(web.tenant)
        .filter(payment_id__in=[payment.pk for payment in payments])
        .select_related("payment")
    )
    return len(suggestions_revalidate(tenant=web.tenant, suggestions=suggestions)) < len(suggestions)


@tenant_view
@post_only(back="web:payments", back_label="the payments")
def payment_reconcile_view(request: HttpRequest) -> HttpResponse:
    """Run reconciliation for the tenant now (approvers and administrators)."""
    web = web_of(request)
    if web.role not in RECONCILE_ROLES:
        raise PermissionDenied
    report = reconciliation_run_for_tenant(tenant=web.tenant, actor=web.actor)
    if report.status == "skipped":
        messages.info(request, RECONCILE_BUSY)
    else:
        messages.success(
            request,
            RECONCILED.format(
                considered=report.payments_considered,
                matched=report.payments_matched,
                partial=report.payments_partially_matched,
                suggested=report.payments_suggested,
                unmatched=report.payments_unmatched,
            ),
        )
    return redirect("web:payments")


@tenant_view
def suggestion_queue(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    suggestions = (
        PaymentSuggestion.objects.for_tenant(web.tenant)
        .filter(payment__status__in=RECONCILABLE_PAYMENT_STATUSES, payment__direction=PaymentDirection.DEBIT)
        .select_related("payment", "vendor")
        .order_by("-confidence", "created_at", "id")
    )
    # Read the page, withdraw what no longer holds, and read it again (the rows after move up).
    for _ in range(_REVALIDATE_ROUNDS):
        page = list_page(query=request.GET, queryset=suggestions, per_page=PAGE_SIZE).page
        rows = list(page.object_list)
        if len(suggestions_revalidate(tenant=web.tenant, suggestions=rows)) == len(rows):
            break
    _with_proposals(web, rows)
    _with_masked_accounts(suggestion.payment for suggestion in rows)
    context = {"page": page, "suggestions": rows, "can_act": _can_act(web), "nav": "payment-suggestions"}
    return render(request, "payments/suggestions.html", context)


def _detail_context(
    web: WebContext, payment: Payment, query: dict[str, str] | None = None, form: AllocationForm | None = None
) -> dict[str, Any]:
    query = query or {}
    _with_masked_accounts([payment])
    allocations = list(
        PaymentAllocation.objects.for_tenant(web.tenant)
        .filter(payment=payment)
        .select_related("invoice", "reversal_of")
        .order_by("created_at", "id")
    )
    reversed_ids = {allocation.reversal_of_id for allocation in allocations if allocation.reversal_of_id}
    live = 0
    for allocation in allocations:
        allocation.is_reversed = allocation.pk in reversed_ids  # type: ignore[attr-defined]
        allocation.can_reverse = (  # type: ignore[attr-defined]
            allocation.reversal_of_id is None and not allocation.is_reversed  # type: ignore[attr-defined]
        )
        if allocation.can_reverse and allocation.kind == "payment":  # type: ignore[attr-defined]
            live += allocation.amount
    suggestion = (
        PaymentSuggestion.objects.for_tenant(web.tenant).filter(payment=payment).select_related("payment").first()
    )
    if suggestion is not None and not suggestions_revalidate(tenant=web.tenant, suggestions=[suggestion]):
        suggestion = None
        payment.refresh_from_db(fields=["status"])
    if suggestion is not None:
        _with_proposals(web, [suggestion])
    can_allocate = payment.direction == PaymentDirection.DEBIT and payment.status in (
        PaymentStatus.UNMATCHED,
        PaymentStatus.SUGGESTED,
        PaymentStatus.PARTIALLY_MATCHED,
    )
    remaining = max(payment.amount - live, 0)
    context: dict[str, Any] = {
        "payment": payment,
        "allocations": allocations,
        "allocated": live,
        "remaining": remaining,
        "remaining_input": format_minor(remaining, payment.currency),
        "places": exponent(payment.currency),
        "suggestion": suggestion,
        "can_act": _can_act(web),
        "can_allocate": can_allocate,
        "can_ignore": payment.status in RECONCILABLE_PAYMENT_STATUSES,
        "can_unignore": payment.status == PaymentStatus.IGNORED,
        "form": form,
        "nav": "payments",
    }
    if can_allocate:
        vendor = payment_vendor(tenant=web.tenant, payment=payment, suggestion=suggestion)
        context["open"] = open_items(
            tenant=web.tenant,
            payment=payment,
            vendor=vendor,
            query=query.get("q", "").strip()[:64],
            scope_all=query.get("scope") == SCOPE_ALL,
        )
        context["open_rows"], context["form_errors"] = _workbench_rows(context["open"].items, form)
    return context


def _workbench_rows(items: list[OpenItem], form: AllocationForm | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Each open item with what the posted form said about it, and the form's other errors."""
    rows = []
    for item in items:
        key = str(item.invoice.pk)
        rows.append(
            {
                "item": item,
                "key": key,
                "checked": form is not None and key in form.selected,
                "amount": form.amounts.get(key, "") if form else "",
                "write_off": form is not None and key in form.write_offs,
                "error": form.row_errors.get(key) if form else None,
            }
        )
    if form is None:
        return rows, []
    shown = {row["key"] for row in rows}
    others = [message for ref, message in form.row_errors.items() if ref not in shown]
    return rows, [*others, *form.errors]


@tenant_view
def payment_detail(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    return render(request, "payments/detail.html", _detail_context(web, payment, query=request.GET.dict()))


def _refused(request: HttpRequest, payment: Payment, exc: DomainError) -> HttpResponse:
    messages.error(request, f"{exc.message} {NOTHING_WRITTEN}")
    return _back(request, payment)


def _back(request: HttpRequest, payment: Payment) -> HttpResponse:
    if request.POST.get("return_to") == RETURN_TO_SUGGESTIONS:
        return redirect("web:payment-suggestions")
    return redirect("web:payment-detail", payment_id=payment.pk)


def _forbidden(request: HttpRequest, payment: Payment) -> HttpResponse:
    web = web_of(request)
    context = _detail_context(web, payment)
    context["errors"] = [NOT_ALLOWED]
    return render(request, "payments/detail.html", context, status=403)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def payment_accept(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    if not _can_act(web):
        return _forbidden(request, payment)
    try:
        allocations = allocation_accept_suggestion(tenant=web.tenant, payment=payment, actor=web.actor)
    except DomainError as exc:
        return _refused(request, payment, exc)
    messages.success(request, ACCEPTED.format(count=len(allocations)))
    return _back(request, payment)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def payment_ignore_view(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    if not _can_act(web):
        return _forbidden(request, payment)
    try:
        payment_ignore(tenant=web.tenant, payment=payment, actor=web.actor, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _refused(request, payment, exc)
    messages.success(request, IGNORED)
    return _back(request, payment)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def payment_unignore_view(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    if not _can_act(web):
        return _forbidden(request, payment)
    try:
        payment_unignore(tenant=web.tenant, payment=payment, actor=web.actor, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        return _refused(request, payment, exc)
    messages.success(request, UNIGNORED)
    return redirect("web:payment-detail", payment_id=payment.pk)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def payment_split(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Allocate the payment to the invoices selected on the workbench; all or nothing."""
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    if not _can_act(web):
        return _forbidden(request, payment)
    remaining = payment.amount - paid_by_payment(tenant=web.tenant, payment_ids=[payment.pk]).get(payment.pk, 0)
    form = allocation_form_read(tenant=web.tenant, payment=payment, data=request.POST, remaining=remaining)
    status = 400
    if not form.errors and not form.row_errors:
        try:
            allocations = allocation_split(
                tenant=web.tenant,
                payment=payment,
                parts=form.parts,
                actor=web.actor,
                note=form.note,
                write_off_rest=form.write_off_rest,
            )
        except DomainError as exc:
            form.errors = [exc.message]
            status = exc.status_code
        else:
            messages.success(request, SPLIT_DONE.format(count=len({a.invoice_id for a in allocations})))
            return redirect("web:payment-detail", payment_id=payment.pk)
    form.errors = [*form.errors, NOTHING_WRITTEN]
    query = {"q": request.POST.get("q", ""), "scope": request.POST.get("scope", "")}
    context = _detail_context(web, payment, query=query, form=form)
    return render(request, "payments/detail.html", context, status=status)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def allocation_reverse_view(request: HttpRequest, payment_id: uuid.UUID, allocation_id: uuid.UUID) -> HttpResponse:
    """Reverse one allocation, with the reason the clerk gives (required: it is the audit's why)."""
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    allocation = PaymentAllocation.objects.for_tenant(web.tenant).filter(pk=allocation_id, payment=payment).first()
    if allocation is None:
        raise Http404
    if not _can_act(web):
        return _forbidden(request, payment)
    reason = request.POST.get("reason", "").strip()[:1000]
    if not reason:
        context = _detail_context(web, payment)
        context["reverse_error"] = {"allocation_id": allocation.pk, "message": REASON_REQUIRED}
        return render(request, "payments/detail.html", context, status=400)
    try:
        allocation_reverse(tenant=web.tenant, allocation=allocation, actor=web.actor, reason=reason)
    except DomainError as exc:
        return _refused(request, payment, exc)
    invoice = Invoice.objects.for_tenant(web.tenant).get(pk=allocation.invoice_id)
    balance = open_balances(tenant=web.tenant, invoices=[invoice])[invoice.pk]
    messages.success(
        request,
        REVERSED.format(
            amount=format_minor(balance, invoice.currency), currency=invoice.currency, number=invoice.invoice_number
        ),
    )
    return redirect("web:payment-detail", payment_id=payment.pk)
