"""The approval rule form of Settings → Approvals (add a rule, edit one in place): amounts typed in
the rule's currency's own units, up to STEP_COUNT steps, each a role or named members. Its labels
are also the settings' audit trail's names for a rule's fields (audit_trail)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator

from core.http.forms import currency_cleaned
from core.money import MoneyError, format_minor, to_minor
from review.approval_policies import RuleSpec, StepSpec
from review.models import ApprovalMode, ApprovalRule
from review.people import active_members
from tenants.models import Role, Tenant
from vendors.models import Vendor

STEP_COUNT = 3  # steps offered by the form; a longer chain is rare enough to be two rules' worth
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

    def __init__(self, *args: Any, tenant: Tenant, step_count: int = STEP_COUNT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.step_count = step_count
        vendors = Vendor.objects.for_tenant(tenant).order_by("name").values_list("pk", "name")
        self.fields["vendor"].choices = [("", "Any vendor"), *((str(pk), name) for pk, name in vendors)]
        members = [(str(m.user_id), m.user.get_username()) for m in active_members(tenant)]
        for number in range(1, step_count + 1):
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
        for number in range(1, self.step_count + 1):
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


class ApprovalRuleEditForm(ApprovalRuleForm):
    """The form of one rule being edited: its fields as they are, and its place in the order."""

    position = forms.IntegerField(
        label="Place in the order",
        min_value=1,
        help_text="1: tried first. The rules after it move down by one.",
    )

    def __init__(self, *args: Any, rule: ApprovalRule, place: int, rule_count: int, **kwargs: Any) -> None:
        kwargs.setdefault("initial", rule_initial(rule, place=place))
        # A chain longer than the add form offers (the API takes up to 10 steps) keeps every step.
        kwargs.setdefault("step_count", max(STEP_COUNT, rule.steps.count()))
        super().__init__(*args, **kwargs)
        # The service refuses a place past the end too (the API's door); the form says it first.
        self.fields["position"].validators.append(MaxValueValidator(rule_count))
        self.fields["position"].widget.attrs["max"] = rule_count


def rule_initial(rule: ApprovalRule, *, place: int | None) -> dict[str, Any]:
    """The form's fields as the rule has them (amounts in the currency's units, steps by number)."""
    initial: dict[str, Any] = {
        "name": rule.name,
        "currency": rule.currency,
        "amount_from": format_minor(rule.amount_from, rule.currency) if rule.amount_from is not None else "",
        "amount_below": format_minor(rule.amount_below, rule.currency) if rule.amount_below is not None else "",
        "vendor": str(rule.vendor_id) if rule.vendor_id else "",
        "vendor_category": rule.vendor_category,
        "cost_centre": rule.cost_centre,
        "min_severity": rule.min_severity,
        "escalate_after_days": rule.escalate_after_days,
    }
    if place is not None:
        initial["position"] = place
    for number, step in enumerate(rule.steps.all().order_by("position"), start=1):
        initial[f"step{number}_role"] = step.role
        initial[f"step{number}_users"] = [str(entry.user_id) for entry in step.named_users.all()]
        initial[f"step{number}_mode"] = step.mode
    return initial
