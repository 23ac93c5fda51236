"""A vendor's contacts in the API: `/api/vendors/{id}/contacts` (list, create) and
`/api/vendors/{id}/contacts/{contact_id}` (read, update, delete), through vendors.contacts.

Mixed into the vendors' view set, so the vendor is found as every vendor action finds it: another
tenant's vendor is a 404 before the body is read, and so is another vendor's or another tenant's
contact."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.schema import LETTER_OR_DIGIT_PATTERN, error_response
from tenants.http.views import TenantAPIMixin
from vendors.contacts import (
    EMAIL_MAX,
    NAME_MAX,
    PHONE_MAX,
    PHONE_PATTERN,
    ROLE_MAX,
    vendor_contact_create,
    vendor_contact_delete,
    vendor_contact_update,
)
from vendors.models import Vendor, VendorContact
from vendors.selectors import vendor_contacts

CONTACT_NOT_FOUND = "This vendor has no contact with this id."


class VendorContactOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = VendorContact
        fields = ["id", "vendor_id", "name", "email", "phone", "role", "notify_bank_changes", "created_at"]


_NOTIFY_HELP = "Told by e-mail when a change of the vendor's bank account is proposed or approved (default true)."


@extend_schema_serializer(component_name="VendorContactInput")
class VendorContactInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX, help_text="The person's name.")
    email = serializers.EmailField(max_length=EMAIL_MAX, help_text="Kept lower-case; one contact per address.")
    phone = serializers.CharField(max_length=PHONE_MAX, required=False, allow_blank=True, default="")
    role = serializers.CharField(
        max_length=ROLE_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text='What the person does for the vendor, e.g. "Accounts receivable".',
    )
    notify_bank_changes = serializers.BooleanField(required=False, default=True, help_text=_NOTIFY_HELP)

    # vendors.contacts: NAME_REQUIRED (a letter or a digit), PHONE_INVALID.
    schema_rules = {"properties": {"name": {"pattern": LETTER_OR_DIGIT_PATTERN}, "phone": {"pattern": PHONE_PATTERN}}}


@extend_schema_serializer(component_name="VendorContactUpdateInput")
class VendorContactUpdateInputSerializer(VendorContactInputSerializer):
    """The fields to change; those left out stay as they are."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


if TYPE_CHECKING:

    class _VendorViewSet(TenantAPIMixin, viewsets.GenericViewSet):
        pass

else:
    _VendorViewSet = object


class VendorContactsAPIMixin(_VendorViewSet):
    """The contacts actions of VendorViewSet (vendors.apis)."""

    def _contact_of(self, vendor: Vendor, contact_id: str) -> VendorContact:
        try:
            key = uuid.UUID(contact_id)
        except ValueError:
            raise NotFound(CONTACT_NOT_FOUND) from None
        contact = vendor_contacts(tenant=self.tenant, vendor=vendor).filter(pk=key).first()
        if contact is None:
            raise NotFound(CONTACT_NOT_FOUND)
        return contact

    @extend_schema(
        methods=["GET"],
        summary="The vendor's contacts, newest first (cursor pages)",
        responses={200: VendorContactOutputSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a contact to the vendor",
        description=(
            "A name, an e-mail address (kept lower-case), optionally a phone number and a role. A contact with "
            "`notify_bank_changes` (the default) is e-mailed when a change of the vendor's bank account is proposed "
            "or approved. An address the vendor already has as a contact is 409 `duplicate`; a member who is not a "
            "clerk or an administrator is 403. Audited."
        ),
        request=VendorContactInputSerializer,
        responses={201: VendorContactOutputSerializer, 409: error_response("The vendor has this address already.")},
    )
    @action(detail=True, methods=["get", "post"], url_path="contacts", filterset_class=None)
    def contacts(self, request: Request, pk: str) -> Response:
        vendor = self.get_object()  # first: another tenant's vendor is a 404, whatever the body
        if request.method == "GET":
            page = self.paginate_queryset(vendor_contacts(tenant=self.tenant, vendor=vendor))
            return self.get_paginated_response(VendorContactOutputSerializer(page, many=True).data)
        incoming = VendorContactInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        contact = vendor_contact_create(
            tenant=self.tenant,
            vendor=vendor,
            actor=self.actor,
            member_role=self.tenant_context.role,
            **incoming.validated_data,
        )
        return Response(VendorContactOutputSerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], summary="One contact of the vendor", responses={200: VendorContactOutputSerializer})
    @extend_schema(
        methods=["PATCH"],
        summary="Change a contact of the vendor",
        description="Only the fields sent change. Refused as a new contact is. Audited with before and after.",
        request=VendorContactUpdateInputSerializer,
        responses={200: VendorContactOutputSerializer, 409: error_response("The vendor has this address already.")},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove a contact of the vendor",
        description="Audited; notices already sent to it stay on the vendor's page.",
        responses={204: None},
    )
    @action(
        detail=True,
        methods=["get", "patch", "delete"],
        url_path=r"contacts/(?P<contact_id>[0-9a-fA-F-]{36})",
        url_name="contact",
        filterset_class=None,
    )
    def contact(self, request: Request, pk: str, contact_id: str) -> Response:
        vendor = self.get_object()
        contact = self._contact_of(vendor, contact_id)
        if request.method == "GET":
            return Response(VendorContactOutputSerializer(contact).data)
        context = {
            "tenant": self.tenant,
            "contact": contact,
            "actor": self.actor,
            "member_role": self.tenant_context.role,
        }
        if request.method == "DELETE":
            vendor_contact_delete(**context)
            return Response(status=status.HTTP_204_NO_CONTENT)
        incoming = VendorContactUpdateInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        contact = vendor_contact_update(**context, changes=dict(incoming.validated_data))
        return Response(VendorContactOutputSerializer(contact).data)
