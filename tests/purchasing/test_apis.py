"""`POST /api/purchase-orders/{id}/close|cancel|reopen`: the lifecycle through the API, with the
conventions of the invoice review actions (envelope, expected_status, Idempotency-Key, 404 for
another tenant's order)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from purchasing.lifecycle import COMMENT_REQUIRED
from purchasing.models import PurchaseOrder
from purchasing.services import RECEIPT_PO_CANCELLED
from tenants.models import Tenant
from tests.factories import PurchaseOrderFactory, PurchaseOrderLineFactory

pytestmark = pytest.mark.django_db

P = PurchaseOrder.Status


def _url(purchase_order: PurchaseOrder, action: str) -> str:
    return f"/api/purchase-orders/{purchase_order.pk}/{action}"


def _status(purchase_order: PurchaseOrder) -> str:
    return PurchaseOrder.objects.for_tenant(purchase_order.tenant_id).get(pk=purchase_order.pk).status


def _events(purchase_order: PurchaseOrder) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_tenant(purchase_order.tenant_id)
        .filter(entity_type="purchase_order", entity_id=str(purchase_order.pk), action="transition")
        .order_by("xid", "append_seq")
    )


def test_close_reopen_and_cancel_answer_the_purchase_order_and_are_audited(api: APIClient, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant)
    closed = api.post(_url(purchase_order, "close"), {"comment": "complete"}, format="json")
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == P.CLOSED and closed.json()["id"] == str(purchase_order.pk)
    reopened = api.post(_url(purchase_order, "reopen"), {}, format="json")
    assert reopened.status_code == 200 and reopened.json()["status"] == P.OPEN
    cancelled = api.post(_url(purchase_order, "cancel"), {"comment": "supplier went bust"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == P.CANCELLED

    close_event, reopen_event, cancel_event = _events(purchase_order)
    assert (close_event.before, close_event.after) == ({"status": "open"}, {"status": "closed", "reason": "complete"})
    assert (reopen_event.before, reopen_event.after) == ({"status": "closed"}, {"status": "open"})
    assert cancel_event.after == {"status": "cancelled", "reason": "supplier went bust"}
    assert cancel_event.actor_kind == "api_key" and cancel_event.request_id == cancelled["X-Request-Id"]


def test_cancel_without_a_comment_is_a_400_and_changes_nothing(api: APIClient, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant)
    response = api.post(_url(purchase_order, "cancel"), {"comment": "   "}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"comment": [COMMENT_REQUIRED.format(action="cancel")]}
    assert _status(purchase_order) == P.OPEN and _events(purchase_order) == []


@pytest.mark.parametrize(
    ("status", "action"),
    [(P.OPEN, "reopen"), (P.CLOSED, "close"), (P.CLOSED, "cancel"), (P.CANCELLED, "reopen"), (P.CANCELLED, "close")],
)
def test_an_illegal_move_is_a_409_illegal_transition_and_changes_nothing(
    api: APIClient, tenant: Tenant, status: str, action: str
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, status=status)
    response = api.post(_url(purchase_order, action), {"comment": "because"}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "illegal_transition" and error["details"]["from"] == status
    assert _status(purchase_order) == status and _events(purchase_order) == []


def test_a_stale_page_gets_a_409_stale_state(api: APIClient, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant)
    assert api.post(_url(purchase_order, "close"), {}, format="json").status_code == 200
    response = api.post(
        _url(purchase_order, "cancel"), {"comment": "not needed", "expected_status": "open"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_state"
    assert _status(purchase_order) == P.CLOSED and len(_events(purchase_order)) == 1


@pytest.mark.parametrize("action", ["close", "cancel", "reopen"])
def test_another_tenants_purchase_order_is_a_404_and_unchanged(
    foreign_api: APIClient, tenant: Tenant, action: str
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, status=P.CLOSED if action == "reopen" else P.OPEN)
    before = _status(purchase_order)
    response = foreign_api.post(_url(purchase_order, action), {"comment": "mine now"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _status(purchase_order) == before and _events(purchase_order) == []


def test_a_retry_with_the_same_idempotency_key_replays_the_answer_and_moves_once(
    api: APIClient, tenant: Tenant
) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant)
    headers = {"Idempotency-Key": "close-po-1"}
    first = api.post(_url(purchase_order, "close"), {"comment": "done"}, format="json", headers=headers)
    again = api.post(_url(purchase_order, "close"), {"comment": "done"}, format="json", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert len(_events(purchase_order)) == 1
    # Without the key, the second close is what it is: a move the table does not allow.
    assert api.post(_url(purchase_order, "close"), {"comment": "done"}, format="json").status_code == 409


def test_a_list_filter_in_the_query_string_does_not_hide_the_purchase_order_from_an_action(
    api: APIClient, tenant: Tenant
) -> None:
    """The query string of `/{id}/close` is not a filter: `?status=closed` must not turn into a 404."""
    purchase_order = PurchaseOrderFactory(tenant=tenant)
    response = api.post(_url(purchase_order, "close") + "?status=closed", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == P.CLOSED


def test_the_schema_documents_the_three_actions(api: APIClient) -> None:
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for action in ("close", "cancel", "reopen"):
        operation = paths[f"/api/purchase-orders/{{id}}/{action}"]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PurchaseOrderOutput"
        }
        assert {"404", "409"} <= set(operation["responses"])
        assert not [parameter for parameter in operation["parameters"] if parameter["in"] == "query"]


def test_goods_cannot_be_received_on_a_cancelled_purchase_order(api: APIClient, tenant: Tenant) -> None:
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-GONE")
    PurchaseOrderLineFactory(purchase_order=purchase_order, line_number=1)
    assert api.post(_url(purchase_order, "cancel"), {"comment": "not needed"}, format="json").status_code == 200
    body = {
        "receipt_number": "GR-LATE",
        "po_number": "PO-GONE",
        "received_date": "2026-10-05",
        "lines": [{"po_line_number": 1, "quantity": "1"}],
    }
    response = api.post("/api/goods-receipts", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"po_number": [RECEIPT_PO_CANCELLED.format(po_number="PO-GONE")]}
