"""API conventions (DESIGN.md §8): request ids, the error envelope, throttling, schema, session access."""

from __future__ import annotations

import base64
import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from core.http.pagination import PAGE_SIZE_INVALID
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, InvoiceFactory, MembershipFactory, UserFactory

REQUEST_ID = "X-Request-Id"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


# --- X-Request-Id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "authenticated"),
    [
        ("get", "/api/invoices", True),
        ("get", "/api/invoices", False),
        ("get", "/api/no-such-endpoint", True),
        ("delete", "/api/vendors", True),
        ("post", "/api/vendors", True),
        ("get", "/api/schema/", False),
        ("get", "/health", False),
        ("get", "/no-such-page", False),
    ],
)
def test_every_response_carries_a_generated_request_id(
    method: str, path: str, authenticated: bool, api: APIClient
) -> None:
    """Successes and errors alike carry a fresh X-Request-Id when the caller sent none."""
    client = api if authenticated else APIClient()
    first = getattr(client, method)(path)
    second = getattr(client, method)(path)
    assert GENERATED_ID.match(first[REQUEST_ID])
    assert first[REQUEST_ID] != second[REQUEST_ID]


@pytest.mark.parametrize("request_id", ["abc-123", "trace:0af7651916cd43dd.8448eb211c80319c", "x" * 128, "a_b-c.d:e"])
def test_a_safe_caller_request_id_is_echoed(request_id: str, api: APIClient) -> None:
    """A caller's plain id comes back unchanged, so its logs and ours line up."""
    response = api.get("/api/invoices", HTTP_X_REQUEST_ID=request_id)
    assert response[REQUEST_ID] == request_id
    error = APIClient().get("/api/invoices", HTTP_X_REQUEST_ID=request_id)
    assert error.status_code == 401
    assert error[REQUEST_ID] == request_id


@pytest.mark.parametrize(
    "request_id",
    [
        "abc\ndef",
        "abc\r\nSet-Cookie: x=1",
        "x" * 500,
        "x" * 129,
        "has space",
        "<script>",
        "id\x00",
        "",
        'quote"d',
        "ünïcode",
    ],
    ids=["newline", "crlf-injection", "500-chars", "129-chars", "space", "html", "nul", "empty", "quote", "unicode"],
)
def test_an_unsafe_caller_request_id_is_replaced(request_id: str, api: APIClient) -> None:
    """An id that could inject into headers or logs is replaced by a generated one."""
    response = api.get("/api/invoices", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200
    assert GENERATED_ID.match(response[REQUEST_ID]), response[REQUEST_ID]


# --- the error envelope ------------------------------------------------------------------------


def test_no_api_key_is_a_401_envelope() -> None:
    """An anonymous call is told to authenticate, in the envelope, with the scheme to use."""
    response = APIClient().get("/api/invoices")
    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "authorization",
    ["Bearer rk_not-a-real-key", "Bearer ", "Bearer " + "x" * 300],
    ids=["unknown-key", "empty-key", "long-key"],
)
@pytest.mark.django_db
def test_a_bad_api_key_is_a_401_envelope(authorization: str) -> None:
    """A wrong key is refused, never treated as anonymous access to anything."""
    response = APIClient().get("/api/invoices", HTTP_AUTHORIZATION=authorization)
    assert_envelope(response, 401, "authentication_failed")


def test_a_revoked_key_is_a_401_envelope(tenant: Tenant) -> None:
    """Revoking a key takes effect on the next request."""
    from tenants.services import api_key_create, api_key_revoke

    api_key, raw_key = api_key_create(tenant=tenant, name="to-revoke", actor=TEST_ACTOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/invoices").status_code == 200
    api_key_revoke(tenant=tenant, api_key=api_key, actor=TEST_ACTOR)
    assert_envelope(client.get("/api/invoices"), 401, "authentication_failed")


def test_a_key_of_a_deactivated_tenant_is_a_401_envelope(tenant: Tenant, api: APIClient) -> None:
    """A switched-off tenant's keys stop working."""
    Tenant.objects.filter(pk=tenant.pk).update(is_active=False)
    assert_envelope(api.get("/api/invoices"), 401, "authentication_failed")


@pytest.mark.parametrize("path", ["/api/no-such-endpoint", "/api/invoices/", "/api/", "/api/vendors/x/y"])
def test_an_unknown_url_under_api_is_a_404_envelope(path: str, api: APIClient) -> None:
    """Unknown URLs under /api/ answer in JSON, never with an HTML page."""
    assert_envelope(api.get(path), 404, "not_found")


@pytest.mark.parametrize("resource", ["vendors", "purchase-orders", "goods-receipts", "invoices"])
@pytest.mark.parametrize("object_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown-uuid", "not-a-uuid"])
def test_an_unknown_id_is_a_404_envelope(resource: str, object_id: str, api: APIClient) -> None:
    """A missing id and a malformed id are both a plain 404."""
    assert_envelope(api.get(f"/api/{resource}/{object_id}"), 404, "not_found")


@pytest.mark.parametrize("resource", ["vendors", "purchase-orders", "goods-receipts", "invoices"])
def test_delete_is_a_405_envelope(resource: str, api: APIClient, tenant: Tenant) -> None:
    """Documents cannot be deleted through the API; the method is refused with the allowed ones."""
    invoice = InvoiceFactory(tenant=tenant)
    for path in (f"/api/{resource}", f"/api/{resource}/{invoice.pk}"):
        response = api.delete(path)
        assert_envelope(response, 405, "method_not_allowed")
        assert "DELETE" not in response["Allow"]
    assert InvoiceFactory._meta.model.objects.for_tenant(tenant).filter(pk=invoice.pk).exists()


def test_put_and_patch_are_405_envelopes(api: APIClient, tenant: Tenant) -> None:
    """Received invoices are not edited in place."""
    invoice = InvoiceFactory(tenant=tenant)
    assert_envelope(api.put(f"/api/invoices/{invoice.pk}", {}, format="json"), 405, "method_not_allowed")
    assert_envelope(api.patch(f"/api/invoices/{invoice.pk}", {}, format="json"), 405, "method_not_allowed")


# --- throttling --------------------------------------------------------------------------------


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tiny limits: DRF reads rates into `SimpleRateThrottle.THROTTLE_RATES` at import time."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"tenant": "3/min", "anon": "2/min"})
    cache.clear()
    yield
    cache.clear()


def test_a_tenant_over_its_rate_gets_429_with_retry_after(low_rates: None, api: APIClient) -> None:
    """Past the per-tenant limit: 429 in the envelope, with Retry-After the client can obey."""
    for _ in range(3):
        assert api.get("/api/invoices").status_code == 200
    response = api.get("/api/invoices")
    error = assert_envelope(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["details"]["retry_after_seconds"] >= retry_after
    assert api.post("/api/vendors", {"name": "Blocked"}, format="json").status_code == 429


def test_throttling_is_per_tenant(low_rates: None, api: APIClient, foreign_api: APIClient) -> None:
    """Tenant A spending its budget does not throttle tenant B."""
    for _ in range(3):
        api.get("/api/invoices")
    assert api.get("/api/invoices").status_code == 429
    for _ in range(3):
        assert foreign_api.get("/api/invoices").status_code == 200
    assert foreign_api.get("/api/invoices").status_code == 429


def test_all_keys_of_one_tenant_share_its_budget(low_rates: None, tenant: Tenant, client_for: Any) -> None:
    """Minting more API keys does not multiply a tenant's rate."""
    first, second = client_for(tenant), client_for(tenant)
    for _ in range(3):
        assert first.get("/api/invoices").status_code == 200
    assert second.get("/api/invoices").status_code == 429


@pytest.mark.django_db
def test_anonymous_calls_are_throttled_per_ip(low_rates: None) -> None:
    """Anonymous callers get a per-IP budget: one IP exhausting it does not block another."""
    noisy = APIClient(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        assert noisy.get("/api/invoices").status_code == 401
    response = noisy.get("/api/invoices")
    assert_envelope(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0
    assert APIClient(REMOTE_ADDR="203.0.113.8").get("/api/invoices").status_code == 401


@pytest.mark.django_db
def test_bad_keys_count_against_the_ip(low_rates: None) -> None:
    """Guessing keys is throttled per IP like any anonymous call."""
    guesser = APIClient(REMOTE_ADDR="203.0.113.9")
    for attempt in range(2):
        assert guesser.get("/api/invoices", HTTP_AUTHORIZATION=f"Bearer rk_guess{attempt}").status_code == 401
    assert_envelope(guesser.get("/api/invoices", HTTP_AUTHORIZATION="Bearer rk_guess3"), 429, "rate_limited")
    assert guesser.get("/api/invoices").status_code == 429  # the same bucket as keyless calls


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_header_does_not_escape_the_ip_limit(low_rates: None) -> None:
    """An anonymous caller cannot get a fresh budget by sending a new X-Forwarded-For each time."""
    attacker = APIClient(REMOTE_ADDR="203.0.113.10")
    statuses = [attacker.get("/api/invoices", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(1, 6)]
    assert statuses[:2] == [401, 401]
    assert statuses[2:] == [429, 429, 429]


def test_anonymous_noise_does_not_spend_a_tenants_budget(low_rates: None, tenant: Tenant) -> None:
    """A tenant calling from an IP that anonymous callers exhausted is still served."""
    from tenants.services import api_key_create

    _, raw_key = api_key_create(tenant=tenant, name="shared-ip", actor=TEST_ACTOR)
    for _ in range(3):
        APIClient(REMOTE_ADDR="203.0.113.11").get("/api/invoices")
    client = APIClient(REMOTE_ADDR="203.0.113.11")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get("/api/invoices").status_code == 200


# --- OpenAPI schema and docs -------------------------------------------------------------------


def _api_routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def _openapi_path(route: str) -> str:
    """`api/^invoices/(?P<pk>[^/.]+)$` → `/api/invoices/{id}` (drf-spectacular names pk `id`)."""
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "{" + ("id" if m.group(1) == "pk" else m.group(1)) + "}", route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "{" + ("id" if m.group(1) == "pk" else m.group(1)) + "}", path)
    return "/" + path.replace("^", "").replace("$", "")


API_ROUTES = [
    (route, pattern)
    for route, pattern in _api_routes(get_resolver().url_patterns)
    if route.startswith("api/") and pattern.name not in {"schema", "swagger-ui"}
]


@pytest.mark.django_db
def test_openapi_schema_lists_every_api_endpoint_and_method() -> None:
    """/api/schema/ is served and documents every /api/ route with each of its methods."""
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert API_ROUTES, "the URL walk found no API routes"
    for route, pattern in API_ROUTES:
        path = _openapi_path(route)
        assert path in schema["paths"], f"{path} (from {route}) is missing from the OpenAPI schema"
        actions = getattr(pattern.callback, "actions", None) or {}
        for method in set(actions) - {"head", "options"}:
            assert method in schema["paths"][path], f"{method.upper()} {path} is missing from the schema"


@pytest.mark.django_db
def test_openapi_schema_documents_the_auth_schemes() -> None:
    """Clients learn from the schema how to authenticate."""
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["ApiKey"]["description"],
    }


@pytest.mark.django_db
def test_swagger_ui_is_served() -> None:
    """Interactive docs at /api/docs/ point at the schema."""
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"/api/schema/" in response.content


# --- browser sessions --------------------------------------------------------------------------


def test_a_session_member_can_list_their_tenants_data(client: Client, tenant: Tenant, other_tenant: Tenant) -> None:
    """A logged-in member reads their tenant's invoices (and only theirs) through the API."""
    membership = MembershipFactory(tenant=tenant)
    mine = InvoiceFactory(tenant=tenant)
    InvoiceFactory(tenant=other_tenant)
    client.force_login(membership.user)
    response = client.get("/api/invoices")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(mine.pk)]


def test_a_session_user_without_membership_gets_a_403_envelope(client: Client, tenant: Tenant) -> None:
    """Being logged in is not enough: without a membership there is no tenant to act in."""
    InvoiceFactory(tenant=tenant)
    client.force_login(UserFactory())
    response = client.get("/api/invoices")
    assert_envelope(response, 403, "permission_denied")
    assert "results" not in response.json()


def test_a_session_post_without_csrf_token_is_refused(client: Client, tenant: Tenant) -> None:
    """Sessions are cookies: a cross-site form must not create documents on a member's behalf."""
    membership = MembershipFactory(tenant=tenant)
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(membership.user)
    response = csrf_client.post("/api/vendors", {"name": "Forged"}, content_type="application/json")
    assert_envelope(response, 403, "permission_denied")
    from vendors.models import Vendor

    assert not Vendor.objects.for_tenant(tenant).exists()


# --- Found by the schema fuzzer (tests/api/test_fuzz_schema.py) ---------------------------------


def _schema() -> dict[str, Any]:
    return APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


@pytest.mark.django_db
def test_openapi_schema_documents_the_error_envelope_of_every_operation() -> None:
    """A client learns every 4xx an operation answers, and that its body is the envelope."""
    schema = _schema()
    envelope = schema["components"]["schemas"]["Error"]
    assert envelope["required"] == ["error"]
    assert envelope["properties"]["error"]["required"] == ["code", "message", "details"]
    for path, path_item in schema["paths"].items():
        for method, operation in path_item.items():
            responses = operation["responses"]
            label = f"{method.upper()} {path}"
            assert {"406", "429", "503"} <= set(responses), label
            if operation.get("security"):
                assert {"401", "403"} <= set(responses), label
            if "{id}" in path:
                assert "404" in responses, label
            if "requestBody" in operation:
                assert {"400", "413", "415"} <= set(responses), label
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" in response:
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/invoices", "created_from"),
        ("/api/invoices", "created_to"),
        ("/api/audit-events", "occurred_from"),
        ("/api/audit-events", "occurred_to"),
    ],
)
@pytest.mark.parametrize("offset", ["-19:47", "+23:59"])
def test_a_datetime_filter_with_any_iso_offset_is_compared_in_utc(
    path: str, parameter: str, offset: str, api: APIClient, tenant: Tenant
) -> None:
    """PostgreSQL refuses offsets beyond ±15:59 in a literal: the value must reach it in UTC (was a 500)."""
    InvoiceFactory(tenant=tenant)
    response = api.get(path, {parameter: f"2026-02-18T19:18:12{offset}"})
    assert response.status_code == 200, response.content


def test_a_datetime_filter_in_another_offset_selects_the_same_instant(api: APIClient, tenant: Tenant) -> None:
    invoice = InvoiceFactory(tenant=tenant)
    created = invoice.created_at.astimezone(dt.timezone(dt.timedelta(hours=-19, minutes=-47)))
    just_before = (created - dt.timedelta(seconds=1)).isoformat()
    just_after = (created + dt.timedelta(seconds=1)).isoformat()

    assert [row["id"] for row in api.get("/api/invoices", {"created_from": just_before}).json()["results"]] == [
        str(invoice.pk)
    ]
    assert api.get("/api/invoices", {"created_from": just_after}).json()["results"] == []


def test_a_datetime_filter_outside_the_calendar_in_utc_is_a_400(api: APIClient) -> None:
    """Year 1 at +05:00 is still year 0 in UTC, which no datetime can hold."""
    error = assert_envelope(
        api.get("/api/invoices", {"created_from": "0001-01-01T00:00:00+05:00"}), 400, "validation_error"
    )
    assert set(error["details"]) == {"created_from"}


def _base64(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/api/invoices", "not-a-cursor"),
        ("/api/invoices", ""),
        ("/api/invoices", "n2026-02-18T19:18:12"),
        ("/api/invoices", "x1765432101234567"),
        ("/api/invoices", "n123456789012345678"),  # 18 digits: past any row's time
        ("/api/invoices", "n1765432101234567.12345"),  # offset beyond 4 digits
        ("/api/invoices", "n-1"),
        ("/api/invoices", "n1765432101234567\x00"),
        ("/api/invoices", _base64("p=2026-02-18 19:18:12")),  # DRF's own cursor, the shape before
        ("/api/audit-events", "ß"),
        ("/api/audit-events", "n\u0661\u0662"),  # not ASCII digits
        ("/api/vendors", "n1.-1"),
    ],
)
def test_a_broken_cursor_is_a_400_on_cursor(path: str, cursor: str, api: APIClient, tenant: Tenant) -> None:
    """A cursor the client altered is its mistake in a parameter: a 400, never a 404 or a 500."""
    InvoiceFactory(tenant=tenant)
    error = assert_envelope(api.get(path, {"cursor": cursor}), 400, "validation_error")
    assert set(error["details"]) == {"cursor"}


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/api/invoices", "n"),
        ("/api/invoices", "p"),
        ("/api/invoices", "n99999999999999999"),  # the largest position: year 5138
        ("/api/invoices", "p0"),
        ("/api/invoices", "n0.9999"),  # an offset past DRF's cutoff is capped, as DRF does
        ("/api/audit-events", "n99999999999999999"),
        ("/api/audit-events", "p1.3"),
        ("/api/vendors", "n00000000000000001"),
    ],
)
def test_every_cursor_of_the_documented_shape_is_answered(
    path: str, cursor: str, api: APIClient, tenant: Tenant
) -> None:
    """The schema's cursor pattern promises that any token of that shape is a position: a 200."""
    InvoiceFactory(tenant=tenant)
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    [parameter] = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "cursor"]
    assert re.fullmatch(parameter["schema"]["pattern"].strip("^$"), cursor)
    response = api.get(path, {"cursor": cursor})
    assert response.status_code == 200, response.content


def test_a_cursor_from_a_link_walks_forward_and_back(api: APIClient, tenant: Tenant) -> None:
    invoices = [InvoiceFactory(tenant=tenant) for _ in range(3)]
    newest_first = [str(invoice.pk) for invoice in reversed(invoices)]
    first = api.get("/api/invoices", {"page_size": 2}).json()
    cursor = parse_qs(urlparse(first["next"]).query)["cursor"][0]
    assert re.fullmatch(r"n\d{1,17}", cursor)  # forward, after the page's last row
    second = api.get(first["next"]).json()
    back = api.get(second["previous"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == newest_first
    assert back["results"] == first["results"]


@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "501", "2.5", "", " 5", "\u0665"])
def test_a_page_size_that_is_not_a_whole_number_from_1_to_500_is_a_400(
    page_size: str, api: APIClient, tenant: Tenant
) -> None:
    """DRF ignored a page_size it could not read and answered 50 rows; the client never knew."""
    InvoiceFactory(tenant=tenant)
    error = assert_envelope(api.get("/api/invoices", {"page_size": page_size}), 400, "validation_error")
    assert error["details"] == {"page_size": [PAGE_SIZE_INVALID]}
