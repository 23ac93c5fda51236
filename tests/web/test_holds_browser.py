"""A clerk works the invoices on hold in Chromium: the "On hold" list, an invoice's PO receipt
status, and releasing it to review with a reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Role
from tests.factories import BOLTS, InvoiceFactory, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.web.browser import chromium_page, log_in

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def held(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> Invoice:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    purchase_order = PurchaseOrderFactory(tenant=tenant, po_number="PO-77", lines=[BOLTS])
    return InvoiceFactory(tenant=tenant, vendor=purchase_order.vendor, purchase_order=purchase_order,
                          po_number="PO-77", invoice_number="INV-HOLD-1", status=InvoiceStatus.ON_HOLD)  # fmt: skip


def test_a_clerk_releases_an_invoice_from_hold(live_server: Any, held: Invoice) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.get_by_role("link", name="On hold").click()
        page.wait_for_url(re.compile(r"/app/holds$"))
        row = page.get_by_test_id("hold-row")
        assert "INV-HOLD-1" in row.inner_text() and "0 / 1000" in row.inner_text()
        page.screenshot(path=str(SCREENSHOTS / "holds.png"), full_page=True)
        row.get_by_role("link", name="INV-HOLD-1").click()
        assert page.get_by_test_id("hold-po-lines").inner_text().count("M8 hex bolts") == 1
        form = page.get_by_test_id("hold-form")
        form.get_by_label("Release it to review").check()
        form.get_by_role("button", name="Stop waiting").click()
        page.get_by_test_id("error-comment").wait_for()  # a reason is required, shown beside its box
        form = page.get_by_test_id("hold-form")
        form.get_by_label("Why").fill("Delivered on the 3rd; the receipt is booked late.")
        form.get_by_role("button", name="Stop waiting").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{held.pk}$"))
        assert page.get_by_test_id("invoice-status").inner_text().startswith("Pending review")
    assert Invoice.objects.for_tenant(held.tenant_id).get(pk=held.pk).status == InvoiceStatus.PENDING_REVIEW
