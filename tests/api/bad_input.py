"""What the bad-input tests (test_bad_input_*.py) share: the create endpoints, a valid baseline
document for each and the mutations that break one thing in it, and the error envelope every
refusal must be.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework.test import APIClient

VENDORS = "/api/vendors"
PURCHASE_ORDERS = "/api/purchase-orders"
GOODS_RECEIPTS = "/api/goods-receipts"
INVOICES = "/api/invoices"
CREATE_ENDPOINTS = [VENDORS, PURCHASE_ORDERS, GOODS_RECEIPTS, INVOICES]
SQL_ISH = "1' OR '1'='1'; DROP TABLE invoices_invoice; --"


NUL = "\x00"  # PostgreSQL cannot store it in text: refused at the door, never a 500 from the driver


@dataclass(frozen=True)
class World:
    """What the baseline documents refer to: the tenant's vendor and PO, and a foreign tenant's."""

    vendor_id: str
    existing_tax_id: str
    existing_external_id: str
    existing_po_number: str
    existing_receipt_number: str
    foreign_vendor_id: str
    foreign_po_number: str


def baseline(endpoint: str, world: World) -> dict[str, Any]:
    """A valid document for the endpoint; every case breaks exactly one thing in it."""
    if endpoint == VENDORS:
        return {"name": "Nova Parts GmbH", "tax_id": "DE555666777", "currency": "EUR", "external_id": "ERP-NEW"}
    if endpoint == PURCHASE_ORDERS:
        return {
            "po_number": "PO-NEW-1",
            "vendor_id": world.vendor_id,
            "currency": "EUR",
            "order_date": "2026-10-01",
            "lines": [
                {"line_number": number, "description": f"Part {number}", "quantity": "10", "unit_price": "2.50"}
                for number in (1, 2, 3)
            ],
        }
    if endpoint == GOODS_RECEIPTS:
        return {
            "receipt_number": "GR-NEW-1",
            "po_number": world.existing_po_number,
            "received_date": "2026-10-05",
            "lines": [{"po_line_number": number, "quantity": "5"} for number in (1, 2, 3)],
        }
    assert endpoint == INVOICES
    return {
        "invoice_number": "INV-NEW-1",
        "vendor_id": world.vendor_id,
        "currency": "EUR",
        "invoice_date": "2026-10-10",
        "total_amount": "75.00",
        "lines": [
            {"line_number": number, "description": f"Part {number}", "quantity": "10", "unit_price": "2.50"}
            for number in (1, 2, 3)
        ],
    }


Mutation = Callable[[dict[str, Any], World], Any]


def without(field: str) -> Mutation:
    def mutate(body: dict[str, Any], world: World) -> Any:
        body.pop(field)
        return body

    return mutate


def setting(path: str, value: Any) -> Mutation:
    """Set `lines.1.quantity`-style paths; a callable value is given the world."""

    def mutate(body: dict[str, Any], world: World) -> Any:
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value(world) if callable(value) else value
        return body

    return mutate


@dataclass(frozen=True)
class Case:
    endpoint: str
    name: str
    mutate: Mutation
    status: int
    code: str
    detail_keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.endpoint.rsplit('/', 1)[-1]}-{self.name}"


def assert_envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error


def send(client: APIClient, endpoint: str, body: Any, **headers: str) -> Any:
    return client.post(endpoint, data=json.dumps(body, default=str), content_type="application/json", headers=headers)
