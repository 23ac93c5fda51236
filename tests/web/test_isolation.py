"""Every web page that takes an object id answers 404 for another tenant's object.

Discovered from the URL conf, so a new page with an id and no rule here fails the test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, get_resolver, reverse

from payments.reconciliation.services import allocation_split
from purchasing.models import GoodsReceipt
from tests.factories import TEST_ACTOR
from tests.payments.factories import PaymentFactory
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def _payment(s: Scenario) -> dict[str, Any]:
    return {"payment_id": PaymentFactory(tenant=s.tenant, currency=s.original.currency).pk}


def _allocation(s: Scenario) -> dict[str, Any]:
    payment = PaymentFactory(tenant=s.tenant, amount=1_00, currency=s.original.currency)
    [allocation] = allocation_split(tenant=s.tenant, payment=payment, parts=[(s.original, 1_00)], actor=TEST_ACTOR)
    return {"payment_id": payment.pk, "allocation_id": allocation.pk}


# Page name → (method, the tenant A object id to try) for every web page with an id in its URL.
OBJECT_PAGES: dict[str, tuple[str, Callable[[Scenario], dict[str, Any]]]] = {
    "invoice-detail": ("get", lambda s: {"invoice_id": s.price_mismatch.pk}),
    "invoice-timeline": ("get", lambda s: {"invoice_id": s.price_mismatch.pk}),
    "invoice-action": ("post", lambda s: {"invoice_id": s.price_mismatch.pk}),
    "vendor-detail": ("get", lambda s: {"vendor_id": s.price_mismatch.vendor_id}),
    "purchase-order-detail": ("get", lambda s: {"purchase_order_id": s.price_mismatch.purchase_order_id}),
    "receipt-detail": (
        "get",
        lambda s: {"receipt_id": GoodsReceipt.objects.for_tenant(s.tenant).get(receipt_number="GR-1").pk},
    ),
    "payment-detail": ("get", _payment),
    "payment-accept": ("post", _payment),
    "payment-ignore": ("post", _payment),
    "payment-split": ("post", _payment),
    "payment-allocation-reverse": ("post", _allocation),
}


def _web_pages_with_ids() -> set[str]:
    resolver = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", None) == "web")
    return {
        pattern.name
        for pattern in resolver.url_patterns
        if isinstance(pattern, URLPattern) and "_id" in str(pattern.pattern)
    }


def test_every_page_with_an_id_has_an_isolation_rule() -> None:
    assert _web_pages_with_ids() == set(OBJECT_PAGES)


@pytest.mark.parametrize("name", sorted(OBJECT_PAGES))
def test_another_tenants_object_is_a_404(name: str, foreign_clerk: Client, scenario: Scenario) -> None:
    method, kwargs_of = OBJECT_PAGES[name]
    url = reverse(f"web:{name}", kwargs=kwargs_of(scenario))
    response = getattr(foreign_clerk, method)(url, {"action": "approve", "comment": "x"})
    assert response.status_code == 404
    assert "INV-100" not in response.content.decode()
    scenario.price_mismatch.refresh_from_db()
    assert scenario.price_mismatch.status == "pending_review"
