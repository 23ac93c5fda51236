"""Self-registration of a tenant, and rotation of the tenant's webhook signing secret.

Self-registration exists only when SELF_REGISTRATION_ENABLED (off by default): an open endpoint
that mints tenants and API keys is an account factory; production keeps it off (the seed's
decision log). It is anonymous, so only the per-IP rate limit applies.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.actors import system_actor
from core.http.schema import error_response
from tenants.authentication import TenantContext
from tenants.http.views import TenantAPIMixin
from tenants.models import Role
from tenants.services import (
    WEBHOOK_SECRET_LENGTH,
    WEBHOOK_SECRET_MAX_LENGTH,
    WEBHOOK_SECRET_MIN_LENGTH,
    tenant_create,
    webhook_secret_rotate,
    webhook_secret_set,
)

WEBHOOK_ROTATE_ADMINS_ONLY = "Only an administrator of this tenant (or an API key) may rotate its webhook secret."


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

    @extend_schema(
        request=TenantRegisterInputSerializer,
        responses={
            201: TenantRegisterOutputSerializer,
            404: error_response("Self-registration is off (`SELF_REGISTRATION_ENABLED`)."),
        },
        auth=[],
    )
    def post(self, request: Request) -> Response:
        if not settings.SELF_REGISTRATION_ENABLED:
            raise exceptions.NotFound()
        incoming = TenantRegisterInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        tenant, raw_key = tenant_create(name=incoming.validated_data["name"], actor=system_actor("self_registration"))
        body = {"tenant_id": tenant.pk, "name": tenant.name, "slug": tenant.slug, "api_key": raw_key}
        return Response(TenantRegisterOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class IsTenantAdministrator(permissions.BasePermission):
    """An API key (keys are minted by administrators), or a session member with the admin role."""

    message = WEBHOOK_ROTATE_ADMINS_ONLY

    def has_permission(self, request: Request, view: Any) -> bool:
        context = request.auth
        if not isinstance(context, TenantContext):
            return False
        return context.actor_kind == "api_key" or context.role == Role.ADMIN


class WebhookSecretRotateOutputSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Shown once; stored only encrypted. The previous secret stops verifying.")
    rotated_at = serializers.DateTimeField()


class WebhookSecretRotateView(TenantAPIMixin, APIView):
    permission_classes = [IsTenantAdministrator]

    def _idempotency_key(self, request: Any) -> str | None:
        # A replayed response would have to be stored, and this one is the secret in clear: the
        # idempotency table would defeat its encryption. A retried rotation simply rotates again,
        # and the secret never received is already invalid.
        return None

    @extend_schema(
        summary="Rotate the tenant's webhook signing secret",
        description=(
            "A new `whsec_` secret for POST /api/webhook-handler/{tenant_id}, returned once and stored only "
            "encrypted; the previous one stops verifying at once. Idempotency-Key is not honoured here: a "
            "retry rotates again. Sessions need the admin role."
        ),
        request=None,
        responses={200: WebhookSecretRotateOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        raw_secret = webhook_secret_rotate(tenant=self.tenant, actor=self.actor)
        body = {"secret": raw_secret, "rotated_at": self.tenant.webhook_secret_rotated_at}
        response = Response(WebhookSecretRotateOutputSerializer(body).data)
        response["Cache-Control"] = "no-store"  # no proxy or browser cache may keep the secret
        return response


class WebhookSecretSetInputSerializer(serializers.Serializer):
    # The service checks the length too (any caller); here it is also stated in the schema.
    secret = serializers.CharField(
        trim_whitespace=True,
        min_length=WEBHOOK_SECRET_MIN_LENGTH,
        max_length=WEBHOOK_SECRET_MAX_LENGTH,
        error_messages={"min_length": WEBHOOK_SECRET_LENGTH, "max_length": WEBHOOK_SECRET_LENGTH},
        help_text=(
            "The key the sender issued (QuickBooks verifier token, Xero webhook key): "
            f"{WEBHOOK_SECRET_MIN_LENGTH} to {WEBHOOK_SECRET_MAX_LENGTH} characters; surrounding spaces are ignored."
        ),
    )


class WebhookSecretSetOutputSerializer(serializers.Serializer):
    rotated_at = serializers.DateTimeField()


class WebhookSecretSetView(TenantAPIMixin, APIView):
    permission_classes = [IsTenantAdministrator]

    def _idempotency_key(self, request: Any) -> str | None:
        return None  # the body is the secret in clear: it must not be kept in the idempotency table

    @extend_schema(
        summary="Set the tenant's webhook signing secret to one the sender issued",
        description=(
            "For senders that issue their own key (QuickBooks Online's verifier token, Xero's webhook key): "
            "stored only encrypted, never echoed; the previous secret stops verifying at once. Sessions need "
            "the admin role."
        ),
        request=WebhookSecretSetInputSerializer,
        responses={200: WebhookSecretSetOutputSerializer},
    )
    def put(self, request: Request) -> Response:
        incoming = WebhookSecretSetInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        webhook_secret_set(tenant=self.tenant, raw_secret=incoming.validated_data["secret"], actor=self.actor)
        return Response(WebhookSecretSetOutputSerializer({"rotated_at": self.tenant.webhook_secret_rotated_at}).data)
