"""The vendor list of the web app, and a vendor's bank accounts (its card on the vendor's page,
its own page, the forms to propose and decide). The vendor's page itself shows its invoices and
orders: invoices.views."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from core.exceptions import DocumentInvalid, DomainError
from core.http.forms import errors_add
from core.http.listing import list_page
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of
from vendors.bank_accounts import (
    DECIDER_ROLES,
    PROPOSER_ROLES,
    vendor_bank_account_approve,
    vendor_bank_account_propose,
    vendor_bank_account_reject,
)
from vendors.forms import BankAccountDecideForm, BankAccountProposeForm, PaymentTermsForm, VendorCategoryForm
from vendors.models import BankAccountStatus, Vendor
from vendors.selectors import bank_account_warnings, vendor_bank_accounts, vendor_categories, vendor_list
from vendors.services import vendor_category_update, vendor_payment_terms_update
from vendors.terms import NO_TERMS, payment_terms_label

PAGE_SIZE = 50
VENDOR_SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "invoices": ("invoice_count", "name"),
    "-invoices": ("-invoice_count", "name"),
}


@tenant_view
def vendor_index(request: HttpRequest) -> HttpResponse:
    tenant = web_of(request).tenant
    vendors = vendor_list(tenant=tenant).annotate(invoice_count=Count("invoices"))
    search = request.GET.get("q", "").strip()
    if search:
        vendors = vendors.filter(name__icontains=search)
    listing = list_page(
        query=request.GET, queryset=vendors, per_page=PAGE_SIZE, sorts=VENDOR_SORTS, default_sort="name"
    )
    context = {"page": listing.page, "sort": listing.sort, "search": search, "nav": "vendors"}
    return render(request, "vendors/list.html", context)


# --- a vendor's bank accounts (vendors.bank_accounts) ----------------------------------------------

PROPOSED = (
    "The new bank account {mask} of {vendor} waits for another person's approval; nothing is paid to it until then."
)
APPROVED = "Bank account {mask} of {vendor} approved: it is paid to from {date}, after the cooling-off period."
REJECTED = "Bank account {mask} of {vendor} rejected; the vendor's current account is unchanged."
ACCOUNT_REQUIRED = "Choose the account to approve or reject."
DECISION_UNKNOWN = "Choose Approve or Reject."
HISTORY_SHOWN = 5


def _vendor_of(web: WebContext, vendor_id: uuid.UUID) -> Vendor:
    vendor = vendor_list(tenant=web.tenant).filter(pk=vendor_id).first()
    if vendor is None:
        raise Http404
    return vendor


def bank_accounts_context(
    *,
    web: WebContext | None,
    vendor: Vendor,
    propose_form: BankAccountProposeForm | None = None,
    decide_form: BankAccountDecideForm | None = None,
    history_limit: int | None = HISTORY_SHOWN,
) -> dict[str, Any]:
    """What the "Bank accounts" card shows a member: the active account (masked) and whether it is
    cooling off, the change waiting for approval and whether this member may decide it, the add
    form for those who may propose, and the latest changes (all of them on the card's own page)."""
    accounts = list(vendor_bank_accounts(tenant=vendor.tenant, vendor=vendor))
    active = next((account for account in accounts if account.status == BankAccountStatus.ACTIVE), None)
    pending = next((account for account in accounts if account.status == BankAccountStatus.PENDING), None)
    now = timezone.now()
    is_user = web is not None and web.actor.kind == "user"
    proposed_it = bool(pending and web and pending.proposed_by_id == str(web.actor.id))
    return {
        "vendor": vendor,
        "web": web,
        "active": active,
        "cooling_off": bool(active and active.usable_from and active.usable_from > now),
        "pending": pending,
        # Said to the proposer after proposing and to whoever decides, beside the pending account.
        "pending_warnings": bank_account_warnings(tenant=vendor.tenant, account=pending) if pending else [],
        "proposed_it": proposed_it,
        "may_decide": bool(pending and is_user and web and web.role in DECIDER_ROLES and not proposed_it),
        "may_propose": bool(web and web.role in PROPOSER_ROLES and pending is None),
        "propose_form": propose_form or BankAccountProposeForm(),
        "decide_form": decide_form or BankAccountDecideForm(),
        "history": accounts[:history_limit] if history_limit else accounts,
        "more_history": history_limit is not None and len(accounts) > history_limit,
    }


def _bank_accounts_page(
    request: HttpRequest, vendor: Vendor, *, status: int = 200, error: str = "", **forms: Any
) -> HttpResponse:
    context = bank_accounts_context(web=web_of(request), vendor=vendor, history_limit=None, **forms)
    context |= {"nav": "vendors", "error": error}
    return render(request, "vendors/bank_accounts.html", context, status=status)


@tenant_view
def vendor_bank_accounts_page(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """Every account the vendor was given, who proposed and who decided each, and the forms."""
    return _bank_accounts_page(request, _vendor_of(web_of(request), vendor_id))


def _unplaced(error: DomainError) -> str:
    """A refusal that names no field (not yours to decide, already decided, a change already
    waiting) is said on top of the page: the form it came from may not be shown any more."""
    return "" if isinstance(error, DocumentInvalid) else error.message


def _local_date(moment: Any) -> str:
    return timezone.localtime(moment).date().isoformat() if moment else ""


@tenant_view
@post_only(back="web:vendor-detail", back_label="the vendor", back_kwargs=("vendor_id",), back_model=Vendor)
def vendor_bank_account_propose_view(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """POST: propose a new account (a clerk or an administrator); back to the vendor's page, or
    the bank accounts page again with each refusal beside its field."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    form = BankAccountProposeForm(request.POST)
    form.is_valid()  # every field optional: the service checks them
    try:
        account = vendor_bank_account_propose(
            tenant=web.tenant, vendor=vendor, actor=web.actor, role=web.role, **form.cleaned_data
        )
    except DomainError as exc:
        errors_add(form=form, error=exc)
        return _bank_accounts_page(request, vendor, status=exc.status_code, error=_unplaced(exc), propose_form=form)
    messages.success(request, PROPOSED.format(mask=account.account_mask, vendor=vendor.name))
    for warning in bank_account_warnings(tenant=web.tenant, account=account):
        messages.warning(request, warning.message)
    return redirect(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}) + "#bank-accounts")


@tenant_view
@post_only(back="web:vendor-detail", back_label="the vendor", back_kwargs=("vendor_id",), back_model=Vendor)
def vendor_bank_account_decide_view(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """POST `decision` (approve | reject) on the vendor's pending account `account_id`, by another
    person than its proposer (an approver or an administrator)."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    form = BankAccountDecideForm(request.POST)
    form.is_valid()
    decision = request.POST.get("decision", "")
    try:
        account_id = uuid.UUID(request.POST.get("account_id", ""))
    except ValueError:
        form.add_error(None, ACCOUNT_REQUIRED)
        return _bank_accounts_page(request, vendor, status=400, decide_form=form)
    account = vendor_bank_accounts(tenant=web.tenant, vendor=vendor).filter(pk=account_id).first()
    if account is None:
        raise Http404
    comment = form.cleaned_data.get("comment", "")
    try:
        if decision == "approve":
            account = vendor_bank_account_approve(
                tenant=web.tenant, account=account, actor=web.actor, role=web.role, comment=comment
            )
            message = APPROVED.format(
                mask=account.account_mask, vendor=vendor.name, date=_local_date(account.usable_from)
            )
        elif decision == "reject":
            account = vendor_bank_account_reject(
                tenant=web.tenant, account=account, actor=web.actor, role=web.role, comment=comment
            )
            message = REJECTED.format(mask=account.account_mask, vendor=vendor.name)
        else:
            form.add_error(None, DECISION_UNKNOWN)
            return _bank_accounts_page(request, vendor, status=400, decide_form=form)
    except DomainError as exc:
        errors_add(form=form, error=exc)
        return _bank_accounts_page(request, vendor, status=exc.status_code, error=_unplaced(exc), decide_form=form)
    messages.success(request, message)
    return redirect(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}) + "#bank-accounts")


# --- a vendor's payment terms (vendors.terms) -------------------------------------------------------

TERMS_SAVED = "Payment terms of {vendor}: {terms}."
TERMS_EDITOR_ROLES = PROPOSER_ROLES


def payment_terms_context(
    *, web: WebContext | None, vendor: Vendor, form: PaymentTermsForm | None = None
) -> dict[str, Any]:
    """What the "Payment terms" card shows: the terms in words, and the form for those who may change them."""
    initial = {name: getattr(vendor, name) for name in ("payment_net_days", "discount_pct", "discount_days")}
    return {
        "vendor": vendor,
        "terms_label": payment_terms_label(
            net_days=vendor.payment_net_days, discount_pct=vendor.discount_pct, discount_days=vendor.discount_days
        )
        or NO_TERMS,
        "may_edit": bool(web and web.role in TERMS_EDITOR_ROLES),
        "terms_form": form or PaymentTermsForm(initial=initial),
    }


@tenant_view
@post_only(back="web:vendor-detail", back_label="the vendor", back_kwargs=("vendor_id",), back_model=Vendor)
def vendor_payment_terms_view(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """POST the vendor's terms (a clerk or an administrator); back to the vendor's page, or the
    form again with each problem beside its field."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    if web.role not in TERMS_EDITOR_ROLES:
        raise PermissionDenied
    form = PaymentTermsForm(request.POST)
    if form.is_valid():
        try:
            vendor = vendor_payment_terms_update(tenant=web.tenant, vendor=vendor, actor=web.actor, **form.cleaned_data)
        except DomainError as exc:
            errors_add(form=form, error=exc)
    if form.errors:
        context = payment_terms_context(web=web, vendor=vendor, form=form) | {"nav": "vendors", "error": ""}
        return render(request, "vendors/payment_terms.html", context, status=400)
    label = payment_terms_label(
        net_days=vendor.payment_net_days, discount_pct=vendor.discount_pct, discount_days=vendor.discount_days
    )
    messages.success(request, TERMS_SAVED.format(vendor=vendor.name, terms=label or NO_TERMS.lower()))
    return redirect(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}) + "#payment-terms")


# --- a vendor's category (approval rules may name it) -----------------------------------------------

CATEGORY_SAVED = "Category of {vendor}: {category}."
CATEGORY_CLEARED = "{vendor} no longer has a category."


def category_context(
    *, web: WebContext | None, vendor: Vendor, form: VendorCategoryForm | None = None
) -> dict[str, Any]:
    """What the "Category" card shows: the category, and the form (with the tenant's categories
    offered as you type) for those who may change it."""
    may_edit = bool(web and web.role in TERMS_EDITOR_ROLES)
    return {
        "vendor": vendor,
        "may_edit": may_edit,
        "category_form": form or VendorCategoryForm(initial={"category": vendor.category}),
        "categories": vendor_categories(tenant=vendor.tenant) if may_edit else [],
    }


@tenant_view
@post_only(back="web:vendor-detail", back_label="the vendor", back_kwargs=("vendor_id",), back_model=Vendor)
def vendor_category_view(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """POST the vendor's category (a clerk or an administrator); back to the vendor's page, or
    the form again with the problem beside the field."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    if web.role not in TERMS_EDITOR_ROLES:
        raise PermissionDenied
    form = VendorCategoryForm(request.POST)
    if form.is_valid():
        try:
            vendor = vendor_category_update(
                tenant=web.tenant, vendor=vendor, actor=web.actor, category=form.cleaned_data["category"]
            )
        except DomainError as exc:
            errors_add(form=form, error=exc)
    if form.errors:
        context = category_context(web=web, vendor=vendor, form=form) | {"nav": "vendors", "error": ""}
        return render(request, "vendors/category.html", context, status=400)
    if vendor.category:
        messages.success(request, CATEGORY_SAVED.format(vendor=vendor.name, category=vendor.category))
    else:
        messages.success(request, CATEGORY_CLEARED.format(vendor=vendor.name))
    return redirect(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}) + "#category")
