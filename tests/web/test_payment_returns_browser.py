"""A returned transfer in Chromium (#19 item 5): a run is approved; the clerk imports, through the
Import page, the bank statement on which the run's payment to one vendor comes back (CAMT.053
`RtrInf` AC04); once the reconciliation has run, the invoice shows "Payment returned by the bank"
with the bank's reason and is approved (open) again, while the other vendor's invoice stays in
the run."""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Invoice, InvoiceStatus
from payments.models import PaymentRunItem
from payments.reconciliation.services import reconciliation_run_for_tenant
from payments.runs.services import payment_run_approve
from tenants.models import Tenant
from tests.factories import TEST_ACTOR, TenantFactory
from tests.payments.run_books import (
    actor_of,
    approved_invoice,
    paying_vendor,
    people,
    run_proposed,
)
from tests.payments.test_payment_returns import matched, return_statement
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    clerk, approver = people(tenant)
    north = paying_vendor(tenant, "Northwind Traders", 1, clerk=clerk, approver=approver)
    south = paying_vendor(tenant, "Southwind GmbH", 2, clerk=clerk, approver=approver)
    returned = matched(approved_invoice(north, "NW-1001", 1_200_00))
    kept = matched(approved_invoice(south, "SW-77", 450_00))
    run = run_proposed(tenant, clerk)
    run = payment_run_approve(tenant=tenant, run=run, actor=actor_of(approver))
    end_to_end_id = PaymentRunItem.objects.for_tenant(tenant).get(run=run, invoice=returned).end_to_end_id
    return {
        "tenant": tenant,
        "clerk": clerk.username,
        "returned": returned,
        "kept": kept,
        "statement": return_statement(end_to_end_id=end_to_end_id, amount=1_200_00),
        "url": live_server.url,
    }


def test_a_returned_transfer_reopens_its_invoice_with_the_bank_s_reason(books: dict[str, Any], tmp_path: Any) -> None:
    tenant = books["tenant"]
    statement = tmp_path / "statement-return.xml"
    statement.write_bytes(books["statement"])
    with chromium_page(base_url=books["url"]) as page:
        log_in(page, books["clerk"])
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Import").click()
        page.set_input_files("#import-files", str(statement))
        page.get_by_role("button", name="Check files").click()
        card = page.get_by_test_id("import-job").filter(has=page.get_by_role("heading", name=statement.name))
        card.get_by_test_id("job-status").filter(has_text="Ready to import").wait_for()
        card.get_by_role("button", name=f"Import {statement.name}").click()
        card.get_by_test_id("job-status").filter(has_text="Imported").wait_for()
        # The worker's part: the import queues a reconciliation run, played here.
        reconciliation_run_for_tenant(tenant=tenant, actor=TEST_ACTOR)

        page.goto(f"/app/invoices/{books['returned'].pk}")
        assert page.get_by_test_id("invoice-status").inner_text() == "Approved"
        finding = page.get_by_test_id("discrepancy").filter(has_text="Payment returned by the bank")
        assert "account closed (AC04)" in finding.inner_text()
        assert "Check the vendor's bank details before paying again." in finding.inner_text()

        page.goto(f"/app/invoices/{books['kept'].pk}")
        assert page.get_by_test_id("invoice-status").inner_text() != "Approved"
        assert page.console_errors == []

    statuses = [Invoice.objects.for_tenant(tenant).get(pk=books[key].pk).status for key in ("returned", "kept")]
    assert statuses == [InvoiceStatus.APPROVED, InvoiceStatus.PAYMENT_SCHEDULED]
