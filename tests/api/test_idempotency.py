"""`Idempotency-Key` on POST (DESIGN.md §8): one document per key, replayed responses, per tenant."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from core.http.middleware import HEADER_HAS_NUL
from core.text import NUL_REFUSED
from invoices.models import Invoice, InvoiceLine
from review import apis as invoice_apis
from tenants.models import IdempotencyRecord, Tenant
from tenants.services import api_key_create
from tests.factories import TEST_ACTOR, VendorFactory
from vendors.models import Vendor

INVOICES = "/api/invoices"


def invoice_body(vendor_name: str = "Initech Supplies", number: str = "INV-IDEM-1") -> dict[str, Any]:
    return {
        "invoice_number": number,
        "vendor_name": vendor_name,
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "30.00",
        "lines": [
            {"description": "Paper", "quantity": "2", "unit_price": "10.00"},
            {"description": "Toner", "quantity": "1", "unit_price": "10.00"},
        ],
    }


def post(client: APIClient, body: Any, key: str | None, path: str = INVOICES) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def invoices_of(tenant: Tenant) -> int:
    return Invoice.objects.for_tenant(tenant).count()


def test_ten_identical_posts_create_one_invoice_and_replay_the_first_response(api: APIClient, tenant: Tenant) -> None:
    """A client retrying ten times gets one invoice and ten identical answers."""
    first = post(api, invoice_body(), key="retry-me")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first

    for _ in range(9):
        replay = post(api, invoice_body(), key="retry-me")
        assert replay.status_code == 201
        assert replay["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()

    assert invoices_of(tenant) == 1
    assert InvoiceLine.objects.for_tenant(tenant).count() == 2
    assert Invoice.objects.for_tenant(tenant).get().pk == uuid.UUID(first.json()["id"])


def test_without_a_key_a_resent_document_is_answered_by_the_stored_one_and_a_changed_one_is_created(
    api: APIClient, tenant: Tenant
) -> None:
    """The contrast case: without a key there is no replay of the response (no Idempotent-Replayed, a
    200 instead of the first 201), only the door's content rule — the same vendor, number and content
    is the same invoice (invoices.documents.InvoiceContent); other content is another invoice."""
    first = post(api, invoice_body(), key=None)
    again = post(api, invoice_body(), key=None)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and "Idempotent-Replayed" not in again
    changed = {**invoice_body(), "total_amount": "31.00"}
    assert post(api, changed, key=None).status_code == 201
    assert invoices_of(tenant) == 2


def test_json_key_order_and_spacing_do_not_change_the_fingerprint(api: APIClient, tenant: Tenant) -> None:
    """The same document serialized differently is the same request."""
    body = invoice_body()
    first = api.post(INVOICES, data=json.dumps(body), content_type="application/json", headers={"Idempotency-Key": "k"})
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = api.post(INVOICES, data=reordered, content_type="application/json", headers={"Idempotency-Key": "k"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert invoices_of(tenant) == 1


def test_same_key_with_a_different_body_is_a_422(api: APIClient, tenant: Tenant) -> None:
    """Reusing a key for another document is refused; nothing new is created."""
    assert post(api, invoice_body(number="INV-A"), key="reused").status_code == 201

    response = post(api, invoice_body(number="INV-B"), key="reused")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert "Idempotent-Replayed" not in response
    assert list(Invoice.objects.for_tenant(tenant).values_list("invoice_number", flat=True)) == ["INV-A"]


def test_same_key_on_another_endpoint_is_a_422(api: APIClient, tenant: Tenant) -> None:
    """A key belongs to one request: replaying an invoice's response for a vendor create would be wrong."""
    assert post(api, invoice_body(), key="one-key").status_code == 201
    response = post(api, {"name": "Vendor by the same key"}, key="one-key", path="/api/vendors")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not Vendor.objects.for_tenant(tenant).filter(name="Vendor by the same key").exists()


def test_keys_are_per_tenant(api: APIClient, foreign_api: APIClient, tenant: Tenant, other_tenant: Tenant) -> None:
    """Tenant B using tenant A's key string (even with the same body) gets its own invoice, not A's response."""
    first_a = post(api, invoice_body(), key="shared-key-string")
    first_b = post(foreign_api, invoice_body(), key="shared-key-string")

    assert first_b.status_code == 201
    assert "Idempotent-Replayed" not in first_b
    assert first_b.json()["id"] != first_a.json()["id"]
    assert invoices_of(tenant) == 1
    assert invoices_of(other_tenant) == 1
    assert Invoice.objects.for_tenant(other_tenant).get().pk == uuid.UUID(first_b.json()["id"])

    # And each tenant's replay is its own.
    assert post(api, invoice_body(), key="shared-key-string").json()["id"] == first_a.json()["id"]
    assert post(foreign_api, invoice_body(), key="shared-key-string").json()["id"] == first_b.json()["id"]
    # A different body under B's key is B's conflict, not A's.
    assert post(foreign_api, invoice_body(number="OTHER"), key="shared-key-string").status_code == 422
    assert invoices_of(tenant) == 1
    assert invoices_of(other_tenant) == 1


def test_a_4xx_response_is_stored_and_replayed(api: APIClient, tenant: Tenant) -> None:
    """A refused request replays its refusal, even after the world changed so it would now succeed."""
    vendor_id = uuid.uuid4()
    body = {**invoice_body(), "vendor_id": str(vendor_id)}
    del body["vendor_name"]

    first = post(api, body, key="bad-then-good")
    assert first.status_code == 400
    assert first.json()["error"]["details"]["vendor_id"]
    assert IdempotencyRecord.objects.for_tenant(tenant).filter(key="bad-then-good", response_status=400).exists()

    VendorFactory(tenant=tenant, id=vendor_id)  # now the same body would be valid
    replay = post(api, body, key="bad-then-good")

    assert replay.status_code == 400
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert invoices_of(tenant) == 0
    assert post(api, body, key="a-fresh-key").status_code == 201  # proves the body is now valid


def test_a_refusal_that_echoes_a_nul_is_stored_and_replayed_exactly(api: APIClient, tenant: Tenant) -> None:
    """jsonb cannot hold U+0000: a 400 naming a CSV column with a NUL in it was a 500 (found by the fuzzer)."""
    csv_file = b"invoice_number,bad\x00column\nINV-1,x\n"

    def upload() -> Any:
        return api.post(
            "/api/invoices/import/csv", data=csv_file, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="nul-column"
        )

    first = upload()
    assert first.status_code == 400, first.content
    assert any("\x00" in field for field in first.json()["error"]["details"])
    replay = upload()

    assert replay.status_code == 400
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert invoices_of(tenant) == 0


def test_a_5xx_is_not_stored_and_a_retry_runs_again(
    api: APIClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server fault rolls back the request and its key, so the client's retry creates the invoice once."""
    real_create = invoice_apis.invoice_create_many

    def create_then_crash(**kwargs: Any) -> list[Any]:
        real_create(**kwargs)
        raise RuntimeError("simulated crash after the write")

    monkeypatch.setattr(invoice_apis, "invoice_create_many", create_then_crash)
    api.raise_request_exception = False
    crashed = post(api, invoice_body(), key="crash-key")
    assert crashed.status_code == 500
    assert crashed.json()["error"]["code"] == "internal_error"
    assert invoices_of(tenant) == 0, "the crashed request's invoice must be rolled back"
    assert not IdempotencyRecord.objects.for_tenant(tenant).filter(key="crash-key").exists()

    monkeypatch.setattr(invoice_apis, "invoice_create_many", real_create)
    retry = post(api, invoice_body(), key="crash-key")
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert invoices_of(tenant) == 1


def test_an_overlong_key_is_refused(api: APIClient, tenant: Tenant) -> None:
    """Keys longer than the stored column are a 400, not a database error."""
    response = post(api, invoice_body(), key="k" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    assert invoices_of(tenant) == 0


def test_a_key_with_a_nul_character_is_a_400_and_nothing_is_written(api: APIClient, tenant: Tenant) -> None:
    """PostgreSQL cannot store U+0000: the key is refused before it is looked up, never a 500
    (core.http.middleware.NulFreeRequestMiddleware, for every header)."""
    api.raise_request_exception = False
    response = post(api, invoice_body(), key="key-\x00-1")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "malformed_request",
        "message": HEADER_HAS_NUL.format(name="Idempotency-Key"),
        "details": {"Idempotency-Key": [NUL_REFUSED]},
    }
    assert invoices_of(tenant) == 0
    assert IdempotencyRecord.objects.unscoped().count() == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_create_one_invoice(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests racing with one key (real threads, real database): exactly one invoice.

    The loser gets 409 `idempotency_key_in_flight` while the winner runs, or the winner's 201
    replayed if it already finished.
    """
    _, raw_key = api_key_create(tenant=tenant, name="race", actor=TEST_ACTOR)
    real_create = invoice_apis.invoice_create_many
    started = threading.Event()

    def slow_create(**kwargs: Any) -> list[Any]:
        # Widen the window so the second request usually arrives while the first holds the key.
        started.set()
        threading.Event().wait(0.3)
        return real_create(**kwargs)

    monkeypatch.setattr(invoice_apis, "invoice_create_many", slow_create)
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def race() -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        try:
            barrier.wait(timeout=10)
            response = post(client, invoice_body(), key="race-key")
            with lock:
                results.append(response)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(results) == 2
    assert started.is_set()
    assert Invoice.objects.for_tenant(tenant).count() == 1
    created = [r for r in results if r.status_code == 201 and "Idempotent-Replayed" not in r]
    assert len(created) == 1, [(r.status_code, r.content) for r in results]
    (other,) = [r for r in results if r is not created[0]]
    if other.status_code == 409:
        assert other.json()["error"]["code"] == "idempotency_key_in_flight"
    else:
        assert other.status_code == 201
        assert other["Idempotent-Replayed"] == "true"
        assert other.json() == created[0].json()

    # Once the winner has finished, the key replays its response.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    after = post(client, invoice_body(), key="race-key")
    assert after.status_code == 201
    assert after["Idempotent-Replayed"] == "true"
    assert after.json() == created[0].json()
    assert Invoice.objects.for_tenant(tenant).count() == 1


def test_a_key_older_than_its_ttl_is_claimed_afresh(api: APIClient, tenant: Tenant, settings: Any) -> None:
    """Past IDEMPOTENCY_KEY_TTL_HOURS a key is forgotten: the next request with it runs (another
    body is then no 422), and its answer is what the key replays from then on."""
    assert post(api, invoice_body(number="INV-OLD"), key="aged").status_code == 201
    aged = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS, minutes=1)
    IdempotencyRecord.objects.for_tenant(tenant).filter(key="aged").update(created_at=aged)

    fresh = post(api, invoice_body(number="INV-NEW"), key="aged")
    assert fresh.status_code == 201, fresh.content
    replay = post(api, invoice_body(number="INV-NEW"), key="aged")
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == fresh.json()
    [record] = IdempotencyRecord.objects.for_tenant(tenant).filter(key="aged")
    assert record.state == IdempotencyRecord.State.DONE and record.created_at > aged
    assert invoices_of(tenant) == 2
