"""What a clerk types to enter a purchase order or a goods receipt in the web app.

The forms read the page (a vendor by the name the clerk picks, a currency, dates, quantities);
the rules of the documents stay in `purchasing.services`, whose refusals are put back beside
the fields (tenants.http.line_entry.attach_errors).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from core.http.forms import date_input
from core.money import CURRENCY_EXPONENTS
from core.quantities import quantity_error
from core.text import column_max_length
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.http.line_entry import LineEntryForm, typed_decimal
from tenants.models import Tenant
from vendors.models import Vendor
from vendors.names import normalize_tax_id, normalize_vendor_name

# Offered after the tenant's own currencies: the ones most AP teams meet, then every ISO code.
COMMON_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK", "PLN", "CZK", "CNY")
# The datalist is a typing aid, not the check: a name not in it is still looked up among all
# active vendors. A tenant with more vendors than this types the start of the name.
VENDOR_CHOICES_MAX = 1000

VENDOR_UNKNOWN = "No active vendor is called “{name}”. Pick one from the list."
VENDOR_AMBIGUOUS = "Several active vendors are called “{name}”. Type the vendor's tax id instead."
DESCRIPTION_REQUIRED = "A purchase order line needs a description."
COST_CENTRE_MAX = column_max_length(PurchaseOrderLine, "cost_centre")


def tenant_currencies(*, tenant: Tenant) -> list[str]:
    """The tenant's own currencies, most used first: those of its purchase orders, then its
    vendors' usual ones. The app has no base currency per tenant; what it orders in is the best
    guess of what the clerk types next."""
    used = Counter(PurchaseOrder.objects.for_tenant(tenant).order_by().values_list("currency", flat=True))
    by_use = [currency for currency, _ in used.most_common()]
    defaults = (
        Vendor.objects.for_tenant(tenant)
        .filter(is_active=True)
        .exclude(default_currency="")
        .order_by("default_currency")
        .values_list("default_currency", flat=True)
        .distinct()
    )
    ordered = by_use + [currency for currency in defaults if currency not in by_use]
    return [currency for currency in ordered if currency in CURRENCY_EXPONENTS]


def currency_choices(own: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The currency select: the tenant's first, then the common ones, then every other ISO code."""
    common = [code for code in COMMON_CURRENCIES if code not in own]
    others = sorted(set(CURRENCY_EXPONENTS) - set(own) - set(common))
    groups = [("Used by your organisation", own), ("Common", common), ("Other currencies", others)]
    return [(title, [(code, code) for code in codes]) for title, codes in groups if codes]


def vendor_names(*, tenant: Tenant) -> list[Vendor]:
    """The active vendors offered in the vendor field's list."""
    return list(Vendor.objects.for_tenant(tenant).filter(is_active=True).order_by("name")[:VENDOR_CHOICES_MAX])


def vendor_typed(*, tenant: Tenant, text: str) -> Vendor:
    """The active vendor a clerk named: by its exact name (any case), by its name as matching
    compares names (legal form and punctuation aside), or by its tax id. Creating a vendor is not
    this page's job: an unknown name is an error beside the field."""
    name = text.strip()
    active = Vendor.objects.for_tenant(tenant).filter(is_active=True)
    for candidates in (
        active.filter(name__iexact=name),
        active.filter(normalized_name=normalize_vendor_name(name)) if normalize_vendor_name(name) else None,
        active.filter(tax_id=normalize_tax_id(name)) if normalize_tax_id(name) else None,
    ):
        if candidates is None:
            continue
        found = list(candidates[:2])
        if len(found) == 1:
            return found[0]
        if found:
            raise forms.ValidationError(VENDOR_AMBIGUOUS.format(name=name))
    raise forms.ValidationError(VENDOR_UNKNOWN.format(name=name))


class PurchaseOrderEntryForm(forms.Form):
    """The header of a purchase order typed by hand; its lines are the shared line editor."""

    vendor = forms.CharField(
        label="Vendor", max_length=255, widget=forms.TextInput(attrs={"list": "vendor-names", "autocomplete": "off"})
    )
    po_number = forms.CharField(label="PO number", max_length=64)
    currency = forms.ChoiceField(label="Currency")
    order_date = forms.DateField(label="Order date", widget=date_input())
    expected_date = forms.DateField(label="Expected delivery", required=False, widget=date_input())
    # The order's cost centre, as a clerk books most orders: each line that names none of its own
    # (PurchaseOrderLineEntryForm.cost_centre) is booked to it.
    cost_centre = forms.CharField(
        label="Cost centre",
        max_length=COST_CENTRE_MAX,
        required=False,
        help_text="Booked to every line that names no cost centre of its own; approval rules can name it.",
        widget=forms.TextInput(attrs={"list": "cost-centres", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, tenant: Tenant, own_currencies: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        currency = self.fields["currency"]
        assert isinstance(currency, forms.ChoiceField)
        currency.choices = currency_choices(own_currencies)

    @staticmethod
    def initial_for(own_currencies: list[str]) -> dict[str, Any]:
        return {"currency": (own_currencies or list(COMMON_CURRENCIES))[0], "order_date": timezone.localdate()}

    def clean_vendor(self) -> Vendor:
        return vendor_typed(tenant=self.tenant, text=self.cleaned_data["vendor"])


class PurchaseOrderLineEntryForm(LineEntryForm):
    """A PO line in the line editor: a line, and the cost centre it is booked to (blank: the
    order's). Approval rules can route an invoice matched to the line by it."""

    cost_centre = forms.CharField(
        label="Cost centre",
        max_length=COST_CENTRE_MAX,
        required=False,
        widget=forms.TextInput(attrs={"list": "cost-centres", "autocomplete": "off"}),
    )


def line_cost_centre(line_form: forms.Form, *, order_cost_centre: str) -> str:
    """The cost centre a typed PO line is booked to: its own, else the order's."""
    own = str(getattr(line_form, "cleaned_data", {}).get("cost_centre", "") or "").strip()
    return own or order_cost_centre.strip()


class GoodsReceiptEntryForm(forms.Form):
    """The header of a goods receipt recorded against a purchase order."""

    receipt_number = forms.CharField(
        label="Receipt number",
        max_length=64,
        help_text="The delivery note's number, as printed on it.",
    )
    received_date = forms.DateField(label="Received on", widget=date_input())

    @staticmethod
    def initial_for() -> dict[str, dt.date]:
        return {"received_date": timezone.localdate()}


def _received_now_error(value: Decimal) -> str | None:
    # 0 is allowed here: a line with nothing received now is left out of the receipt.
    return None if value == 0 else quantity_error(value)


class ReceiptLineForm(forms.Form):
    """What arrived now on one PO line; blank or 0: nothing, and the line is not on the receipt."""

    quantity = forms.CharField(
        label="Received now", max_length=40, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )

    def clean_quantity(self) -> Decimal | None:
        return typed_decimal(self.cleaned_data.get("quantity", ""), _received_now_error)


def receipt_line_formset(*, rows: int, data: Any = None, initial: list[dict[str, Any]] | None = None) -> Any:
    """One row per PO line. The number of rows is the PO's, not the page's: a posted form that
    claims more or fewer rows is read as the PO's rows (the management form is overwritten)."""
    formset_class = forms.formset_factory(ReceiptLineForm, extra=0, max_num=rows, absolute_max=max(rows, 1))
    if data is None:
        return formset_class(initial=initial, prefix="lines")
    fixed = data.copy()
    fixed["lines-TOTAL_FORMS"] = str(rows)
    fixed["lines-INITIAL_FORMS"] = str(rows)
    return formset_class(fixed, prefix="lines")
