"""A payment run in Chromium (#19 item 4): a clerk proposes a run on the Payment runs page and sees
the invoice left out with why; the clerk cannot approve it; an approver opens it, approves it, and
downloads the bank file, which validates against the official pain.001.001.09 XSD and pays each
vendor the sum of its invoices."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from invoices.models import Invoice, InvoiceStatus
from payments.runs import files
from tenants.models import Tenant
from tests.factories import TenantFactory, VendorFactory
from tests.payments.run_books import DEBTOR_IBAN, approved_invoice, paying_vendor, people
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    south = paying_vendor(tenant, "Southwind GmbH", 2, clerk=clerk, approver=approver)
    return {
        "tenant": tenant,
        "clerk": clerk.username,
        "approver": approver.username,
        "invoices": [
            approved_invoice(north, "NW-1001", 1_200_00),
            approved_invoice(north, "NW-1002", 80_25),
            approved_invoice(south, "SW-77", 450_00),
        ],
        "unpaid": approved_invoice(VendorFactory(tenant=tenant, name="Nobank Ltd"), "NB-1", 10_00),
        "url": live_server.url,
    }


def test_a_clerk_proposes_an_approver_approves_and_the_file_validates(books: dict[str, Any], tmp_path: Any) -> None:
    with chromium_page(base_url=books["url"]) as page:
        log_in(page, books["clerk"])
        page.get_by_role("link", name="Payment runs").click()
        page.get_by_label("Pay invoices due by").fill("2026-11-30")
        page.get_by_label("Currency").fill("EUR")
        page.get_by_label("Paying account (IBAN)").fill(DEBTOR_IBAN)
        page.get_by_role("button", name="Propose run").click()
        page.wait_for_url(re.compile(r"/app/payment-runs/[0-9a-f-]+$"))
        assert page.get_by_test_id("run-count").inner_text() == "3"
        assert "1,730.25" in page.get_by_test_id("run-total").inner_text()
        left_out = page.locator('[data-testid="excluded-line"][data-invoice="NB-1"]')
        assert "no approved bank account" in left_out.get_by_test_id("excluded-reason").inner_text()
        assert page.get_by_test_id("approve-run").count() == 0  # a clerk does not approve
        run_url = page.url

    with chromium_page(base_url=books["url"]) as page:
        log_in(page, books["approver"])
        page.goto(run_url)
        page.get_by_test_id("approve-run").click()
        page.wait_for_url(run_url)
        assert books["approver"] in page.get_by_test_id("run-approved-by").inner_text()
        with page.expect_download() as download_info:
            page.get_by_test_id("download-file").click()
        path = tmp_path / "run.xml"
        download_info.value.save_as(path)
        assert page.console_errors == []

    content = path.read_bytes()
    assert files.pain001_errors(content, version="pain.001.001.09") == []
    amounts = sorted(files.file_amounts(content).values())
    assert amounts == [Decimal("450.00"), Decimal("1280.25")]
    tenant = books["tenant"]
    statuses = {
        invoice.invoice_number: Invoice.objects.for_tenant(tenant).get(pk=invoice.pk).status
        for invoice in [*books["invoices"], books["unpaid"]]
    }
    assert statuses == {
        "NW-1001": InvoiceStatus.PAYMENT_SCHEDULED,
        "NW-1002": InvoiceStatus.PAYMENT_SCHEDULED,
        "SW-77": InvoiceStatus.PAYMENT_SCHEDULED,
        "NB-1": InvoiceStatus.APPROVED,
    }
