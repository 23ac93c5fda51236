"""`{% contacts_card vendor %}`: the vendor page's "Contacts" card (vendors.contact_views). The page
itself is rendered by invoices.views, so the card brings its own context, as the bank accounts
card does."""

from __future__ import annotations

from typing import Any

from django import template

from vendors.contact_views import contacts_context
from vendors.models import Vendor

register = template.Library()


@register.inclusion_tag("vendors/_contacts_card.html", takes_context=True)
def contacts_card(context: template.Context, vendor: Vendor) -> dict[str, Any]:
    return contacts_context(web=context.get("web"), vendor=vendor) | {"csrf_token": context.get("csrf_token")}
