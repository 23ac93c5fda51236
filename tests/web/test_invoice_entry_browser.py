"""A clerk types an invoice in by hand in Chromium: from the invoice list's "New invoice", picks the
vendor and PO, fills the lines from the PO, sees the total follow what is typed, is told beside the
cell what is wrong, keeps a draft, submits it, and finds it matched; the same form fits a phone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Role
from tests.factories import BOLTS, HOSES, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.web.browser import PHONE, chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
REFUSED_FORM = "Failed to load resource: the server responded with a status of 400 (Bad Request)"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def books(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> dict[str, Any]:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-4711", lines=[BOLTS, HOSES], received=True)
    return {"tenant": tenant, "purchase_order": purchase_order}


def test_a_clerk_types_in_an_invoice_from_its_po_and_submits_it(live_server: Any, books: dict[str, Any]) -> None:
    purchase_order = books["purchase_order"]
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto("/app/invoices")
        page.get_by_role("link", name="New invoice").click()
        page.wait_for_url(re.compile(r"/app/invoices/new$"))
        form = page.get_by_test_id("entry-form")
        form.get_by_label("Vendor", exact=True).fill(purchase_order.vendor.name)
        form.get_by_label("Purchase order").fill("PO-4711")
        form.get_by_role("button", name="Fill lines from this purchase order").click()
        page.get_by_text("2 line(s) of PO-4711 filled in").wait_for()
        assert form.get_by_label("Currency").input_value() == "EUR"
        # 1000 × 0.125 + 50 × 18.40 = 125.00 + 920.00
        assert page.get_by_test_id("subtotal").inner_text().startswith("1,045.00")

        # A typo, seen beside its cell as the clerk types, and refused beside it on saving.
        quantity = form.get_by_label("Quantity, line 2")
        quantity.fill("4,5")
        form.get_by_role("button", name="Save draft").click()
        page.get_by_test_id("error-lines-1-quantity").wait_for()
        quantity = page.get_by_test_id("entry-form").get_by_label("Quantity, line 2")
        quantity.fill("40")
        page.get_by_test_id("amount-2").get_by_text("736.00").wait_for()  # 40 × 18.40, added up live
        assert page.get_by_test_id("subtotal").inner_text().startswith("861.00")
        form = page.get_by_test_id("entry-form")
        form.get_by_label("Number").fill("INV-7790")
        form.get_by_label("Date", exact=True).fill("2026-11-03")
        form.get_by_label("Total on the document").fill("870.00")
        page.get_by_test_id("total-disagrees").wait_for()  # 870.00 typed, 861.00 added up
        form.get_by_label("Total on the document").fill("861.00")
        form.get_by_role("button", name="Save draft").click()
        page.get_by_text("Draft saved.").wait_for()
        draft = Invoice.objects.for_tenant(books["tenant"]).get()
        assert draft.status == InvoiceStatus.DRAFT and draft.total_amount == 86100

        page.get_by_role("button", name="Submit for matching").click()
        page.get_by_text("Invoice INV-7790 is submitted").wait_for()
        page.wait_for_url(re.compile(rf"/app/invoices/{draft.pk}$"))
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Received")
        page.screenshot(path=str(SCREENSHOTS / "invoice-entered.png"), full_page=True)
        # The refused form came back as a 400 (as every form of the app), which Chromium logs.
        assert page.console_errors == [REFUSED_FORM], "\n".join(page.console_errors)
    assert Invoice.objects.for_tenant(books["tenant"]).get().status == InvoiceStatus.RECEIVED


def test_the_entry_form_fits_a_phone(live_server: Any, books: dict[str, Any]) -> None:
    with chromium_page(base_url=live_server.url, viewport=PHONE) as page:
        log_in(page, "cleo-clerk")
        page.goto("/app/invoices/new")
        page.get_by_test_id("entry-form").get_by_label("Purchase order").fill("PO-4711")
        page.get_by_role("button", name="Fill lines from this purchase order").click()
        page.get_by_text("2 line(s) of PO-4711 filled in").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
        page.screenshot(path=str(SCREENSHOTS / "phone-invoice-entry.png"), full_page=True)
        assert page.console_errors == []


def test_adding_a_vendor_with_a_mistyped_vat_number_warns_beside_it(live_server: Any, books: dict[str, Any]) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto("/app/invoices/new")
        form = page.get_by_test_id("entry-form")
        form.get_by_label("Vendor", exact=True).fill("Brand New GmbH")
        form.get_by_label("Add this vendor").check()
        form.get_by_label("Vendor VAT or tax id").fill("DE811907981")
        form.get_by_label("Purchase order").fill("PO-4711")
        form.get_by_role("button", name="Fill lines from this purchase order").click()
        page.get_by_text("2 line(s) of PO-4711 filled in").wait_for()
        warning = page.get_by_test_id("tax-id-warning")
        assert "DE811907981 is not a valid" in warning.inner_text()
        assert warning.is_visible()

        form = page.get_by_test_id("entry-form")
        form.get_by_label("Number").fill("BN-1")
        form.get_by_label("Date", exact=True).fill("2026-11-03")
        form.get_by_role("button", name="Submit for matching").click()
        page.get_by_text("Vendor Brand New GmbH added; its tax id deserves a second look").wait_for()
        assert not page.console_errors, "\n".join(page.console_errors)
    invoice = Invoice.objects.for_tenant(books["tenant"]).get()
    assert invoice.status == InvoiceStatus.RECEIVED and invoice.vendor.tax_id == "DE811907981"
