"""The base of every tenant API view: tenant from auth, throttle order, idempotent POSTs, and
requests run again after a deadlock."""

from __future__ import annotations

import io
import json
import logging
import random
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.http.request import RawPostDataException
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from core.actors import Actor
from core.http.errors import (
    CONCURRENT_UPDATE_RETRY_AFTER_SECONDS,
    concurrent_update_body,
    is_transaction_conflict,
)
from tenants.authentication import TenantContext
from tenants.http.idempotency import (
    HEADER,
    REPLAYED_HEADER,
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    request_fingerprint,
)
from tenants.models import Tenant

logger = logging.getLogger(__name__)

_SCHEMA_TENANT = Tenant(pk=uuid.UUID(int=0), name="schema", slug="schema")

# A request that meets a deadlock or serialization failure runs again at most this many times,
# after a pause of about CONFLICT_BACKOFF_SECONDS, doubled each time and jittered (so the two
# sides of a deadlock do not meet again in step): 50, 100, 200 ms.
CONFLICT_RETRIES = 3
CONFLICT_BACKOFF_SECONDS = 0.05
LOG_CONFLICT_RETRY = "Transaction conflict on %s %s (attempt %d of %d), running the request again: %s"
LOG_CONFLICT_GIVEN_UP = "Transaction conflict on %s %s after %d attempt(s), answered 409 (partly saved: %s): %s"


class ConflictRetryMixin:
    """Runs a request again when PostgreSQL rolled it back for a concurrent one (a deadlock, a
    serialization failure, a lock not available), instead of answering it with an error.

    Only where running it again is exactly what would have happened had the first attempt never
    run: the attempt committed nothing (the connection counts commits, core.tenancy.db_backend) —
    always so for a keyed POST, which is one transaction — and its body can be read again (held
    in memory: bodies up to DATA_UPLOAD_MAX_MEMORY_SIZE; a larger upload is streamed once). Then
    the whole dispatch runs again: authentication, the Idempotency-Key check and the view, in a
    new transaction; not the rate limit, which counted the request once. Otherwise, or after
    CONFLICT_RETRIES, the answer is a 409 `concurrent_update` saying whether anything was saved,
    never a 503: the database is up, the client's request met another one.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        replayable = _body_kept(request)
        attempt = 1
        while True:
            committed_before = getattr(connection, "commits", 0)
            try:
                return self.dispatch_attempt(request, *args, **kwargs)
            except DatabaseError as exc:
                if not is_transaction_conflict(exc):
                    raise
                partly_saved = getattr(connection, "commits", 0) != committed_before
                if partly_saved or not replayable or attempt > CONFLICT_RETRIES:
                    logger.warning(LOG_CONFLICT_GIVEN_UP, request.method, request.path, attempt, partly_saved, exc)
                    return self._conflict_response(partly_saved=partly_saved, attempts=attempt)
                logger.warning(LOG_CONFLICT_RETRY, request.method, request.path, attempt, CONFLICT_RETRIES + 1, exc)
            time.sleep(CONFLICT_BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))  # noqa: S311 (jitter)
            attempt += 1
            self._conflict_retrying = True
            _body_rewind(request)

    def dispatch_attempt(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc,no-any-return]

    def handle_exception(self, exc: Exception) -> Response:
        if is_transaction_conflict(exc):
            raise exc  # out of DRF's dispatch (and a keyed request's transaction), to `dispatch`
        return super().handle_exception(exc)  # type: ignore[misc,no-any-return]

    def check_throttles(self, request: Request) -> None:
        if not getattr(self, "_conflict_retrying", False):
            super().check_throttles(request)  # type: ignore[misc]

    def _conflict_response(self, *, partly_saved: bool, attempts: int) -> HttpResponseBase:
        body = concurrent_update_body(partly_saved=partly_saved, attempts=attempts)
        drf_request = getattr(self, "request", None)
        if not isinstance(drf_request, Request) or not hasattr(drf_request, "accepted_renderer"):
            response: HttpResponseBase = JsonResponse(body, status=409)
        else:
            response = self.finalize_response(drf_request, Response(body, status=409))  # type: ignore[attr-defined]
        response["Retry-After"] = str(CONCURRENT_UPDATE_RETRY_AFTER_SECONDS)
        return response


def _body_kept(request: HttpRequest) -> bool:
    """Hold the request body in memory so a retry can read it again; False if it cannot be."""
    if hasattr(request, "_body"):
        return True
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads such a body as empty; nothing to keep
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and declared > limit:
        return False  # an upload (core.http.uploads) streams it to a spool file, once
    try:
        request.body  # noqa: B018 (read for its side effect: Django keeps the bytes)
    except (RequestDataTooBig, RawPostDataException, OSError):
        return False
    return True


def _body_rewind(request: HttpRequest) -> None:
    # DRF's parsers read a kept body afresh each time; a raw upload reads the request's stream.
    if hasattr(request, "_body"):
        request._stream = io.BytesIO(request._body)  # type: ignore[attr-defined]


class _Replay(Exception):
    def __init__(self, stored: StoredResponse) -> None:
        self.stored = stored


class TenantAPIMixin(ConflictRetryMixin):
    """Mixed into every API view of tenant data.

    - `self.tenant` / `self.tenant_context` come from authentication, never from the body.
    - Throttles run before permissions, so an anonymous or bad-key caller is counted (per IP)
      before it is refused.
    - A POST with `Idempotency-Key` runs in one transaction with its stored response
      (see tenants.http.idempotency).
    - A request rolled back by a deadlock runs again (ConflictRetryMixin).
    """

    request: Request
    # Actions whose POST body is a file (core.http.uploads); they call
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

    def dispatch_attempt(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self._idempotency = None
        if self._idempotency_key(request) is None:
            return super().dispatch_attempt(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch_attempt(request, *args, **kwargs)
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
        return super().handle_exception(exc)

    def _conflict_response(self, *, partly_saved: bool, attempts: int) -> HttpResponseBase:
        self._idempotency = None  # the attempt that would have stored a response was rolled back
        return super()._conflict_response(partly_saved=partly_saved, attempts=attempts)

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        pending = getattr(self, "_idempotency", None)
        # A response whose transaction is to be rolled back (a service's write failed inside it,
        # without a savepoint of its own) is not stored, as a 5xx is not: nothing it says was kept.
        if (
            pending is not None
            and response.status_code < 500
            and isinstance(response, Response)
            and not transaction.get_rollback()
        ):
            key, fingerprint = pending
            # Encoded once, as the renderer writes values (Decimals, UUIDs, dates), and stored as
            # that text: a replay answers the same JSON.
            body_json = json.dumps(response.data, cls=JSONEncoder)
            idempotency_complete(
                tenant=self.tenant, key=key, fingerprint=fingerprint, status=response.status_code, body_json=body_json
            )
        return response
