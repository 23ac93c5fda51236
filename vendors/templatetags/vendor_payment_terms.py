"""`{% payment_terms_card vendor %}` and `{% category_card vendor %}`: the vendor page's "Payment
terms" and "Category" cards (vendors.views). The page itself is rendered by invoices.views, so
each card brings its own context, as the bank accounts card does."""

from __future__ import annotations

from typing import Any

from django import template

from vendors.models import Vendor
from vendors.views import category_context, payment_terms_context

register = template.Library()


@register.inclusion_tag("vendors/_payment_terms_card.html", takes_context=True)
def payment_terms_card(context: template.Context, vendor: Vendor) -> dict[str, Any]:
    return payment_terms_context(web=context.get("web"), vendor=vendor) | {"csrf_token": context.get("csrf_token")}


@register.inclusion_tag("vendors/_category_card.html", takes_context=True)
def category_card(context: template.Context, vendor: Vendor) -> dict[str, Any]:
    return category_context(web=context.get("web"), vendor=vendor) | {"csrf_token": context.get("csrf_token")}
