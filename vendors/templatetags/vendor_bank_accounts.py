"""`{% bank_accounts_card vendor %}`: the vendor page's "Bank accounts" card (vendors.views), and
`{% tax_id_warnings vendor.tax_id as warnings %}`: a tax id that fails its scheme's check.

The vendor page itself is rendered by invoices.views (it lists the vendor's invoices and orders,
which sit above vendors in the layers), so the card brings its own context, as the invoice page's
cards do (review.templatetags.invoice_cards)."""

from __future__ import annotations

from typing import Any

from django import template

from vendors.models import Vendor
from vendors.tax_ids import TaxIdWarning
from vendors.tax_ids import tax_id_warnings as tax_id_checked
from vendors.views import bank_accounts_context

register = template.Library()


@register.inclusion_tag("vendors/_bank_accounts_card.html", takes_context=True)
def bank_accounts_card(context: template.Context, vendor: Vendor) -> dict[str, Any]:
    # An inclusion tag's template gets a fresh context: the form's CSRF token is handed on.
    return bank_accounts_context(web=context.get("web"), vendor=vendor) | {"csrf_token": context.get("csrf_token")}


@register.simple_tag
def tax_id_warnings(tax_id: str) -> list[TaxIdWarning]:
    return tax_id_checked(tax_id)
