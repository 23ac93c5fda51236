"""A clerk opens an invoice flagged as a possible duplicate in Chromium, reads both documents side
by side (numbers, dates, totals, how each arrived) and follows the link to the earlier one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from invoices.models import Invoice, InvoiceSource
from tenants.models import Role
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.matching.runs import reload, run_matching
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@pytest.fixture
def pair(live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any) -> tuple[Invoice, Invoice]:
    """INV-7790 by CSV, then INV-7709 typed in by hand 12 days later at the same total."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="cleo-clerk"), role=Role.CLERK)
    vendor = VendorFactory(tenant=tenant, name="Steelworks GmbH")
    original = InvoiceFactory(
        vendor=vendor, invoice_number="INV-7790", total_amount=124000, po_number="", source=InvoiceSource.CSV
    )
    run_matching(tenant)
    retyped = InvoiceFactory(
        vendor=vendor,
        invoice_number="INV-7709",
        total_amount=124000,
        po_number="",
        source=InvoiceSource.MANUAL,
        invoice_date=original.invoice_date.replace(day=22),
    )
    run_matching(tenant)
    return reload(original), reload(retyped)


def test_a_clerk_compares_a_possible_duplicate_with_the_earlier_invoice(
    live_server: Any, pair: tuple[Invoice, Invoice]
) -> None:
    original, retyped = pair
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "cleo-clerk")
        page.goto(f"/app/invoices/{retyped.pk}")
        evidence = page.get_by_test_id("duplicate-evidence")
        assert "Possible duplicate: the two documents side by side" in evidence.inner_text()
        assert "differ by one character; same total 1240.00 EUR, dated 12 days apart" in evidence.inner_text()
        cells = lambda row: evidence.get_by_test_id(row).locator("td").all_inner_texts()  # noqa: E731
        assert cells("evidence-number")[0] == "INV-7709" and cells("evidence-number")[1].startswith("INV-7790")
        assert cells("evidence-date") == ["2026-10-22", "2026-10-10 differs"]
        assert cells("evidence-total") == ["1,240.00 EUR", "1,240.00 EUR"]
        assert cells("evidence-source") == ["Entered by hand", "CSV import"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        evidence.screenshot(path=str(SCREENSHOTS / "duplicate-evidence.png"))

        evidence.get_by_test_id("evidence-link").click()
        page.wait_for_url(re.compile(rf"/app/invoices/{original.pk}$"))
        assert page.get_by_role("heading", level=1).inner_text().startswith("INV-7790")
        assert page.console_errors == []
