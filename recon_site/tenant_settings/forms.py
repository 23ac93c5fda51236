"""The settings pages' forms: what an administrator types, in the units a person uses (percent
for scores, each currency's own major units for amounts), turned into what the services take.

Validation that belongs to the data (ranges, check constraints) stays in the services and the
models; a service's refusal is put back on the form, next to the field it names (`core.http.forms.errors_add`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from core.amount_limits import AmountLimits
from core.http.forms import currency_cleaned
from core.money import MoneyError, format_minor, to_minor
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS, DISCREPANCY_TYPES
from tenants.models import Role, TenantSettings

HUNDRED = Decimal(100)

# TenantSettings fields whose stored value is a fraction (0.950) and which a person types as a
# percentage (95).
CONFIDENCE_FIELDS = ("auto_approve_min_confidence", "reconcile_auto_apply_min_confidence")
UNUSUAL_MIN_ABOVE_WINDOW = "At most the number of invoices compared with: a vendor could never have enough."


def _percent_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(label=label, help_text=help_text, min_value=0, max_value=100, decimal_places=1)


class MatchingSettingsForm(forms.Form):
    """The tenant's matching and reconciliation settings (tenants.TenantSettings, amounts aside)."""

    price_tolerance_pct = forms.DecimalField(
        label="Price tolerance (%)",
        min_value=0,
        decimal_places=3,
        help_text="An invoice price may differ from the PO price by this much and still count as a match.",
    )
    quantity_tolerance_pct = forms.DecimalField(
        label="Quantity tolerance (%)",
        min_value=0,
        decimal_places=3,
        help_text="How much more than ordered or received may be billed before it is a discrepancy.",
    )
    auto_approve_min_confidence = _percent_field(
        "Auto-approve from match confidence (%)",
        "A clean 3-way match (no discrepancy at all) at or above this confidence is approved.",
    )
    reject_on = forms.MultipleChoiceField(
        label="Reject invoices with",
        required=False,
        choices=[(code, DISCREPANCY_TYPE_LABELS[code]) for code in DISCREPANCY_TYPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="An invoice with any of these is rejected without review.",
    )
    hold_max_days = forms.IntegerField(
        label="Escalate invoices on hold after (days)",
        min_value=0,
        help_text="An invoice waiting this long for its goods goes to the escalated queue.",
    )
    review_sla_days = forms.IntegerField(
        label="Overdue for review after (days)",
        min_value=1,
        max_value=365,
        help_text="An invoice waiting this long for a person since it arrived is marked overdue in every list.",
    )
    bank_account_cooling_off_days = forms.IntegerField(
        label="Pay a new vendor bank account after (days)",
        min_value=0,
        max_value=90,
        help_text="A vendor's new or changed account, once approved by a second person, is not paid to for this long.",
    )
    fuzzy_vendor_threshold = forms.IntegerField(
        label="Vendor name similarity to accept (0–100)",
        min_value=50,
        max_value=100,
        help_text="How alike an unknown name must be to a vendor's to be taken as that vendor.",
    )
    unusual_amount_window = forms.IntegerField(
        label="Unusual amounts: compare with the vendor's last (invoices)",
        min_value=3,
        max_value=200,
        help_text="An invoice's total is compared with this many of the vendor's latest approved invoices.",
    )
    unusual_amount_min_history = forms.IntegerField(
        label="Unusual amounts: judge from (approved invoices)",
        min_value=3,
        max_value=200,
        help_text="A vendor with fewer approved invoices than this is not judged on amounts yet.",
    )
    unusual_amount_threshold = forms.DecimalField(
        label="Unusual amounts: flag from score",
        min_value=1,
        max_value=50,
        decimal_places=1,
        help_text="How far above the vendor's usual total (a robust z-score; 3.5 is about 1.7× a steady amount).",
    )
    max_invoices_per_run = forms.IntegerField(
        label="Invoices per matching batch", min_value=1, help_text="A run matches at most this many at a time."
    )
    reconcile_auto_apply = forms.BooleanField(
        label="Apply payment matches the engine is sure of",
        required=False,
        help_text="Off: every proposed payment match waits for a clerk.",
    )
    reconcile_auto_apply_min_confidence = _percent_field("Apply payment matches from confidence (%)")
    write_off_max_pct = _percent_field(
        "Write off short payments up to (% of the balance)",
        "And at most the write-off limit of the currency (amount limits).",
    )

    @classmethod
    def initial_of(cls, *, tenant_settings: TenantSettings) -> dict[str, Any]:
        initial = {name: getattr(tenant_settings, name) for name in cls.base_fields}
        for name in CONFIDENCE_FIELDS:
            initial[name] = (initial[name] * HUNDRED).normalize()
        for name in ("price_tolerance_pct", "quantity_tolerance_pct", "write_off_max_pct", "unusual_amount_threshold"):
            initial[name] = initial[name].normalize()
        initial["reject_on"] = list(tenant_settings.reject_on or [])
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        window, minimum = cleaned.get("unusual_amount_window"), cleaned.get("unusual_amount_min_history")
        if window is not None and minimum is not None and minimum > window:
            self.add_error("unusual_amount_min_history", UNUSUAL_MIN_ABOVE_WINDOW)
        return cleaned

    def changes(self) -> dict[str, Any]:
        """The cleaned values as TenantSettings stores them (confidences as fractions)."""
        changes = dict(self.cleaned_data)
        for name in CONFIDENCE_FIELDS:
            changes[name] = changes[name] / HUNDRED
        # Stored in the vocabulary's order, so the same choice is the same value (and no change).
        changes["reject_on"] = [code for code in DISCREPANCY_TYPES if code in set(changes["reject_on"])]
        return changes


class CurrencyLimitForm(forms.Form):
    """One currency's limits, typed in that currency's own units (JPY 15000, BHD 40.000)."""

    currency = forms.CharField(label="Currency", min_length=3, max_length=3)
    auto_approve_below = forms.CharField(
        label="Auto-approve below", help_text="A total below this is approved when nothing serious was found."
    )
    escalate_from = forms.CharField(label="Escalate from", help_text="A total from this up needs an approver.")
    write_off_max = forms.CharField(label="Write off up to", help_text="The largest short payment written off.")
    price_tolerance_floor = forms.DecimalField(
        label="Price tolerance floor per unit",
        min_value=0,
        decimal_places=6,
        help_text="A unit price may always differ by this much, when it is more than the percentage.",
    )
    new_vendor_first_invoice_max = forms.CharField(
        label="New vendor's first invoice up to",
        required=False,
        help_text="Above this, the first invoice of a vendor with nothing approved yet is flagged. Blank: no limit.",
    )

    @staticmethod
    def initial_of(*, limits: AmountLimits) -> dict[str, Any]:
        currency = limits.currency
        return {
            "currency": currency,
            "auto_approve_below": format_minor(limits.auto_approve_below, currency),
            "escalate_from": format_minor(limits.escalate_from, currency),
            "write_off_max": format_minor(limits.write_off_max, currency),
            "price_tolerance_floor": limits.price_tolerance_floor.normalize(),
            "new_vendor_first_invoice_max": (
                format_minor(limits.new_vendor_first_invoice_max, currency)
                if limits.new_vendor_first_invoice_max is not None
                else ""
            ),
        }

    def clean_currency(self) -> str:
        return currency_cleaned(self.cleaned_data["currency"])

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        currency = cleaned.get("currency")
        if currency is None:
            return cleaned
        # Minor units of the currency typed: "100.5" is refused for JPY, "40.000" taken for BHD.
        for name in ("auto_approve_below", "escalate_from", "write_off_max"):
            if name not in cleaned:
                continue
            try:
                cleaned[name] = to_minor(cleaned[name], currency)
            except MoneyError as exc:
                self.add_error(name, str(exc))
        new_vendor_max = (cleaned.get("new_vendor_first_invoice_max") or "").strip()
        try:
            cleaned["new_vendor_first_invoice_max"] = to_minor(new_vendor_max, currency) if new_vendor_max else None
        except MoneyError as exc:
            self.add_error("new_vendor_first_invoice_max", str(exc))
        return cleaned


class VendorTolerancesForm(forms.Form):
    """A vendor's own tolerances; blank: the tenant's apply."""

    price_tolerance_pct = forms.DecimalField(
        label="Price tolerance (%)", required=False, min_value=0, decimal_places=3, help_text="Blank: the tenant's."
    )
    quantity_tolerance_pct = forms.DecimalField(
        label="Quantity tolerance (%)", required=False, min_value=0, decimal_places=3, help_text="Blank: the tenant's."
    )


class InviteForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150)
    email = forms.EmailField(label="Email", required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.CLERK)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class ActiveForm(forms.Form):
    is_active = forms.TypedChoiceField(
        label="Active", choices=[("1", "Active"), ("0", "Deactivated")], coerce=lambda value: value == "1"
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What uses the key, e.g. “ERP connector”.")
