"""An administrator in Chromium sees Recon's tolerance suggestion for a vendor whose 2.8 % price
difference approvers accepted five times, with those five approvals as its evidence, and accepts
it; the next invoice with that difference is approved, its page naming the accepted rule."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.actors import Actor
from review.decisions import invoice_review
from tenants.models import Role
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory, TenantFactory, UserFactory
from tests.matching.runs import acme_vendor, reload, run_matching
from tests.web.browser import chromium_page, log_in

pytestmark = pytest.mark.django_db(transaction=True)

BOLT_PO = Line("HB-M8", "Hex bolt M8", "10000", "10.00")


def surcharged(vendor: Any, quantity: int) -> Any:
    # 2.8 % above the PO price (tolerance 2 %); each its own quantity, so none looks like a duplicate.
    return InvoiceFactory(
        vendor=vendor, po_number="PO-200", lines=[Line("HB-M8", "Hex bolt M8", str(quantity), "10.28")]
    )


def test_an_admin_accepts_a_tolerance_suggestion_and_the_next_such_invoice_is_approved(
    live_server: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username="ada-admin"), role=Role.ADMIN)
    approver = MembershipFactory(tenant=tenant, user=UserFactory(username="bea-approver"), role=Role.APPROVER).user
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-200", lines=[BOLT_PO], received=True)
    approved = [surcharged(acme, quantity) for quantity in (11, 12, 13, 14, 15)]
    run_matching(tenant)
    bea = Actor(kind="user", id=str(approver.pk), label="bea-approver")
    for invoice in approved:
        invoice_review(tenant=tenant, invoice=reload(invoice), action="approve", actor=bea, role=Role.APPROVER)

    with chromium_page(base_url=live_server.url) as page:
        log_in(page, "ada-admin")
        page.get_by_role("link", name="What Recon learned").click()
        page.wait_for_url(re.compile(r"/app/learned$"))
        suggestion = page.get_by_test_id("suggestion")
        suggestion.get_by_text("Acme Supplies Ltd: price tolerance 2.8 %").wait_for()
        suggestion.get_by_text("Approvers accepted price differences of 2.8–2.8 % on 5 invoices").wait_for()
        evidence = suggestion.get_by_test_id("suggestion-evidence")
        for invoice in approved:
            evidence.get_by_role("link", name=invoice.invoice_number).wait_for()
        assert evidence.get_by_text("bea-approver").count() == 5

        suggestion.get_by_role("button", name="Accept 2.8 % for Acme Supplies Ltd").click()
        page.get_by_text("Accepted: Acme Supplies Ltd's price tolerance is now 2.8 %.").wait_for()
        page.get_by_test_id("decided-suggestion").get_by_text("Accepted").wait_for()
        acme.refresh_from_db()
        assert str(acme.price_tolerance_pct) == "2.800"

        following = surcharged(acme, 16)
        run_matching(tenant)
        assert reload(following).status == "approved"
        page.goto(f"/app/invoices/{following.pk}")
        page.get_by_text(
            re.compile(r"Vendor tolerance for Acme Supplies Ltd used: price ±2\.8 % \(rule learned from 5 approvals "
                       r"of price differences 2\.8–2\.8 %, accepted by ada-admin on \d{4}-\d\d-\d\d\)\.")
        ).first.wait_for()  # fmt: skip
        assert page.console_errors == []
