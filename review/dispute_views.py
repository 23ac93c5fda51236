"""The pages of disputes (#18 item 1; the rules are review.disputes'): opening one from an invoice in
review, its page (the thread, who owns it and until when, how it ends), the list of open disputes
("mine" first), and the notifications a mention or a handover leaves. Every refusal is shown beside
the field it is about, on the same page, and the field gets the focus.

Files go into the thread with a comment or alone, through the comment form (review.dispute_attachments
checks and keeps them); each opens from the page through `dispute_attachment`, which serves the kept
file as the invoice's original is served (review.originals.kept_file_response), for the dispute's
tenant only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin

from core.exceptions import DomainError
from core.http.forms import date_input, errors_add
from invoices.models import Invoice, InvoiceStatus
from review.decisions import can_review
from review.dispute_attachments import (
    ACCEPT,
    FILES_MAX,
    AttachmentShown,
    dispute_attachment_get,
    dispute_attachments_shown,
)
from review.disputes import DisputeEnd, dispute_assign, dispute_comment_add, dispute_open, dispute_resolve
from review.intake.services import IncomingFile
from review.models import (
    Dispute,
    DisputeComment,
    DisputeCommentKind,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    Notification,
)
from review.originals import kept_file_response
from review.people import active_members, member_choices
from tenants.http.error_pages import method_not_allowed_page, post_only
from tenants.http.web import WebContext, tenant_view, web_of

OPENED = "Invoice {number} is disputed with the vendor."
COMMENTED = "Added to the thread."
ATTACHED = "Added to the thread with {files}."
ASSIGNED = "Dispute handed over."
RESOLVED = "Dispute ended: {outcome}."
NOT_OPEN_FOR_DISPUTE = "Only an invoice waiting for review can be disputed."
PAGE_SIZE = 50


def _members(web: WebContext) -> list[tuple[str, str]]:
    return member_choices(active_members(web.tenant))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


def _attachments_field() -> forms.FileField:
    """The file input of a thread entry. Its form is bound to the posted fields only: the files go
    to the service as they came (`_files_posted`), and its refusal of one comes back beside it."""
    return forms.FileField(
        label="Files",
        required=False,
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
        help_text=(
            f"Up to {FILES_MAX} at a time: PDF, images, text, CSV, XML, e-mails (.eml), Word, Excel, "
            "PowerPoint or OpenDocument files."
        ),
    )


def _files_posted(request: HttpRequest) -> list[IncomingFile]:
    return [IncomingFile(name=upload.name or "", binary=upload) for upload in request.FILES.getlist("attachments")]


class DisputeOpenForm(forms.Form):
    reason = forms.ChoiceField(label="What is disputed", choices=[("", "Choose…"), *DisputeReason.choices])
    comment = forms.CharField(label="What is wrong", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    owner = forms.ChoiceField(label="Owner", required=False)
    due_date = forms.DateField(label="Due", required=False, widget=date_input())
    attachments = _attachments_field()

    def __init__(self, *args: Any, members: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Me"), *members]


class DisputeCommentForm(forms.Form):
    """A thread entry: a comment, files, or both (the service requires one of them)."""

    kind = forms.ChoiceField(label="Kind", choices=DisputeCommentKind.choices, initial=DisputeCommentKind.INTERNAL)
    body = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
        help_text="Type @ and a user name to notify a colleague. May stay empty when you attach files.",
    )
    attachments = _attachments_field()


class DisputeAssignForm(forms.Form):
    owner = forms.ChoiceField(label="Owner")
    due_date = forms.DateField(label="Due", required=False, widget=date_input())

    def __init__(self, *args: Any, members: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = members


class DisputeResolveForm(forms.Form):
    outcome = forms.ChoiceField(label="How it ends", choices=[("", "Choose…"), *DisputeOutcome.choices])
    document_number = forms.CharField(
        label="Corrected invoice or credit note",
        required=False,
        max_length=64,
        help_text="Its number: for “Replaced by a corrected document” and “Offset by a credit note”.",
    )
    comment = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)


def _invoice_or_404(web: WebContext, invoice_id: uuid.UUID) -> Invoice:
    return get_object_or_404(Invoice.objects.for_tenant(web.tenant).select_related("vendor"), pk=invoice_id)


@tenant_view
def dispute_new(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The form that disputes an invoice in review (GET), or disputes it (POST)."""
    web = web_of(request)
    invoice = _invoice_or_404(web, invoice_id)
    members = _members(web)
    form = DisputeOpenForm(request.POST if request.method == "POST" else None, members=members)
    may = invoice.status == InvoiceStatus.PENDING_REVIEW and can_review(role=web.role, invoice=invoice)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            dispute = dispute_open(
                tenant=web.tenant,
                invoice=invoice,
                actor=web.actor,
                role=web.role,
                author=request.user,
                reason=data["reason"],
                comment=data["comment"],
                owner_id=data["owner"] or None,
                due_date=data["due_date"],
                expected_status=request.POST.get("expected_status") or None,
                files=_files_posted(request),
            )
        except DomainError as exc:
            errors_add(form=form, error=exc)
            status = exc.status_code
        else:
            messages.success(request, OPENED.format(number=invoice.invoice_number))
            return redirect("web:dispute-detail", dispute_id=dispute.pk)
    elif request.method == "POST":
        status = 400
    context = {"invoice": invoice, "form": form, "may": may, "refusal": None if may else NOT_OPEN_FOR_DISPUTE}
    return render(request, "review/dispute_new.html", context, status=status)


def _dispute_or_404(web: WebContext, dispute_id: uuid.UUID) -> Dispute:
    return get_object_or_404(
        Dispute.objects.for_tenant(web.tenant).select_related("invoice", "invoice__vendor", "owner"), pk=dispute_id
    )


@dataclass
class ThreadEntry:
    """One entry of the thread as the page shows it: a comment with the files it carried, or a
    file added alone (`comment` None)."""

    comment: DisputeComment | None
    files: list[AttachmentShown] = field(default_factory=list)

    @property
    def at(self) -> Any:
        return self.comment.created_at if self.comment else self.files[0].attachment.created_at


def _thread(web: WebContext, dispute: Dispute) -> tuple[list[ThreadEntry], list[AttachmentShown]]:
    files = dispute_attachments_shown(tenant=web.tenant, dispute=dispute)
    entries = {comment.pk: ThreadEntry(comment) for comment in dispute.comments.all()}
    alone = []
    for shown in files:
        if shown.attachment.comment_id in entries:
            entries[shown.attachment.comment_id].files.append(shown)
        else:
            alone.append(ThreadEntry(None, [shown]))
    return sorted([*entries.values(), *alone], key=lambda entry: entry.at), files


def _detail(request: HttpRequest, dispute: Dispute, *, status: int = 200, **forms_given: forms.Form) -> HttpResponse:
    web = web_of(request)
    members = _members(web)
    initial_assign = {"owner": str(dispute.owner_id or ""), "due_date": dispute.due_date}
    thread, files = _thread(web, dispute)
    context = {
        "dispute": dispute,
        "invoice": dispute.invoice,
        "thread": thread,
        "files": files,
        "comment_form": forms_given.get("comment_form") or DisputeCommentForm(),
        "assign_form": forms_given.get("assign_form") or DisputeAssignForm(initial=initial_assign, members=members),
        "resolve_form": forms_given.get("resolve_form") or DisputeResolveForm(),
        "is_open": dispute.status == DisputeStatus.OPEN,
        "overdue": dispute.due_date is not None and dispute.due_date < timezone.localdate(),
        "nav": "disputes",
    }
    return render(request, "review/dispute_detail.html", context, status=status)


@tenant_view
def dispute_detail(request: HttpRequest, dispute_id: uuid.UUID) -> HttpResponse:
    return _detail(request, _dispute_or_404(web_of(request), dispute_id))


_ON_DISPUTE = post_only(
    back="web:dispute-detail", back_label="the dispute", back_kwargs=("dispute_id",), back_model=Dispute
)


def _dispute_form_posted(
    request: HttpRequest,
    dispute_id: uuid.UUID,
    *,
    form_name: str,
    form: forms.Form,
    act: Callable[[WebContext, Dispute, dict[str, Any]], None],
) -> HttpResponse | None:
    """One of the dispute page's forms, posted: its action made, or the page again with each
    refusal beside its field (None: done, the caller redirects)."""
    web = web_of(request)
    dispute = _dispute_or_404(web, dispute_id)
    if not form.is_valid():
        return _detail(request, dispute, status=400, **{form_name: form})
    try:
        act(web, dispute, form.cleaned_data)
    except DomainError as exc:
        errors_add(form=form, error=exc)
        dispute.refresh_from_db()
        return _detail(request, dispute, status=exc.status_code, **{form_name: form})
    return None


@tenant_view
@_ON_DISPUTE
def dispute_comment(request: HttpRequest, dispute_id: uuid.UUID) -> HttpResponse:
    """A comment, files, or both, added to the thread (review.disputes.dispute_comment_add)."""
    files = _files_posted(request)

    def act(web: WebContext, dispute: Dispute, data: dict[str, Any]) -> None:
        dispute_comment_add(
            tenant=web.tenant,
            dispute=dispute,
            actor=web.actor,
            author=request.user,
            body=data["body"],
            kind=data["kind"],
            files=files,
        )

    form = DisputeCommentForm(request.POST)
    refused = _dispute_form_posted(request, dispute_id, form_name="comment_form", form=form, act=act)
    if refused is not None:
        return refused
    files_added = f"{len(files)} file" + ("s" if len(files) != 1 else "")
    messages.success(request, ATTACHED.format(files=files_added) if files else COMMENTED)
    return redirect("web:dispute-detail", dispute_id=dispute_id)


@tenant_view
@xframe_options_sameorigin
def dispute_attachment(request: HttpRequest, dispute_id: uuid.UUID, attachment_id: uuid.UUID) -> HttpResponseBase:
    """A file of the dispute's thread, as it was attached (served as an invoice's original is);
    another tenant's, another dispute's or a missing one is the 404 page."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed_page(
            request, allowed=("GET", "HEAD"), back_url=reverse("web:disputes"), back_label="the disputes"
        )
    shown = dispute_attachment_get(tenant=web_of(request).tenant, dispute_id=dispute_id, attachment_id=attachment_id)
    if shown is None:
        raise Http404
    return kept_file_response(shown.source_file, filename=shown.attachment.filename)


@tenant_view
@_ON_DISPUTE
def dispute_assign_view(request: HttpRequest, dispute_id: uuid.UUID) -> HttpResponse:
    def act(web: WebContext, dispute: Dispute, data: dict[str, Any]) -> None:
        dispute_assign(tenant=web.tenant, dispute=dispute, actor=web.actor, owner_id=data["owner"],
                       due_date=data["due_date"])  # fmt: skip

    form = DisputeAssignForm(request.POST, members=_members(web_of(request)))
    refused = _dispute_form_posted(request, dispute_id, form_name="assign_form", form=form, act=act)
    if refused is not None:
        return refused
    messages.success(request, ASSIGNED)
    return redirect("web:dispute-detail", dispute_id=dispute_id)


@tenant_view
@_ON_DISPUTE
def dispute_resolve_view(request: HttpRequest, dispute_id: uuid.UUID) -> HttpResponse:
    ended: list[Dispute] = []

    def act(web: WebContext, dispute: Dispute, data: dict[str, Any]) -> None:
        end = DisputeEnd(data["outcome"], data["comment"], data["document_number"])
        ended.append(dispute_resolve(tenant=web.tenant, dispute=dispute, actor=web.actor, role=web.role, end=end))

    form = DisputeResolveForm(request.POST)
    refused = _dispute_form_posted(request, dispute_id, form_name="resolve_form", form=form, act=act)
    if refused is not None:
        return refused
    messages.success(request, RESOLVED.format(outcome=DisputeOutcome(form.cleaned_data["outcome"]).label.lower()))
    return redirect("web:invoice-detail", invoice_id=ended[0].invoice_id)


@tenant_view
def dispute_index(request: HttpRequest) -> HttpResponse:
    """Open disputes, soonest due first (overdue ones marked); `?mine=1` only the viewer's."""
    web = web_of(request)
    disputes = (
        Dispute.objects.for_tenant(web.tenant)
        .filter(status=DisputeStatus.OPEN)
        .select_related("invoice", "invoice__vendor", "owner")
        .order_by("due_date", "created_at", "id")
    )
    mine = request.GET.get("mine") == "1"
    if mine:
        disputes = disputes.filter(owner=request.user)
    today = timezone.localdate()
    rows = [(dispute, dispute.due_date is not None and dispute.due_date < today) for dispute in disputes[:PAGE_SIZE]]
    context = {"rows": rows, "mine": mine, "nav": "disputes", "today": today, "shown_max": PAGE_SIZE}
    return render(request, "review/disputes.html", context)


@tenant_view
def notification_index(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    notifications = (
        Notification.objects.for_tenant(web.tenant).filter(user=request.user).select_related("invoice")[:PAGE_SIZE]
    )
    return render(request, "review/notifications.html", {"notifications": notifications, "nav": "notifications"})


@tenant_view
@post_only(back="web:notifications", back_label="your notifications")
def notification_read_all(request: HttpRequest) -> HttpResponse:
    web = web_of(request)
    Notification.objects.for_tenant(web.tenant).filter(user=request.user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    return redirect("web:notifications")


def notifications_unread(request: HttpRequest) -> dict[str, Any]:
    """Template context: how many notifications wait for the signed-in member (the header's badge)."""
    web = getattr(request, "web", None)
    if web is None or not request.user.is_authenticated:
        return {}

    def count() -> int:
        # Called by the template that shows it (the layout's header) only: fragments swapped in by
        # htmx and exports render without it, and without its query.
        return Notification.objects.for_tenant(web.tenant).filter(user=request.user, read_at__isnull=True).count()

    return {"notifications_unread": count}
