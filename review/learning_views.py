"""What Recon learned from clerks (issue #20 item 2), on one page: the tolerance suggestions with
their evidence (an administrator accepts or declines; an accepted rule can be undone), the item
aliases learned from approvals, the vendor names and tax ids learned from vendors chosen by hand,
the vendor names and bank accounts learned from manual payment matches — each with where it came
from and a way to forget it.

Here, in review, because the page shows what payments learned too and an accepted or undone rule
re-matches the vendor's open invoices (matching.rematch): the learning app sits below both.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.actors import Actor
from core.exceptions import DomainError
from learning.models import ItemAlias, SuggestionStatus, ToleranceSuggestion
from learning.selectors import item_aliases, tolerance_suggestions, vendor_alias_teachings
from learning.services import (
    ToleranceChange,
    item_alias_forget,
    tolerance_suggestion_accept,
    tolerance_suggestion_decline,
    tolerance_suggestion_undo,
    vendor_alias_forget,
)
from matching.rematch import TOLERANCES, RematchOutcome, matching_rematch_for_vendor_tolerances
from payments.models import CounterpartyAccount
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of
from tenants.models import Role, Tenant
from vendors.models import VendorAlias, VendorAliasKind

ADMINS_DECIDE = "Only an administrator can accept, decline or undo a learned rule."
APPROVERS_FORGET = "Only an approver or an administrator can make Recon forget what it learned."
ACCEPTED = "Accepted: {vendor}'s {kind} is now {pct} %."
DECLINED = "Declined: {vendor}'s tolerance stays as it is, and this evidence will not be proposed again."
UNDONE = "Undone: {vendor}'s {kind} is back to {pct}."
REMATCHED = "{count} open invoice(s) of {vendor} are being matched again."
FORGOTTEN = "Forgotten: {what}."

SHOWN_MAX = 200


def _admin(web: WebContext) -> None:
    if web.role != Role.ADMIN:
        raise PermissionDenied(ADMINS_DECIDE)


@tenant_view
def learned(request: HttpRequest) -> HttpResponse:
    """The learned facts and the suggestions waiting for an administrator."""
    web = web_of(request)
    suggestions = list(tolerance_suggestions(tenant=web.tenant)[:SHOWN_MAX])
    context = {
        "nav": "learned",
        "open_suggestions": [s for s in suggestions if s.status == SuggestionStatus.OPEN],
        "decided_suggestions": [s for s in suggestions if s.status != SuggestionStatus.OPEN],
        "item_aliases": list(item_aliases(tenant=web.tenant)[:SHOWN_MAX]),
        "vendor_aliases": _vendor_aliases(web.tenant),
        "counterparty_accounts": list(
            CounterpartyAccount.objects.for_tenant(web.tenant)
            .select_related("vendor", "learned_from")
            .order_by("-updated_at")[:SHOWN_MAX]
        ),
        "is_admin": web.role == Role.ADMIN,
        "can_forget": web.is_approver,
        "shown_max": SHOWN_MAX,
    }
    return render(request, "review/learned.html", context)


def _vendor_aliases(tenant: Tenant) -> list[dict[str, object]]:
    """The vendors' other names and tax ids, newest first, each with who taught it by choosing the
    vendor for an invoice (None: added on the vendor, or learned from a payment)."""
    taught = {
        (kind, alias, vendor_id): (who, on) for kind, alias, vendor_id, who, on in vendor_alias_teachings(tenant=tenant)
    }
    return [
        {"alias": alias, "taught": taught.get((alias.kind, alias.normalized_alias, alias.vendor_id))}
        for alias in VendorAlias.objects.for_tenant(tenant).select_related("vendor").order_by("-created_at")[:SHOWN_MAX]
    ]


def tolerance_change_rematch(*, tenant: Tenant, actor: Actor, change: ToleranceChange) -> RematchOutcome:
    """After an accepted or undone rule: the vendor's open invoices matched again (the page's and
    the API's step after the commit; matching sits above learning)."""
    before = {name: change.before.get(name) for name in TOLERANCES}
    after = {name: change.after.get(name) for name in TOLERANCES}
    return matching_rematch_for_vendor_tolerances(
        tenant=tenant, vendor=change.vendor, actor=actor, before=before, after=after
    )


def _rematch(request: HttpRequest, web: WebContext, change: ToleranceChange) -> None:
    outcome = tolerance_change_rematch(tenant=web.tenant, actor=web.actor, change=change)
    if outcome.moved:
        messages.info(request, REMATCHED.format(count=len(outcome.moved), vendor=change.vendor.name))


@tenant_view
@post_only(back="web:learned", back_label="what Recon learned", owned=("suggestion_id", ToleranceSuggestion))
def suggestion_accept_view(request: HttpRequest, suggestion_id: uuid.UUID) -> HttpResponse:
    return _suggestion_decide(request, suggestion_id, "accept")


@tenant_view
@post_only(back="web:learned", back_label="what Recon learned", owned=("suggestion_id", ToleranceSuggestion))
def suggestion_decline_view(request: HttpRequest, suggestion_id: uuid.UUID) -> HttpResponse:
    return _suggestion_decide(request, suggestion_id, "decline")


@tenant_view
@post_only(back="web:learned", back_label="what Recon learned", owned=("suggestion_id", ToleranceSuggestion))
def suggestion_undo_view(request: HttpRequest, suggestion_id: uuid.UUID) -> HttpResponse:
    return _suggestion_decide(request, suggestion_id, "undo")


def _suggestion_decide(request: HttpRequest, suggestion_id: uuid.UUID, decision: str) -> HttpResponse:
    """POST accept / decline / undo of a tolerance suggestion (administrators)."""
    web = web_of(request)
    _admin(web)
    suggestion = get_object_or_404(ToleranceSuggestion.objects.for_tenant(web.tenant), pk=suggestion_id)
    vendor = suggestion.vendor.name
    kind = suggestion.get_kind_display().lower()
    try:
        if decision == "accept":
            change = tolerance_suggestion_accept(tenant=web.tenant, suggestion=suggestion, actor=web.actor)
            messages.success(
                request, ACCEPTED.format(vendor=vendor, kind=kind, pct=_pct(change.suggestion.proposed_pct))
            )
            _rematch(request, web, change)
        elif decision == "decline":
            tolerance_suggestion_decline(tenant=web.tenant, suggestion=suggestion, actor=web.actor)
            messages.success(request, DECLINED.format(vendor=vendor))
        else:
            change = tolerance_suggestion_undo(tenant=web.tenant, suggestion=suggestion, actor=web.actor)
            previous = change.suggestion.previous_pct
            messages.success(
                request,
                UNDONE.format(
                    vendor=vendor, kind=kind, pct=f"{_pct(previous)} %" if previous else "the organisation's"
                ),
            )
            _rematch(request, web, change)
    except DomainError as exc:
        messages.error(request, str(exc))
    return redirect("web:learned")


def _pct(value: Decimal) -> str:
    """3.000 → "3", 2.800 → "2.8": a percent as a person writes it."""
    return format(value.normalize(), "f")


@tenant_view
@post_only(back="web:learned", back_label="what Recon learned", owned=("item_alias_id", ItemAlias))
def item_alias_forget_view(request: HttpRequest, item_alias_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    if not web.is_approver:
        raise PermissionDenied(APPROVERS_FORGET)
    alias = get_object_or_404(ItemAlias.objects.for_tenant(web.tenant), pk=item_alias_id)
    try:
        item_alias_forget(tenant=web.tenant, alias=alias, actor=web.actor)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, FORGOTTEN.format(what=f"{alias.invoice_text} → {alias.po_item_text}"))
    return redirect("web:learned")


@tenant_view
@post_only(back="web:learned", back_label="what Recon learned", owned=("vendor_alias_id", VendorAlias))
def vendor_alias_forget_view(request: HttpRequest, vendor_alias_id: uuid.UUID) -> HttpResponse:
    web = web_of(request)
    if not web.is_approver:
        raise PermissionDenied(APPROVERS_FORGET)
    alias = get_object_or_404(VendorAlias.objects.for_tenant(web.tenant), pk=vendor_alias_id)
    vendor_alias_forget(tenant=web.tenant, alias=alias, actor=web.actor)
    what = "a name" if alias.kind == VendorAliasKind.NAME else "a tax id"
    messages.success(request, FORGOTTEN.format(what=f"{alias.alias} as {what} of {alias.vendor.name}"))
    return redirect("web:learned")
