"""The vendor page's bank account forms: what a clerk types, checked by vendors.bank_accounts.

No length or format rules here: the service checks every field and its refusals are put back
beside the field they name (core.http.forms.errors_add), so the page and the API say the same.
"""

from __future__ import annotations

from django import forms


class BankAccountProposeForm(forms.Form):
    iban = forms.CharField(
        label="IBAN",
        required=False,
        help_text="With or without spaces. Leave empty for an account outside the IBAN countries.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bic = forms.CharField(
        label="BIC (optional)",
        required=False,
        help_text="Found from the IBAN when left empty and the bank is known.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    account_number = forms.CharField(
        label="Account number (no IBAN)",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bank_code = forms.CharField(
        label="Bank code", required=False, help_text="Sort code, routing number or bank number."
    )
    country = forms.CharField(label="Bank's country", required=False, help_text="Two letters, such as US or GB.")
    comment = forms.CharField(
        label="Why it changes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How the vendor told you (letter, call back to a known number): the approver reads it.",
    )


class BankAccountDecideForm(forms.Form):
    comment = forms.CharField(
        label="Reason",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to reject; the person who proposed the account reads it.",
    )


class PaymentTermsForm(forms.Form):
    """2/10 net 30 typed as 30, 2 and 10; an empty field clears that part of the terms. The
    service (vendors.terms) checks them together and its refusals go beside the field."""

    payment_net_days = forms.IntegerField(
        label="Net days", required=False, help_text="Days after the invoice date it is due, e.g. 30."
    )
    discount_pct = forms.DecimalField(
        label="Early-payment discount (%)", required=False, help_text="e.g. 2 for 2 % off; empty for none."
    )
    discount_days = forms.IntegerField(
        label="Discount days", required=False, help_text="Days after the invoice date the discount may be taken."
    )


class VendorCategoryForm(forms.Form):
    """The tenant's own grouping of the vendor; empty clears it (vendors.services checks it)."""

    category = forms.CharField(
        label="Category",
        required=False,
        max_length=100,
        help_text="Your own grouping, e.g. Logistics or Facilities. Approval rules can name it.",
        widget=forms.TextInput(attrs={"list": "vendor-categories", "autocomplete": "off"}),
    )
