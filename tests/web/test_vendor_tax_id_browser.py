"""An approver teaches Recon a vendor's other tax id in Chromium (issue #20 item 2): on an invoice
whose name and tax id Recon does not know, "Who sent it?" sets the vendor, and the page says the
tax id will be recognised; a second invoice carrying that tax id under yet another name resolves
itself, and its reason names the learned tax id and who taught it; on "What Recon learned" the
tax id is listed (with the note that a payee account is never learned) and forgotten.
"""

from __future__ import annotations

from typing import Any

import pytest

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.matching.runs import acme_vendor, reload, run_matching
from tests.web.browser import chromium_page, log_in
from tests.web.test_rematch_browser import _in_own_thread
from vendors.models import VendorAlias

pytestmark = pytest.mark.django_db(transaction=True)

GLOVES = Line("GL-M", "Nitrile gloves size M, box of 100", "400", "12.50")
TAX_ID = "DE 812 526 315"


def _unknown(tenant: Tenant, number: str, name: str, quantity: str) -> Invoice:
    return InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw=name, vendor_tax_id_raw=TAX_ID,
                          invoice_number=number, po_number="PO-100", lines=[GLOVES.times(quantity)])  # fmt: skip


@pytest.fixture
def desk(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[Tenant, Invoice]:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="anna-approver"), role=Role.APPROVER)
    PurchaseOrderFactory(vendor=acme_vendor(tenant), po_number="PO-100", lines=[GLOVES], received=True)
    first = _unknown(tenant, "INV-1", "Acme Handelsgesellschaft", "10")
    run_matching(tenant)
    assert reload(first).status == InvoiceStatus.PENDING_REVIEW
    return tenant, first


def test_a_tax_id_learned_from_a_vendor_choice_resolves_the_next_invoice_and_is_forgotten(
    live_server: Any, desk: Any
) -> None:
    tenant, first = desk
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "anna-approver")
        page.goto(f"/app/invoices/{first.pk}")
        card = page.get_by_test_id("manual-choice")
        assert f"or the tax id {TAX_ID}" in card.inner_text()
        card.get_by_label("Vendor").select_option(label="Acme Supplies Ltd")
        card.get_by_role("button", name="Set vendor").click()
        message = page.get_by_role("status").inner_text()
        assert f"Recon will recognise the tax id {TAX_ID} as Acme Supplies Ltd's from now on." in message

        _in_own_thread(lambda: run_matching(tenant))
        second = _in_own_thread(lambda: _unknown(tenant, "INV-2", "Acme Group Services", "20"))
        _in_own_thread(lambda: run_matching(tenant))
        page.goto(f"/app/invoices/{second.pk}")
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Approved")
        assert page.get_by_test_id("manual-choice").count() == 0
        reason = page.locator("section[aria-labelledby=confidence-title]").inner_text()
        assert (
            f"Vendor Acme Supplies Ltd recognised by the tax id '{TAX_ID}', learned from a choice by anna-approver"
            in reason
        )

        page.goto("/app/learned")
        section = page.get_by_test_id("vendor-aliases")
        assert "never learned" in section.get_by_test_id("no-payee-accounts").inner_text()
        row = section.get_by_test_id("vendor-alias").filter(has_text=TAX_ID)
        assert "Tax id" in row.inner_text() and "vendor chosen by anna-approver" in row.inner_text()
        row.get_by_role("button", name="Forget").click()
        page.get_by_text(f"Forgotten: {TAX_ID} as a tax id of Acme Supplies Ltd.").wait_for()
        assert page.get_by_test_id("vendor-alias").filter(has_text=TAX_ID).count() == 0
        assert page.get_by_test_id("vendor-alias").filter(has_text="Acme Handelsgesellschaft").count() == 1
        assert page.console_errors == []
    assert not VendorAlias.objects.for_tenant(tenant).filter(kind="tax_id").exists()
