"""The error envelope: every 4xx/5xx body is `{"error": {"code", "message", "details"}}`.

DRF exceptions go through `api_exception_handler`; errors raised outside DRF (URL not found,
a body over the size limit, an unhandled crash) are shaped by `ApiErrorEnvelopeMiddleware` and
the `handler404`/`handler500` views, so an API client never sees an HTML page.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.exceptions import DomainError

logger = logging.getLogger(__name__)

# DRF's default codes, renamed where the API's vocabulary is clearer.
_CODE_BY_EXCEPTION: dict[type[Exception], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


# PostgreSQL down, restarting, refusing connections, or a connection cut mid-request (psycopg's
# OperationalError and InterfaceError, as Django re-raises them): nothing the client did, and a
# retry may well succeed.
DATABASE_UNAVAILABLE_CODE = "service_unavailable"
# Not "nothing was changed": a connection cut during COMMIT cannot tell. Keyed POSTs are safe to
# retry either way (Idempotency-Key).
DATABASE_UNAVAILABLE = "The database is unavailable right now. Retry shortly."
DATABASE_RETRY_AFTER_SECONDS = 5

# A deadlock, a serialization failure, a row lock not available: OperationalErrors too, but the
# database is up and answered; it rolled this transaction back because a concurrent one needed
# the same rows. The API runs such a request again (tenants.http.views.ConflictRetryMixin);
# these answers are for when it could not, and never say "unavailable".
TRANSACTION_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
CONCURRENT_UPDATE_CODE = "concurrent_update"
CONCURRENT_UPDATE = (
    "This request conflicted with another one changing the same records at the same time, and was "
    "rolled back: nothing of it was saved. Send it again."
)
CONCURRENT_UPDATE_PARTLY_SAVED = (
    "This request conflicted with another one changing the same records at the same time, after part "
    "of it had been saved. Check what was saved before sending it again (with an Idempotency-Key, a "
    "request is saved whole or not at all)."
)
CONCURRENT_UPDATE_MAYBE_PARTLY_SAVED = (
    "This request conflicted with another one changing the same records at the same time. Part of it "
    "may have been saved: check before sending it again (with an Idempotency-Key, a request is saved "
    "whole or not at all)."
)
CONCURRENT_UPDATE_RETRY_AFTER_SECONDS = 1
_CONCURRENT_UPDATE_MESSAGES = {
    False: CONCURRENT_UPDATE,
    True: CONCURRENT_UPDATE_PARTLY_SAVED,
    None: CONCURRENT_UPDATE_MAYBE_PARTLY_SAVED,
}


def is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def is_transaction_conflict(exc: BaseException | None) -> bool:
    """A deadlock, serialization failure or unavailable lock, as psycopg raised it (and Django wrapped it)."""
    while exc is not None:
        if getattr(exc, "sqlstate", None) in TRANSACTION_CONFLICT_SQLSTATES:
            return True
        exc = exc.__cause__
    return False


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) and not is_transaction_conflict(exc)


def concurrent_update_body(*, partly_saved: bool | None, attempts: int) -> dict[str, Any]:
    """The 409's envelope; `partly_saved` None where it cannot be known (no retrying view)."""
    return error_body(
        CONCURRENT_UPDATE_CODE,
        _CONCURRENT_UPDATE_MESSAGES[partly_saved],
        {"attempts": attempts, "partly_saved": partly_saved},
    )


def transaction_conflict_response(request: HttpRequest) -> HttpResponse:
    """409 for a conflict that reached no retry (outside the API's views): the envelope for the
    API, a page for the web app. Whether anything was saved is not known here."""
    if is_api_path(request.path):
        response: HttpResponse = JsonResponse(concurrent_update_body(partly_saved=None, attempts=1), status=409)
    else:
        response = HttpResponse(render_to_string("web/conflict.html"), status=409)
    response["Retry-After"] = str(CONCURRENT_UPDATE_RETRY_AFTER_SECONDS)
    return response


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status_code: int, code: str, message: str, details: dict[str, Any] | None = None) -> JsonResponse:
    return JsonResponse(error_body(code, message, details), status=status_code)


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with `Retry-After`: the envelope for the API and `/health`, a page for the web app
    (rendered without the request, so no context processor touches the database)."""
    if is_api_path(request.path) or request.path == "/health":
        response: HttpResponse = error_response(
            503, DATABASE_UNAVAILABLE_CODE, DATABASE_UNAVAILABLE, {"database": "unreachable"}
        )
    else:
        response = HttpResponse(render_to_string("web/unavailable.html"), status=503)
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error tree → `{"lines[1].quantity": ["..."]}`.

    Services report errors with the same paths, so a client reads one shape whichever layer
    refused the document.
    """
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):  # ListSerializer errors keyed by item index (DRF default)
                path = f"{prefix}[{key}]"
            elif key == api_settings.NON_FIELD_ERRORS_KEY and prefix:  # about the nested list/object itself
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            flat.update(flatten_errors(value, path))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(value, (dict, list)) for value in detail):
            return {prefix or "non_field_errors": [str(value) for value in detail]} if detail else {}
        flat = {}
        for index, value in enumerate(detail):
            flat.update(flatten_errors(value, f"{prefix}[{index}]"))
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, re-shaped into the envelope; domain errors get their own status."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if is_transaction_conflict(exc):
        # A view without ConflictRetryMixin (the retrying ones never get here with a conflict).
        logger.warning("Transaction conflict: %s: %s", type(exc).__name__, exc)
        return Response(
            concurrent_update_body(partly_saved=None, attempts=1),
            status=status.HTTP_409_CONFLICT,
            headers={"Retry-After": str(CONCURRENT_UPDATE_RETRY_AFTER_SECONDS)},
        )
    if is_database_unavailable(exc):
        logger.warning("Database unavailable: %s: %s", type(exc).__name__, exc)
        return Response(
            error_body(DATABASE_UNAVAILABLE_CODE, DATABASE_UNAVAILABLE, {"database": "unreachable"}),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is larger than this server accepts."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unhandled crash: Django's handler500 shapes it

    code = next((name for cls, name in _CODE_BY_EXCEPTION.items() if isinstance(exc, cls)), "error")
    details: dict[str, Any]
    if isinstance(exc, exceptions.ValidationError):
        details = flatten_errors(exc.detail)
        message = "The request is invalid; see details for each field."
    else:
        details = {}
        message = str(exc.detail) if hasattr(exc, "detail") else str(exc)
    # DRF sets `wait` on Throttled; its stubs do not declare it.
    if isinstance(exc, exceptions.Throttled) and (wait := exc.wait) is not None:  # type: ignore[attr-defined]
        details = {"retry_after_seconds": int(wait) + 1}
    response.data = error_body(code, message, details)
    return response


def handler404(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(404, "not_found", "No such resource.")


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its `except`: a database outage raised outside a view (a
    # middleware saving the session, say) is still a 503, not a crash.
    if is_transaction_conflict(sys.exc_info()[1]):
        return transaction_conflict_response(request)
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    return error_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


TOO_MANY_FIELDS = (
    "The request has more than {limit} query parameters or form fields, more than any page or filter "
    "takes; nothing was read."
)
TOO_MANY_FILES = "The request uploads more than {limit} files; an import takes one file, as the field `file`."


def handler400(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, "payload_too_large", "The request body is larger than this server accepts.")
    # Django's own limits on what it parses: said plainly, or the sender cannot tell what to change.
    if isinstance(exception, TooManyFieldsSent):
        return error_response(400, "bad_request", TOO_MANY_FIELDS.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))
    if isinstance(exception, TooManyFilesSent):
        return error_response(400, "bad_request", TOO_MANY_FILES.format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FILES))
    return error_response(400, "bad_request", "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_response(403, "permission_denied", "You do not have permission to do this.")
