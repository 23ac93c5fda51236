"""The invoice page's "Re-match now": send an open invoice back to matching (matching.rematch).

Any member may ask (clerk, approver, administrator): it decides nothing, the engine does, by the
tenant's rules. The page then shows what changed between the previous match and the new one
(review.match_changes).
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from core.exceptions import DomainError
from invoices.models import Invoice
from matching.rematch import matching_rematch_invoice
from review.views import invoice_page, invoice_page_context
from tenants.http.error_pages import post_only
from tenants.http.web import tenant_view, web_of

REMATCH_QUEUED = (
    "Invoice {number} is being matched again against its purchase order, receipts and tolerances as they are now."
)


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_rematch(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """POST: re-match the invoice, then back to its page (post/redirect/get); a refusal (not open:
    approved, paid, rejected, void, a draft, a credit note) re-renders the page with the reason, 409."""
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    try:
        matching_rematch_invoice(
            tenant=web.tenant, invoice=invoice, actor=web.actor, comment=request.POST.get("comment", "")
        )
    except DomainError as exc:
        context = invoice_page_context(request, invoice_id)
        context["error"] = exc.message
        return invoice_page(request, context, status=exc.status_code)
    messages.success(request, REMATCH_QUEUED.format(number=invoice.invoice_number))
    return redirect("web:invoice-detail", invoice_id=invoice.pk)
