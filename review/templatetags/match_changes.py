"""`{% invoice_match_changes invoice as match_changes %}`: the invoice page's "What changed in
the last match" (review.match_changes), read where the partial is included, so the page's view
needs no change to show it."""

from __future__ import annotations

from typing import Any

from django import template

from invoices.models import Invoice
from review.match_changes import MatchChanges, invoice_match_changes

register = template.Library()


@register.simple_tag(takes_context=True)
def invoice_match_changes_of(context: Any, invoice: Invoice) -> MatchChanges | None:
    """The changes for the signed-in member's tenant (`web`, tenants.http.web); None outside the app."""
    web = context.get("web")
    if web is None or invoice is None:
        return None
    return invoice_match_changes(tenant=web.tenant, invoice=invoice)
