"""What the webhook tests (test_webhooks_*.py) share: the test payloads, signing as each sender
signs (Standard Webhooks, QuickBooks, Xero), delivering, and reading back what was stored, logged
or refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from invoices.ingest import webhooks
from invoices.ingest.webhook_api import REFUSED_CODE
from invoices.models import Invoice
from tenants.models import Tenant, WebhookDelivery

TESTDATA = Path(__file__).resolve().parent / "testdata" / "webhooks"
ROTATE = "/api/webhook-secret/rotate"
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
LOGGER = "invoices.ingest"


def payload(name: str) -> bytes:
    return (TESTDATA / name).read_bytes()


def edited(name: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """A test file changed in place, its numbers kept exact (Decimal in, Decimal out)."""
    document = json.loads(payload(name), parse_float=Decimal)
    edit(document)
    return json.dumps(document, default=str).encode()


def _hmac64(key: bytes, content: bytes) -> str:
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def standard_headers(
    body: bytes, secret: str, *, msg_id: str = MSG_ID, timestamp: int | None = None, others: tuple[str, ...] = ()
) -> dict[str, str]:
    """As a Standard Webhooks sender signs: key = base64 after whsec_, content = id.timestamp.body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signature = "v1," + _hmac64(key, f"{msg_id}.{stamp}.".encode() + body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": " ".join([*others, signature]),
    }


def intuit_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"intuit-signature": _hmac64(secret.encode(), body)}


def xero_headers(body: bytes, secret: str) -> dict[str, str]:
    return {"x-xero-signature": _hmac64(secret.encode(), body)}


SIGNERS = {"standard_webhooks": standard_headers, "quickbooks": intuit_headers, "xero": xero_headers}


def deliver(tenant: Tenant | uuid.UUID, body: bytes, headers: dict[str, str]) -> Any:
    tenant_id = getattr(tenant, "pk", tenant)
    meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    return APIClient().generic(
        "POST", f"/api/webhook-handler/{tenant_id}", body, content_type="application/json", **meta
    )


def content_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def invoices_of(tenant: Tenant) -> list[Invoice]:
    return list(Invoice.objects.for_tenant(tenant).order_by("created_at"))


def deliveries() -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.unscoped().order_by("received_at"))


def lines_of(invoice: Invoice) -> list[tuple[int, str, str, Decimal, Decimal, int]]:
    return [
        (line.line_number, line.sku, line.description, line.quantity, line.unit_price, line.amount)
        for line in invoice.lines.order_by("line_number")
    ]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.msg == webhooks.LOG_SIGNATURE_REFUSED
    ]


def assert_refused(response: Any) -> None:
    assert response.status_code == 401, content_of(response)
    assert response.json() == {"error": {"code": REFUSED_CODE, "message": webhooks.SIGNATURE_REFUSED, "details": {}}}
