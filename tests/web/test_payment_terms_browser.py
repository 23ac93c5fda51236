"""Payment terms and early-payment discounts in Chromium (#19 items 3 and 4): a clerk types a
discount longer than the net days and is told beside the field, then sets the vendor's terms to
2/10 net 30; an invoice of that vendor arriving afterwards shows its discount deadline and amount
on its page; a run proposed with discounts pays it less the discount and says so."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from core.actors import system_actor
from invoices.documents import InvoiceDocument, InvoiceLineDocument
from invoices.models import Invoice, InvoiceStatus
from invoices.services import invoice_create
from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.payments.run_books import DEBTOR_IBAN, paying_vendor, people
from tests.web.browser import chromium_page, log_in
from vendors.models import Vendor
from vendors.terms import DISCOUNT_DAYS_OVER_NET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    clerk, approver = people(tenant)
    vendor = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    return {"tenant": tenant, "clerk": clerk.username, "vendor": vendor, "url": live_server.url}


def _invoice_arrives(tenant: Tenant, vendor: Vendor, today: dt.date) -> Invoice:
    """An invoice of 620.00 EUR stating no terms of its own, through the door every source uses;
    then approved (as review would), so a run may pay it."""
    document = InvoiceDocument(
        invoice_number="NW-2001",
        currency="EUR",
        invoice_date=today,
        total_amount=Decimal("620.00"),
        vendor_id=vendor.pk,
        lines=[InvoiceLineDocument(description="Paper A4", quantity=Decimal(10), unit_price=Decimal("62.00"))],
    )
    invoice = invoice_create(tenant=tenant, document=document, actor=system_actor("erp"))
    Invoice.objects.for_tenant(tenant).filter(pk=invoice.pk).update(status=InvoiceStatus.APPROVED)
    return invoice


def test_a_clerk_sets_terms_the_invoice_shows_its_discount_and_a_run_takes_it(books: dict[str, Any]) -> None:
    vendor: Vendor = books["vendor"]
    today = timezone.localdate()
    with chromium_page(base_url=books["url"]) as page:
        log_in(page, books["clerk"])
        page.goto(f"/app/vendors/{vendor.pk}")
        card = page.get_by_test_id("payment-terms")
        assert card.get_by_test_id("payment-terms-label").inner_text() == "No terms agreed"
        card.get_by_text("Change payment terms").click()
        form = page.get_by_test_id("payment-terms-form")
        form.get_by_label("Net days").fill("10")
        form.get_by_label("Early-payment discount (%)").fill("2")
        form.get_by_label("Discount days").fill("14")
        form.get_by_role("button", name="Save payment terms").click()
        assert page.get_by_test_id("error-discount_days").inner_text() == DISCOUNT_DAYS_OVER_NET.format(net=10)
        form = page.get_by_test_id("payment-terms-form")
        form.get_by_label("Net days").fill("30")
        form.get_by_label("Discount days").fill("10")
        form.get_by_role("button", name="Save payment terms").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#payment-terms$"))
        assert page.get_by_test_id("payment-terms-label").inner_text() == "2% 10 days, net 30"

        invoice = _invoice_arrives(books["tenant"], vendor, today)
        page.goto(f"/app/invoices/{invoice.pk}")
        deadline = today + dt.timedelta(days=10)
        discount = page.get_by_test_id("discount").inner_text()
        assert discount == f"2% (12.40 EUR) if paid by {deadline.day} {deadline:%b %Y}", discount

        page.get_by_role("link", name="Payment runs").click()
        page.get_by_label("Pay invoices due by").fill((today + dt.timedelta(days=30)).isoformat())
        page.get_by_label("Currency").fill("EUR")
        page.get_by_label("Paying account (IBAN)").fill(DEBTOR_IBAN)
        assert page.get_by_label("Take every early-payment discount still available").is_checked()
        page.get_by_role("button", name="Propose run").click()
        page.wait_for_url(re.compile(r"/app/payment-runs/[0-9a-f-]+$"))
        line = page.locator('[data-testid="run-line"][data-invoice="NW-2001"]')
        assert "607.60" in line.inner_text()
        assert "12.40 early-payment discount" in line.get_by_test_id("line-discount").inner_text()
        assert "12.40" in page.get_by_test_id("run-discounts").inner_text()
        assert "607.60" in page.get_by_test_id("run-total").inner_text()
