"""A clerk looks for the early-payment discounts still to be had, in Chromium: ticks "Discount
available" on the invoice list, sees only those invoices, each marked with what paying by its
deadline saves, and exports them: the file says which discounts are available."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, TenantFactory, UserFactory, VendorFactory
from tests.web.browser import chromium_page, log_in
from tests.web.test_invoice_list_browser import _count, _rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def desk(settings: Any) -> Tenant:
    """Nordic's bills at 2/10 net 30: two still in their discount window, one past it, one paid;
    and bills with no discount."""
    settings.MATCH_ON_INGEST = False
    today = timezone.localdate()
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="clerk-discounts"), role=Role.CLERK)
    nordic = VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    for number, days, status in [
        ("NF-101", 3, "approved"),
        ("NF-102", 0, "pending_review"),
        ("NF-090", -2, "approved"),
        ("NF-080", 5, "reconciled"),
    ]:
        InvoiceFactory(
            vendor=nordic,
            invoice_number=number,
            total_amount=500_00,
            discount_pct="2.00",
            discount_amount=10_00,
            discount_due_date=today + dt.timedelta(days=days),
            status=status,
            review_queue="standard" if status == "pending_review" else None,
        )
    for number in range(6):
        InvoiceFactory(vendor=nordic, invoice_number=f"NO-{number}", status="approved")
    return tenant


def test_a_clerk_finds_the_discounts_still_available_and_exports_them(
    live_server: Any, desk: Tenant, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    deadline = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "clerk-discounts")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
        _count(page, "10 invoices")
        page.get_by_label("Discount available", exact=True).check()
        _count(page, "2 invoices")
        assert sorted(_rows(page)) == ["NF-101", "NF-102"]
        marked = page.get_by_test_id("invoice-row").filter(has_text="NF-101").get_by_test_id("discount-due")
        assert marked.inner_text() == f"−10.00 by {deadline}"
        assert page.get_by_test_id("discount-due").count() == 2

        with page.expect_download() as download:
            page.get_by_test_id("export-csv").click()
        target = tmp_path / "discounts.csv"
        download.value.save_as(target)
        with target.open(encoding="utf-8-sig", newline="") as exported:
            rows = list(csv.DictReader(exported))
        assert sorted(row["Invoice number"] for row in rows) == ["NF-101", "NF-102"]
        assert {(row["Early-payment discount"], row["Discount available"]) for row in rows} == {("10.00", "Yes")}

        page.get_by_label("Discount available", exact=True).uncheck()
        _count(page, "10 invoices")
        assert page.get_by_test_id("discount-due").count() == 2  # a past or paid discount is not offered
        assert page.console_errors == []
