"""A NUL in a request header is a 400 naming the header, and a NUL in a cookie is ignored: never a
500, and nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from core.http.middleware import HEADER_HAS_NUL
from core.text import NUL_REFUSED
from tenants.models import Tenant
from tests.api.bad_input import INVOICES, NUL, VENDORS, World, assert_envelope, baseline


@pytest.mark.parametrize(
    ("method", "path", "header"),
    [
        ("post", INVOICES, "Idempotency-Key"),
        ("get", VENDORS, "User-Agent"),
        ("post", "/api/webhook-handler/{tenant_id}", "Webhook-Id"),
        ("get", "/", "Accept-Language"),
    ],
)
def test_nul_in_a_request_header_is_a_400_naming_it_and_nothing_is_written(
    method: str, path: str, header: str, world: World, api: APIClient, tenant: Tenant, document_counts: Any
) -> None:
    """A server that passes control characters on (runserver) once let a NUL key reach a query: a 500."""
    api.raise_request_exception = False
    before = document_counts()
    meta = {"HTTP_" + header.upper().replace("-", "_"): f"key{NUL}1"}
    response = getattr(api, method)(path.format(tenant_id=tenant.pk), baseline(INVOICES, world), format="json", **meta)
    error = assert_envelope(response, 400, "malformed_request")
    assert error["message"] == HEADER_HAS_NUL.format(name=header)
    assert error["details"] == {header: [NUL_REFUSED]}
    assert document_counts() == before


def test_a_cookie_holding_a_nul_is_ignored_not_a_500(tenant: Tenant) -> None:
    """`"…\\000…"` in a quoted cookie is plain ASCII on the wire (gunicorn lets it through) and a NUL
    once read: the session lookup failed in PostgreSQL on every page. Now the cookie is not there."""
    client = Client(raise_request_exception=False)
    cookie = 'sessionid="abcdefgh\\000ijklmnop"; csrftoken="abc\\000"'
    assert client.get("/", HTTP_COOKIE=cookie).status_code == 302  # to the sign-in page
    assert client.get(VENDORS, HTTP_COOKIE=cookie).status_code == 401
