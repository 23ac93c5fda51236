"""Tenant isolation of the whole API (DESIGN.md §3), generated from the URL conf: the BOLA matrix.

Every endpoint under /api/ is discovered from the resolver, so a new endpoint is covered the day
it is added: its list must not show another tenant's rows and its detail must be a 404 envelope
for another tenant's id, with tenant A's rows unchanged. Tenant B calls both ways a client can:
with its API key and with the session of a user who is a member of tenant B only. An endpoint
this module has no tenant-A object for fails loudly, so the author has to add one to
`TENANT_A_OBJECTS` (or a reasoned entry to `NOT_TENANT_DATA`). The web app's pages get the same
matrix in tests/web/test_tenant_matrix.py, over the same objects (tests/tenant_matrix.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tenants.models import Tenant
from tests.tenant_matrix import (
    Endpoint,
    TenantDocuments,
    assert_no_secret,
    member_client,
    tenant_rows,
    url_patterns,
)

# Endpoints under /api/ that serve no tenant data at all, with the reason.
NOT_TENANT_DATA = {
    "schema": "the OpenAPI document describes the API, not any tenant's rows",
    "swagger-ui": "static documentation page",
    "tenant-register": "anonymous self-registration: creates a new tenant and reads no existing tenant's rows",
    # Its {tenant_id} is not an object to hide from another tenant: it names the tenant whose own
    # secret must sign the body, and it answers no tenant's rows (only the ids it created).
    "webhook-handler": (
        "authenticated by the URL tenant's own HMAC secret, not by a key: "
        "tests/invoices/test_webhooks_signatures.py::test_tenant_a_secret_is_refused_on_tenant_b_url"
    ),
}

# Collection actions that read no object by id and list nothing: each writes into the caller's
# tenant only, and resolves the vendors / POs its rows name inside that tenant (proven per action).
_IMPORT_PROOF = "tests/invoices/test_csv_import.py::test_another_tenants_documents_are_invisible_to_an_import"
COLLECTION_ACTIONS = {
    # Names the delegation in the body: another tenant's id is the same 404 as a missing one.
    "approval-delegation-revoke": "tests/web/test_approval_chain.py::test_the_delegation_endpoints",
    "invoice-import-csv": _IMPORT_PROOF,
    "purchase-order-import-csv": _IMPORT_PROOF,
    "goods-receipt-import-csv": _IMPORT_PROOF,
    "webhook-secret-rotate": "tests/invoices/test_webhooks_secrets.py::test_a_rotation_changes_only_the_callers_tenant",
    "webhook-secret-set": "tests/invoices/test_webhooks_secrets.py::test_a_sender_issued_key_verifies_only_its_tenant",
    "invoice-import-xml": "tests/invoices/test_ubl_import.py::test_another_tenants_vendor_and_invoices_are_invisible",
    "invoice-batch": (
        "tests/api/test_invoice_batch.py::test_another_tenants_vendor_is_refused_and_nothing_of_theirs_changes"
    ),
    "payment-import-statement": (
        "tests/payments/test_statement_import.py::test_same_transaction_ids_in_two_tenants_are_both_stored"
    ),
    "payment-reconcile": "tests/payments/test_reconciliation_api.py::test_reconcile_touches_only_the_callers_tenant",
    # Read-only figures computed from the caller's tenant alone (no id in the URL, nothing listed by id).
    "cash-vendors": "tests/payments/test_cash_api.py::test_cash_figures_never_include_another_tenants_invoices",
    "cash-forecast": "tests/payments/test_cash_api.py::test_cash_figures_never_include_another_tenants_invoices",
}

API_ENDPOINTS = [
    endpoint
    for endpoint in url_patterns()
    if endpoint.route.startswith("api/") and endpoint.url_name not in NOT_TENANT_DATA
]
LIST_ENDPOINTS = [endpoint for endpoint in API_ENDPOINTS if endpoint.is_list]
DETAIL_ENDPOINTS = [endpoint for endpoint in API_ENDPOINTS if endpoint.kwargs]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")


# How to build tenant A's object for each router basename. A new endpoint's basename must be added.
TENANT_A_OBJECTS: dict[str, Callable[[TenantDocuments], Any]] = {
    "vendor": lambda documents: documents.by_basename["vendor"],
    "purchase-order": lambda documents: documents.by_basename["purchase-order"],
    "goods-receipt": lambda documents: documents.by_basename["goods-receipt"],
    "invoice": lambda documents: documents.by_basename["invoice"],
    "audit-event": lambda documents: documents.by_basename["audit-event"],
    "match-run": lambda documents: documents.by_basename["match-run"],
    "discrepancy": lambda documents: documents.by_basename["discrepancy"],
    "payment": lambda documents: documents.by_basename["payment"],
    "payment-allocation": lambda documents: documents.by_basename["payment-allocation"],
    "dispute": lambda documents: documents.by_basename["dispute"],
    # POST /api/invoices/{id}/assign (a plain view, named by its URL): the invoice is the object.
    "invoice-assign": lambda documents: documents.by_basename["invoice"],
    "payment-run": lambda documents: documents.by_basename["payment-run"],
    # Its list, and POST revoke naming one in the body (a 404 for another tenant's).
    "approval-delegation": lambda documents: documents.by_basename["approval-delegation"],
    # What Recon learned (review.learning_apis): lists, and forget / accept / decline / undo by id.
    "item-alias": lambda documents: documents.by_basename["item-alias"],
    "vendor-alias": lambda documents: documents.by_basename["vendor-alias"],
    "tolerance-suggestion": lambda documents: documents.by_basename["tolerance-suggestion"],
    "approval-rule": lambda documents: documents.by_basename["approval-rule"],
}


# Endpoints addressed by more than one id: every id of the URL for tenant A's object. The first
# is the object checked; a file of a dispute is reached through its dispute.
NESTED_KWARGS: dict[str, Callable[[TenantDocuments], dict[str, Any]]] = {
    # A contact of a vendor (read, change, remove): reached through its vendor.
    "vendor-contact": lambda documents: {
        "pk": documents.by_basename["vendor"].pk,
        "contact_id": documents.by_basename["vendor-contact"].pk,
    },
    "dispute-files": lambda documents: {
        "pk": documents.by_basename["dispute"].pk,
        "file_id": documents.by_basename["dispute-attachment"].pk,
    },
}
# Endpoints that answer a file rather than a JSON object (the non-vacuous check reads the status).
FILE_ANSWERS = {"dispute-files"}
# Endpoints addressed through one object that answer another (a vendor's contact), or a page of
# another's rows (a vendor's contacts): the non-vacuous check looks for tenant A's object of this kind.
ANSWERED_OBJECTS = {"vendor-contact": "vendor-contact"}
PAGE_ANSWERS = {"vendor-contacts": "vendor-contact"}
_MISSING_ID = "00000000-0000-4000-8000-000000000000"


def _url_for(endpoint: Endpoint, documents: TenantDocuments, *, missing: bool = False) -> str:
    if endpoint.url_name in NESTED_KWARGS:
        kwargs = NESTED_KWARGS[endpoint.url_name](documents)
    else:
        kwargs = {endpoint.kwargs[0]: _object_for(endpoint, documents).pk}
    if missing:
        kwargs = dict.fromkeys(kwargs, _MISSING_ID)
    return reverse(endpoint.url_name, kwargs=kwargs)


def _builder_for(endpoint: Endpoint) -> Callable[[TenantDocuments], Any]:
    builder = TENANT_A_OBJECTS.get(endpoint.basename)
    if builder is None:
        pytest.fail(
            f"No tenant-A object for endpoint {endpoint} (basename {endpoint.basename!r}). "
            "Add a builder to TENANT_A_OBJECTS in tests/api/test_tenant_isolation.py, "
            "or list it in NOT_TENANT_DATA with the reason it serves no tenant data."
        )
    return builder


def _object_for(endpoint: Endpoint, documents: TenantDocuments) -> Any:
    return _builder_for(endpoint)(documents)


@dataclass(frozen=True)
class Callers:
    """Tenant A's caller (to prove the object is reachable) and tenant B's, authenticated alike."""

    own: Client
    foreign: Client


@pytest.fixture(params=["api_key", "session"])
def callers(request: pytest.FixtureRequest, tenant: Tenant, other_tenant: Tenant) -> Callers:
    """Both ways in: an API key, and the browser's session (`TenantSessionAuthentication`)."""
    if request.param == "api_key":
        return Callers(request.getfixturevalue("api"), request.getfixturevalue("foreign_api"))
    return Callers(member_client(tenant), member_client(other_tenant))


def _send(client: Client, method: str, url: str) -> Any:
    """The method with an empty JSON object as body where the method takes one."""
    if method in {"get", "delete"}:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps({}), content_type="application/json")


def _all_pages(client: Client, url: str) -> tuple[list[dict[str, Any]], list[bytes]]:
    items: list[dict[str, Any]] = []
    bodies: list[bytes] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        bodies.append(response.content)
        page = response.json()
        items.extend(page["results"])
        next_url = page.get("next")
    return items, bodies


def test_discovery_finds_the_known_endpoints() -> None:
    """The URL walk really finds the four resources (guards against an empty parametrization)."""
    assert {endpoint.basename for endpoint in LIST_ENDPOINTS} >= {
        "vendor",
        "purchase-order",
        "goods-receipt",
        "invoice",
    }
    assert {endpoint.basename for endpoint in DETAIL_ENDPOINTS} >= {
        "vendor",
        "purchase-order",
        "goods-receipt",
        "invoice",
    }


@pytest.mark.parametrize("endpoint", API_ENDPOINTS, ids=str)
def test_every_api_endpoint_has_an_isolation_rule(endpoint: Endpoint) -> None:
    """Each endpoint is a list, a detail of one object, or a known non-list collection action."""
    if endpoint.url_name in COLLECTION_ACTIONS:
        return
    if not (endpoint.is_list or endpoint.kwargs):
        pytest.fail(
            f"{endpoint} is neither a list nor a detail endpoint: decide how tenant isolation applies to it "
            "and extend tests/api/test_tenant_isolation.py."
        )
    nested = endpoint.url_name in NESTED_KWARGS
    if endpoint.kwargs and endpoint.kwargs != ("pk",) and endpoint.kwargs != ("id",) and not nested:
        pytest.fail(f"{endpoint} takes {endpoint.kwargs}: teach this module how to address tenant A's object there.")
    _builder_for(endpoint)


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS, ids=str)
def test_list_never_shows_another_tenants_objects(
    endpoint: Endpoint,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    callers: Callers,
) -> None:
    """Tenant B's list (every page) holds its own objects and none of tenant A's."""
    a_object = _object_for(endpoint, tenant_a_documents)
    b_object = _object_for(endpoint, tenant_b_documents)
    url = reverse(endpoint.url_name)

    a_items, _ = _all_pages(callers.own, url)
    assert str(a_object.pk) in {item["id"] for item in a_items}, "tenant A must see its own object (non-vacuous)"

    b_items, b_bodies = _all_pages(callers.foreign, url)
    b_ids = {item["id"] for item in b_items}
    assert str(b_object.pk) in b_ids
    assert str(a_object.pk) not in b_ids
    for body in b_bodies:
        assert_no_secret(body, tenant_a_documents)


@pytest.mark.parametrize(
    ("endpoint", "method"),
    [(endpoint, method) for endpoint in DETAIL_ENDPOINTS for method in endpoint.methods],
    ids=lambda value: str(value),
)
def test_detail_of_another_tenants_object_is_a_404_envelope(
    endpoint: Endpoint,
    method: str,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    callers: Callers,
) -> None:
    """Tenant B addressing tenant A's object gets the same 404 as for a missing id, none of A's data,
    and A's rows stay as they were (an action such as approve or allocate must not run)."""
    a_object = _object_for(endpoint, tenant_a_documents)
    url = _url_for(endpoint, tenant_a_documents)

    if method == "get":
        own = callers.own.get(url)
        assert own.status_code == 200, "tenant A must reach its own object (non-vacuous)"
        if endpoint.url_name in PAGE_ANSWERS:
            row = tenant_a_documents.by_basename[PAGE_ANSWERS[endpoint.url_name]]
            assert str(row.pk) in {item["id"] for item in own.json()["results"]}
        elif endpoint.url_name in ANSWERED_OBJECTS:
            assert own.json()["id"] == str(tenant_a_documents.by_basename[ANSWERED_OBJECTS[endpoint.url_name]].pk)
        elif endpoint.url_name not in FILE_ANSWERS:
            assert own.json()["id"] == str(a_object.pk)
    rows_before = tenant_rows(tenant_a_documents.tenant)

    response = _send(callers.foreign, method, url)
    assert response.status_code == 404, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "details"}
    assert_no_secret(response.content, tenant_a_documents)

    missing = _send(callers.foreign, method, _url_for(endpoint, tenant_a_documents, missing=True))
    assert missing.status_code == 404
    assert missing.json() == body, "another tenant's id must be indistinguishable from a missing one"
    assert tenant_rows(tenant_a_documents.tenant) == rows_before


@pytest.mark.parametrize("endpoint", DETAIL_ENDPOINTS, ids=str)
def test_a_method_the_endpoint_does_not_take_is_a_405_for_another_tenants_object(
    endpoint: Endpoint, tenant_a_documents: TenantDocuments, callers: Callers
) -> None:
    """PUT, PATCH, DELETE (and GET/POST where unmapped) on A's object: a 405 envelope, no data, nothing written."""
    url = _url_for(endpoint, tenant_a_documents)
    rows_before = tenant_rows(tenant_a_documents.tenant)
    unmapped = sorted(set(HTTP_METHODS) - set(endpoint.methods))
    assert unmapped, f"{endpoint} maps every method: nothing to check here"

    for method in unmapped:
        response = _send(callers.foreign, method, url)
        assert response.status_code == 405, (method, response.content)
        assert set(response.json()["error"]) == {"code", "message", "details"}
        assert_no_secret(response.content, tenant_a_documents)
    assert tenant_rows(tenant_a_documents.tenant) == rows_before
