"""Settings → Approvals: the tenant's approval policy (review.approvals), an ordered list of rules,
each a chain of steps. An administrator adds a rule (amounts typed in the rule's currency's own
units), edits one in place (its criteria, chain and place in the order), removes one, or moves one
up (the first rule that takes an invoice decides its chain). Every change through
review.approval_policies, audited; the page lists the latest changes as the settings' audit trail
reads them."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audit.models import NEWEST_FIRST
from audit.selectors import audit_event_list
from core.exceptions import DomainError
from core.http.forms import errors_add
from core.money import format_minor
from purchasing.selectors import cost_centres_in_use
from recon_site.tenant_settings.access import admin_view, section_context
from recon_site.tenant_settings.approval_rule_form import (
    SEVERITY_CHOICES,
    STEP_COUNT,
    ApprovalRuleEditForm,
    ApprovalRuleForm,
)
from recon_site.tenant_settings.audit_trail import trail_entries
from review.approval_policies import (
    approval_rule_create,
    approval_rule_delete,
    approval_rule_move_up,
    approval_rule_update,
    approval_rules_list,
    invoices_mid_chain,
)
from review.models import ApprovalRule
from tenants.http.error_pages import post_only
from tenants.http.web import web_of
from tenants.models import Tenant
from vendors.selectors import vendor_categories

RULE_ADDED = "Rule “{name}” added: it is tried after the rules above it."
RULE_REMOVED = "Rule removed."
RULE_MOVED = "Rule moved up."
RULE_SAVED = "Rule “{name}” saved. Invoices already part-way through its chain keep the chain they started with."
RECENT_CHANGES = 5  # the policy's latest changes the page lists (the audit trail has them all)


def _band(rule: Any) -> str:
    if rule.amount_from is None and rule.amount_below is None:
        return f"Any amount in {rule.currency}" if rule.currency else "Any amount, any currency"
    low = format_minor(rule.amount_from, rule.currency) if rule.amount_from is not None else "0"
    high = f"below {format_minor(rule.amount_below, rule.currency)}" if rule.amount_below is not None else "and up"
    return f"{rule.currency} {low} {high}".replace(" 0 below", " below")


def _page(request: HttpRequest, form: ApprovalRuleForm, *, status: int = 200) -> HttpResponse:
    web = web_of(request)
    rules = approval_rules_list(tenant=web.tenant)
    severity = dict(SEVERITY_CHOICES)
    for rule in rules:
        rule.band = _band(rule)
        rule.severity_label = severity.get(rule.min_severity, rule.min_severity)
    context = {
        "rules": rules,
        "form": form,
        "steps": range(1, STEP_COUNT + 1),
        "changes": _recent_changes(web.tenant),
        **_choices(web.tenant),
        **section_context(section="web:settings-approvals"),
    }
    return render(request, "settings/approvals.html", context, status=status)


def _choices(tenant: Tenant) -> dict[str, Any]:
    return {
        "vendor_categories": vendor_categories(tenant=tenant),
        "cost_centres": cost_centres_in_use(tenant=tenant),
    }


def _recent_changes(tenant: Tenant) -> list[Any]:
    """The policy's latest audit events, read as the settings' audit trail reads them."""
    events = audit_event_list(tenant=tenant).filter(entity_type="approval_rule").order_by(*NEWEST_FIRST)
    return trail_entries(events=list(events[:RECENT_CHANGES]))


@admin_view
def approval_policies(request: HttpRequest) -> HttpResponse:
    """GET: the rules in order and the form to add one; POST: add it (refusals beside their fields)."""
    web = web_of(request)
    if request.method != "POST":
        return _page(request, ApprovalRuleForm(tenant=web.tenant, auto_id="r-%s"))
    form = ApprovalRuleForm(request.POST, tenant=web.tenant, auto_id="r-%s")
    if form.is_valid():
        try:
            rule = approval_rule_create(tenant=web.tenant, actor=web.actor, spec=form.spec())
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(request, RULE_ADDED.format(name=rule.name))
            return redirect("web:settings-approvals")
    return _page(request, form, status=400)


def _rule_id(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("rule_id", ""))
    except ValueError:
        return None


@admin_view
@post_only(back="web:settings-approvals", back_label="the approval policy")
def approval_rule_change(request: HttpRequest) -> HttpResponse:
    """POST `rule_id` with `remove` or `move_up`; another tenant's rule or no rule: said on the page."""
    web = web_of(request)
    try:
        if "remove" in request.POST:
            approval_rule_delete(tenant=web.tenant, actor=web.actor, rule_id=_rule_id(request))
            messages.success(request, RULE_REMOVED)
        else:
            approval_rule_move_up(tenant=web.tenant, actor=web.actor, rule_id=_rule_id(request))
            messages.success(request, RULE_MOVED)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("web:settings-approvals")


def _edit_page(request: HttpRequest, rule: ApprovalRule, form: ApprovalRuleEditForm, *, status: int = 200) -> Any:
    web = web_of(request)
    context = {
        "rule": rule,
        "form": form,
        "mid_chain": invoices_mid_chain(tenant=web.tenant, rule=rule),
        **_choices(web.tenant),
        **section_context(section="web:settings-approvals"),
    }
    return render(request, "settings/approval_rule_edit.html", context, status=status)


@admin_view
def approval_rule_edit(request: HttpRequest, rule_id: uuid.UUID) -> HttpResponse:
    """GET: the rule's form as it stands; POST: save it in place (refusals beside their fields).
    Another tenant's rule, or none: not found."""
    web = web_of(request)
    rules = approval_rules_list(tenant=web.tenant)
    place = next((number for number, rule in enumerate(rules, start=1) if rule.pk == rule_id), None)
    if place is None:
        raise Http404
    rule = rules[place - 1]
    form = ApprovalRuleEditForm(
        request.POST if request.method == "POST" else None,
        tenant=web.tenant,
        rule=rule,
        place=place,
        rule_count=len(rules),
        auto_id="r-%s",
    )
    if request.method != "POST":
        return _edit_page(request, rule, form)
    if form.is_valid():
        try:
            saved = approval_rule_update(
                tenant=web.tenant,
                actor=web.actor,
                rule_id=rule.pk,
                spec=form.spec(),
                place=form.cleaned_data["position"],
            )
        except DomainError as exc:
            errors_add(form=form, error=exc)
        else:
            messages.success(request, RULE_SAVED.format(name=saved.name))
            return redirect("web:settings-approvals")
    return _edit_page(request, rule, form, status=400)
