"""The clerk's web pages for payments: the unmatched queue, the suggestions, a payment's detail.

Thin views like review.views: reads start from the request's tenant, and every write goes
through the reconciliation services (`allocation_accept_suggestion`, `allocation_split`,
`allocation_reverse`, `payment_ignore`), which check amounts and states under row locks. Amounts
a clerk types are decimal strings turned into minor units by core.money (never a float).
Actions post and redirect (post/redirect/get); a refused split re-renders the page with the
reasons and nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import DomainError
from core.http.listing import list_page
from core.money import MoneyError, format_minor, to_minor
from invoices.models import Invoice
from payments.accounts import decrypt_account, mask_account
from payments.models import Payment, PaymentAllocation, PaymentDirection, PaymentStatus, PaymentSuggestion
from payments.reconciliation.loading import RECONCILABLE_PAYMENT_STATUSES, open_balances
from payments.reconciliation.services import (
    allocation_accept_suggestion,
    allocation_reverse,
    allocation_split,
    payment_ignore,
)
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
SPLIT_ROWS = 3
# Who may allocate, accept, ignore and reverse (checked again on every POST).
PAYMENT_ACT_ROLES = frozenset({Role.CLERK, Role.APPROVER, Role.ADMIN})
NOT_ALLOWED = "Your role cannot act on payments."
ACCEPTED = "Suggestion accepted: {count} allocation(s) written."
IGNORED = "Payment ignored."
SPLIT_DONE = "Payment allocated to {count} invoice(s)."
REVERSED = "Allocation reversed: {amount} {currency} open again on invoice {number}."
NOTHING_WRITTEN = "Nothing was written."
NO_INVOICE = "Row {row}: no invoice {ref}."
AMBIGUOUS_INVOICE = "Row {row}: several invoices are numbered {ref}; give the invoice's id instead."
NO_AMOUNT = "Row {row}: give an amount for invoice {ref}."
NO_INVOICE_GIVEN = "Row {row}: name the invoice the amount {amount} goes to."
BAD_AMOUNT = "Row {row}: {error}"
# Where an action on the suggestions page returns to; anything else returns to the payment.
RETURN_TO_SUGGESTIONS = "suggestions"


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


@tenant_view
def payment_queue(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    payments = Payment.objects.for_tenant(web.tenant).filter(
        status=PaymentStatus.UNMATCHED, direction=PaymentDirection.DEBIT
    )
    listing = list_page(
        query=request.GET, queryset=payments, per_page=PAGE_SIZE, sorts=PAYMENT_SORTS, default_sort="-booked"
    )
    _with_masked_accounts(listing.page.object_list)
    return render(request, "payments/queue.html", {"page": listing.page, "sort": listing.sort, "nav": "payments"})


@tenant_view
def suggestion_queue(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    suggestions = (
        PaymentSuggestion.objects.for_tenant(web.tenant)
        .filter(payment__status__in=RECONCILABLE_PAYMENT_STATUSES, payment__direction=PaymentDirection.DEBIT)
        .select_related("payment", "vendor")
        .order_by("-confidence", "created_at", "id")
    )
    page = list_page(query=request.GET, queryset=suggestions, per_page=PAGE_SIZE).page
    rows = list(page.object_list)
    _with_proposals(web, rows)
    _with_masked_accounts(suggestion.payment for suggestion in rows)
    context = {"page": page, "suggestions": rows, "can_act": _can_act(web), "nav": "payment-suggestions"}
    return render(request, "payments/suggestions.html", context)


def _detail_context(web: WebContext, payment: Payment) -> dict[str, Any]:
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
        if allocation.reversal_of_id is None and not allocation.is_reversed:  # type: ignore[attr-defined]
            live += allocation.amount
    suggestion = PaymentSuggestion.objects.for_tenant(web.tenant).filter(payment=payment).first()
    if suggestion is not None:
        _with_proposals(web, [suggestion])
    can_allocate = payment.direction == PaymentDirection.DEBIT and payment.status in (
        PaymentStatus.UNMATCHED,
        PaymentStatus.SUGGESTED,
        PaymentStatus.PARTIALLY_MATCHED,
    )
    return {
        "payment": payment,
        "allocations": allocations,
        "allocated": live,
        "remaining": max(payment.amount - live, 0),
        "suggestion": suggestion,
        "can_act": _can_act(web),
        "can_allocate": can_allocate,
        "can_ignore": payment.status in RECONCILABLE_PAYMENT_STATUSES,
        "split_rows": [{"invoice": "", "amount": ""} for _ in range(SPLIT_ROWS)],
        "nav": "payments",
    }


@tenant_view
def payment_detail(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    return render(request, "payments/detail.html", _detail_context(web, _payment_or_404(web, payment_id)))


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


def _find_invoice(web: WebContext, ref: str) -> list[Invoice]:
    invoices = Invoice.objects.for_tenant(web.tenant)
    try:
        by_id = list(invoices.filter(pk=uuid.UUID(ref)))
    except ValueError:
        by_id = []
    return by_id or list(invoices.filter(invoice_number=ref)[:2])


def _split_parts(
    web: WebContext, payment: Payment, rows: list[dict[str, str]]
) -> tuple[list[tuple[Invoice, int]], list[str]]:
    """The (invoice, minor units) pairs the clerk typed, or the reasons they cannot be used."""
    parts: list[tuple[Invoice, int]] = []
    errors: list[str] = []
    for number, row in enumerate(rows, start=1):
        ref, raw_amount = row["invoice"], row["amount"]
        if not ref and not raw_amount:
            continue
        if not ref:
            errors.append(NO_INVOICE_GIVEN.format(row=number, amount=raw_amount))
            continue
        if not raw_amount:
            errors.append(NO_AMOUNT.format(row=number, ref=ref))
            continue
        try:
            amount = to_minor(raw_amount, payment.currency)
        except MoneyError as exc:
            errors.append(BAD_AMOUNT.format(row=number, error=exc))
            continue
        found = _find_invoice(web, ref)
        if not found:
            errors.append(NO_INVOICE.format(row=number, ref=ref))
        elif len(found) > 1:
            errors.append(AMBIGUOUS_INVOICE.format(row=number, ref=ref))
        else:
            parts.append((found[0], amount))
    return parts, errors


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def payment_split(request: HttpRequest, payment_id: uuid.UUID) -> HttpResponse:
    """Allocate the payment to the invoices and amounts typed in; all or nothing."""
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    if not _can_act(web):
        return _forbidden(request, payment)
    refs = [value.strip() for value in request.POST.getlist("invoice")]
    amounts = [value.strip() for value in request.POST.getlist("amount")]
    width = max(len(refs), len(amounts))
    rows = [
        {
            "invoice": refs[i] if i < len(refs) else "",
            "amount": amounts[i] if i < len(amounts) else "",
        }
        for i in range(width)
    ]
    note = request.POST.get("note", "")
    parts, errors = _split_parts(web, payment, rows)
    status = 400
    if not errors:
        try:
            allocations = allocation_split(tenant=web.tenant, payment=payment, parts=parts, actor=web.actor, note=note)
        except DomainError as exc:
            errors = [exc.message]
            status = exc.status_code
        else:
            messages.success(request, SPLIT_DONE.format(count=len({a.invoice_id for a in allocations})))
            return redirect("web:payment-detail", payment_id=payment.pk)
    context = _detail_context(web, payment)
    context["errors"] = [*errors, NOTHING_WRITTEN]
    context["split_rows"] = rows + [{"invoice": "", "amount": ""} for _ in range(SPLIT_ROWS - len(rows))]
    context["note"] = note
    return render(request, "payments/detail.html", context, status=status)


@tenant_view
@post_only(back="web:payment-detail", back_label="the payment", back_kwargs=("payment_id",), back_model=Payment)
def allocation_reverse_view(request: HttpRequest, payment_id: uuid.UUID, allocation_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    payment = _payment_or_404(web, payment_id)
    allocation = PaymentAllocation.objects.for_tenant(web.tenant).filter(pk=allocation_id, payment=payment).first()
    if allocation is None:
        raise Http404
    if not _can_act(web):
        return _forbidden(request, payment)
    try:
        allocation_reverse(
            tenant=web.tenant, allocation=allocation, actor=web.actor, reason=request.POST.get("reason", "")
        )
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
