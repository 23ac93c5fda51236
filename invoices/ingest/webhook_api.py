"""The HTTP side of webhooks in: `POST /api/webhook-handler/{tenant_id}`.

The HMAC is the authentication: no API key, no session. The tenant named in the URL is taken
only once the signature verifies with *that* tenant's secret, so tenant A's secret is refused on
tenant B's URL; an unknown or inactive tenant gets the same 401 as a bad signature, so ids cannot
be probed. Anonymous callers share the per-IP throttle. See invoices.ingest.webhooks.
"""

from __future__ import annotations

import logging
import uuid

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.http.errors import error_body
from core.http.schema import error_response
from core.tenancy.rls import tenant_scope_enter
from invoices.ingest.webhooks import (
    INTUIT_SIGNATURE,
    LOG_SIGNATURE_REFUSED,
    SIGNATURE_REFUSED,
    STANDARD_ID,
    STANDARD_SIGNATURE,
    STANDARD_TIMESTAMP,
    XERO_SIGNATURE,
    Source,
    WebhookSignatureInvalid,
    webhook_delivery_ingest,
    webhook_verify,
)
from tenants.http.throttling import AnonIpRateThrottle
from tenants.http.views import ConflictRetryMixin
from tenants.models import Tenant

logger = logging.getLogger(__name__)

REFUSED_CODE = "authentication_failed"


class WebhookOutcomeSerializer(serializers.Serializer):
    delivery_id = serializers.CharField(help_text="webhook-id, or the SHA-256 of the body for QuickBooks / Xero.")
    outcome = serializers.ChoiceField(
        choices=["created", "already_present", "ignored", "rejected", "duplicate_delivery"]
    )
    detail = serializers.CharField()
    invoice_ids = serializers.ListField(child=serializers.UUIDField(), help_text="Invoices created.")
    existing_invoice_ids = serializers.ListField(
        child=serializers.UUIDField(), help_text="Invoices of this delivery that were already stored."
    )


def _empty(status: int) -> HttpResponseBase:
    """A response without a body, as Xero requires of every answer to its own deliveries.

    ApiErrorEnvelopeMiddleware gives every error under /api/ a JSON body, except a streamed one:
    so an empty 401 is an empty stream, with Content-Length 0 so nothing is chunk-encoded.
    """
    response: HttpResponseBase = (
        StreamingHttpResponse(iter(()), status=status) if status >= 400 else HttpResponse(status=status)
    )
    response["Content-Length"] = "0"
    return response


def _refused(scheme: str) -> HttpResponseBase:
    if scheme == Source.XERO:
        # Xero's intent-to-receive sends deliberately mis-signed payloads and accepts only an
        # empty 401; which of its deliveries is a handshake cannot be known before verification.
        return _empty(401)
    return Response(error_body(REFUSED_CODE, SIGNATURE_REFUSED), status=401)


_HEADERS = [
    OpenApiParameter(STANDARD_ID, str, OpenApiParameter.HEADER, description="Standard Webhooks: the delivery id."),
    OpenApiParameter(STANDARD_TIMESTAMP, str, OpenApiParameter.HEADER, description="Standard Webhooks: Unix seconds."),
    OpenApiParameter(
        STANDARD_SIGNATURE,
        str,
        OpenApiParameter.HEADER,
        description="Standard Webhooks: space-separated `v1,<base64 HMAC-SHA256 of {id}.{timestamp}.{body}>`.",
    ),
    OpenApiParameter(
        INTUIT_SIGNATURE, str, OpenApiParameter.HEADER, description="QuickBooks: base64 HMAC-SHA256 of the body."
    ),
    OpenApiParameter(XERO_SIGNATURE, str, OpenApiParameter.HEADER, description="Xero: base64 HMAC-SHA256 of the body."),
]


# A delivery that meets a deadlock is run again rather than refused (ConflictRetryMixin): a
# sender retries anything but a 2xx, for days.
class WebhookHandlerView(ConflictRetryMixin, APIView):
    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonIpRateThrottle]

    @extend_schema(
        summary="Receive a signed webhook delivery (QuickBooks Bill, Xero ACCPAY invoice)",
        description=(
            "Authenticated by an HMAC-SHA256 of the raw body with the tenant's webhook secret (Standard "
            "Webhooks, QuickBooks `intuit-signature` or Xero `x-xero-signature`), not by an API key. "
            "A delivery id seen before is acknowledged (200) and ignored."
        ),
        parameters=_HEADERS,
        request={"application/json": {"type": "object"}},
        responses={
            201: OpenApiResponse(WebhookOutcomeSerializer, description="Invoices created."),
            200: OpenApiResponse(WebhookOutcomeSerializer, description="A replay, or already stored."),
            202: OpenApiResponse(WebhookOutcomeSerializer, description="Not a bill: recorded and ignored."),
            400: error_response("An invalid document (recorded as rejected)."),
            # No content: the refusal of a Xero delivery is an empty body (see `_refused`).
            401: OpenApiResponse(description="No valid signature for this tenant: the envelope, or empty for Xero."),
        },
        auth=[],
    )
    def post(self, request: Request, tenant_id: uuid.UUID) -> HttpResponseBase:
        body = request.body  # the raw bytes, read before anything could parse them
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        try:
            delivery = webhook_verify(tenant=tenant, headers=request.headers, body=body)
        except WebhookSignatureInvalid as exc:
            logger.warning(LOG_SIGNATURE_REFUSED, tenant_id, exc.scheme, exc.reason)
            return _refused(exc.scheme)
        assert tenant is not None  # webhook_verify refuses every delivery for no tenant
        tenant_scope_enter(tenant)
        outcome = webhook_delivery_ingest(tenant=tenant, delivery=delivery, body=body)
        if outcome.empty_body:
            return _empty(outcome.status)
        if outcome.error is not None:
            error = outcome.error
            return Response(error_body(error.code, error.message, error.details), status=outcome.status)
        return Response(WebhookOutcomeSerializer(outcome.as_response()).data, status=outcome.status)
