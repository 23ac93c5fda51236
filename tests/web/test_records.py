"""Vendor, purchase order and goods receipt pages: read-only, totals per line, tenant isolation."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from purchasing.models import GoodsReceipt
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def test_lists_show_only_the_tenants_records(clerk: Client, scenario: Scenario, foreign_scenario: Scenario) -> None:
    vendors = clerk.get(reverse("web:vendors")).content.decode()
    assert "Acme Industrial Supplies" in vendors and "X-Acme" not in vendors
    orders = clerk.get(reverse("web:purchase-orders")).content.decode()
    assert "PO-1" in orders and "X-PO" not in orders
    receipts = clerk.get(reverse("web:receipts")).content.decode()
    assert "GR-1" in receipts and "X-GR" not in receipts
    assert "PO-2" not in clerk.get(reverse("web:purchase-orders"), {"q": "PO-1"}).content.decode()


def test_purchase_order_page_shows_ordered_received_billed(clerk: Client, scenario: Scenario) -> None:
    url = reverse("web:purchase-order-detail", kwargs={"purchase_order_id": scenario.original.purchase_order_id})
    html = clerk.get(url).content.decode()
    lines = clerk.get(url).context["line_totals"]
    # PO-2: 1000 bolts and 50 hoses ordered and received; billed twice (original + duplicate).
    assert [(t.ordered, t.received, t.billed) for t in lines] == [(1000, 1000, 2000), (50, 50, 100)]
    assert all(t.over_billed for t in lines)
    assert "INV-200" in html and "INV-200-B" in html and "GR-2" in html
    assert re.search(r'class="num diff">2000<', html)


def test_vendor_and_receipt_pages(clerk: Client, scenario: Scenario) -> None:
    vendor_html = clerk.get(
        reverse("web:vendor-detail", kwargs={"vendor_id": scenario.price_mismatch.vendor_id})
    ).content.decode()
    assert "PO-1" in vendor_html and "INV-100" in vendor_html
    receipt = GoodsReceipt.objects.for_tenant(scenario.tenant).get(receipt_number="GR-1")
    receipt_html = clerk.get(reverse("web:receipt-detail", kwargs={"receipt_id": receipt.pk})).content.decode()
    assert "M8 hex bolts" in receipt_html and "PO-1" in receipt_html


def test_another_tenants_records_are_404(foreign_clerk: Client, scenario: Scenario) -> None:
    receipt = GoodsReceipt.objects.for_tenant(scenario.tenant).get(receipt_number="GR-1")
    for name, kwargs in [
        ("web:vendor-detail", {"vendor_id": scenario.price_mismatch.vendor_id}),
        ("web:purchase-order-detail", {"purchase_order_id": scenario.price_mismatch.purchase_order_id}),
        ("web:receipt-detail", {"receipt_id": receipt.pk}),
    ]:
        assert foreign_clerk.get(reverse(name, kwargs=kwargs)).status_code == 404, name


def test_record_pages_offer_no_forms_that_change_them(clerk: Client, scenario: Scenario) -> None:
    url = reverse("web:purchase-order-detail", kwargs={"purchase_order_id": scenario.original.purchase_order_id})
    html = clerk.get(url).content.decode()
    # The only POST forms are the layout's (log out); the record itself is read-only.
    assert html.count('method="post"') == 1
