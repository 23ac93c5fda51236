"""OpenAPI: the error envelope, documented on every operation for the statuses it can answer.

drf-spectacular documents only the success response of a view. A client (and schemathesis in
`tests/api/test_fuzz_schema.py`) needs the 4xx answers too, and they all share one shape, the
envelope of `core.http.errors`. Which statuses an operation can answer follows from what
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

import copy
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import is_list_serializer
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from core.http.fields import decimal_pattern, money_integer_digits
from core.http.uploads import FILE_FIELD
from core.money import CURRENCY_EXPONENTS

# The longest Idempotency-Key a client may send (tenants.http.idempotency refuses longer ones).
IDEMPOTENCY_KEY_MAX_LENGTH = 255


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
    "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH},
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
    "409": (
        "A conflict: the same `Idempotency-Key` is still being processed, the state has moved on, or "
        "the request met a concurrent one and was rolled back (`concurrent_update`, after retries; "
        "`details.partly_saved` says whether anything was kept)."
    ),
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
        statuses.add("422")  # an Idempotency-Key reused with another body
    if method in {"post", "put", "patch", "delete"}:
        # Any write can meet a concurrent one (retried, then `concurrent_update`, api/views.py),
        # and a keyed POST the same key still in flight.
        statuses.add("409")
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


# --- File imports (core.http.uploads) ----------------------------------------------------------


def file_upload_request(*, raw_media_type: str, other_raw_media_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """For an import's `extend_schema(request=...)`: the file as the multipart field `file`, or as
    the raw body of `raw_media_type` or any of `other_raw_media_types` (what `spool_upload` reads)."""
    binary = {"type": "string", "format": "binary"}
    return {
        "multipart/form-data": {"type": "object", "properties": {FILE_FIELD: dict(binary)}, "required": [FILE_FIELD]},
        **{media_type: dict(binary) for media_type in (raw_media_type, *other_raw_media_types)},
    }


# `?dry_run=` of an import (core.http.uploads.dry_run_requested).
DRY_RUN_PARAMETER = OpenApiParameter("dry_run", bool, description="true: check everything, write nothing.")


# --- Input rules the serializers cannot say by themselves -------------------------------------
# What every text input shares, said once here for every request body and query parameter
# instead of on each of some hundred fields:
# - no NUL character anywhere (core.text: PostgreSQL cannot store it; refused at the door);
# - a required text (`minLength` ≥ 1) is checked after DRF trims it, so it needs that many
#   characters between its first and last non-space one.
# "Space" is written out as a class both readings agree on: ECMA-262's `\s` (JSON Schema's) lacks
# U+001C–U+001F and U+0085, which Python's `str.strip()` (DRF's trim) removes.
_SPACE = r"\s\x1c-\x1f\x85"
_RULES_KEY = "x-schema-rules"  # a request serializer's `schema_rules`, until state_input_rules merges them
NO_NUL_PATTERN = r"^[^\x00]*$"


def trimmed_text_pattern(min_length: int) -> str:
    """Text whose trimmed length is at least `min_length` (≥ 1), with no NUL."""
    solid = rf"[^{_SPACE}\x00]"
    if min_length == 1:
        return rf"^[^\x00]*{solid}[^\x00]*$"
    return rf"^[{_SPACE}]*{solid}[^\x00]{{{min_length - 2},}}{solid}[{_SPACE}]*$"


# A text that must hold at least one letter or digit (an invoice number normalizes to its ASCII
# letters and digits; a vendor name to its word characters, so other scripts count there too,
# but the schema promises only what holds for both).
LETTER_OR_DIGIT_PATTERN = r"^[^\x00]*[A-Za-z0-9][^\x00]*$"


def _text_rules(schema: dict[str, Any]) -> None:
    if schema.get("type") != "string" or {"format", "enum", "pattern"} & schema.keys():
        return
    min_length = schema.get("minLength", 0)
    schema["pattern"] = trimmed_text_pattern(min_length) if min_length else NO_NUL_PATTERN


def _resolve(result: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref", "")
    return result["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _enum_of(result: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """The values of an enum, also when postprocess_schema_enums moved it to a component."""
    if "enum" in schema:
        return list(schema["enum"])
    for part in schema.get("allOf", []):
        if values := _enum_of(result, _resolve(result, part)):
            return values
    return []


def _money_by_currency(result: dict[str, Any], component: dict[str, Any]) -> None:
    """A body with a currency and amounts in it: one `oneOf` branch per currency exponent.

    Each branch names the currencies with that exponent and narrows every amount of the body
    (and of its lines) to as many decimals and as many digits as a BIGINT of minor units holds,
    the rule core.money.to_minor enforces. JSON Schema cannot say "the decimals of the
    currency in the sibling field" any other way.
    """
    properties = component.get("properties", {})
    if set(_enum_of(result, properties.get("currency", {}))) - {""} != set(CURRENCY_EXPONENTS):
        return
    direct = [name for name, prop in properties.items() if prop.get("x-money")]
    nested = {}
    for name, prop in properties.items():
        if prop.get("type") == "array" and "items" in prop:
            item = _resolve(result, prop["items"])
            amounts = [inner for inner, inner_prop in item.get("properties", {}).items() if inner_prop.get("x-money")]
            if amounts:
                nested[name] = amounts
    if not direct and not nested:
        return
    # The amounts' own pattern becomes what some currency accepts (the most digits of any, the
    # most decimals of any); the branch of the body's currency narrows it.
    loosest = decimal_pattern(
        integer_digits=max(map(money_integer_digits, CURRENCY_EXPONENTS.values())),
        places=max(CURRENCY_EXPONENTS.values()),
    )
    for name in direct:
        properties[name]["pattern"] = loosest
    for name, amounts in nested.items():
        item = _resolve(result, properties[name]["items"])
        for amount in amounts:
            item["properties"][amount]["pattern"] = loosest
    branches = []
    for places in sorted(set(CURRENCY_EXPONENTS.values())):
        pattern = decimal_pattern(integer_digits=money_integer_digits(places), places=places)
        codes = sorted(code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == places)
        branch: dict[str, Any] = {"currency": {"enum": codes}}
        branch.update({name: {"pattern": pattern} for name in direct})
        branch.update(
            {
                name: {"items": {"properties": {amount: {"pattern": pattern} for amount in amounts}}}
                for name, amounts in nested.items()
            }
        )
        branches.append({"properties": branch})
    component["oneOf"] = branches


def state_input_rules(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the shared text rules and currency precision.

    Request bodies only (`COMPONENT_SPLIT_REQUEST`: their components end in `Request`) and
    query parameters: what the server answers is not narrowed by what it accepts.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for component in schemas.values():
        if rules := component.pop(_RULES_KEY, None):
            _merge(component, rules)
    requests = {name: component for name, component in schemas.items() if name.endswith("Request")}
    for component in requests.values():
        for prop in component.get("properties", {}).values():
            _text_rules(prop)
            if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
                _text_rules(prop["items"])
    for component in requests.values():
        _money_by_currency(result, component)
        # DRF ignores fields a serializer does not declare; the schema lists what is read, and
        # says so, so that a client sends only that (and a NUL hidden in an unknown field, which
        # the JSON parser refuses wherever it is, is not "valid" by the schema).
        if component.get("type") == "object":
            component.setdefault("additionalProperties", False)
    for component in requests.values():
        for prop in component.get("properties", {}).values():
            prop.pop("x-money", None)
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and "schema" in parameter:
                    _text_rules(parameter["schema"])
                    if parameter["schema"].get("type") == "array":
                        _text_rules(parameter["schema"].get("items", {}))
    return result


BLANK_TEXT_PATTERN = rf"^[{_SPACE}]*$"


def any_field_given(*names: str) -> dict[str, Any]:
    """For `schema_rules["allOf"]`: at least one of these fields, not null and not blank."""
    return {
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "string", "pattern": trimmed_text_pattern(1)}}}
            for name in names
        ]
    }


def field_only_when(field: str, *, other: str, equals: str) -> dict[str, Any]:
    """For `schema_rules["allOf"]`: `field` is absent or blank unless `other` is `equals`."""
    return {
        "anyOf": [
            {"required": [other], "properties": {other: {"enum": [equals]}}},
            {"properties": {field: {"type": "string", "pattern": BLANK_TEXT_PATTERN}}},
        ]
    }


def _merge(target: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            target[key] = [*target[key], *value]
        else:
            target[key] = value


class ReconAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema (`DEFAULT_SCHEMA_CLASS`), stating two things it leaves out.

    - A nested list (`Line(many=True, allow_empty=False, min_length=…, max_length=…)`): its
      minItems and maxItems (DRF checks them; drf-spectacular maps them only on plain fields).
    - A request serializer's `schema_rules`, a JSON Schema fragment merged into its component:
      the rules that tie fields together or that a field's type cannot carry (an invoice names
      its vendor by one of three fields; an invoice number needs a letter or a digit).
    """

    def _map_serializer_field(self, field: Any, direction: Any, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if is_list_serializer(field) and isinstance(schema, dict) and schema.get("type") == "array":
            # A field here is an instance; DRF's ListSerializer sets both, its stubs do not declare them.
            min_length, max_length = field.min_length, field.max_length  # type: ignore[union-attr]
            min_items = max(min_length or 0, 0 if field.allow_empty else 1)
            if min_items:
                schema["minItems"] = min_items
            if max_length is not None:
                schema["maxItems"] = max_length
        return schema

    def _map_basic_serializer(self, serializer: Any, direction: Any) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        rules = getattr(serializer, "schema_rules", None)
        if direction == "request" and rules:
            # Merged by `state_input_rules`, after postprocess_schema_enums: that hook would
            # otherwise make a component of every enum inside the rules. A copy: hooks edit the
            # schema in place, and the class attribute must stay as written.
            schema[_RULES_KEY] = copy.deepcopy(rules)
        return schema
