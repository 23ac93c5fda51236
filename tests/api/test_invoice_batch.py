"""`POST /api/invoices/batch`: per-document results, idempotent as a whole, tenant-scoped, bounded."""

from __future__ import annotations

import json
from typing import Any

from rest_framework.test import APIClient

from audit.models import AuditEvent
from invoices.checks import INVOICE_UNKNOWN_VENDOR_ID
from invoices.models import Invoice
from review.batch_apis import MAX_BATCH_DOCUMENTS
from tenants.models import Tenant
from tests.factories import VendorFactory

BATCH = "/api/invoices/batch"


def invoice_body(number: str, **changes: Any) -> dict[str, Any]:
    body = {
        "invoice_number": number,
        "vendor_name": "Initech Supplies",
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "30.00",
        "lines": [
            {"description": "Paper", "quantity": "2", "unit_price": "10.00"},
            {"description": "Toner", "quantity": "1", "unit_price": "10.00"},
        ],
    }
    return {**body, **changes}


def post(client: APIClient, body: Any, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(BATCH, data=json.dumps(body), content_type="application/json", headers=headers)


def test_each_document_is_answered_in_its_place(api: APIClient, tenant: Tenant) -> None:
    """Valid documents are stored; a shape error and a door error are each the document's own answer."""
    vendor = VendorFactory(tenant=tenant, name="Initech Supplies")
    documents = [
        invoice_body("B-1"),
        invoice_body("B-2", lines=[{"description": "Paper", "quantity": "-2", "unit_price": "10.00"}]),
        invoice_body("B-3", vendor_name="", vendor_id=str(vendor.pk)),
        invoice_body("B-4", total_amount="30.001"),
        invoice_body("B-1"),  # the first document again: a re-send
        None,
        "B-6",
    ]
    response = post(api, {"documents": documents})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"], body["invalid"]) == (2, 1, 4)
    results = body["results"]
    assert [result["index"] for result in results] == [0, 1, 2, 3, 4, 5, 6]
    statuses = ["created", "invalid", "created", "invalid", "duplicate", "invalid", "invalid"]
    assert [result["status"] for result in results] == statuses
    assert all(set(results[index]["error"]) == {"code", "message", "details"} for index in (5, 6))
    assert results[4]["id"] == results[0]["id"]
    assert results[1]["error"]["code"] == "validation_error" and "lines[0].quantity" in results[1]["error"]["details"]
    assert "total_amount" in results[3]["error"]["details"]
    stored = Invoice.objects.for_tenant(tenant)
    assert sorted(str(pk) for pk in stored.values_list("pk", flat=True)) == sorted([results[0]["id"], results[2]["id"]])
    assert stored.get(pk=results[2]["id"]).vendor_id == vendor.pk


def test_another_tenants_vendor_is_refused_and_nothing_of_theirs_changes(
    api: APIClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = VendorFactory(tenant=other_tenant, name="Initech Supplies")
    response = post(api, {"documents": [invoice_body("F-1", vendor_name="", vendor_id=str(foreign.pk))]})
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["status"] == "invalid"
    assert result["error"]["details"] == {"vendor_id": [INVOICE_UNKNOWN_VENDOR_ID]}
    assert not Invoice.objects.for_tenant(tenant).exists()
    assert not Invoice.objects.for_tenant(other_tenant).exists()


def test_a_retried_key_replays_the_answer_and_stores_nothing_more(api: APIClient, tenant: Tenant) -> None:
    body = {"documents": [invoice_body("K-1"), invoice_body("K-2", currency="??")]}
    first = post(api, body, key="batch-1")
    events = AuditEvent.objects.for_tenant(tenant).count()
    again = post(api, body, key="batch-1")
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Invoice.objects.for_tenant(tenant).count() == 1
    assert AuditEvent.objects.for_tenant(tenant).count() == events
    reused = post(api, {"documents": [invoice_body("K-3")]}, key="batch-1")
    assert reused.status_code == 422 and reused.json()["error"]["code"] == "idempotency_key_reused"


def test_sent_again_without_a_key_every_document_answers_with_its_stored_invoice(
    api: APIClient, tenant: Tenant
) -> None:
    body = {"documents": [invoice_body("S-1"), invoice_body("S-2")]}
    first = post(api, body).json()["results"]
    again = post(api, body).json()
    assert again["duplicates"] == 2 and [r["id"] for r in again["results"]] == [r["id"] for r in first]
    assert Invoice.objects.for_tenant(tenant).count() == 2


def test_an_empty_too_long_or_shapeless_batch_is_a_400_envelope(api: APIClient, tenant: Tenant) -> None:
    for body in ({"documents": []}, {}, {"documents": "S-1"}, [invoice_body("X")]):
        response = post(api, body)
        assert response.status_code == 400, body
        assert set(response.json()["error"]) == {"code", "message", "details"}
    too_many = {"documents": [{"invoice_number": str(n)} for n in range(MAX_BATCH_DOCUMENTS + 1)]}
    response = post(api, too_many)
    assert response.status_code == 400 and "documents" in response.json()["error"]["details"]
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_a_body_over_the_size_limit_is_a_413_envelope(api: APIClient, tenant: Tenant, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = post(api, {"documents": [invoice_body(f"L-{n}") for n in range(20)]})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_without_a_key_of_the_tenant_nothing_is_read(tenant: Tenant) -> None:
    response = post(APIClient(), {"documents": [invoice_body("A-1")]})
    assert response.status_code == 401
    assert not Invoice.objects.for_tenant(tenant).exists()


def test_json_numbers_are_read_exactly_as_the_single_create_reads_them(api: APIClient, tenant: Tenant) -> None:
    """The parser makes Decimals of JSON numbers; a document sending them is stored, not refused."""
    numbers = invoice_body(
        "N-1", total_amount=30.0, lines=[{"description": "Paper", "quantity": 2.5, "unit_price": 12, "line_number": 1}]
    )
    response = post(api, {"documents": [numbers]})
    assert response.status_code == 200, response.json()
    [result] = response.json()["results"]
    assert result["status"] == "created", result
    [stored] = Invoice.objects.for_tenant(tenant).get(pk=result["id"]).lines.all()
    assert (str(stored.quantity), str(stored.unit_price), stored.amount) == ("2.5000", "12.000000", 3000)
