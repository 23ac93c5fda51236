"""The payments pages: unmatched queue, suggestions, a payment's detail, and the clerk's actions."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus
from payments.models import (
    Payment,
    PaymentAllocation,
    PaymentDirection,
    PaymentStatus,
    PaymentSuggestion,
)
from payments.reconciliation.loading import open_balances
from payments.reconciliation.writing import EXCEEDS_INVOICE
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, MembershipFactory, PaymentFactory, PaymentSuggestionFactory

pytestmark = pytest.mark.django_db

REASON = "The remittance names invoice PAY-100 and the amount is its open balance."


@dataclass(frozen=True)
class Books:
    tenant: Tenant
    first: Invoice  # PAY-100, 100.00 EUR, approved
    second: Invoice  # PAY-200, 50.00 EUR, approved
    unmatched: Payment  # 150.00 EUR debit, unmatched
    suggested: Payment  # 100.00 EUR debit, suggested: all of it to PAY-100


def _invoice(tenant: Tenant, number: str, total: int) -> Invoice:
    return InvoiceFactory(
        tenant=tenant,
        vendor__name=f"{number} Supplies",
        invoice_number=number,
        total_amount=total,
        status=InvoiceStatus.APPROVED,
    )


def _books(tenant: Tenant, prefix: str = "") -> Books:
    first = _invoice(tenant, f"{prefix}PAY-100", 100_00)
    second = _invoice(tenant, f"{prefix}PAY-200", 50_00)
    unmatched = PaymentFactory(
        tenant=tenant,
        amount=150_00,
        counterparty_name=f"{prefix}Unmatched Counterparty",
        remittance_text=f"{prefix}two invoices at once",
    )
    suggested = PaymentFactory(
        tenant=tenant,
        amount=100_00,
        status=PaymentStatus.SUGGESTED,
        counterparty_name=f"{prefix}Suggested Counterparty",
    )
    PaymentSuggestionFactory(
        payment=suggested,
        tier=3,
        confidence=Decimal("0.850"),
        reason=REASON,
        allocations=[{"invoice_id": str(first.pk), "amount": 100_00, "kind": "payment"}],
        candidate_invoice_ids=[str(first.pk)],
    )
    return Books(tenant, first, second, unmatched, suggested)


@pytest.fixture
def books(tenant: Tenant) -> Books:
    return _books(tenant)


@pytest.fixture
def foreign_books(other_tenant: Tenant) -> Books:
    return _books(other_tenant, prefix="X-")


def _reload(row: Payment | Invoice) -> Payment | Invoice:
    return type(row).objects.for_tenant(row.tenant_id).get(pk=row.pk)


def _balance(invoice: Invoice) -> int:
    return open_balances(tenant=invoice.tenant, invoices=[_reload(invoice)])[invoice.pk]


def _url(name: str, payment: Payment) -> str:
    return reverse(f"web:{name}", kwargs={"payment_id": payment.pk})


def _split(amounts: dict[str, str]) -> dict[str, list[str] | str]:
    """The workbench form: the invoices selected (ids or numbers) and an amount for each."""
    return {"invoice": list(amounts), **{f"amount-{ref}": amount for ref, amount in amounts.items()}}


def _user_id(client: Client) -> str:
    return str(client.session["_auth_user_id"])


def test_the_queue_lists_only_this_tenants_unmatched_debits(clerk: Client, books: Books, foreign_books: Books) -> None:
    credit = PaymentFactory(tenant=books.tenant, direction=PaymentDirection.CREDIT, counterparty_name="Refund Credit")
    matched = PaymentFactory(tenant=books.tenant, status=PaymentStatus.MATCHED, counterparty_name="Matched Already")
    response = clerk.get(reverse("web:payments"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-payment="{books.unmatched.pk}"' in html
    assert "Unmatched Counterparty" in html
    assert "150.00" in html
    assert "2026-10-12" in html
    assert "two invoices at once" in html
    # The counterparty account is masked: only its last four digits show.
    assert "****3000" in html
    assert "DE89370400440532013000" not in html
    for hidden in (books.suggested, credit, matched, foreign_books.unmatched):
        assert f'data-payment="{hidden.pk}"' not in html
    assert "X-Unmatched" not in html


def test_the_queue_is_paginated(clerk: Client, tenant: Tenant) -> None:
    for _ in range(26):
        PaymentFactory(tenant=tenant)
    first = clerk.get(reverse("web:payments")).content.decode()
    assert first.count('data-testid="payment-row"') == 25
    assert "Page 1 of 2" in first
    second = clerk.get(reverse("web:payments") + "?page=2").content.decode()
    assert second.count('data-testid="payment-row"') == 1


def test_the_suggestions_page_shows_the_reason_and_the_proposed_invoice(clerk: Client, books: Books) -> None:
    html = clerk.get(reverse("web:payment-suggestions")).content.decode()
    assert REASON in html
    assert "PAY-100" in html
    assert "85" in html  # confidence
    assert _url("payment-accept", books.suggested) in html
    assert _url("payment-ignore", books.suggested) in html
    assert f'data-payment="{books.unmatched.pk}"' not in html


def test_accept_allocates_and_moves_the_invoice_with_the_user_in_the_audit(clerk: Client, books: Books) -> None:
    response = clerk.post(_url("payment-accept", books.suggested), {"return_to": "suggestions"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:payment-suggestions")
    assert _reload(books.suggested).status == PaymentStatus.MATCHED
    assert _reload(books.first).status == InvoiceStatus.RECONCILED
    assert _balance(books.first) == 0
    [allocation] = PaymentAllocation.objects.for_tenant(books.tenant).filter(payment=books.suggested)
    assert (allocation.invoice_id, allocation.amount, allocation.made_by_id) == (
        books.first.pk,
        100_00,
        _user_id(clerk),
    )
    event = (
        AuditEvent.objects.for_tenant(books.tenant)
        .filter(entity_type="invoice", entity_id=str(books.first.pk))
        .latest("xid", "append_seq")
    )
    assert (event.actor_kind, event.actor_id) == ("user", _user_id(clerk))
    assert event.after["status"] == InvoiceStatus.RECONCILED
    page = clerk.get(response["Location"]).content.decode()
    assert "Suggestion accepted" in page
    assert REASON not in page


def test_ignore_sets_the_payment_aside(clerk: Client, books: Books) -> None:
    response = clerk.post(_url("payment-ignore", books.suggested), {"return_to": "suggestions"})
    assert response.status_code == 302
    assert _reload(books.suggested).status == PaymentStatus.IGNORED
    assert not PaymentSuggestion.objects.for_tenant(books.tenant).filter(payment=books.suggested).exists()
    event = AuditEvent.objects.for_tenant(books.tenant).get(entity_id=str(books.suggested.pk), action="ignored")
    assert event.actor_id == _user_id(clerk)
    # An ignored payment cannot be ignored again: a message, nothing written.
    again = clerk.post(_url("payment-ignore", books.suggested), follow=True)
    assert "only an unmatched or suggested payment can be ignored" in again.content.decode()


def test_split_over_two_invoices(clerk: Client, books: Books) -> None:
    response = clerk.post(
        _url("payment-split", books.unmatched),
        _split({"PAY-100": "100.00", str(books.second.pk): "50"}),
    )
    assert response.status_code == 302, response.content.decode()
    rows = sorted(
        PaymentAllocation.objects.for_tenant(books.tenant)
        .filter(payment=books.unmatched)
        .values_list("invoice__invoice_number", "amount")
    )
    assert rows == [("PAY-100", 100_00), ("PAY-200", 50_00)]
    assert _reload(books.unmatched).status == PaymentStatus.MATCHED
    assert _reload(books.first).status == InvoiceStatus.RECONCILED
    assert _reload(books.second).status == InvoiceStatus.RECONCILED
    page = clerk.get(response["Location"]).content.decode()
    assert "Payment allocated to 2 invoice(s)." in page
    assert page.count('data-testid="allocation-row"') == 2


def test_an_over_allocating_split_shows_the_error_and_writes_nothing(clerk: Client, books: Books) -> None:
    events_before = AuditEvent.objects.for_tenant(books.tenant).count()
    response = clerk.post(
        _url("payment-split", books.unmatched),
        _split({"PAY-100": "100.00", "PAY-200": "50.01"}),
    )
    assert response.status_code == 409  # the service's answer: the invoice has not that much open
    html = response.content.decode()
    assert EXCEEDS_INVOICE.split("{amount}")[1].split("{number}")[0] in html
    assert "invoice PAY-200" in html
    assert "Nothing was written." in html
    assert 'value="50.01"' in html  # the clerk's rows are kept for correcting
    assert not PaymentAllocation.objects.for_tenant(books.tenant).exists()
    assert _reload(books.unmatched).status == PaymentStatus.UNMATCHED
    assert _reload(books.first).status == InvoiceStatus.APPROVED
    assert AuditEvent.objects.for_tenant(books.tenant).count() == events_before


def test_excess_precision_is_refused_not_rounded(clerk: Client, books: Books) -> None:
    response = clerk.post(_url("payment-split", books.unmatched), _split({"PAY-100": "99.999"}))
    assert response.status_code == 400
    html = response.content.decode()
    assert "99.999 has more decimals than EUR allows (2)." in html
    assert "Nothing was written." in html
    assert not PaymentAllocation.objects.for_tenant(books.tenant).exists()


def test_reversal_restores_the_balance(clerk: Client, books: Books) -> None:
    clerk.post(_url("payment-split", books.unmatched), _split({"PAY-100": "60.00"}))
    assert _balance(books.first) == 40_00
    assert _reload(books.first).status == InvoiceStatus.PARTIALLY_PAID
    [allocation] = PaymentAllocation.objects.for_tenant(books.tenant).filter(payment=books.unmatched)
    url = reverse(
        "web:payment-allocation-reverse", kwargs={"payment_id": books.unmatched.pk, "allocation_id": allocation.pk}
    )
    assert url in clerk.get(_url("payment-detail", books.unmatched)).content.decode()
    refused = clerk.post(url)
    assert refused.status_code == 400  # a reversal needs its reason
    assert "Say why the allocation is reversed" in refused.content.decode()
    assert _balance(books.first) == 40_00
    response = clerk.post(url, {"reason": "Booked against the wrong invoice"})
    assert response.status_code == 302
    assert _balance(books.first) == 100_00
    assert _reload(books.first).status == InvoiceStatus.APPROVED
    assert _reload(books.unmatched).status == PaymentStatus.UNMATCHED
    page = clerk.get(response["Location"]).content.decode()
    assert "Allocation reversed" in page
    assert url not in page  # a reversed allocation has no button any more
    assert "Reason: Booked against the wrong invoice" in page
    again = clerk.post(url, {"reason": "twice"}, follow=True)
    assert "already reversed" in again.content.decode()


def test_the_detail_shows_the_suggestion(clerk: Client, books: Books) -> None:
    html = clerk.get(_url("payment-detail", books.suggested)).content.decode()
    assert REASON in html
    assert "PAY-100" in html
    assert _url("payment-accept", books.suggested) in html
    assert _url("payment-split", books.suggested) in html


def test_another_tenants_payment_is_a_404(clerk: Client, books: Books, foreign_books: Books) -> None:
    foreign = foreign_books.suggested
    assert clerk.get(_url("payment-detail", foreign)).status_code == 404
    for name in ("payment-accept", "payment-ignore", "payment-split"):
        assert clerk.post(_url(name, foreign), _split({"X-PAY-100": "1"})).status_code == 404
    assert _reload(foreign).status == PaymentStatus.SUGGESTED
    assert not PaymentAllocation.objects.for_tenant(foreign_books.tenant).exists()
    # Nor can a clerk allocate their own payment to another tenant's invoice.
    response = clerk.post(_url("payment-split", books.unmatched), _split({"X-PAY-100": "1.00"}))
    assert response.status_code == 400
    assert "No open invoice X-PAY-100 in EUR." in response.content.decode()


def test_another_tenants_allocation_is_a_404(clerk: Client, books: Books, foreign_clerk: Client) -> None:
    clerk.post(_url("payment-split", books.unmatched), _split({"PAY-100": "10.00"}))
    [allocation] = PaymentAllocation.objects.for_tenant(books.tenant)
    url = reverse(
        "web:payment-allocation-reverse", kwargs={"payment_id": books.unmatched.pk, "allocation_id": allocation.pk}
    )
    assert foreign_clerk.post(url).status_code == 404
    assert not PaymentAllocation.objects.for_tenant(books.tenant).filter(reversal_of=allocation).exists()


def test_actions_only_post(clerk: Client, books: Books) -> None:
    # Opened by GET, a form's address is the 405 page or (#18 item 7) a redirect to the payment.
    response = clerk.get(_url("payment-accept", books.suggested))
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert response["Location"] == _url("payment-detail", books.suggested)
    assert _reload(books.suggested).status == PaymentStatus.SUGGESTED


def test_actions_need_the_csrf_token(tenant: Tenant, books: Books) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(MembershipFactory(tenant=tenant, role=Role.CLERK).user)
    assert client.post(_url("payment-accept", books.suggested)).status_code == 403
    assert _reload(books.suggested).status == PaymentStatus.SUGGESTED


@pytest.mark.parametrize("name", ["payments", "payment-suggestions"])
def test_anonymous_is_sent_to_log_in(name: str) -> None:
    response = Client().get(reverse(f"web:{name}"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))


def test_anonymous_cannot_act(books: Books) -> None:
    response = Client().post(_url("payment-accept", books.suggested))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("web:login"))
    assert _reload(books.suggested).status == PaymentStatus.SUGGESTED


def test_the_pages_carry_the_csp_header_and_the_sidebar_links(clerk: Client, books: Books) -> None:
    for url in (reverse("web:payments"), reverse("web:payment-suggestions"), _url("payment-detail", books.suggested)):
        response = clerk.get(url)
        assert response.status_code == 200
        assert "script-src 'self'" in response["Content-Security-Policy"]
        html = response.content.decode()
        assert "<script>" not in html
        assert "style=" not in html
        assert f'href="{reverse("web:payments")}"' in html
        assert f'href="{reverse("web:payment-suggestions")}"' in html
