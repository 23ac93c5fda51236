"""Vendors API: create, list, read."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.fields import CurrencyCodeField
from core.http.schema import LETTER_OR_DIGIT_PATTERN
from tenants.http.views import TenantAPIMixin
from vendors.models import Vendor
from vendors.selectors import vendor_list
from vendors.services import vendor_create


class VendorOutputSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="default_currency")
    aliases = serializers.SerializerMethodField()

    class Meta:
        model = Vendor
        fields = ["id", "name", "tax_id", "currency", "external_id", "is_active", "aliases", "created_at"]

    def get_aliases(self, vendor: Vendor) -> list[str]:
        return [alias.alias for alias in vendor.aliases.all()]


class VendorFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    tax_id = django_filters.CharFilter(field_name="tax_id")
    external_id = django_filters.CharFilter(field_name="external_id")
    is_active = django_filters.BooleanFilter(field_name="is_active")

    class Meta:
        model = Vendor
        fields: list[str] = []


class VendorViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = VendorOutputSerializer
    filterset_class = VendorFilter

    @extend_schema_serializer(component_name="VendorInput")  # not "Input": one name per kind of body
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=255)
        tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        currency = CurrencyCodeField(
            required=False, allow_blank=True, default="", help_text="The vendor's usual currency; empty if none."
        )
        external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")

        # vendors.services: VENDOR_NAME_REQUIRED (a name of punctuation alone names nobody).
        schema_rules = {"properties": {"name": {"pattern": LETTER_OR_DIGIT_PATTERN}}}

    def get_queryset(self) -> Any:
        return vendor_list(tenant=self.tenant).prefetch_related("aliases")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.InputSerializer if self.action == "create" else VendorOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: VendorOutputSerializer})
    def create(self, request: Request) -> Response:
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        vendor = vendor_create(tenant=self.tenant, actor=self.actor, **incoming.validated_data)
        return Response(VendorOutputSerializer(vendor).data, status=status.HTTP_201_CREATED)
