"""The base of every tenant API view: tenant from auth, throttle order, idempotent POSTs."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from audit.actors import Actor
from recon_site.api.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    request_fingerprint,
)
from tenants.authentication import TenantContext
from tenants.models import Tenant

_SCHEMA_TENANT = Tenant(pk=uuid.UUID(int=0), name="schema", slug="schema")


class _Replay(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        self.stored = stored


class TenantAPIMixin:
    """Mixed into every API view of tenant data.

    - `self.tenant` / `self.tenant_context` come from authentication, never from the body.
    - Throttles run before permissions, so an anonymous or bad-key caller is counted (per IP)
      before it is refused.
    - A POST with `Idempotency-Key` runs in one transaction with its stored response
      (see recon_site.api.idempotency).
    """

    request: Request
    # Actions whose POST body is a file (recon_site.api.uploads); they call
    # `idempotency_begin_for_file` once the file is spooled.
    file_upload_actions: frozenset[str] = frozenset()

    @property
    def tenant_context(self) -> TenantContext:
        context = self.request.auth
        if not isinstance(context, TenantContext):
            raise exceptions.NotAuthenticated()
        return context

    @property
    def tenant(self) -> Tenant:
        if getattr(self, "swagger_fake_view", False):
            # drf-spectacular calls get_queryset() to learn the model (and the filters) of a list
            # while it builds the schema, for any caller: an unsaved stand-in scopes the queryset
            # without a real tenant, and no query is ever sent with it.
            return _SCHEMA_TENANT
        return self.tenant_context.tenant

    @property
    def actor(self) -> Actor:
        context = self.tenant_context
        return Actor(kind=context.actor_kind, id=context.actor_id, label=str(self.request.user))

    def filter_queryset(self, queryset: Any) -> Any:
        # A FilterSet narrows a list. DRF also applies it in get_object(), so on one object
        # (`/{id}`, `/{id}/approve`) a list filter in the query string (`?status=closed`) turned
        # an existing object into a 404, and a filter value that did not parse into a 400 nobody
        # documented. On one object the query string filters nothing.
        if getattr(self, "detail", False):
            return queryset
        return super().filter_queryset(queryset)  # type: ignore[misc]

    def _idempotency_key(self, request: HttpRequest | Request) -> str | None:
        if request.method != "POST":
            return None
        return request.headers.get(HEADER) or None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if self._idempotency_key(request) is None:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            if response.status_code >= 500:
                transaction.set_rollback(True)
            return response

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)  # type: ignore[attr-defined]
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)  # type: ignore[attr-defined]
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)  # type: ignore[attr-defined]
        try:
            self.perform_authentication(request)  # type: ignore[attr-defined]
        except exceptions.APIException:
            self.check_throttles(request)  # type: ignore[attr-defined]
            raise
        self.check_throttles(request)  # type: ignore[attr-defined]
        self.check_permissions(request)  # type: ignore[attr-defined]

        if getattr(self, "action", None) in self.file_upload_actions:
            return  # fingerprinted by the file's digest, in the action (idempotency_begin_for_file)
        # Read the raw body now, before any parser consumes the stream.
        self._idempotency_begin(request, request._request.body)

    def _idempotency_begin(self, request: Request, content: bytes) -> None:
        key = self._idempotency_key(request)
        # Keys are per tenant; an anonymous POST (self-registration) has no key space.
        if key is None or not isinstance(request.auth, TenantContext):
            return
        # The full path: `?dry_run=true` and a real import of the same file are different requests.
        fingerprint = request_fingerprint(request.method, request.get_full_path(), content)
        stored = idempotency_begin(tenant=self.tenant, key=key, fingerprint=fingerprint)
        if stored is not None:
            raise _Replay(stored)
        self._idempotency = (key, fingerprint)

    def idempotency_begin_for_file(self, request: Request, sha256: str) -> None:
        """For `file_upload_actions`: the key's check, with the uploaded file's digest as the body.

        A multipart body differs on every retry (its boundary is random), and a large one is not
        read into memory, so these requests are fingerprinted by what they upload.
        """
        self._idempotency_begin(request, f"file sha256:{sha256}".encode())

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _Replay):
            response = Response(exc.stored.body, status=exc.stored.status)
            response[REPLAYED_HEADER] = "true"
            return response
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        pending = getattr(self, "_idempotency", None)
        if pending is not None and response.status_code < 500 and isinstance(response, Response):
            key, fingerprint = pending
            body = _json_safe(response.data)
            idempotency_complete(
                tenant=self.tenant, key=key, fingerprint=fingerprint, status=response.status_code, body=body
            )
        return response


def _json_safe(data: Any) -> Any:
    """Response data as plain JSON (Decimals, UUIDs, dates as the renderer writes them)."""
    return json.loads(json.dumps(data, cls=JSONEncoder))
