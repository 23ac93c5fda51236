"""A clerk in Chromium works the payments (#18 item 5): a partially matched payment is found in its
list and completed on the workbench with the keyboard; an ignored payment is brought back; a
suggestion whose invoice was paid meanwhile is gone from the suggestions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus
from payments.models import Payment, PaymentAllocation, PaymentStatus, PaymentSuggestion
from payments.reconciliation.services import allocation_split
from tenants.models import Role, Tenant
from tests.factories import (
    InvoiceFactory,
    MembershipFactory,
    PaymentFactory,
    PaymentSuggestionFactory,
    TenantFactory,
    UserFactory,
    VendorFactory,
)
from tests.web.browser import chromium_page, log_in
from tests.web.test_browser import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

CLERK = "clerk-payments"
ACTOR = Actor(kind="user", id="setup", label="setup")
# The refused reversal without a reason never leaves the page (the textarea is required).


@dataclass(frozen=True)
class Books:
    tenant: Tenant
    big: Invoice  # UITEST-C-004, 3,000.00
    small: Invoice  # NS-0002, 103.30
    partial: Payment  # 3,000.00, 103.30 of it allocated to NS-0002
    ignored: Payment
    stale: Payment  # suggested: NS-0005 in full, but NS-0005 was paid from another payment
    fresh: Payment  # suggested: NS-0006 in full, still open


@pytest.fixture
def books(settings: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Books:
    # Written before Playwright starts (tests/web/browser.py); its event loop runs in this thread.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.MATCH_ON_INGEST = False
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tenant: Tenant = TenantFactory(name="Acme Manufacturing")
    MembershipFactory(tenant=tenant, user=UserFactory(username=CLERK), role=Role.CLERK)
    vendor = VendorFactory(tenant=tenant, name="Nordic Steel AB")

    def invoice(number: str, total: int) -> Invoice:
        return InvoiceFactory(
            tenant=tenant, vendor=vendor, invoice_number=number, total_amount=total, status=InvoiceStatus.APPROVED
        )

    big, small = invoice("UITEST-C-004", 3_000_00), invoice("NS-0002", 103_30)
    invoice("NS-0003", 750_00)
    paid_elsewhere, still_open = invoice("NS-0005", 420_00), invoice("NS-0006", 380_00)
    partial = PaymentFactory(
        tenant=tenant, amount=3_000_00, counterparty_name="Nordic Steel AB", remittance_text="October"
    )
    allocation_split(tenant=tenant, payment=partial, parts=[(small, 103_30)], actor=ACTOR)
    ignored = PaymentFactory(
        tenant=tenant, amount=55_00, status=PaymentStatus.IGNORED, counterparty_name="Ignored Transfer"
    )

    def suggested(target: Invoice, name: str) -> Payment:
        payment = PaymentFactory(
            tenant=tenant, amount=target.total_amount, status=PaymentStatus.SUGGESTED, counterparty_name=name
        )
        PaymentSuggestionFactory(
            payment=payment,
            tier=2,
            confidence=Decimal("0.800"),
            reason=f"Nordic Steel AB; the amount equals the open balance of {target.invoice_number}.",
            allocations=[{"invoice_id": str(target.pk), "amount": target.total_amount, "kind": "payment"}],
            candidate_invoice_ids=[str(target.pk)],
            vendor=vendor,
        )
        return payment

    stale, fresh = suggested(paid_elsewhere, "Stale Suggestion Ltd"), suggested(still_open, "Fresh Suggestion Ltd")
    other = PaymentFactory(tenant=tenant, amount=420_00)
    allocation_split(tenant=tenant, payment=other, parts=[(paid_elsewhere, 420_00)], actor=ACTOR)
    return Books(tenant, big, small, partial, ignored, stale, fresh)


def _reload(payment: Payment) -> Payment:
    return Payment.objects.for_tenant(payment.tenant_id).get(pk=payment.pk)


def test_a_partial_payment_is_found_in_its_list_and_completed_on_the_workbench(live_server: Any, books: Books) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, CLERK)
        # The sidebar's link (templates/base.html) opens the lists per status.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments", exact=True).click()
        page.get_by_role("navigation", name="Payments by status").get_by_role(
            "link", name=re.compile("Partially matched")
        ).click()
        row = page.get_by_test_id("payment-row").filter(has_text="Nordic Steel AB")
        assert row.get_by_test_id("payment-left").inner_text() == "2,896.70"
        row.get_by_role("link", name=re.compile("Open")).click()
        page.get_by_role("heading", name="Open items").wait_for()
        assert page.get_by_test_id("payment-remaining").inner_text() == "2,896.70"
        # Narrowed as typed (case and dashes ignored), then ticked and sent with the keyboard alone.
        page.get_by_label("Invoice number").press_sequentially("uitest c 4", delay=20)
        page.get_by_test_id("open-item").filter(has_text="NS-0003").wait_for(state="hidden")
        pick = page.get_by_label("Select invoice UITEST-C-004")
        pick.focus()
        page.keyboard.press("Space")
        amount = page.get_by_label("Amount for UITEST-C-004")
        page.wait_for_function("field => field.value === '2896.70'", arg=amount.element_handle())
        assert "Left to allocate: 0.00 EUR" in page.get_by_test_id("workbench-sum").inner_text()
        assert "103.30 stays open" in page.get_by_test_id("open-item").filter(has_text="UITEST-C-004").inner_text()
        page.screenshot(path=str(SCREENSHOTS / "payment-workbench.png"), full_page=True)
        amount.focus()
        page.keyboard.press("Enter")
        page.get_by_text("Payment allocated to 1 invoice(s).").wait_for()
        assert page.get_by_test_id("payment-status").inner_text() == "Matched"
        assert page.get_by_test_id("payment-remaining").inner_text() == "0.00"
        assert page.console_errors == []
    assert _reload(books.partial).status == PaymentStatus.MATCHED
    rows = dict(
        PaymentAllocation.objects.for_tenant(books.tenant)
        .filter(payment=books.partial)
        .values_list("invoice__invoice_number", "amount")
    )
    assert rows == {"NS-0002": 103_30, "UITEST-C-004": 2_896_70}
    big = Invoice.objects.for_tenant(books.tenant).get(pk=books.big.pk)
    assert big.status == InvoiceStatus.PARTIALLY_PAID


def test_an_ignored_payment_is_brought_back(live_server: Any, books: Books) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, CLERK)
        page.goto("/app/payments")
        page.get_by_role("navigation", name="Payments by status").get_by_role(
            "link", name=re.compile("Ignored")
        ).click()
        page.get_by_test_id("payment-row").filter(has_text="Ignored Transfer").get_by_role(
            "link", name=re.compile("Open")
        ).click()
        page.get_by_label("Why").fill("It is the deposit for PO-4410")
        page.get_by_role("button", name="Bring back (un-ignore)").click()
        page.get_by_text("Payment brought back: it is unmatched again.").wait_for()
        assert page.get_by_test_id("payment-status").inner_text() == "Unmatched"
        page.get_by_role("heading", name="Open items").wait_for()
        assert page.console_errors == []
    assert _reload(books.ignored).status == PaymentStatus.UNMATCHED


def test_a_stale_suggestion_is_gone_from_the_suggestions(live_server: Any, books: Books) -> None:
    with chromium_page(base_url=live_server.url) as page:
        log_in(page, CLERK)
        page.goto("/app/payments/suggestions")
        page.get_by_test_id("suggestion-row").filter(has_text="Fresh Suggestion Ltd").wait_for()
        assert page.get_by_test_id("suggestion-row").filter(has_text="Stale Suggestion Ltd").count() == 0
        assert page.get_by_test_id("suggestions-count").inner_text().startswith("1 ")
        page.goto("/app/payments?status=unmatched")
        page.get_by_test_id("payment-row").filter(has_text="Stale Suggestion Ltd").wait_for()
        assert page.console_errors == []
    assert _reload(books.stale).status == PaymentStatus.UNMATCHED
    assert not PaymentSuggestion.objects.for_tenant(books.tenant).filter(payment=books.stale).exists()
    assert _reload(books.fresh).status == PaymentStatus.SUGGESTED
