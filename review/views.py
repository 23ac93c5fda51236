"""The clerk's web pages for invoices in review: the review queues, the invoice page and its actions.

Thin views: reads come from selectors (`review.queues`, `review.comparison`), every decision
goes through `invoice_review` (the one transition function underneath), and every query starts
from the request's tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from core.exceptions import DocumentInvalid, DomainError
from core.http.listing import list_page
from core.state_machine import StaleState
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from review.approvals import (
    ApprovalChain,
    invoice_approval_chain,
    step_grant,
)
from review.assignments import assignee_choices, review_sla_days, sla_of
from review.comparison import invoice_detail as invoice_detail_read
from review.decisions import REVIEW_ACTIONS, DiscrepancyConfirmation, can_review, invoice_review
from review.duplicate_evidence import duplicate_evidence_read
from review.originals import invoice_original_read
from review.people import active_members
from review.queues import (
    DEFAULT_SORT,
    QUEUE_SORTS,
    QueueFilters,
    bulk_approval_plan,
    discrepancies_by_invoice,
    invoice_review_bulk_approve,
    is_clean,
    next_in_queue,
    review_queue_list,
)
from review.segregation import invoice_approval_exclusions
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, content_security_policy, tenant_view, web_of
from tenants.models import Membership
from vendors.models import Vendor
from vendors.selectors import vendor_list

PAGE_SIZE = 25
CHOICES_MAX = 1000  # vendors or open POs offered in a choice by hand
DONE = {
    "approve": "Invoice {number} approved.",
    "reject": "Invoice {number} rejected.",
    "dispute": "Invoice {number} disputed.",
    "escalate": "Invoice {number} escalated to an approver.",
}
STEP_DONE = "Invoice {number}: your approval is recorded; step {next} of {steps} ({label}) waits for {who}."
NEXT_IN_QUEUE = "Next in the {queue} queue: {number}."
QUEUE_EMPTY = "Nothing else is waiting in the {queue} queue."
# The decision form's fields in page order: the first one refused gets the focus.
DECISION_FIELDS = ("confirm_discrepancies", "comment")
STALE_PAGE = (
    "Someone else acted on invoice {number} while you were looking at it: it is now {current}. "
    "Nothing was changed. Check its current state below before acting again."
)
NOTHING_CHOSEN = "Choose at least one invoice to approve."
BULK_DONE = "{approved} invoice(s) approved; {skipped} left for individual review."
AGE_CHOICES = [
    ("", "Any age"),
    ("1", "Older than 1 day"),
    ("3", "Older than 3 days"),
    ("7", "Older than 7 days"),
    ("14", "Older than 14 days"),
    ("30", "Older than 30 days"),
]


class QueueFilterForm(forms.Form):
    vendor = forms.UUIDField(required=False)
    amount_min = forms.DecimalField(required=False, min_value=0, max_digits=20, decimal_places=4, label="Amount from")
    amount_max = forms.DecimalField(required=False, min_value=0, max_digits=20, decimal_places=4, label="Amount to")
    type = forms.ChoiceField(required=False, label="Discrepancy")
    age = forms.ChoiceField(required=False, choices=AGE_CHOICES)
    assigned = forms.ChoiceField(required=False, label="Assigned to")
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in QUEUE_SORTS])

    def __init__(self, *args: Any, members: Sequence[Membership] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        by_label = sorted(DISCREPANCY_TYPE_LABELS.items(), key=lambda choice: choice[1])
        self.fields["type"].choices = [("", "Any discrepancy"), *by_label]
        self.fields["assigned"].choices = assignee_choices(members)

    def filters(self) -> QueueFilters:
        """The validated filters; a field that does not validate is ignored, not an error page."""
        data = (
            self.cleaned_data
            if self.is_valid()
            else {name: value for name, value in getattr(self, "cleaned_data", {}).items() if name not in self.errors}
        )
        return QueueFilters(
            vendor_id=data.get("vendor"),
            amount_min=data.get("amount_min"),
            amount_max=data.get("amount_max"),
            discrepancy_type=data.get("type") or "",
            older_than_days=int(data["age"]) if data.get("age") else None,
            assigned=data.get("assigned") or "",
            sort=data.get("sort") or "age",
        )


@tenant_view
def review_queue(request: HttpRequest, queue: str) -> HttpResponse:
    if queue not in ReviewQueue.values:
        raise Http404
    web = web_of(request)
    form = QueueFilterForm(request.GET, auto_id="f-%s", members=list(active_members(web.tenant)))
    filters = form.filters()
    invoices = review_queue_list(tenant=web.tenant, queue=queue, filters=filters, user_id=request.user.pk)
    # Sorted by review_queue_list already (the form validated the sort): paged only.
    page = list_page(query=request.GET, queryset=invoices, per_page=PAGE_SIZE).page
    found = discrepancies_by_invoice(tenant=web.tenant, invoices=page.object_list)
    sla_days, today = review_sla_days(web.tenant), timezone.localdate()
    for invoice in page.object_list:
        invoice.queue_discrepancies = found.get(invoice.pk, [])
        invoice.is_clean = is_clean(invoice)
        invoice.sla = sla_of(invoice, sla_days=sla_days, today=today)
    context = {
        "queue": queue,
        "form": form,
        "filters": filters,
        "sort": filters.sort,
        "page": page,
        "vendors": vendor_list(tenant=web.tenant).order_by("name"),
        # Server-side too (bulk approval checks each invoice); this only hides the checkboxes.
        "can_act": queue == ReviewQueue.STANDARD or web.is_approver,
        "me": request.user.pk,
        "sla_days": sla_days,
        "nav": f"queue-{queue}",
    }
    # htmx swaps only the results when a filter, a sort or a page changes.
    if request.htmx and request.htmx.target == "queue-results":
        return render(request, "invoices/_queue_results.html", context)
    return render(request, "invoices/queue.html", context)


def _queue_sort(value: str | None) -> str:
    """The queue's sort the reviewer came from (carried by the links and the decision form)."""
    return value if value in QUEUE_SORTS else DEFAULT_SORT


def invoice_page_context(request: HttpRequest, invoice_id: uuid.UUID) -> dict[str, Any]:
    web = web_of(request)
    try:
        detail = invoice_detail_read(tenant=web.tenant, invoice_id=invoice_id)
    except Invoice.DoesNotExist as exc:
        raise Http404 from exc
    invoice = detail.invoice
    actionable = invoice.status == InvoiceStatus.PENDING_REVIEW
    allowed = actionable and can_review(role=web.role, invoice=invoice)
    approval = _approval_of(request, invoice) if actionable or invoice.status == InvoiceStatus.APPROVED else {}
    actions = [
        action
        for action in REVIEW_ACTIONS.values()
        if allowed
        and not (action.name == "escalate" and invoice.review_queue == ReviewQueue.ESCALATED)
        and not (action.name == "approve" and approval.get("approve_refused"))
    ]
    return {
        **approval,
        "detail": detail,
        "invoice": invoice,
        "actions": actions,
        "read_only_reason": (
            "" if allowed or not actionable else "Only an approver or an administrator can act on the escalated queue."
        ),
        "has_serious": any(d.severity in ("high", "critical") for d in detail.discrepancies),
        "duplicate_evidence": duplicate_evidence_read(
            tenant=web.tenant, invoice=invoice, discrepancies=detail.discrepancies
        ),
        "can_approve": any(action.name == "approve" for action in actions),
        **_line_assignment_of(web, invoice, allowed=allowed),
        "queue_sort": _queue_sort(request.GET.get("sort") or request.POST.get("queue_sort")),
        "field_errors": {},
        "nav": f"queue-{invoice.review_queue}" if invoice.review_queue else "",
    }


def _line_assignment_of(web: WebContext, invoice: Invoice, *, allowed: bool) -> dict[str, Any]:
    """The corrections by hand the page offers (review.manual_choices) to a person who may act on
    the invoice in review: its vendor when none was recognised, else its PO when it has none
    (among the vendor's open POs in its currency), else the lines of its PO for each of its lines."""
    if not allowed or web.actor.kind != "user":
        return {"can_assign_lines": False}
    if invoice.vendor_id is None:
        vendors = Vendor.objects.for_tenant(web.tenant).filter(is_active=True).order_by("name")
        return {"can_assign_lines": False, "vendor_options": list(vendors.values_list("pk", "name")[:CHOICES_MAX])}
    if invoice.purchase_order_id is None:
        purchase_orders = PurchaseOrder.objects.for_tenant(web.tenant).filter(
            vendor_id=invoice.vendor_id, status=PurchaseOrder.Status.OPEN, currency=invoice.currency
        )
        return {
            "can_assign_lines": False,
            "po_options": list(purchase_orders.order_by("po_number").values_list("pk", "po_number")[:CHOICES_MAX]),
        }
    po_lines = PurchaseOrderLine.objects.for_tenant(web.tenant).filter(purchase_order_id=invoice.purchase_order_id)
    return {
        "can_assign_lines": True,
        "po_line_options": [
            (po_line.pk, f"{po_line.line_number} · {po_line.description}")
            for po_line in po_lines.order_by("line_number")
        ],
    }


def _approval_of(request: HttpRequest, invoice: Invoice) -> dict[str, Any]:
    """The invoice's approval chain for its page (review.approvals): the chain, whether the
    member may approve now and as whom, or why not (the Approve button is then not offered)."""
    web = web_of(request)
    user_id = int(web.actor.id)  # a signed-in user: the actor is the user
    chain = invoice_approval_chain(tenant=web.tenant, invoice=invoice)
    if chain is None:
        if invoice.status != InvoiceStatus.PENDING_REVIEW:
            return {"approve_refused": ""}
        # Said before the click: who entered the invoice or changed its vendor's bank details, and when.
        refusal = invoice_approval_exclusions(tenant=web.tenant, invoice=invoice).get(user_id, "")
        return {"approve_refused": refusal}
    if invoice.status == InvoiceStatus.APPROVED and not any(step.approvals for step in chain.steps):
        return {}  # approved otherwise (by the engine, or before the policy): no chain to show
    grant = step_grant(tenant=web.tenant, chain=chain, user_id=user_id) if not chain.complete else None
    refused = ""
    if invoice.status == InvoiceStatus.PENDING_REVIEW and grant is None:
        refused = _why_not(chain, user_id)
    return {"approval": chain, "approval_grant": grant, "approve_refused": refused}


def _why_not(chain: ApprovalChain, user_id: int) -> str:
    if user_id in chain.excluded:
        return chain.excluded[user_id]
    if user_id in chain.approvers():
        return "You have approved a step of this chain already: the next step needs someone else."
    return "This step is not yours to approve."


@tenant_view
def invoice_detail(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    context = invoice_page_context(request, invoice_id)
    if context["invoice"].status == InvoiceStatus.DRAFT and web_of(request).can_import:
        # A draft is worked on its form (review.entry_views), beside its original.
        return redirect("web:invoice-edit", invoice_id=invoice_id)
    return invoice_page(request, context)


def invoice_page(request: HttpRequest, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """The invoice page of `context` (`invoice_page_context`), beside its original: what a
    form of the page shows again, with its refusal, when it is refused."""
    original = invoice_original_read(tenant=web_of(request).tenant, invoice=context["invoice"])
    response = render(request, "invoices/detail.html", {**context, "original": original}, status=status)
    if original is not None and original.is_pdf:
        # The page embeds its own original PDF in an <object>, which the site's policy forbids.
        response["Content-Security-Policy"] = content_security_policy(object_src="'self'")
    return response


@tenant_view
def invoice_timeline(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The audit timeline alone, for htmx to refresh it in place (a colleague may have acted)."""
    context = invoice_page_context(request, invoice_id)
    if not request.htmx:
        # Without JavaScript the "Refresh" link is a plain link: give the whole page.
        return redirect(reverse("web:invoice-detail", kwargs={"invoice_id": invoice_id}) + "#timeline-title")
    return render(request, "invoices/_timeline.html", context)


def _confirmed_match(raw: str) -> uuid.UUID | None:
    """The match id the ticked confirmation box carries (None: not ticked, or not an id)."""
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _detail_url(invoice_id: uuid.UUID, sort: str) -> str:
    url = reverse("web:invoice-detail", kwargs={"invoice_id": invoice_id})
    return url if sort == DEFAULT_SORT else f"{url}?sort={sort}"


@tenant_view
@post_only(back="web:invoice-detail", back_label="the invoice", back_kwargs=("invoice_id",), back_model=Invoice)
def invoice_action(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """Approve, reject, escalate or dispute, with the status the page showed as `expected_status`
    and, to approve over discrepancies, the match whose discrepancies the reviewer confirmed.

    Success goes on to the next invoice of the queue the invoice was in (post/redirect/get, the
    queue's sort kept), or back to the queue when it is empty. A refusal re-renders the page
    with its status (400 invalid, 403 not allowed, 409 stale page): a missing field's reason
    beside that field, which takes the focus; any other reason at the top.
    """
    web = web_of(request)
    invoice = Invoice.objects.for_tenant(web.tenant).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404
    queue = invoice.review_queue if invoice.status == InvoiceStatus.PENDING_REVIEW else None
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")
    confirmed = _confirmed_match(request.POST.get("confirm_discrepancies", ""))
    expected_status = request.POST.get("expected_status") or None
    expected_step = request.POST.get("approval_step", "")
    try:
        invoice_review(
            tenant=web.tenant,
            invoice=invoice,
            action=action,
            actor=web.actor,
            role=web.role,
            comment=comment,
            expected_status=expected_status,
            confirmation=DiscrepancyConfirmation(match_id=confirmed),
            expected_step=int(expected_step) if expected_step.isdigit() else None,
        )
    except DomainError as exc:
        context = invoice_page_context(request, invoice_id)
        fields = {name: exc.details[name] for name in DECISION_FIELDS if name in exc.details}
        if isinstance(exc, StaleState) and "current_step" in exc.details:
            context["error"] = f"{exc.message} Nothing was changed: check the chain below before acting again."
        elif isinstance(exc, StaleState):
            context["error"] = STALE_PAGE.format(
                number=invoice.invoice_number, current=context["invoice"].get_status_display()
            )
        elif isinstance(exc, DocumentInvalid) and fields:
            context["field_errors"] = fields
            context["focus_field"] = next(iter(fields))
        else:
            context["error"] = exc.message
        context["comment"] = comment
        context["failed_action"] = action
        context["confirmed_match"] = confirmed
        return invoice_page(request, context, status=exc.status_code)
    done = DONE.get(action, "Done.").format(number=invoice.invoice_number)
    if action == "approve" and invoice.status == InvoiceStatus.PENDING_REVIEW:
        done = _step_done(request, invoice)
    sort = _queue_sort(request.POST.get("queue_sort"))
    if queue is None:
        messages.success(request, done)
        return redirect("web:invoice-detail", invoice_id=invoice.pk)
    queue_label = ReviewQueue(queue).label.lower()
    following = next_in_queue(tenant=web.tenant, queue=queue, sort=sort, after=invoice)
    if following is None:
        messages.success(request, f"{done} {QUEUE_EMPTY.format(queue=queue_label)}")
        return redirect("web:queue", queue=queue)
    messages.success(request, f"{done} {NEXT_IN_QUEUE.format(queue=queue_label, number=following.invoice_number)}")
    return redirect(_detail_url(following.pk, sort))


def _step_done(request: HttpRequest, invoice: Invoice) -> str:
    """What the reviewer is told after a step of the invoice's chain (the invoice stays in review)."""
    chain = invoice_approval_chain(tenant=web_of(request).tenant, invoice=invoice)
    current = chain.current if chain else None
    if chain is None or current is None:
        return DONE["approve"].format(number=invoice.invoice_number)
    who = ", ".join(user.get_username() for user in chain.may_approve_now) or current.label
    return STEP_DONE.format(
        number=invoice.invoice_number, next=current.position, steps=len(chain.steps), label=current.label, who=who
    )


def _chosen_ids(request: HttpRequest) -> list[uuid.UUID]:
    chosen = []
    for raw in request.POST.getlist("invoice_ids"):
        try:
            chosen.append(uuid.UUID(raw))
        except ValueError:
            continue
    return chosen


@tenant_view
@post_only(back="web:queue", back_label="the queue", back_kwargs=("queue",))
def bulk_approve(request: HttpRequest, queue: str) -> HttpResponse:
    """Step one shows what would be approved and what is left out; step two (`confirm`) does it."""
    if queue not in ReviewQueue.values:
        raise Http404
    web = web_of(request)
    chosen = _chosen_ids(request)
    if not chosen:
        messages.error(request, NOTHING_CHOSEN)
        return redirect("web:queue", queue=queue)
    if request.POST.get("confirm") != "yes":
        plan = bulk_approval_plan(tenant=web.tenant, invoice_ids=chosen, role=web.role, user_id=request.user.pk)
        # Every chosen invoice, with its discrepancies (labels in the template) and, if left out, why.
        chosen_rows = [(invoice, plan.discrepancies_of(invoice), "") for invoice in plan.approved] + [
            (invoice, plan.discrepancies_of(invoice), reason) for invoice, reason in plan.skipped
        ]
        return render(
            request,
            "invoices/bulk_confirm.html",
            {"plan": plan, "chosen_rows": chosen_rows, "queue": queue, "nav": f"queue-{queue}"},
        )
    outcome = invoice_review_bulk_approve(
        tenant=web.tenant,
        invoice_ids=chosen,
        actor=web.actor,
        role=web.role,
        comment=request.POST.get("comment", ""),
    )
    messages.success(request, BULK_DONE.format(approved=len(outcome.approved), skipped=len(outcome.skipped)))
    for invoice, reason in outcome.skipped:
        messages.warning(request, f"{invoice.invoice_number}: {reason}")
    return redirect("web:queue", queue=queue)
