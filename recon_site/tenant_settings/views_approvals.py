"""Settings → Approvals: the tenant's approval policy (review.approvals), an ordered list of rules,
each a chain of steps. An administrator adds a rule (amounts typed in the rule's currency's own
units), removes one, or moves one up (the first rule that takes an invoice decides its chain).
Every change through review.approval_policies, audited."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import DomainError
from core.http.forms import currency_cleaned, errors_add
from core.money import MoneyError, format_minor, to_minor
from purchasing.selectors import cost_centres_in_use
from recon_site.tenant_settings.access import admin_view, section_context
from review.approval_policies import (
    RuleSpec,
    StepSpec,
    approval_rule_create,
    approval_rule_delete,
    approval_rule_move_up,
    approval_rules_list,
)
from review.models import ApprovalMode
from review.people import active_members
from tenants.http.error_pages import post_only
from tenants.http.web import web_of
from tenants.models import Role, Tenant
from vendors.models import Vendor
from vendors.selectors import vendor_categories

STEP_COUNT = 3  # steps offered by the form; a longer chain is rare enough to be two rules' worth
RULE_ADDED = "Rule “{name}” added: it is tried after the rules above it."
RULE_REMOVED = "Rule removed."
RULE_MOVED = "Rule moved up."
SEVERITY_CHOICES = [
    ("", "Any invoice"),
    ("low", "Any discrepancy (low or worse)"),
    ("medium", "Medium or worse"),
    ("high", "High or worse"),
    ("critical", "Critical"),
]


class ApprovalRuleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    currency = forms.CharField(label="Currency", required=False, max_length=3, help_text="Blank: any currency.")
    amount_from = forms.CharField(label="From amount (included)", required=False, help_text="In the currency's units.")
    amount_below = forms.CharField(label="Below amount", required=False, help_text="Blank: no upper limit.")
    vendor = forms.ChoiceField(label="Vendor", required=False)
    vendor_category = forms.CharField(
        label="Vendor category",
        required=False,
        max_length=100,
        help_text="Blank: any. As on the vendor's page, e.g. Logistics.",
        widget=forms.TextInput(attrs={"list": "rule-vendor-categories", "autocomplete": "off"}),
    )
    cost_centre = forms.CharField(
        label="Cost centre",
        required=False,
        max_length=64,
        help_text="Blank: any. Takes an invoice billing a PO line booked to it.",
        widget=forms.TextInput(attrs={"list": "rule-cost-centres", "autocomplete": "off"}),
    )
    min_severity = forms.ChoiceField(label="Discrepancies", required=False, choices=SEVERITY_CHOICES)
    escalate_after_days = forms.IntegerField(
        label="Escalate after (days)",
        required=False,
        min_value=0,
        max_value=365,
        help_text="A chain not complete this many days after the invoice came into review goes to the escalated queue.",
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vendors = Vendor.objects.for_tenant(tenant).order_by("name").values_list("pk", "name")
        self.fields["vendor"].choices = [("", "Any vendor"), *((str(pk), name) for pk, name in vendors)]
        members = [(str(m.user_id), m.user.get_username()) for m in active_members(tenant)]
        for number in range(1, STEP_COUNT + 1):
            self.fields[f"step{number}_role"] = forms.ChoiceField(
                label=f"Step {number}: role",
                required=False,
                choices=[("", "Named users instead" if number == 1 else "No step / named users"), *Role.choices],
            )
            self.fields[f"step{number}_users"] = forms.MultipleChoiceField(
                label=f"Step {number}: or these users",
                required=False,
                choices=members,
                # Ticked, one box per member: web/_field.html draws a multiple choice as boxes
                # (a <select multiple> came out as bare options no one could pick).
                widget=forms.CheckboxSelectMultiple,
            )
            self.fields[f"step{number}_mode"] = forms.ChoiceField(
                label=f"Step {number}: who must approve", choices=ApprovalMode.choices, required=False
            )

    def clean_currency(self) -> str:
        typed = self.cleaned_data.get("currency", "").strip()
        return currency_cleaned(typed) if typed else ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency") or ""
        for name in ("amount_from", "amount_below"):
            typed = (cleaned.get(name) or "").strip()
            if not typed:
                cleaned[name] = None
            elif not currency:
                cleaned[name] = None
                self.add_error("currency", "An amount band is in one currency: type it.")
            else:
                try:
                    cleaned[name] = to_minor(typed, currency)
                except MoneyError as exc:
                    self.add_error(name, str(exc))
        return cleaned

    def spec(self) -> RuleSpec:
        data = self.cleaned_data
        steps = []
        for number in range(1, STEP_COUNT + 1):
            role, users = data.get(f"step{number}_role") or "", data.get(f"step{number}_users") or []
            if number > 1 and not role and not users:
                continue
            steps.append(
                StepSpec(
                    role=role, user_ids=[int(u) for u in users], mode=data.get(f"step{number}_mode") or ApprovalMode.ANY
                )
            )
        return RuleSpec(
            name=data["name"],
            steps=steps,
            currency=data.get("currency") or "",
            amount_from=data.get("amount_from"),
            amount_below=data.get("amount_below"),
            vendor_id=data.get("vendor") or None,
            vendor_category=data.get("vendor_category") or "",
            cost_centre=data.get("cost_centre") or "",
            min_severity=data.get("min_severity") or "",
            escalate_after_days=data.get("escalate_after_days"),
        )


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
        "vendor_categories": vendor_categories(tenant=web.tenant),
        "cost_centres": cost_centres_in_use(tenant=web.tenant),
        **section_context(section="web:settings-approvals"),
    }
    return render(request, "settings/approvals.html", context, status=status)


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
