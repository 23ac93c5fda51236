"""The Delegations page: a member lets another member approve for them over a date range (the
approval chains of review.approvals accept the delegate for a step that names the member), sees
the delegations given and received, and revokes one of theirs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from core.exceptions import DomainError
from core.http.forms import date_input, errors_add, posted_uuid
from review.approval_policies import delegation_create, delegation_revoke, delegations_of
from review.people import active_members, member_choices
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of

DELEGATED = "{delegate} may approve for you from {starts_on} to {ends_on}."
REVOKED = "Delegation to {delegate} revoked."


class DelegationForm(forms.Form):
    delegate = forms.ChoiceField(label="Delegate to")
    starts_on = forms.DateField(label="From", widget=date_input())
    ends_on = forms.DateField(label="Until (included)", widget=date_input())

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["delegate"].choices = [("", "Choose a member"), *choices]


def _form(request: HttpRequest, data: Any = None) -> DelegationForm:
    web = web_of(request)
    choices = member_choices(active_members(web.tenant).exclude(user_id=request.user.pk))
    today = timezone.localdate()
    return DelegationForm(data, choices=choices, initial={"starts_on": today, "ends_on": today}, auto_id="d-%s")


def _page(request: HttpRequest, form: DelegationForm, *, status: int = 200) -> HttpResponse:
    web = web_of(request)
    today = timezone.localdate()
    rows = delegations_of(tenant=web.tenant, user_id=request.user.pk)
    for delegation in rows:
        delegation.in_force = delegation.revoked_at is None and delegation.starts_on <= today <= delegation.ends_on
        delegation.mine = delegation.delegator_id == request.user.pk
    context = {
        "form": form,
        "given": [row for row in rows if row.mine],
        "received": [row for row in rows if not row.mine],
        "nav": "delegations",
    }
    return render(request, "review/delegations.html", context, status=status)


@tenant_view
def delegations(request: HttpRequest) -> HttpResponse:
    """GET: the member's delegations and the form; POST: delegate (refusals beside their fields)."""
    if request.method != "POST":
        return _page(request, _form(request))
    web = web_of(request)
    form = _form(request, request.POST)
    if form.is_valid():
        try:
            delegation = delegation_create(
                tenant=web.tenant,
                actor=web.actor,
                delegator_id=request.user.pk,
                delegate_id=form.cleaned_data["delegate"],
                starts_on=form.cleaned_data["starts_on"],
                ends_on=form.cleaned_data["ends_on"],
            )
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(
                request,
                DELEGATED.format(
                    delegate=delegation.delegate.get_username(),
                    starts_on=delegation.starts_on.isoformat(),
                    ends_on=delegation.ends_on.isoformat(),
                ),
            )
            return redirect("web:delegations")
    return _page(request, form, status=400)


@tenant_view
@post_only(back="web:delegations", back_label="your delegations")
def delegation_revoke_view(request: HttpRequest) -> HttpResponse:
    """POST `delegation_id`: revoke one of the member's own delegations (another's: not found)."""
    web = web_of(request)
    try:
        delegation = delegation_revoke(
            tenant=web.tenant,
            actor=web.actor,
            delegator_id=request.user.pk,
            delegation_id=posted_uuid(request.POST.get("delegation_id", "")),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _page(request, _form(request), status=exc.status_code)
    messages.success(request, REVOKED.format(delegate=delegation.delegate.get_username()))
    return redirect("web:delegations")
