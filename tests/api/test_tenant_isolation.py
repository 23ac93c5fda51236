"""Tenant isolation of the whole API (DESIGN.md §3), generated from the URL conf.

Every endpoint under /api/ is discovered from the resolver, so a new endpoint is covered the day
it is added: its list must not show another tenant's rows and its detail must be a 404 envelope
for another tenant's id. An endpoint this module has no tenant-A object for fails loudly, so the
author has to add one to `TENANT_A_OBJECTS` (or a reasoned entry to `NOT_TENANT_DATA`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from audit.actors import system_actor
from audit.services import audit_record
from matching.models import Discrepancy, MatchRun
from matching.services import matching_run_for_tenant
from payments.reconciliation.services import allocation_split
from tenants.models import Tenant
from tests.factories import (
    GoodsReceiptFactory,
    GoodsReceiptLineFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PurchaseOrderFactory,
    PurchaseOrderLineFactory,
    VendorFactory,
)
from tests.payments.factories import PaymentFactory

# Endpoints under /api/ that serve no tenant data at all, with the reason.
NOT_TENANT_DATA = {
    "schema": "the OpenAPI document describes the API, not any tenant's rows",
    "swagger-ui": "static documentation page",
    "tenant-register": "anonymous self-registration: creates a new tenant and reads no existing tenant's rows",
    # Its {tenant_id} is not an object to hide from another tenant: it names the tenant whose own
    # secret must sign the body, and it answers no tenant's rows (only the ids it created).
    "webhook-handler": (
        "authenticated by the URL tenant's own HMAC secret, not by a key: "
        "tests/invoices/test_webhooks.py::test_tenant_a_secret_is_refused_on_tenant_b_url"
    ),
}

# Collection actions that read no object by id and list nothing: each writes into the caller's
# tenant only, and resolves the vendors / POs its rows name inside that tenant (proven per action).
_IMPORT_PROOF = "tests/invoices/test_csv_import.py::test_another_tenants_documents_are_invisible_to_an_import"
COLLECTION_ACTIONS = {
    "invoice-import-csv": _IMPORT_PROOF,
    "purchase-order-import-csv": _IMPORT_PROOF,
    "goods-receipt-import-csv": _IMPORT_PROOF,
    "webhook-secret-rotate": "tests/invoices/test_webhooks.py::test_a_rotation_changes_only_the_callers_tenant",
    "webhook-secret-set": "tests/invoices/test_webhooks.py::test_a_sender_issued_key_verifies_only_its_tenant",
    "invoice-import-xml": "tests/invoices/test_ubl_import.py::test_another_tenants_vendor_and_invoices_are_invisible",
    "payment-import-statement": (
        "tests/payments/test_statement_import.py::test_same_transaction_ids_in_two_tenants_are_both_stored"
    ),
    "payment-reconcile": "tests/payments/test_reconciliation_api.py::test_reconcile_touches_only_the_callers_tenant",
    # Read-only figures computed from the caller's tenant alone (no id in the URL, nothing listed by id).
    "cash-vendors": "tests/payments/test_cash_api.py::test_cash_figures_never_include_another_tenants_invoices",
    "cash-forecast": "tests/payments/test_cash_api.py::test_cash_figures_never_include_another_tenants_invoices",
}

# Marker text put into tenant A's documents; none of it may ever reach tenant B.
SECRET = "ALPHA-ONLY"


@dataclass(frozen=True)
class Endpoint:
    """One URL pattern under /api/ and what the resolver knows about it."""

    route: str  # e.g. "api/^invoices/(?P<pk>[^/.]+)$", for test ids and messages
    url_name: str  # namespaced name for reverse()
    basename: str  # the router's basename ("invoice"), or the URL name for a plain view
    kwargs: tuple[str, ...]
    methods: tuple[str, ...]  # lower-case HTTP methods the view maps
    is_list: bool = field(default=False)

    def __str__(self) -> str:
        return f"{self.url_name} [{self.route}]"


def _view_methods(callback: Any) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)
    if actions:
        return tuple(sorted(actions))
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return ("get",)
    return tuple(
        sorted(m for m in view_class.http_method_names if m not in {"options", "head"} and hasattr(view_class, m))
    )


def _walk(
    patterns: list[Any], route: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()
) -> Iterator[Endpoint]:
    for pattern in patterns:
        names = tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner_namespace = ":".join(filter(None, [namespace, pattern.namespace]))
            yield from _walk(pattern.url_patterns, route + str(pattern.pattern), inner_namespace, kwargs + names)
        elif isinstance(pattern, URLPattern) and pattern.name:
            full_route = route + str(pattern.pattern)
            if not full_route.startswith("api/"):
                continue
            callback = pattern.callback
            initkwargs = getattr(callback, "initkwargs", {}) or {}
            actions = getattr(callback, "actions", {}) or {}
            yield Endpoint(
                route=full_route,
                url_name=f"{namespace}:{pattern.name}" if namespace else pattern.name,
                basename=initkwargs.get("basename", pattern.name),
                kwargs=kwargs + names,
                methods=_view_methods(callback),
                is_list=actions.get("get") == "list",
            )


API_ENDPOINTS = [
    endpoint for endpoint in _walk(get_resolver().url_patterns) if endpoint.url_name not in NOT_TENANT_DATA
]
LIST_ENDPOINTS = [endpoint for endpoint in API_ENDPOINTS if endpoint.is_list]
DETAIL_ENDPOINTS = [endpoint for endpoint in API_ENDPOINTS if endpoint.kwargs]


@dataclass
class TenantDocuments:
    """One document of each kind for a tenant, keyed by router basename."""

    by_basename: dict[str, Any]
    secrets: list[str]  # text that identifies this tenant's data (ids, numbers, names)


def _documents_for(tenant: Tenant, label: str) -> TenantDocuments:
    vendor = VendorFactory(
        tenant=tenant, name=f"{label} Supplies Ltd", tax_id=f"{label}TAX1", external_id=f"{label}-EXT"
    )
    purchase_order = PurchaseOrderFactory(tenant=tenant, vendor=vendor, po_number=f"PO-{label}")
    po_lines = [
        PurchaseOrderLineFactory(
            purchase_order=purchase_order,
            line_number=number,
            sku=f"{label}-SKU-{number}",
            description=f"{label} widget {number}",
            quantity=Decimal("7"),
            unit_price=Decimal("3.141593"),
        )
        for number in (1, 2)
    ]
    receipt = GoodsReceiptFactory(purchase_order=purchase_order, receipt_number=f"GR-{label}")
    for po_line in po_lines:
        GoodsReceiptLineFactory(goods_receipt=receipt, purchase_order_line=po_line, quantity=Decimal("7"))
    invoice = InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number=f"INV-{label}",
        po_number=purchase_order.po_number,
        vendor_name_raw=f"{label} Supplies Ltd",
        invoice_date=dt.date(2026, 10, 10),
        subtotal_amount=4398,
        total_amount=4398,
    )
    for number in (1, 2):
        InvoiceLineFactory(invoice=invoice, line_number=number, description=f"{label} widget {number}", amount=2199)
    audit_event = audit_record(
        tenant=tenant,
        actor=system_actor(f"{label}-import"),
        entity_type="invoice",
        entity_id=invoice.pk,
        action="created",
        after={"invoice_number": invoice.invoice_number},
    )
    # A real run gives the tenant a match run and discrepancies (7 ordered, 10 billed per line).
    match_run = matching_run_for_tenant(tenant=tenant, trigger=MatchRun.Trigger.COMMAND, actor=system_actor(label))
    assert match_run.status == MatchRun.Status.FINISHED and match_run.invoices_matched == 1
    objects = {
        "vendor": vendor,
        "purchase-order": purchase_order,
        "goods-receipt": receipt,
        "invoice": invoice,
        "audit-event": audit_event,
        "match-run": match_run,
        "discrepancy": Discrepancy.objects.for_tenant(tenant).get(
            invoice=invoice, type="quantity_exceeds_po", po_line_number=1
        ),
        "payment": PaymentFactory(
            tenant=tenant, counterparty_name=f"{label} Supplies Ltd", remittance_text=f"INV-{label}"
        ),
    }
    paid_invoice = InvoiceFactory(tenant=tenant, vendor=vendor, invoice_number=f"PAID-{label}", status="approved")
    [objects["payment-allocation"]] = allocation_split(
        tenant=tenant, payment=objects["payment"], parts=[(paid_invoice, 100)], actor=system_actor(label)
    )
    secrets = [label, *(str(obj.pk) for obj in objects.values()), *(str(line.pk) for line in po_lines)]
    return TenantDocuments(by_basename=objects, secrets=secrets)


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
}


@pytest.fixture
def tenant_a_documents(tenant: Tenant) -> TenantDocuments:
    return _documents_for(tenant, SECRET)


@pytest.fixture
def tenant_b_documents(other_tenant: Tenant) -> TenantDocuments:
    return _documents_for(other_tenant, "BETA-OWN")


def _object_for(endpoint: Endpoint, documents: TenantDocuments) -> Any:
    builder = TENANT_A_OBJECTS.get(endpoint.basename)
    if builder is None:
        pytest.fail(
            f"No tenant-A object for endpoint {endpoint} (basename {endpoint.basename!r}). "
            "Add a builder to TENANT_A_OBJECTS in tests/api/test_tenant_isolation.py, "
            "or list it in NOT_TENANT_DATA with the reason it serves no tenant data."
        )
    return builder(documents)


def _assert_no_secret(body: bytes, documents: TenantDocuments) -> None:
    text = body.decode()
    leaked = [secret for secret in documents.secrets if secret in text]
    assert not leaked, f"tenant B's response contains tenant A's data {leaked}: {text[:500]}"


def _send(client: APIClient, method: str, url: str) -> Any:
    """The method with an empty JSON object as body where the method takes one."""
    if method in {"get", "delete"}:
        return getattr(client, method)(url)
    return getattr(client, method)(url, data=json.dumps({}), content_type="application/json")


def _all_pages(client: APIClient, url: str) -> tuple[list[dict[str, Any]], list[bytes]]:
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
    if endpoint.kwargs and endpoint.kwargs != ("pk",) and endpoint.kwargs != ("id",):
        pytest.fail(f"{endpoint} takes {endpoint.kwargs}: teach this module how to address tenant A's object there.")
    if endpoint.basename not in TENANT_A_OBJECTS:
        _object_for(endpoint, TenantDocuments({}, []))


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS, ids=str)
def test_list_never_shows_another_tenants_objects(
    endpoint: Endpoint,
    tenant_a_documents: TenantDocuments,
    tenant_b_documents: TenantDocuments,
    api: APIClient,
    foreign_api: APIClient,
) -> None:
    """Tenant B's list (every page) holds its own objects and none of tenant A's."""
    a_object = _object_for(endpoint, tenant_a_documents)
    b_object = _object_for(endpoint, tenant_b_documents)
    url = reverse(endpoint.url_name)

    a_items, _ = _all_pages(api, url)
    assert str(a_object.pk) in {item["id"] for item in a_items}, "tenant A must see its own object (non-vacuous)"

    b_items, b_bodies = _all_pages(foreign_api, url)
    b_ids = {item["id"] for item in b_items}
    assert str(b_object.pk) in b_ids
    assert str(a_object.pk) not in b_ids
    for body in b_bodies:
        _assert_no_secret(body, tenant_a_documents)


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
    api: APIClient,
    foreign_api: APIClient,
) -> None:
    """Tenant B addressing tenant A's object gets the same 404 as for a missing id, and none of A's data."""
    a_object = _object_for(endpoint, tenant_a_documents)
    url = reverse(endpoint.url_name, kwargs={endpoint.kwargs[0]: a_object.pk})

    if method == "get":
        own = api.get(url)
        assert own.status_code == 200, "tenant A must reach its own object (non-vacuous)"
        assert own.json()["id"] == str(a_object.pk)

    response = _send(foreign_api, method, url)
    assert response.status_code == 404, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "not_found"
    assert set(body["error"]) == {"code", "message", "details"}
    _assert_no_secret(response.content, tenant_a_documents)

    missing = _send(
        foreign_api,
        method,
        reverse(endpoint.url_name, kwargs={endpoint.kwargs[0]: "00000000-0000-4000-8000-000000000000"}),
    )
    assert missing.status_code == 404
    assert missing.json() == body, "another tenant's id must be indistinguishable from a missing one"
