"""The review queues: contents, filters, sorting, paging, htmx partials, tenant isolation."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice
from review.decisions import invoice_review
from tests.factories import HOSES, TEST_ACTOR, InvoiceFactory, VendorFactory
from tests.matching.runs import run_matching
from tests.web.conftest import Scenario
from tests.web.test_decisions import clean_in_review

pytestmark = pytest.mark.django_db

STANDARD = reverse("web:queue", kwargs={"queue": "standard"})
ESCALATED = reverse("web:queue", kwargs={"queue": "escalated"})


def _numbers(html: str) -> list[str]:
    return re.findall(r'data-testid="queue-row" data-invoice="([^"]+)"', html)


def _count(html: str) -> int:
    return int(re.search(r'data-testid="queue-count"><strong>(\d+)</strong>', html).group(1))


@pytest.fixture
def second_vendor_invoice(scenario: Scenario) -> Invoice:
    """A 3,000.00 invoice of another vendor with no PO: missing_po (high), so escalated."""
    vendor = VendorFactory(tenant=scenario.tenant, name="Brightline Office Supplies", tax_id="US123456789")
    invoice = InvoiceFactory(vendor=vendor, invoice_number="BL-9", lines=[HOSES.times("150").at("20.00")])
    run_matching(scenario.tenant)
    return invoice


def test_each_queue_lists_only_its_invoices(clerk: Client, scenario: Scenario, foreign_scenario: Scenario) -> None:
    standard = clerk.get(STANDARD).content.decode()
    assert _numbers(standard) == ["INV-100"] and _count(standard) == 1
    escalated = clerk.get(ESCALATED).content.decode()
    # The foreign tenant's identical invoices (X-INV-...) never show.
    assert _numbers(escalated) == ["INV-200-B"]
    assert "X-INV" not in standard + escalated


def test_an_unknown_queue_is_a_404(clerk: Client) -> None:
    assert clerk.get(reverse("web:queue", kwargs={"queue": "vip"})).status_code == 404


def test_filter_by_vendor_amount_type_and_age(
    approver: Client, scenario: Scenario, second_vendor_invoice: Invoice
) -> None:
    assert _numbers(approver.get(ESCALATED).content.decode()) == ["INV-200-B", "BL-9"]
    by_vendor = approver.get(ESCALATED, {"vendor": str(second_vendor_invoice.vendor_id)}).content.decode()
    assert _numbers(by_vendor) == ["BL-9"]
    # INV-200-B is 1,045.00, BL-9 is 3,000.00.
    assert _numbers(approver.get(ESCALATED, {"amount_min": "2000"}).content.decode()) == ["BL-9"]
    assert _numbers(approver.get(ESCALATED, {"amount_max": "1045.00"}).content.decode()) == ["INV-200-B"]
    assert _numbers(approver.get(ESCALATED, {"type": "missing_po"}).content.decode()) == ["BL-9"]
    assert _numbers(approver.get(ESCALATED, {"type": "possible_duplicate"}).content.decode()) == ["INV-200-B"]
    assert _numbers(approver.get(ESCALATED, {"age": "7"}).content.decode()) == []
    Invoice.objects.for_tenant(scenario.tenant).filter(pk=second_vendor_invoice.pk).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    assert _numbers(approver.get(ESCALATED, {"age": "7"}).content.decode()) == ["BL-9"]


def test_an_invalid_filter_value_is_ignored_not_an_error(clerk: Client, scenario: Scenario) -> None:
    response = clerk.get(STANDARD, {"amount_min": "lots", "vendor": "nobody"})
    assert response.status_code == 200
    assert _numbers(response.content.decode()) == ["INV-100"]


def test_sorting_by_amount_both_ways(approver: Client, scenario: Scenario, second_vendor_invoice: Invoice) -> None:
    assert _numbers(approver.get(ESCALATED, {"sort": "amount"}).content.decode()) == ["INV-200-B", "BL-9"]
    assert _numbers(approver.get(ESCALATED, {"sort": "-amount"}).content.decode()) == ["BL-9", "INV-200-B"]


def test_pages_of_25_with_the_total_count(clerk: Client, scenario: Scenario) -> None:
    vendor = scenario.price_mismatch.vendor
    for number in range(30):
        # No PO number, under the escalation threshold, clean otherwise: missing_po is high, so
        # these would escalate; put them in the standard queue directly to test paging alone.
        InvoiceFactory(
            vendor=vendor,
            invoice_number=f"PG-{number:02}",
            lines=[HOSES.times("1")],
            status="pending_review",
            review_queue="standard",
        )
    first = clerk.get(STANDARD).content.decode()
    assert _count(first) == 31 and len(_numbers(first)) == 25
    assert "Page 1 of 2" in first
    second = clerk.get(STANDARD, {"page": "2"}).content.decode()
    assert len(_numbers(second)) == 6
    assert not set(_numbers(first)) & set(_numbers(second))


def test_htmx_gets_only_the_results(clerk: Client, scenario: Scenario) -> None:
    response = clerk.get(STANDARD, {"sort": "-age"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-results")
    html = response.content.decode()
    assert "<html" not in html and _numbers(html) == ["INV-100"]


def test_clerks_get_no_bulk_selection_on_the_escalated_queue(
    clerk: Client, approver: Client, scenario: Scenario
) -> None:
    # A clean invoice (no discrepancy at all) in each queue: the clerk may select only the standard one.
    clean = clean_in_review(scenario.tenant, "C-1")
    escalated = clean_in_review(scenario.tenant, "C-2")
    invoice_review(
        tenant=scenario.tenant, invoice=escalated, action="escalate", actor=TEST_ACTOR, role=None, comment="Held."
    )
    assert 'name="invoice_ids"' not in clerk.get(ESCALATED).content.decode()
    assert f'name="invoice_ids" value="{clean.pk}"' in clerk.get(STANDARD).content.decode()
    assert f'name="invoice_ids" value="{escalated.pk}"' in approver.get(ESCALATED).content.decode()
    # The duplicate has a high discrepancy: no checkbox even for an approver.
    assert f'value="{scenario.duplicate.pk}"' not in approver.get(ESCALATED).content.decode()
