"""Cards of the invoice page for the messy middle: `{% dispute_card invoice %}` (its open dispute —
why, who owns it, until when, the last word of its thread — or, in review, the way to open one) and
`{% hold_card invoice %}` (on hold: since when, until it escalates by itself, and the way to stop
waiting), and `{% work_card invoice %}` (who works it, its age and lateness, the hand-over)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from invoices.models import Invoice, InvoiceStatus
from review.assignments import ASSIGNABLE, review_sla_days, sla_of
from review.decisions import can_review
from review.holds import holds_ageing
from review.models import Dispute
from review.people import active_members

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


@register.inclusion_tag("invoices/_work_card.html", takes_context=True)
def work_card(context: template.Context, invoice: Invoice) -> dict[str, Any]:
    """Who works the invoice, how old and how late it is, and the hand-over form (while there is
    something left to do on it)."""
    web = context.get("web")
    sla = sla_of(invoice, sla_days=review_sla_days(invoice.tenant))
    assignable = web is not None and invoice.status in ASSIGNABLE
    return {
        "invoice": invoice,
        "sla": sla,
        "assignable": assignable,
        "members": list(active_members(invoice.tenant)) if assignable else [],
        "me": str(web.actor.id) if web is not None else "",
        "error": context.get("assign_error", ""),
        "csrf_token": context.get("csrf_token"),
    }
