"""Cards of the invoice page for the messy middle: `{% dispute_card invoice %}` (its open dispute —
why, who owns it, until when, the last word of its thread — or, in review, the way to open one) and
`{% hold_card invoice %}` (on hold: since when, until it escalates by itself, and the way to stop
waiting)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from invoices.models import Invoice, InvoiceStatus
from review.decisions import can_review
from review.holds import holds_ageing
from review.models import Dispute

register = template.Library()


@register.inclusion_tag("invoices/_dispute_card.html", takes_context=True)
def dispute_card(context: template.Context, invoice: Invoice) -> dict[str, Any]:
    web = context.get("web")
    disputes = list(
        Dispute.objects.for_tenant(invoice.tenant_id)
        .filter(invoice=invoice)
        .select_related("owner")
        .order_by("-created_at")[:5]
    )
    current = next((dispute for dispute in disputes if dispute.status == "open"), None)
    last_comment = current.comments.order_by("-created_at", "-id").first() if current else None
    may_open = (
        web is not None
        and invoice.status == InvoiceStatus.PENDING_REVIEW
        and can_review(role=web.role, invoice=invoice)
    )
    return {
        "invoice": invoice,
        "current": current,
        "last_comment": last_comment,
        "past": [dispute for dispute in disputes if dispute is not current],
        "overdue": bool(current and current.due_date and current.due_date < timezone.localdate()),
        "may_open": may_open,
    }


@register.inclusion_tag("invoices/_hold_card.html")
def hold_card(invoice: Invoice) -> dict[str, Any]:
    if invoice.status != InvoiceStatus.ON_HOLD:
        return {"held": None}
    held = holds_ageing(tenant=invoice.tenant, invoice_ids=[invoice.pk])
    return {"held": held[0] if held else None}
