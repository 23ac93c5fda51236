"""Webhooks in: a replayed delivery, two concurrent copies of one, and a bill sent again in a new
delivery each create the invoice once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection

from invoices.ingest import webhooks
from tenants.models import Tenant
from tests.invoices.webhook_deliveries import (
    deliver,
    deliveries,
    intuit_headers,
    invoices_of,
    payload,
    standard_headers,
)

pytestmark = pytest.mark.usefixtures("webhooks_quiet")


# --- replays and re-sent documents --------------------------------------------------------------


def test_a_replayed_webhook_id_is_acknowledged_and_creates_nothing(tenant: Tenant, secret: str) -> None:
    """The sender retries (new timestamp, same id): 200, still one invoice."""
    body = payload("qbo_bill.json")
    assert deliver(tenant, body, standard_headers(body, secret)).status_code == 201
    again = deliver(tenant, body, standard_headers(body, secret, timestamp=int(time.time()) + 1))
    assert again.status_code == 200
    assert again.json()["outcome"] == webhooks.DUPLICATE_DELIVERY
    assert again.json()["detail"] == webhooks.REPLAYED.format(outcome="created")
    assert len(invoices_of(tenant)) == 1
    assert len(deliveries()) == 1


def test_a_replayed_quickbooks_body_is_acknowledged_and_creates_nothing(tenant: Tenant, secret: str) -> None:
    body = payload("qbo_bill.json")
    for expected in (201, 200, 200):
        assert deliver(tenant, body, intuit_headers(body, secret)).status_code == expected
    assert len(invoices_of(tenant)) == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_copies_of_a_delivery_create_one_invoice(
    tenant: Tenant, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender retrying while the first attempt still runs (real threads, real database)."""
    real_create = webhooks.invoice_create_many

    def slow_create(**kwargs: Any) -> Any:
        # Widen the window: the copy's INSERT of the delivery row arrives while this one is open.
        threading.Event().wait(0.3)
        return real_create(**kwargs)

    monkeypatch.setattr(webhooks, "invoice_create_many", slow_create)
    body = payload("qbo_bill.json")
    headers = intuit_headers(body, secret)
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(deliver(tenant, body, headers).status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert sorted(statuses) == [200, 201]
    assert len(invoices_of(tenant)) == 1
    assert [d.outcome for d in deliveries()] == ["created"]


def test_the_same_bill_in_a_new_delivery_is_already_present(tenant: Tenant, secret: str) -> None:
    """Another delivery (new id) of a stored bill: 200 already present, nothing created."""
    body = payload("qbo_bill.json")
    first = deliver(tenant, body, standard_headers(body, secret)).json()
    response = deliver(tenant, body, standard_headers(body, secret, msg_id="msg_second"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "already_present"
    assert response.json()["existing_invoice_ids"] == first["invoice_ids"]
    assert len(invoices_of(tenant)) == 1
    assert [d.outcome for d in deliveries()] == ["created", "already_present"]
