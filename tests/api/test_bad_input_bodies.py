"""Request bodies that cannot be read as a document (malformed or monstrous JSON, a charset that is
no text encoding, another content type, too large, a NUL anywhere): a 4xx error envelope, and
the database unchanged.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.test import APIClient

from core.http.parsers import MAX_JSON_DEPTH, DecimalJSONParser
from core.text import NUL_REFUSED
from tenants.models import IdempotencyRecord, Tenant
from tests.api.bad_input import CREATE_ENDPOINTS, INVOICES, NUL, VENDORS, World, assert_envelope, baseline, send


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b'{"name": ', b"{'single': 'quotes'}", b"not json", b'{"total_amount": NaN}', b"[" * 100 + b"]" * 100],
    ids=["truncated", "single-quotes", "plain-text", "nan-constant", "too-deep"],
)
def test_malformed_json_is_a_400_envelope(endpoint: str, raw: bytes, api: APIClient, document_counts: Any) -> None:
    """Unparseable JSON is `malformed_request`, never a 500 or an HTML page."""
    before = document_counts()
    response = api.post(endpoint, data=raw, content_type="application/json")
    assert_envelope(response, 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("charset", ["bz2_codec", "rot13", "zlib_codec"])
def test_a_charset_that_is_not_a_text_encoding_is_a_400(
    endpoint: str, charset: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """`charset=bz2_codec` would make the body a decompression bomb; it is refused as malformed, not a 500."""
    before = document_counts()
    response = api.post(
        endpoint,
        data=json.dumps(baseline(endpoint, world)).encode(),
        content_type=f"application/json; charset={charset}",
    )
    assert_envelope(response, 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_wrong_content_type_is_a_415_envelope(
    endpoint: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """Only JSON is accepted; a form post is refused, not half-parsed."""
    before = document_counts()
    response = api.post(endpoint, data="name=Nova", content_type="application/x-www-form-urlencoded")
    assert_envelope(response, 415, "unsupported_media_type")
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
@pytest.mark.parametrize("idempotency_key", [None, "big-body"], ids=["no-key", "with-key"])
def test_oversized_body_is_a_413_envelope(
    endpoint: str, idempotency_key: str | None, world: World, api: APIClient, tenant: Tenant, document_counts: Any
) -> None:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused whole, even if it is an otherwise valid document."""
    # An unknown field is ignored by the serializers: only the size can be the reason for refusal.
    body = {**baseline(endpoint, world), "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
    before = document_counts()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    response = send(api, endpoint, body, **headers)
    assert_envelope(response, 413, "payload_too_large")
    assert document_counts() == before
    assert not IdempotencyRecord.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_a_10_mb_body_is_a_413_envelope(endpoint: str, world: World, api: APIClient, document_counts: Any) -> None:
    """The catalogue's 10 MB body: refused before it is parsed, whatever the limit is set to below it."""
    body = {**baseline(endpoint, world), "padding": "x" * (10 * 1024 * 1024)}
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 10 * 1024 * 1024
    before = document_counts()
    assert_envelope(send(api, endpoint, body), 413, "payload_too_large")
    assert document_counts() == before


def _nested(depth: int) -> Any:
    node: Any = "x"
    for _ in range(depth):
        node = {"a": node}
    return node


@pytest.mark.parametrize(
    ("endpoint", "raw"),
    [
        # Deeper than Python's recursion limit: json.loads raises RecursionError, not a 500.
        (VENDORS, b"[" * 100_000 + b"]" * 100_000),
        (INVOICES, b'{"lines": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}"),
        # Parsed fine, but past MAX_JSON_DEPTH inside an otherwise valid document's field.
        (VENDORS, json.dumps({"name": "Nova", "tax_id": _nested(40)}).encode()),
        # An integer of 5,000 digits: past Python's int-from-string limit, a parse error.
        (INVOICES, b'{"total_amount": ' + b"9" * 5000 + b"}"),
    ],
    ids=["100k-arrays", "50k-objects-in-a-field", "40-levels-in-a-field", "5000-digit-integer"],
)
def test_deeply_nested_or_monstrous_json_is_a_400(
    endpoint: str, raw: bytes, api: APIClient, document_counts: Any
) -> None:
    before = document_counts()
    assert_envelope(api.post(endpoint, data=raw, content_type="application/json"), 400, "malformed_request")
    assert document_counts() == before


@pytest.mark.parametrize(
    ("field", "number"), [("total_amount", "1e999999"), ("total_amount", "1e-999999"), ("tax_amount", "1e400")]
)
def test_a_huge_json_number_is_a_400_on_its_field(
    field: str, number: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """A JSON number (not a string) far past any amount: parsed as a Decimal, refused by range, no 500."""
    body = {**baseline(INVOICES, world), field: "__NUMBER__"}
    raw = json.dumps(body).replace('"__NUMBER__"', number).encode()
    before = document_counts()
    error = assert_envelope(api.post(INVOICES, data=raw, content_type="application/json"), 400, "validation_error")
    assert field in error["details"]
    assert document_counts() == before


@pytest.mark.parametrize("endpoint", CREATE_ENDPOINTS)
def test_nul_anywhere_in_a_json_body_is_a_400_naming_each_path(
    endpoint: str, world: World, api: APIClient, document_counts: Any
) -> None:
    """PostgreSQL stores U+0000 in neither text nor jsonb: every place it occurs is named, nothing runs."""
    body = baseline(endpoint, world)
    body["comment"] = f"see{NUL}attached"  # a field no serializer reads
    body[f"x{NUL}"] = "a key"
    if "lines" in body:
        body["lines"][1]["remark"] = ["fine", NUL]
    expected = {"comment", "x\\u0000"} | ({"lines[1].remark[1]"} if "lines" in body else set())
    before = document_counts()
    error = assert_envelope(send(api, endpoint, body), 400, "validation_error")
    assert error["details"] == {key: [NUL_REFUSED] for key in expected}
    assert document_counts() == before


def _parsed(raw: str) -> Any:
    return DecimalJSONParser().parse(io.BytesIO(raw.encode()), "application/json", {})


@pytest.mark.parametrize(
    ("levels", "accepted"),
    [(MAX_JSON_DEPTH, True), (MAX_JSON_DEPTH + 1, False)],
)
@pytest.mark.parametrize("innermost", ['"x"', "{}", "[]", "[1, {}]"])
def test_json_depth_counts_every_level_containers_and_values_alike(levels: int, accepted: bool, innermost: str) -> None:
    """MAX_JSON_DEPTH levels are read; one more is refused, whether the deepest level is a value or a container."""
    value_levels = 1 if innermost in ('"x"', "{}", "[]") else 2  # [1, {}]: 1 and {} one level below the list
    nesting = levels - value_levels
    raw = '{"a": ' * nesting + innermost + "}" * nesting
    if accepted:
        assert _parsed(raw) is not None
    else:
        with pytest.raises(ParseError):
            _parsed(raw)


def test_a_nul_is_refused_wherever_and_an_escaped_backslash_is_not_one() -> None:
    with pytest.raises(ValidationError) as refused:
        _parsed('{"lines": [{"description": "a\\u0000b"}], "x\\u0000": "y"}')
    assert set(refused.value.detail) == {"lines[0].description", "x\\u0000"}
    assert _parsed('{"description": "C:\\\\u0000"}') == {"description": "C:\\u0000"}
