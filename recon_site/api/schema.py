"""OpenAPI: the error envelope, documented on every operation for the statuses it can answer.

drf-spectacular documents only the success response of a view. A client (and schemathesis in
`tests/api/test_fuzz_schema.py`) needs the 4xx answers too, and they all share one shape, the
envelope of `recon_site.api.errors`. Which statuses an operation can answer follows from what
it is, so one postprocessing hook derives them instead of an `extend_schema` on every view:

- every operation: 406 (an `Accept` we cannot render), 429 (throttled, per tenant or per IP),
  503 (PostgreSQL unreachable, with `Retry-After`);
- authenticated (has `security`): 401 no/bad key, 403 not allowed;
- takes an id in the path: 404;
- takes a body: 400 invalid, 413 too large, 415 wrong content type (any POST/PUT: 400, 413);
- takes query parameters: 400 (a filter that does not parse);
- a POST with `Idempotency-Key`: 409 the same key in flight (and the lifecycle's illegal or
  stale transitions), 422 the same key with another body.

A status a view documents itself is left as it is: with `error_response()` for the envelope, or
with no content where the body may be empty (the webhook handler's 401 to Xero).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from recon_site.api.idempotency import MAX_KEY_LENGTH

ERROR_COMPONENT = "Error"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx/5xx body.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, machine-readable, e.g. `validation_error`."},
                "message": {"type": "string"},
                "details": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": 'Field errors keyed by path, e.g. `"lines[1].quantity"`; else other facts.',
                },
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": (
        "The same key and body replays the stored response (`Idempotent-Replayed: true`); the same key "
        "with another body is 422; the same key while the first request runs is 409. Keys are per "
        "tenant, kept `IDEMPOTENCY_KEY_TTL_HOURS` (48 h)."
    ),
}

_DESCRIPTIONS = {
    "400": "The request is invalid; `details` names each field.",
    "401": "No API key or session, or an invalid or revoked key.",
    "403": "Authenticated, but not allowed to do this.",
    "404": "No such object for this tenant.",
    "406": "The `Accept` header asks for a format this API does not produce.",
    "409": "A conflict: the same `Idempotency-Key` is still being processed, or the state has moved on.",
    "413": "The request body is larger than this server accepts.",
    "415": "The request body's content type is not accepted here.",
    "422": "This `Idempotency-Key` was used with another request body.",
    "429": "Rate limited; `details.retry_after_seconds` and `Retry-After` say when to retry.",
    "503": "The database is unreachable for now; `Retry-After` says when to retry.",
}


def _statuses_for(method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    statuses = {"406", "429", "503"}
    if operation.get("security"):
        statuses |= {"401", "403"}
    if any(parameter.get("in") == "path" for parameter in parameters):
        statuses.add("404")
    if any(parameter.get("in") == "query" for parameter in parameters):
        statuses.add("400")
    if method in {"post", "put", "patch"}:
        # Even without a documented body: the body is read (fingerprinted) for `Idempotency-Key`.
        statuses |= {"400", "413"}
    if "requestBody" in operation:
        statuses |= {"400", "413", "415"}
    if method == "post" and operation.get("security"):
        statuses |= {"409", "422"}
    return sorted(statuses)


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook (`SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]`)."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    error_content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses_for(method, operation):
                responses.setdefault(status, {"description": _DESCRIPTIONS[status], "content": error_content})
            if method == "post" and operation.get("security"):
                names = {(parameter.get("in"), parameter.get("name")) for parameter in operation.get("parameters", [])}
                if ("header", IDEMPOTENCY_KEY_PARAMETER["name"]) not in names:
                    operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
    return result


def error_response(description: str) -> OpenApiResponse:
    """For a view's `extend_schema(responses=...)`: an error status it answers with the envelope."""
    return OpenApiResponse(response={"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}, description=description)
