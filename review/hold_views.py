"""The pages of holds (review.holds): the ageing list of invoices waiting for goods, and the form
that stops one waiting — released to review or escalated now — with the reason beside its field."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from core.exceptions import DomainError
from core.http.forms import errors_add
from invoices.line_totals import purchase_order_line_totals
from invoices.models import Invoice, InvoiceStatus
from review.holds import HOLD_ACTION_LABELS, hold_release, holds_ageing
from tenants.http.web import tenant_view, web_of
from tenants.selectors import tenant_settings_get

DONE = "{number}: {what}."
NOT_ON_HOLD = "This invoice is not on hold any more: nothing to release."


class HoldActionForm(forms.Form):
    action = forms.ChoiceField(
        label="Instead of waiting",
        choices=[("release", "Release it to review"), ("escalate", "Escalate it to an approver now")],
        widget=forms.RadioSelect,
        initial="release",
    )
    comment = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


@tenant_view
def hold_index(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    context = {
        "rows": holds_ageing(tenant=web.tenant),
        "max_days": tenant_settings_get(tenant=web.tenant).hold_max_days,
        "nav": "holds",
    }
    return render(request, "review/holds.html", context)


@tenant_view
def hold_action(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The invoice on hold with what its PO received (GET), or released / escalated (POST)."""
    web = web_of(request)
    invoice = get_object_or_404(
        Invoice.objects.for_tenant(web.tenant).select_related("vendor", "purchase_order"), pk=invoice_id
    )
    form = HoldActionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            hold_release(
                tenant=web.tenant,
                invoice=invoice,
                actor=web.actor,
                action=form.cleaned_data["action"],
                comment=form.cleaned_data["comment"],
            )
        except DomainError as exc:
            errors_add(form=form, error=exc)
            status = exc.status_code
        else:
            what = HOLD_ACTION_LABELS[form.cleaned_data["action"]].lower()
            messages.success(request, DONE.format(number=invoice.invoice_number, what=what))
            return redirect("web:invoice-detail", invoice_id=invoice.pk)
    elif request.method == "POST":
        status = 400
    lines = (
        purchase_order_line_totals(tenant=web.tenant, purchase_order=invoice.purchase_order)
        if invoice.purchase_order_id
        else []
    )
    context = {
        "invoice": invoice,
        "form": form,
        "lines": lines,
        "on_hold": invoice.status == InvoiceStatus.ON_HOLD,
        "refusal": None if invoice.status == InvoiceStatus.ON_HOLD else NOT_ON_HOLD,
        "nav": "holds",
    }
    return render(request, "review/hold_action.html", context, status=status)
