"""The invoice page: the 3-way comparison, confidence, discrepancies, timeline, links."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tenants.models import Tenant
from tests.factories import InvoiceFactory, Line
from tests.matching.runs import run_matching
from tests.web.conftest import Scenario

pytestmark = pytest.mark.django_db


def _rows(html: str) -> dict[str, str]:
    """Comparison rows by invoice line number → their CSS classes."""
    pattern = r'<tr class="([^"]*)" data-testid="comparison-row" data-line="(\d+)"'
    return {line: css for css, line in re.findall(pattern, html)}


def test_the_comparison_marks_the_line_with_the_price_difference(clerk: Client, scenario: Scenario) -> None:
    invoice = scenario.price_mismatch
    html = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})).content.decode()
    rows = _rows(html)
    assert rows["1"] == ""  # bolts: as ordered, as received, at the PO price
    assert "flagged" in rows["2"] and "flag-medium" in rows["2"]
    # The invoice's 19.00 beside the PO's 18.40, the difference spelled out, and the badge.
    assert 'class="num diff" data-testid="invoice-price">19.00<' in html
    assert ">18.40<" in html and "+0.60" in html
    assert "Price differs from PO" in html
    # Expected vs actual, as the engine stated them.
    assert "Expected <code>18.4" in html
    assert "actual <code>19" in html


def test_the_page_shows_header_confidence_links_and_timeline(clerk: Client, scenario: Scenario) -> None:
    invoice = scenario.price_mismatch
    html = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})).content.decode()
    assert "1,075.00" in html  # 1000 × 0.125 + 50 × 19.00, exact, with grouping
    for component in ("PO match", "Lines match", "Goods received", "Prices match"):
        assert component in html
    assert reverse("web:purchase-order-detail", kwargs={"purchase_order_id": invoice.purchase_order_id}) in html
    assert reverse("web:vendor-detail", kwargs={"vendor_id": invoice.vendor_id}) in html
    assert "GR-1" in html
    assert html.count('data-testid="timeline-item"') == 2  # created, then matched into review
    assert 'name="expected_status" value="pending_review"' in html


def test_the_timeline_partial_renders_alone_for_htmx(clerk: Client, scenario: Scenario) -> None:
    url = reverse("web:invoice-timeline", kwargs={"invoice_id": scenario.price_mismatch.pk})
    html = clerk.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith("<ol") and "timeline-item" in html
    # Without htmx (no JavaScript) the link leads to the whole page.
    response = clerk.get(url)
    assert response.status_code == 302 and response["Location"].endswith("#timeline-title")


def test_another_tenants_invoice_is_a_404(foreign_clerk: Client, scenario: Scenario) -> None:
    for name in ("web:invoice-detail", "web:invoice-timeline"):
        response = foreign_clerk.get(reverse(name, kwargs={"invoice_id": scenario.price_mismatch.pk}))
        assert response.status_code == 404
        assert "INV-100" not in response.content.decode()


def test_a_decided_invoice_offers_no_actions(clerk: Client, scenario: Scenario) -> None:
    html = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": scenario.original.pk})).content.decode()
    assert 'name="action"' not in html
    assert "No decision pending" in html


def test_a_line_without_a_po_line_is_never_shown_as_matching(approver: Client, scenario: Scenario) -> None:
    freight = Line("FR-1", "Freight Hamburg-Munich", "1", "850.00")
    invoice = InvoiceFactory(vendor=scenario.original.vendor, invoice_number="NOPO-1", lines=[freight])
    run_matching(scenario.tenant)
    html = approver.get(reverse("web:invoice-detail", kwargs={"invoice_id": invoice.pk})).content.decode()
    assert "not matched to a PO line" in html
    assert "✓ matches" not in html
    assert 'data-flagged="true"' in html


def test_the_page_shows_a_conversion_reason_the_prepaid_amount_and_the_amount_due(
    clerk: Client, tenant: Tenant
) -> None:
    credit_note = InvoiceFactory(
        tenant=tenant, document_type="credit_note", converted_from="invoice", total_amount=165625, prepaid_amount=0
    )
    html = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": credit_note.pk})).content.decode()
    assert 'data-testid="conversion-reason"' in html
    assert "Negative invoice (type 380) converted" in html
    assert 'data-testid="amount-due"' not in html  # nothing prepaid: the total is what is due

    prepaid = InvoiceFactory(tenant=tenant, total_amount=180178, prepaid_amount=100000)
    html = clerk.get(reverse("web:invoice-detail", kwargs={"invoice_id": prepaid.pk})).content.decode()
    assert 'data-testid="conversion-reason"' not in html
    assert re.search(r'data-testid="prepaid-amount">1,000.00<', html)
    assert re.search(r'data-testid="amount-due">801.78<', html)
