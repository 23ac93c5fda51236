"""The OpenAPI schema states every rule the server enforces on an input (core.http.schema,
core.http.fields): each pattern is checked here against the code that enforces the rule, so
the schema and the server cannot drift apart. tests/api/test_fuzz_schema.py then holds the whole
API to it (`positive_data_acceptance`)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.test import APIClient

from core.http.fields import QUANTITY_PATTERN, UNIT_PRICE_PATTERN, money_integer_digits
from core.http.pagination import CURSOR_PATTERN, MAX_PAGE_SIZE
from core.http.schema import NO_NUL_PATTERN, trimmed_text_pattern
from core.money import CURRENCY_EXPONENTS, MoneyError, to_minor
from core.quantities import quantity_error, unit_price_error
from invoices.checks import TAX_RATE_PLACES, TAX_RATE_RANGE
from tenants.models import Tenant
from tenants.services import WEBHOOK_SECRET_MAX_LENGTH, WEBHOOK_SECRET_MIN_LENGTH
from tests.factories import VendorFactory

# Decimal strings as a client writes them: no exponent, no "+", no leading zeros.
DECIMAL_TEXT = st.from_regex(r"\A-?(0|[1-9][0-9]{0,19})(\.[0-9]{1,8})?\Z").filter(
    lambda text: not (text.startswith("-") and Decimal(text) == 0)  # "-0" is nobody's amount
)


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema))


def _component(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    return openapi["components"]["schemas"][name]


def _validator(openapi: dict[str, Any], name: str) -> Any:
    """A JSON Schema validator for one component, with the others to resolve `$ref`s."""
    return jsonschema_rs.validator_for({"$ref": f"#/components/schemas/{name}", "components": openapi["components"]})


def _agrees(pattern: str, value: str) -> bool:
    """A pattern's verdict, the same in ECMA-262 (JSON Schema) and in Python's `re`."""
    ecma = jsonschema_rs.validator_for({"type": "string", "pattern": pattern}).is_valid(value)
    assert ecma == bool(re.search(pattern, value)), (pattern, value)
    return ecma


def _query_parameter(openapi: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [parameter] = [p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == name]
    return parameter["schema"]


# --- What the schema states ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ("InvoiceInputRequest", "lines"),
        ("PurchaseOrderInputRequest", "lines"),
        ("GoodsReceiptInputRequest", "lines"),
        ("AllocateInputRequest", "allocations"),
    ],
)
def test_the_schema_states_that_a_document_needs_at_least_one_line(
    openapi: dict[str, Any], component: str, field: str
) -> None:
    assert _component(openapi, component)["properties"][field]["minItems"] == 1


def test_the_schema_states_the_forecast_weeks_the_page_size_and_the_cursor(openapi: dict[str, Any]) -> None:
    weeks = _query_parameter(openapi, "/api/cash/forecast", "weeks")
    assert (weeks["type"], weeks["minimum"], weeks["maximum"]) == ("integer", 1, 52)
    for path in ("/api/invoices", "/api/audit-events", "/api/payments"):
        page_size = _query_parameter(openapi, path, "page_size")
        assert (page_size["minimum"], page_size["maximum"]) == (1, MAX_PAGE_SIZE)
        assert _query_parameter(openapi, path, "cursor")["pattern"] == CURSOR_PATTERN


def test_the_schema_states_the_webhook_secret_length(openapi: dict[str, Any]) -> None:
    secret = _component(openapi, "WebhookSecretSetInputRequest")["properties"]["secret"]
    assert (secret["minLength"], secret["maxLength"]) == (WEBHOOK_SECRET_MIN_LENGTH, WEBHOOK_SECRET_MAX_LENGTH)
    assert not _agrees(secret["pattern"], " " * 4 + "x" * (WEBHOOK_SECRET_MIN_LENGTH - 1) + " " * 4)
    assert _agrees(secret["pattern"], " " + "x" * WEBHOOK_SECRET_MIN_LENGTH + " ")


def test_every_currency_field_of_a_request_is_the_iso_4217_list(openapi: dict[str, Any]) -> None:
    enums = openapi["components"]["schemas"]
    for name in ("InvoiceInputRequest", "PurchaseOrderInputRequest", "VendorInputRequest"):
        currency = _component(openapi, name)["properties"]["currency"]
        ref = currency.get("allOf", [currency])[0].get("$ref", "")
        values = enums[ref.rsplit("/", 1)[-1]]["enum"] if ref else currency["enum"]
        assert set(values) - {""} == set(CURRENCY_EXPONENTS), name
    assert set(_query_parameter(openapi, "/api/payments", "currency")["enum"]) == set(CURRENCY_EXPONENTS)


def test_every_text_a_request_sends_states_its_rules(openapi: dict[str, Any]) -> None:
    """No request text without a pattern, an enum or a format: at least "no NUL character"."""
    unstated = []
    for name, component in openapi["components"]["schemas"].items():
        if not name.endswith("Request"):
            continue
        assert component.get("additionalProperties") is False, name
        for field, prop in component.get("properties", {}).items():
            if prop.get("type") == "string" and not {"pattern", "enum", "format"} & prop.keys():
                unstated.append(f"{name}.{field}")
    for path, path_item in openapi["paths"].items():
        for method, operation in path_item.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                stated = {"pattern", "enum", "format"} & schema.keys()
                if parameter["in"] == "query" and schema.get("type") == "string" and not stated:
                    unstated.append(f"{method.upper()} {path} ?{parameter['name']}")
    assert unstated == []


# --- The patterns agree with the code that enforces the rule ------------------------------------


@settings(max_examples=300, deadline=None)
@given(DECIMAL_TEXT)
def test_the_quantity_and_unit_price_patterns_accept_exactly_what_the_services_accept(text: str) -> None:
    assert _agrees(QUANTITY_PATTERN, text) == (quantity_error(Decimal(text)) is None)
    assert _agrees(UNIT_PRICE_PATTERN, text) == (unit_price_error(Decimal(text)) is None)


def _accepted_by_the_currency(amount: str, currency: str) -> bool:
    try:
        return to_minor(amount, currency) >= 0
    except MoneyError:
        return False


@settings(max_examples=300, deadline=None)
@given(amount=DECIMAL_TEXT, currency=st.sampled_from(["EUR", "JPY", "BHD", "CLF"]))
def test_the_schema_states_an_amounts_decimals_by_its_currency(
    openapi: dict[str, Any], amount: str, currency: str
) -> None:
    """The `oneOf` branch of the body's currency takes an amount only if to_minor does, and every
    amount to_minor takes but for the top of the range: the schema counts whole digits (at most
    those of 2^63 − 1 minor units less one), where the BIGINT's limit falls inside a digit."""
    validator = _validator(openapi, "InvoiceInputRequest")
    body = {
        "invoice_number": "INV-1",
        "vendor_name": "Acme",
        "currency": currency,
        "invoice_date": "2026-10-01",
        "total_amount": amount,
        "lines": [{"description": "Bolts", "quantity": "1", "unit_price": "1", "amount": amount}],
    }
    valid, accepted = validator.is_valid(body), _accepted_by_the_currency(amount, currency)
    assert accepted or not valid
    if accepted and abs(Decimal(amount)) < 10 ** money_integer_digits(CURRENCY_EXPONENTS[currency]):
        assert valid


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=20), min_length=st.integers(0, 4))
def test_the_text_patterns_accept_exactly_what_drf_accepts(text: str, min_length: int) -> None:
    """DRF trims a text, then checks its length, and refuses a NUL (as the JSON parser does)."""
    pattern = trimmed_text_pattern(min_length) if min_length else NO_NUL_PATTERN
    field = serializers.CharField(min_length=min_length or None, allow_blank=not min_length)
    try:
        field.run_validation(text)
        accepted = True
    except serializers.ValidationError:
        accepted = False
    assert _agrees(pattern, text) == accepted


# --- Through the API: what the schema calls valid is accepted, what it refuses is a 400 ----------


@pytest.mark.django_db
@pytest.mark.parametrize("tax_rate", ["0", "19", "7.7", "100", "100.000", "99.999", "100.001", "101", "5.1234", "-1"])
def test_the_tax_rate_pattern_is_the_rule_invoice_create_enforces(
    openapi: dict[str, Any], api: APIClient, tenant: Tenant, tax_rate: str
) -> None:
    vendor = VendorFactory(tenant=tenant)
    body = {
        "invoice_number": f"INV-{tax_rate}",
        "vendor_id": str(vendor.pk),
        "currency": "EUR",
        "invoice_date": "2026-10-01",
        "total_amount": "10.00",
        "tax_rate": tax_rate,
        "lines": [{"description": "Bolts", "quantity": "1", "unit_price": "10.00"}],
    }
    valid = _validator(openapi, "InvoiceInputRequest").is_valid(body)
    response = api.post("/api/invoices", body, format="json")
    assert response.status_code == (201 if valid else 400), response.content
    if not valid:
        assert response.json()["error"]["details"]["tax_rate"][0] in {TAX_RATE_RANGE, TAX_RATE_PLACES}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "valid"),
    [
        ({}, True),
        ({"vendor_name": "  "}, False),
        ({"vendor_name": "", "vendor_tax_id": "DE 123"}, True),
        ({"invoice_number": "--//"}, False),
        ({"credited_invoice_number": "INV-0"}, False),
        ({"credited_invoice_number": "INV-0", "document_type": "credit_note"}, True),
    ],
)
def test_the_schema_states_how_an_invoice_names_its_vendor_and_its_number(
    openapi: dict[str, Any], api: APIClient, tenant: Tenant, changes: dict[str, str], valid: bool
) -> None:
    body = {
        "invoice_number": "INV-77",
        "vendor_name": "Acme Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-01",
        "total_amount": "10.00",
        "lines": [{"description": "Bolts", "quantity": "1", "unit_price": "10.00"}],
        **changes,
    }
    assert _validator(openapi, "InvoiceInputRequest").is_valid(body) == valid
    assert api.post("/api/invoices", body, format="json").status_code == (201 if valid else 400)
