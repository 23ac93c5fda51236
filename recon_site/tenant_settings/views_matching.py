"""Settings pages of matching: thresholds and tolerances, amount limits per currency, vendors'
own tolerances, and the schedules (read-only: they are the installation's, from the environment)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.amount_limits import AmountLimits
from core.exceptions import DomainError
from core.http.forms import errors_add
from core.http.listing import list_page
from invoices.models import Invoice
from matching.rematch import (
    MATCHING_SETTINGS,
    TOLERANCES,
    RematchOutcome,
    matching_rematch_for_currency_limits,
    matching_rematch_for_tenant_settings,
    matching_rematch_for_vendor_tolerances,
)
from payments.models import Payment
from purchasing.models import PurchaseOrder
from recon_site.schedules import jobs
from recon_site.tenant_settings.access import admin_view, section_context
from recon_site.tenant_settings.forms import (
    CurrencyLimitForm,
    MatchingSettingsForm,
    VendorTolerancesForm,
)
from tenants.http.error_pages import post_only
from tenants.http.web import web_of
from tenants.models import Tenant
from tenants.selectors import amount_limits_for, currency_limits_list, tenant_settings_get
from tenants.services import currency_limit_delete, currency_limit_save, tenant_settings_update
from vendors.models import Vendor
from vendors.services import vendor_tolerances_update

SAVED = "Settings saved."
LIMITS_SAVED = "Limits in {currency} saved."
LIMITS_RESET = "{currency} uses the default limits again."
VENDOR_SAVED = "Tolerances of {vendor} saved."
VENDOR_PAGE_SIZE = 50
REMATCHED = "{count} open invoice(s) matched against the old values are being matched again."


def _rematched_say(request: HttpRequest, outcome: RematchOutcome) -> None:
    if outcome.moved:
        messages.info(request, REMATCHED.format(count=len(outcome.moved)))


@admin_view
def matching_settings(request: HttpRequest) -> HttpResponse:
    """Thresholds and tolerances of matching and reconciliation (GET shows, POST saves)."""
    web = web_of(request)
    stored = tenant_settings_get(tenant=web.tenant)
    form = MatchingSettingsForm(
        request.POST if request.method == "POST" else None,
        initial=MatchingSettingsForm.initial_of(tenant_settings=stored),
    )
    if request.method == "POST" and form.is_valid():
        before = {name: getattr(stored, name) for name in MATCHING_SETTINGS}
        try:
            saved = tenant_settings_update(tenant=web.tenant, actor=web.actor, **form.changes())
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(request, SAVED)
            # Here, not in tenants.services: tenants sits below matching (the layers contract).
            after = {name: getattr(saved, name) for name in MATCHING_SETTINGS}
            _rematched_say(
                request,
                matching_rematch_for_tenant_settings(tenant=web.tenant, actor=web.actor, before=before, after=after),
            )
            return redirect("web:settings")
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request, "settings/matching.html", {"form": form, **section_context(section="web:settings")}, status=status
    )


def _currencies_in_use(tenant: Tenant) -> set[str]:
    """The currencies of the tenant's documents: each is shown with its limits, own or default."""
    used: set[str] = set()
    for model in (Invoice, PurchaseOrder, Payment):
        used |= set(model.objects.for_tenant(tenant).order_by().values_list("currency", flat=True).distinct())
    return used


def _limits_context(tenant: Tenant, *, bound: CurrencyLimitForm | None = None) -> dict[str, Any]:
    own = {limit.currency for limit in currency_limits_list(tenant=tenant)}
    limits = amount_limits_for(tenant=tenant, currencies=own | _currencies_in_use(tenant))
    rows = []
    for currency, currency_limits in limits.items():
        form = bound if bound is not None and bound.data.get("currency", "").upper() == currency else None
        rows.append(
            {
                "limits": currency_limits,
                "form": form or CurrencyLimitForm(initial=CurrencyLimitForm.initial_of(limits=currency_limits)),
            }
        )
    is_new = bound is not None and all(row["form"] is not bound for row in rows)
    return {
        "rows": rows,
        "new_form": bound if is_new else CurrencyLimitForm(),
        **section_context(section="web:settings-limits"),
    }


@admin_view
def currency_limits(request: HttpRequest) -> HttpResponse:
    """The limits per currency (GET); POST saves one currency's, in that currency's units."""
    web = web_of(request)
    if request.method != "POST":
        return render(request, "settings/limits.html", _limits_context(web.tenant))
    form = CurrencyLimitForm(request.POST)
    if form.is_valid():
        before = _limits_in_force(web.tenant, form.cleaned_data["currency"])
        try:
            saved = currency_limit_save(tenant=web.tenant, actor=web.actor, **form.cleaned_data)
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(request, LIMITS_SAVED.format(currency=saved.currency))
            _limits_rematch(request, before=before)
            return redirect("web:settings-limits")
    return render(request, "settings/limits.html", _limits_context(web.tenant, bound=form), status=400)


@admin_view
@post_only(back="web:settings-limits", back_label="the amount limits")
def currency_limits_reset(request: HttpRequest) -> HttpResponse:
    """Drop the tenant's own limits in one currency: the defaults apply again."""
    web = web_of(request)
    currency = request.POST.get("currency", "").strip().upper()
    # Only a currency with limits of its own has anything to reset (and is a known currency).
    own = currency in {limit.currency for limit in currency_limits_list(tenant=web.tenant)}
    before = _limits_in_force(web.tenant, currency) if own else None
    currency_limit_delete(tenant=web.tenant, actor=web.actor, currency=currency)
    if currency:
        messages.success(request, LIMITS_RESET.format(currency=currency))
    if before is not None:
        _limits_rematch(request, before=before)
    return redirect("web:settings-limits")


def _limits_in_force(tenant: Tenant, currency: str) -> AmountLimits:
    """The limits matching applies in `currency` now: the tenant's own, else the defaults."""
    return amount_limits_for(tenant=tenant, currencies=[currency])[currency]


def _limits_rematch(request: HttpRequest, *, before: AmountLimits) -> None:
    """After a currency's limits were saved or reset: its invoices in review or on hold are
    matched again when a limit the engine decides by changed (here, not in tenants.services:
    tenants sits below matching), and the page says how many."""
    web = web_of(request)
    after = _limits_in_force(web.tenant, before.currency)
    _rematched_say(
        request, matching_rematch_for_currency_limits(tenant=web.tenant, actor=web.actor, before=before, after=after)
    )


@admin_view
def vendor_tolerance_index(request: HttpRequest) -> HttpResponse:
    """The vendors, those with their own tolerances first."""
    web = web_of(request)
    vendors = Vendor.objects.for_tenant(web.tenant).annotate(
        has_override=Q(price_tolerance_pct__isnull=False) | Q(quantity_tolerance_pct__isnull=False)
    )
    search = request.GET.get("q", "").strip()
    if search:
        vendors = vendors.filter(name__icontains=search)
    listing = list_page(
        query=request.GET,
        queryset=vendors,
        per_page=VENDOR_PAGE_SIZE,
        sorts={"override": (F("has_override").desc(), "name"), "name": ("name",)},
        default_sort="override",
    )
    stored = tenant_settings_get(tenant=web.tenant)
    context = {
        "page": listing.page,
        "sort": listing.sort,
        "search": search,
        "tenant_settings": stored,
        **section_context(section="web:settings-vendors"),
    }
    return render(request, "settings/vendors.html", context)


@admin_view
def vendor_tolerance_edit(request: HttpRequest, vendor_id: str) -> HttpResponse:
    """One vendor's own tolerances (GET shows, POST saves; blank fields: the tenant's apply)."""
    web = web_of(request)
    vendor = get_object_or_404(Vendor.objects.for_tenant(web.tenant), pk=vendor_id)
    initial = {
        "price_tolerance_pct": vendor.price_tolerance_pct,
        "quantity_tolerance_pct": vendor.quantity_tolerance_pct,
    }
    form = VendorTolerancesForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = vendor_tolerances_update(tenant=web.tenant, vendor=vendor, actor=web.actor, **form.cleaned_data)
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(request, VENDOR_SAVED.format(vendor=vendor.name))
            # Here, not in vendors.services: vendors sits below matching (the layers contract).
            after = {name: getattr(saved, name) for name in TOLERANCES}
            _rematched_say(
                request,
                matching_rematch_for_vendor_tolerances(
                    tenant=web.tenant, vendor=saved, actor=web.actor, before=initial, after=after
                ),
            )
            return redirect("web:settings-vendors")
    context = {
        "vendor": vendor,
        "form": form,
        "tenant_settings": tenant_settings_get(tenant=web.tenant),
        **section_context(section="web:settings-vendors"),
    }
    return render(request, "settings/vendor.html", context, status=400 if form.is_bound and form.errors else 200)


@admin_view
def schedules(request: HttpRequest) -> HttpResponse:
    """The periodic jobs' intervals: settings of the installation (environment), the same for
    every tenant, so shown with where they come from rather than as a form."""
    context = {
        "jobs": jobs(),
        "match_on_ingest": settings.MATCH_ON_INGEST,
        **section_context(section="web:settings-schedules"),
    }
    return render(request, "settings/schedules.html", context)
