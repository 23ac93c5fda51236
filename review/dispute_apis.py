"""The API of the review desk's people work: disputes (`/api/disputes`: read, add to the thread,
hand over, end) and who works an invoice
(`POST /api/invoices/{id}/assign`).

Thin: every write goes through the services the web app uses (review.disputes,
review.assignments), so the same checks, audit events and notifications apply; members are named
by username, as on every screen. Opening a dispute stays `POST /api/invoices/{id}/dispute`.
Files are listed (name, who, when, where to fetch it). They are added as the web app adds them:
`POST /api/disputes/{id}/comments` as a multipart form (`body`, `kind`, and any number of
`attachments` parts, up to review.dispute_attachments.FILES_MAX), checked by the same service
before anything is written; `GET /api/disputes/{id}/files/{file_id}` answers the file itself, as
it was attached (the one answer of this API that is not JSON), served as the web app serves it.
"""

from __future__ import annotations

import uuid
from typing import Any

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid
from core.http.schema import error_response
from core.http.uploads import UploadTooLarge
from invoices.models import Invoice
from review.assignments import invoice_assign
from review.dispute_attachments import FILES_MAX, MAX_BYTES_SETTING, dispute_attachment_get
from review.disputes import DisputeEnd, dispute_assign, dispute_comment_add, dispute_resolve
from review.intake.services import IncomingFile
from review.models import Dispute, DisputeAttachment, DisputeCommentKind, DisputeOutcome, DisputeStatus
from review.originals import kept_file_response
from review.people import NOT_A_MEMBER, active_members
from tenants.http.views import TenantAPIMixin
from tenants.models import Membership, Tenant

USERNAME_MAX = 150
REQUEST_TOO_LARGE = "The request is {length} bytes; at most {files} files of {limit} bytes ({setting}) are taken."
NO_ONE = 0  # a user id nobody has (ids start at 1)


def member_id(tenant: Tenant, username: str | None, *, field: str) -> int | None:
    """The user id of the active member called `username` (None for none), or a refusal by `field`."""
    if not username:
        return None
    found = active_members(tenant).filter(**{f"user__{get_user_model().USERNAME_FIELD}": username}).first()
    if found is None:
        raise DocumentInvalid(NOT_A_MEMBER, details={field: [NOT_A_MEMBER]})
    return found.user_id


def _any_member_id(tenant: Tenant, username: str | None) -> int | None:
    """The user id of `username` among the tenant's members, deactivated ones too (a page may show
    one who has left since); one of no member is an id no invoice has, so it never matches."""
    if not username:
        return None
    username_field = get_user_model().USERNAME_FIELD
    found = Membership.objects.for_tenant(tenant).filter(**{f"user__{username_field}": username}).first()
    return found.user_id if found is not None else NO_ONE


class DisputeFileSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    author = serializers.CharField(source="author_label")
    created_at = serializers.DateTimeField()
    download_url = serializers.SerializerMethodField(help_text="The file itself, as it was attached.")

    def get_download_url(self, attachment: DisputeAttachment) -> str:
        return f"/api/disputes/{attachment.dispute_id}/files/{attachment.pk}"


class DisputeCommentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    kind_label = serializers.CharField(source="get_kind_display")
    author = serializers.CharField(source="author_label")
    body = serializers.CharField()
    created_at = serializers.DateTimeField()
    files = DisputeFileSerializer(source="attachments.all", many=True)


class DisputeOutputSerializer(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField()
    invoice_number = serializers.CharField(source="invoice.invoice_number")
    reason_label = serializers.CharField(source="get_reason_display")
    status_label = serializers.CharField(source="get_status_display")
    outcome_label = serializers.CharField(source="get_outcome_display")
    owner = serializers.SerializerMethodField()
    superseded_by_id = serializers.UUIDField(allow_null=True)
    credit_note_id = serializers.UUIDField(allow_null=True)
    comments = DisputeCommentSerializer(many=True)
    files = DisputeFileSerializer(source="attachments.all", many=True)

    class Meta:
        model = Dispute
        fields = [
            "id",
            "invoice_id",
            "invoice_number",
            "reason",
            "reason_label",
            "status",
            "status_label",
            "outcome",
            "outcome_label",
            "owner",
            "due_date",
            "superseded_by_id",
            "credit_note_id",
            "created_at",
            "resolved_at",
            "comments",
            "files",
        ]

    def get_owner(self, dispute: Dispute) -> str | None:
        return dispute.owner.get_username() if dispute.owner is not None else None


class DisputeCommentInputSerializer(serializers.Serializer):
    body = serializers.CharField(
        allow_blank=True, trim_whitespace=False, default="", help_text="May be left out when files are attached."
    )
    kind = serializers.ChoiceField(choices=DisputeCommentKind.choices, default=DisputeCommentKind.INTERNAL)
    attachments = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        max_length=FILES_MAX,
        help_text=f"Multipart only: up to {FILES_MAX} files (PDF, images, text, CSV, XML, e-mail, office files).",
    )


# What a multipart post of the most files at their largest can measure, with the envelope: a
# request past it is refused (413) before Django spools its parts to disk.
_MULTIPART_OVERHEAD = 1 << 16


def _request_size_checked(request: Request) -> None:
    limit = getattr(settings, MAX_BYTES_SETTING)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > FILES_MAX * limit + _MULTIPART_OVERHEAD:
        raise UploadTooLarge(
            REQUEST_TOO_LARGE.format(length=length, files=FILES_MAX, limit=limit, setting=MAX_BYTES_SETTING)
        )


class DisputeAssignInputSerializer(serializers.Serializer):
    owner = serializers.CharField(max_length=USERNAME_MAX, help_text="The member's username.")
    due_date = serializers.DateField(required=False, allow_null=True, default=None)


class DisputeResolveInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=DisputeOutcome.choices)
    comment = serializers.CharField(allow_blank=True, trim_whitespace=False)
    document_number = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=64, help_text="The corrected invoice or credit note."
    )


class InvoiceAssignInputSerializer(serializers.Serializer):
    assignee = serializers.CharField(
        max_length=USERNAME_MAX, allow_null=True, allow_blank=True, help_text="A member's username; null for nobody."
    )
    expected_assignee = serializers.CharField(
        required=False,
        max_length=USERNAME_MAX,
        allow_null=True,
        allow_blank=True,
        help_text="The assignee you saw (null: nobody); a different current one is a 409 and nothing changes.",
    )


class InvoiceAssignmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    invoice_number = serializers.CharField()
    assigned_to = serializers.CharField(source="assigned_to.get_username", allow_null=True, default=None)
    assigned_at = serializers.DateTimeField(allow_null=True)


class DisputeFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=DisputeStatus.choices)
    invoice = django_filters.UUIDFilter(field_name="invoice_id")
    owner = django_filters.CharFilter(field_name=f"owner__{get_user_model().USERNAME_FIELD}")

    class Meta:
        model = Dispute
        fields = ["status", "invoice", "owner"]


class DisputeViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Disputes with the vendor, newest first, each with its thread and files (review.disputes)."""

    serializer_class = DisputeOutputSerializer
    filterset_class = DisputeFilter

    def get_queryset(self) -> Any:
        return (
            Dispute.objects.for_tenant(self.tenant)
            .select_related("invoice", "owner")
            .prefetch_related("comments__attachments", "attachments")
            .order_by("-created_at", "-id")
        )

    def _dispute(self) -> Dispute:
        dispute: Dispute = self.get_object()
        return dispute

    def _answer(self, dispute: Dispute) -> Response:
        return Response(DisputeOutputSerializer(self.get_queryset().get(pk=dispute.pk)).data)

    @extend_schema(
        request={
            "application/json": DisputeCommentInputSerializer,
            "multipart/form-data": DisputeCommentInputSerializer,
        },
        responses={200: DisputeOutputSerializer, 413: error_response("More than the files' limit.")},
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, MultiPartParser])
    def comments(self, request: Request, pk: str) -> Response:
        """Add an internal note or a message to the vendor, files, or both (multipart: `attachments`
        parts); `@username` notifies a member. One refused file refuses the whole post."""
        dispute = self._dispute()  # another tenant's is a 404 whatever the body
        _request_size_checked(request)
        incoming = DisputeCommentInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        files = [
            IncomingFile(name=upload.name or "", binary=upload) for upload in incoming.validated_data["attachments"]
        ]
        dispute_comment_add(
            tenant=self.tenant,
            dispute=dispute,
            actor=self.actor,
            author=None,
            body=incoming.validated_data["body"],
            kind=incoming.validated_data["kind"],
            files=files,
        )
        return self._answer(dispute)

    @extend_schema(
        responses={(200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, "The file.")},
    )
    @action(detail=True, methods=["get"], url_path=r"files/(?P<file_id>[0-9a-fA-F-]{36})")
    def files(self, request: Request, pk: str, file_id: str) -> Any:
        """One file of the dispute's thread, as it was attached: a PDF inline, anything else as an
        attachment, under the type Recon read from its content."""
        dispute = self._dispute()  # another tenant's is a 404
        try:
            attachment_id = uuid.UUID(file_id)
        except ValueError:
            raise Http404 from None
        shown = dispute_attachment_get(tenant=self.tenant, dispute_id=dispute.pk, attachment_id=attachment_id)
        if shown is None:
            raise Http404
        return kept_file_response(shown.source_file, filename=shown.attachment.filename)

    @extend_schema(request=DisputeAssignInputSerializer, responses={200: DisputeOutputSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        """Hand the dispute to a member and set its due date (the member is notified)."""
        dispute = self._dispute()  # another tenant's is a 404 whatever the body
        incoming = DisputeAssignInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        dispute_assign(
            tenant=self.tenant,
            dispute=dispute,
            actor=self.actor,
            owner_id=member_id(self.tenant, incoming.validated_data["owner"], field="owner"),
            due_date=incoming.validated_data["due_date"],
        )
        return self._answer(dispute)

    @extend_schema(
        request=DisputeResolveInputSerializer,
        responses={200: DisputeOutputSerializer, 409: error_response("Ended already, or the invoice moved.")},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        """End the dispute: back to review, replaced by a corrected document, offset by a credit note,
        voided or rejected (a comment is required; name the document for the second and third)."""
        dispute = self._dispute()  # another tenant's is a 404 whatever the body
        incoming = DisputeResolveInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        dispute_resolve(
            tenant=self.tenant,
            dispute=dispute,
            actor=self.actor,
            role=self.tenant_context.role,
            end=DisputeEnd(**incoming.validated_data),
        )
        return self._answer(dispute)


class InvoiceAssignViewSet(TenantAPIMixin, viewsets.GenericViewSet):
    """`POST /api/invoices/{id}/assign`: who works the invoice (review.assignments)."""

    serializer_class = InvoiceAssignmentSerializer

    def get_queryset(self) -> Any:
        return Invoice.objects.for_tenant(self.tenant).select_related("assigned_to")

    @extend_schema(
        request=InvoiceAssignInputSerializer,
        responses={
            200: InvoiceAssignmentSerializer,
            409: error_response("Someone else was assigned meanwhile (`expected_assignee`)."),
        },
    )
    def assign(self, request: Request, pk: str) -> Response:
        """Give the invoice to a member (null: to nobody); the member is notified."""
        invoice = get_object_or_404(self.get_queryset(), pk=pk)
        incoming = InvoiceAssignInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        expected: Any = ...
        if "expected_assignee" in data:
            expected = _any_member_id(self.tenant, data["expected_assignee"])
        invoice_assign(
            tenant=self.tenant,
            invoice=invoice,
            actor=self.actor,
            assignee_id=member_id(self.tenant, data["assignee"], field="assignee"),
            expected_assignee_id=expected,
        )
        return Response(InvoiceAssignmentSerializer(self.get_queryset().get(pk=invoice.pk)).data)
