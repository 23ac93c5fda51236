"""Self-registration of a tenant: only when SELF_REGISTRATION_ENABLED (off by default).

An open endpoint that mints tenants and API keys is an account factory; production keeps it
off (the seed's decision log). It is anonymous, so only the per-IP rate limit applies.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.actors import system_actor
from recon_site.api.views import TenantAPIMixin
from tenants.services import tenant_create


class TenantRegisterInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class TenantRegisterOutputSerializer(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    name = serializers.CharField()
    slug = serializers.CharField()
    api_key = serializers.CharField(help_text="Shown once; only its hash is stored.")


class TenantRegisterView(TenantAPIMixin, APIView):
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=TenantRegisterInputSerializer, responses={201: TenantRegisterOutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        if not settings.SELF_REGISTRATION_ENABLED:
            raise exceptions.NotFound()
        incoming = TenantRegisterInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tenant, raw_key = tenant_create(name=incoming.validated_data["name"], actor=system_actor("self_registration"))
        body = {"tenant_id": tenant.pk, "name": tenant.name, "slug": tenant.slug, "api_key": raw_key}
        return Response(TenantRegisterOutputSerializer(body).data, status=status.HTTP_201_CREATED)
