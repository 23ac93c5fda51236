"""Request id on every response and log line; no NUL from headers or cookies; the error envelope
for errors outside DRF."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from core.http.errors import (
    database_unavailable_response,
    error_response,
    is_api_path,
    is_database_unavailable,
    is_transaction_conflict,
    transaction_conflict_response,
)
from core.observability import request_id_var, tenant_id_var
from core.text import NUL, NUL_REFUSED

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is echoed only if it is short and plain, so it cannot inject into logs or headers.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestIdMiddleware:
    """Takes the caller's `X-Request-Id` (or makes one) and puts it on the response and logs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]  # Recon's own: the request span reads it
        # Set, not reset afterwards: Django logs the response (django.request) after the
        # middleware chain returns, and that line must carry the id too. The next request on
        # this thread overwrites both values.
        request_id_var.set(request_id)
        tenant_id_var.set(None)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


HEADER_HAS_NUL = "The request header {name} contains a NUL character (\\u0000); remove it."


# Headers whose readers already cope with a NUL: cookies are filtered below, and an unsafe
# X-Request-Id is replaced by RequestIdMiddleware (which runs first).
_HEADERS_READ_SAFELY = frozenset({"Cookie", REQUEST_ID_HEADER})


class NulFreeRequestMiddleware:
    """No header or cookie value holding a NUL reaches a view (core.text).

    gunicorn refuses control characters in a header, but not a quoted cookie's octal escape:
    `Cookie: sessionid="abcdefgh\\000"` is plain ASCII on the wire and a NUL once Django reads it,
    and the session lookup then failed in PostgreSQL, a 500 on every page. Such a cookie cannot be
    one Recon set, so it is dropped (the request goes on without it: signed out, no CSRF token).
    A header holding a NUL (a server that passes control characters on) is a 400 naming it, before
    anything looks it up (Idempotency-Key, webhook-id, Authorization). X-Request-Id is not refused:
    RequestIdMiddleware replaces an unsafe one, as the README promises.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, value in request.headers.items():
            if NUL in value and name not in _HEADERS_READ_SAFELY:
                message = HEADER_HAS_NUL.format(name=name)
                return error_response(400, "malformed_request", message, {name: [NUL_REFUSED]})
        if any(NUL in name or NUL in value for name, value in request.COOKIES.items()):
            logger.warning("Dropped a cookie holding a NUL character")
            request.COOKIES = {
                name: value for name, value in request.COOKIES.items() if NUL not in name and NUL not in value
            }
        return self.get_response(request)


class ApiErrorEnvelopeMiddleware:
    """Re-shapes any non-envelope error under /api/ (CSRF failure, a stray HTML error page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400 or getattr(response, "streaming", False):
            return response
        if response.get("Content-Type", "").startswith("application/json") and _is_envelope(response.content):
            return response
        shaped = error_response(response.status_code, _code_for(response.status_code), _message_for(response))
        for header in ("Retry-After", "Allow", "WWW-Authenticate"):
            if header in response:
                shaped[header] = response[header]
        return shaped


class DatabaseUnavailableMiddleware:
    """A view that finds PostgreSQL down answers 503 with `Retry-After`, not a 500.

    The API's views get the same from DRF's exception handler; this covers the web app's pages
    and `/health`, in DEBUG too (where Django would show its debug page instead of handler500).
    The app needs no restart afterwards: with CONN_HEALTH_CHECKS each request checks its
    persistent connection before use and opens a new one once the database is back.

    A deadlock or serialization failure is not an outage: a 409 that says the change met another
    one (the API's views retry it first, tenants.http.views.ConflictRetryMixin).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_transaction_conflict(exception):
            logger.warning("Transaction conflict: %s: %s", type(exception).__name__, exception)
            return transaction_conflict_response(request)
        if not is_database_unavailable(exception):
            return None
        logger.warning("Database unavailable: %s: %s", type(exception).__name__, exception)
        return database_unavailable_response(request)


def _is_envelope(content: bytes) -> bool:
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), dict)


_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "rate_limited",
}


def _code_for(status_code: int) -> str:
    return _CODES.get(status_code, "internal_error" if status_code >= 500 else "error")


def _message_for(response: HttpResponse) -> str:
    if response.status_code == 403:
        return "Forbidden (a browser session needs a CSRF token)."
    return response.reason_phrase or "Error"
