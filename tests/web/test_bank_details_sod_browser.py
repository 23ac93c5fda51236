"""Segregation of duties over bank details, in Chromium (#19 item 1): a clerk proposes a vendor's new
IBAN and an approver approves it on the vendor's page; that approver then opens the vendor's
invoice in review and is told, in place of the Approve button, that they changed the vendor's bank
details and someone else must approve; a second approver approves it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from tenants.models import Role
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from vendors.models import BankAccountStatus, VendorBankAccount

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
IBAN = "NL91 ABNA 0417 1643 00"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    for name, role in (("cleo-clerk", Role.CLERK), ("ada-approver", Role.APPROVER), ("ben-approver", Role.APPROVER)):
        MembershipFactory(tenant=tenant, user=UserFactory(username=name), role=role)
    vendor = VendorFactory(tenant=tenant, name="Northwind Traders")
    invoice = InvoiceFactory(
        tenant=tenant,
        vendor=vendor,
        invoice_number="NW-2041",
        total_amount=48_000,
        status=InvoiceStatus.PENDING_REVIEW,
        review_queue=ReviewQueue.STANDARD,
    )
    return {"tenant": tenant, "vendor": vendor, "invoice": invoice}


def test_who_approved_the_new_bank_account_cannot_approve_the_vendors_invoice(
    live_server: Any, desk: dict[str, Any]
) -> None:
    vendor, invoice = desk["vendor"], desk["invoice"]
    invoice_url = f"/app/invoices/{invoice.pk}"
    with chromium_page(base_url=live_server.url) as page:
        # The clerk enters the vendor's new IBAN from its letter.
        log_in(page, "cleo-clerk")
        page.goto(f"/app/vendors/{vendor.pk}")
        page.get_by_test_id("bank-accounts").get_by_text("Add or change account").click()
        form = page.get_by_test_id("bank-account-propose-form")
        form.get_by_label("IBAN", exact=True).fill(IBAN)
        form.get_by_label("Why it changes").fill("Letter of 3 December; called back on the number we know.")
        form.get_by_role("button", name="Propose account").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#bank-accounts$"))

        # Ada approves the new account (four eyes) ...
        page.context.clear_cookies()
        log_in(page, "ada-approver")
        page.goto(f"/app/vendors/{vendor.pk}")
        page.get_by_test_id("bank-account-decide-form").get_by_role("button", name="Approve").click()
        page.wait_for_url(re.compile(rf"/app/vendors/{vendor.pk}#bank-accounts$"))
        assert "Approved by ada-approver" in page.get_by_test_id("bank-account-active").inner_text()

        # ... and so may not approve the vendor's invoice: the page says why, before any click.
        page.goto(invoice_url)
        refused = page.get_by_test_id("approve-refused").inner_text()
        assert refused.startswith("You changed this vendor's bank details on ")
        assert "approved account ****4300" in refused and "someone else must approve" in refused
        assert page.get_by_role("button", name="Approve").count() == 0
        # Other decisions stay hers to make.
        assert page.get_by_role("button", name="Reject").count() == 1
        page.screenshot(path=str(SCREENSHOTS / "bank-details-sod.png"), full_page=True)

        # Ben, who never touched the vendor's bank details, approves it.
        page.context.clear_cookies()
        log_in(page, "ben-approver")
        page.goto(invoice_url)
        assert page.get_by_test_id("approve-refused").count() == 0
        page.get_by_role("button", name="Approve").click()
        page.wait_for_url(re.compile(r"/app/"))
        page.goto(invoice_url)
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        assert not page.console_errors

    tenant = desk["tenant"]
    assert Invoice.objects.unscoped().get(pk=invoice.pk).status == InvoiceStatus.APPROVED
    account = VendorBankAccount.objects.for_tenant(tenant).get(vendor=vendor)
    assert account.status == BankAccountStatus.ACTIVE and account.decided_by_label == "ada-approver"
    move = AuditEvent.objects.for_tenant(tenant).get(
        entity_type="invoice", entity_id=str(invoice.pk), action="transition"
    )
    assert move.actor_label == "ben-approver"
