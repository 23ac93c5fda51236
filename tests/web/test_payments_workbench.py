"""The payments workbench (#18 item 5): a list per status, the open items beside a payment, defaults
and write-offs, un-ignore, reversal with a reason, stale suggestions, Reconcile now, isolation."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from core.actors import Actor
from invoices.models import Invoice, InvoiceStatus
from payments.models import AllocationKind, Payment, PaymentAllocation, PaymentStatus, PaymentSuggestion
from payments.reconciliation.loading import open_balances
from payments.reconciliation.services import allocation_split
from payments.reconciliation.setting_aside import UNIGNORED_ACTION
from payments.reconciliation.suggestions import REVALIDATION_ACTOR
from tenants.models import Tenant
from tests.factories import InvoiceFactory, PaymentFactory, PaymentSuggestionFactory, VendorFactory
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

CLERK = Actor(kind="user", id="7", label="clerk")


@dataclass(frozen=True)
class Desk:
    tenant: Tenant
    vendor: Vendor
    big: Invoice  # UITEST-C-004, 3,000.00
    small: Invoice  # NS-0002, 103.30
    third: Invoice  # NS-0003, 500.00
    elsewhere: Invoice  # OTHER-1, 200.00, another vendor
    payment: Payment  # 3,000.00 from "Nordic Steel AB", unmatched


def _invoice(tenant: Tenant, vendor: Vendor, number: str, total: int, **extra: object) -> Invoice:
    return InvoiceFactory(
        tenant=tenant, vendor=vendor, invoice_number=number, total_amount=total, status=InvoiceStatus.APPROVED, **extra
    )


def _desk(tenant: Tenant, prefix: str = "") -> Desk:
    vendor = VendorFactory(tenant=tenant, name=f"{prefix}Nordic Steel AB")
    other = VendorFactory(tenant=tenant, name=f"{prefix}Other Supplies")
    return Desk(
        tenant=tenant,
        vendor=vendor,
        big=_invoice(tenant, vendor, f"{prefix}UITEST-C-004", 3_000_00),
        small=_invoice(tenant, vendor, f"{prefix}NS-0002", 103_30),
        third=_invoice(tenant, vendor, f"{prefix}NS-0003", 500_00),
        elsewhere=_invoice(tenant, other, f"{prefix}OTHER-1", 200_00),
        payment=PaymentFactory(
            tenant=tenant, amount=3_000_00, counterparty_name=f"{prefix}Nordic Steel AB", remittance_text="Oct"
        ),
    )


@pytest.fixture
def desk(tenant: Tenant) -> Desk:
    return _desk(tenant)


@pytest.fixture
def foreign_desk(other_tenant: Tenant) -> Desk:
    return _desk(other_tenant, prefix="X-")


def _url(name: str, payment: Payment) -> str:
    return reverse(f"web:{name}", kwargs={"payment_id": payment.pk})


def _reload(row: Payment | Invoice) -> Payment | Invoice:
    return type(row).objects.for_tenant(row.tenant_id).get(pk=row.pk)


def _balance(invoice: Invoice) -> int:
    return open_balances(tenant=invoice.tenant, invoices=[_reload(invoice)])[invoice.pk]


def _pick(*invoices: Invoice, amounts: dict[Invoice, str] | None = None, **extra: object) -> dict[str, object]:
    """The workbench form as the page posts it: ticked invoices (ids) and their amount fields."""
    amounts = amounts or {}
    data: dict[str, object] = {"invoice": [str(invoice.pk) for invoice in invoices]}
    for invoice in invoices:
        data[f"amount-{invoice.pk}"] = amounts.get(invoice, "")
    data.update(extra)
    return data


def _list(client: Client, status: str) -> str:
    response = client.get(reverse("web:payments") + f"?status={status}")
    assert response.status_code == 200
    return response.content.decode()


def test_a_partially_matched_payment_has_its_list_with_what_is_left(clerk: Client, desk: Desk) -> None:
    response = clerk.post(_url("payment-split", desk.payment), _pick(desk.small))
    assert response.status_code == 302, response.content.decode()
    assert _reload(desk.payment).status == PaymentStatus.PARTIALLY_MATCHED
    row = f'data-payment="{desk.payment.pk}"'
    assert row not in _list(clerk, "unmatched")
    html = _list(clerk, "partially_matched")
    assert row in html
    assert "2,896.70" in html  # left
    assert "103.30" in html  # allocated
    assert 'aria-current="page">Partially matched <span class="count">(1)</span>' in html


def test_every_status_has_a_list_under_its_label(clerk: Client, tenant: Tenant) -> None:
    payments = {status: PaymentFactory(tenant=tenant, status=status) for status in PaymentStatus.values}
    labels = dict(PaymentStatus.choices)
    for status, payment in payments.items():
        html = _list(clerk, status)
        assert f'<h2 id="payments-title">{labels[status]}</h2>' in html
        listed = [other for other in payments.values() if f'data-payment="{other.pk}"' in html]
        assert listed == [payment]
    # An unknown status is the unmatched list, not an error.
    assert f'data-payment="{payments["unmatched"].pk}"' in _list(clerk, "nonsense")


def test_the_workbench_shows_the_vendors_open_items_with_balances_and_dates(clerk: Client, desk: Desk) -> None:
    allocation_split(
        tenant=desk.tenant,
        payment=PaymentFactory(tenant=desk.tenant, amount=100_00),
        parts=[(desk.third, 100_00)],
        actor=CLERK,
    )
    html = clerk.get(_url("payment-detail", desk.payment)).content.decode()
    for invoice in (desk.big, desk.small, desk.third):
        assert f'data-invoice="{invoice.pk}"' in html
    assert f'data-invoice="{desk.elsewhere.pk}"' not in html
    assert "Nordic Steel AB" in html
    assert "400.00" in html  # NS-0003, partially paid, with what it keeps open
    assert "Partially paid" in html
    assert "2026-10-10" in html  # the invoice date
    assert 'aria-label="Select invoice' not in html  # labelled by <label for>, not aria-label
    assert f'<label for="pick-{desk.big.pk}" class="visually-hidden">Select invoice UITEST-C-004</label>' in html
    everyone = clerk.get(_url("payment-detail", desk.payment) + "?scope=all").content.decode()
    assert f'data-invoice="{desk.elsewhere.pk}"' in everyone


@pytest.mark.parametrize("typed", ["uitest c 4", "UITEST-C-004", "uitestc0004", "c-004"])
def test_the_open_items_are_searched_by_number_whatever_the_case_and_separators(
    clerk: Client, desk: Desk, typed: str
) -> None:
    html = clerk.get(_url("payment-detail", desk.payment), {"q": typed}).content.decode()
    assert f'data-invoice="{desk.big.pk}"' in html
    assert f'data-invoice="{desk.small.pk}"' not in html


def test_empty_amounts_take_the_open_balance_in_order_until_the_payment_is_used_up(clerk: Client, desk: Desk) -> None:
    response = clerk.post(_url("payment-split", desk.payment), _pick(desk.small, desk.big))
    assert response.status_code == 302, response.content.decode()
    rows = dict(
        PaymentAllocation.objects.for_tenant(desk.tenant)
        .filter(payment=desk.payment)
        .values_list("invoice__invoice_number", "amount")
    )
    assert rows == {"NS-0002": 103_30, "UITEST-C-004": 2_896_70}
    assert _reload(desk.payment).status == PaymentStatus.MATCHED
    assert _reload(desk.small).status == InvoiceStatus.RECONCILED
    assert _reload(desk.big).status == InvoiceStatus.PARTIALLY_PAID
    assert _balance(desk.big) == 103_30


def test_a_partially_matched_payment_is_completed_on_the_workbench(clerk: Client, desk: Desk) -> None:
    clerk.post(_url("payment-split", desk.payment), _pick(desk.small))
    page = clerk.get(_url("payment-detail", desk.payment)).content.decode()
    assert 'data-remaining="2896.70"' in page
    response = clerk.post(_url("payment-split", desk.payment), _pick(desk.big, amounts={desk.big: "2896.70"}))
    assert response.status_code == 302, response.content.decode()
    assert _reload(desk.payment).status == PaymentStatus.MATCHED
    assert desk.payment.pk.hex not in _list(clerk, "partially_matched").replace("-", "")
    assert f'data-payment="{desk.payment.pk}"' in _list(clerk, "matched")


def test_the_rest_is_written_off_within_the_limit(clerk: Client, tenant: Tenant, desk: Desk) -> None:
    short = PaymentFactory(tenant=tenant, amount=2_996_00, counterparty_name="Nordic Steel AB")
    response = clerk.post(_url("payment-split", short), _pick(desk.big, write_off=[str(desk.big.pk)]))
    assert response.status_code == 302, response.content.decode()
    rows = sorted(PaymentAllocation.objects.for_tenant(tenant).filter(payment=short).values_list("kind", "amount"))
    assert rows == [(AllocationKind.PAYMENT, 2_996_00), (AllocationKind.WRITE_OFF, 4_00)]
    assert _reload(desk.big).status == InvoiceStatus.RECONCILED
    assert _reload(short).status == PaymentStatus.MATCHED


def test_a_write_off_beyond_the_limit_is_refused_and_nothing_written(clerk: Client, tenant: Tenant, desk: Desk) -> None:
    short = PaymentFactory(tenant=tenant, amount=2_990_00)
    events = AuditEvent.objects.for_tenant(tenant).count()
    response = clerk.post(_url("payment-split", short), _pick(desk.big, write_off=[str(desk.big.pk)]))
    assert response.status_code == 400
    html = response.content.decode()
    assert "Writing off 10.00 EUR on invoice UITEST-C-004 exceeds the write-off limit (5.00 EUR)" in html
    assert "Nothing was written." in html
    assert not PaymentAllocation.objects.for_tenant(tenant).filter(payment=short).exists()
    assert AuditEvent.objects.for_tenant(tenant).count() == events
    # Left open instead: the invoice keeps 10.00 open.
    assert clerk.post(_url("payment-split", short), _pick(desk.big)).status_code == 302
    assert _balance(desk.big) == 10_00


def test_a_refused_row_is_shown_beside_its_invoice_with_the_selection_kept(clerk: Client, desk: Desk) -> None:
    response = clerk.post(
        _url("payment-split", desk.payment), _pick(desk.small, desk.big, amounts={desk.small: "1.999"})
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="amount-{desk.small.pk}_error">Invoice NS-0002: 1.999 has more decimals than EUR allows (2).' in html
    assert f'aria-describedby="amount-{desk.small.pk}_error"' in html
    assert 'value="1.999"' in html
    assert f'id="pick-{desk.big.pk}" class="pick" checked' in html
    assert not PaymentAllocation.objects.for_tenant(desk.tenant).exists()


def test_nothing_selected_is_a_400_with_the_reason(clerk: Client, desk: Desk) -> None:
    response = clerk.post(_url("payment-split", desk.payment), {"note": "x"})
    assert response.status_code == 400
    assert "Select at least one invoice" in response.content.decode()


def test_unignore_brings_an_ignored_payment_back_with_its_audit_event(clerk: Client, desk: Desk) -> None:
    clerk.post(_url("payment-ignore", desk.payment), {"reason": "Looked like a fee"})
    assert _reload(desk.payment).status == PaymentStatus.IGNORED
    page = clerk.get(_url("payment-detail", desk.payment)).content.decode()
    assert _url("payment-unignore", desk.payment) in page
    assert f'data-payment="{desk.payment.pk}"' in _list(clerk, "ignored")
    response = clerk.post(_url("payment-unignore", desk.payment), {"reason": "It pays NS-0002"})
    assert response.status_code == 302
    assert _reload(desk.payment).status == PaymentStatus.UNMATCHED
    assert _reload(desk.payment).reconcile_considered_at is None
    event = AuditEvent.objects.for_tenant(desk.tenant).get(entity_id=str(desk.payment.pk), action=UNIGNORED_ACTION)
    assert event.before == {"status": "ignored"}
    assert event.after == {"status": "unmatched", "reason": "It pays NS-0002"}
    assert f'data-payment="{desk.payment.pk}"' in _list(clerk, "unmatched")
    again = clerk.post(_url("payment-unignore", desk.payment), follow=True).content.decode()
    assert "This payment is unmatched, not ignored" in again


def test_a_reversal_names_the_invoice_and_keeps_the_reason(clerk: Client, desk: Desk) -> None:
    clerk.post(_url("payment-split", desk.payment), _pick(desk.small))
    [allocation] = PaymentAllocation.objects.for_tenant(desk.tenant).filter(payment=desk.payment)
    url = reverse(
        "web:payment-allocation-reverse", kwargs={"payment_id": desk.payment.pk, "allocation_id": allocation.pk}
    )
    page = clerk.get(_url("payment-detail", desk.payment)).content.decode()
    assert "Why is the allocation to NS-0002 reversed?" in page
    blank = clerk.post(url, {"reason": "   "})
    assert blank.status_code == 400
    assert f'aria-describedby="reverse-reason-{allocation.pk}_error"' in blank.content.decode()
    response = clerk.post(url, {"reason": "Paid twice by the bank"}, follow=True)
    html = response.content.decode()
    assert "Allocation reversed: 103.30 EUR open again on invoice NS-0002." in html
    assert "Reason: Paid twice by the bank" in html
    assert str(allocation.pk) not in html.replace(f'data-allocation="{allocation.pk}"', "")
    event = AuditEvent.objects.for_tenant(desk.tenant).get(entity_id=str(desk.payment.pk), action="allocation_reversed")
    assert event.after["reason"] == "Paid twice by the bank"
    transition = (
        AuditEvent.objects.for_tenant(desk.tenant).filter(entity_id=str(desk.small.pk)).latest("xid", "append_seq")
    )
    # The invoice's own trail says which payment, by its date, not by an allocation's id.
    assert "An allocation from the payment booked 2026-10-12 was reversed: 103.30 EUR open again." in str(
        transition.after
    )


def _stale_suggestion(desk: Desk) -> Payment:
    """A suggestion to pay NS-0003 in full, then NS-0003 paid from another payment."""
    suggested = PaymentFactory(tenant=desk.tenant, amount=500_00, status=PaymentStatus.SUGGESTED)
    PaymentSuggestionFactory(
        payment=suggested,
        tier=2,
        confidence=Decimal("0.800"),
        reason="Nordic Steel AB; the amount equals the open balance of NS-0003.",
        allocations=[{"invoice_id": str(desk.third.pk), "amount": 500_00, "kind": "payment"}],
        candidate_invoice_ids=[str(desk.third.pk)],
        vendor=desk.vendor,
    )
    other = PaymentFactory(tenant=desk.tenant, amount=500_00)
    allocation_split(tenant=desk.tenant, payment=other, parts=[(desk.third, 500_00)], actor=CLERK)
    return suggested


def test_a_stale_suggestion_is_not_listed_and_is_withdrawn(clerk: Client, desk: Desk) -> None:
    suggested = _stale_suggestion(desk)
    html = clerk.get(reverse("web:payment-suggestions")).content.decode()
    assert f'data-payment="{suggested.pk}"' not in html
    assert not PaymentSuggestion.objects.for_tenant(desk.tenant).filter(payment=suggested).exists()
    assert _reload(suggested).status == PaymentStatus.UNMATCHED
    event = AuditEvent.objects.for_tenant(desk.tenant).get(entity_id=str(suggested.pk), action="suggestion_withdrawn")
    assert event.actor_id == REVALIDATION_ACTOR.id
    assert "NS-0003" in event.after["reason"]
    assert f'data-payment="{suggested.pk}"' in _list(clerk, "unmatched")


def test_accepting_a_stale_suggestion_says_why_and_withdraws_it(clerk: Client, desk: Desk) -> None:
    suggested = _stale_suggestion(desk)
    response = clerk.post(_url("payment-accept", suggested), follow=True)
    html = response.content.decode()
    assert "The suggestion is out of date: Invoice NS-0003 is paid now. It was withdrawn" in html
    assert not PaymentAllocation.objects.for_tenant(desk.tenant).filter(payment=suggested).exists()
    assert _reload(suggested).status == PaymentStatus.UNMATCHED
    assert not PaymentSuggestion.objects.for_tenant(desk.tenant).filter(payment=suggested).exists()


def test_a_suggestion_that_still_holds_stays_listed(clerk: Client, desk: Desk) -> None:
    suggested = PaymentFactory(tenant=desk.tenant, amount=500_00, status=PaymentStatus.SUGGESTED)
    PaymentSuggestionFactory(
        payment=suggested,
        allocations=[{"invoice_id": str(desk.third.pk), "amount": 500_00, "kind": "payment"}],
        candidate_invoice_ids=[str(desk.third.pk)],
    )
    html = clerk.get(reverse("web:payment-suggestions")).content.decode()
    assert f'data-payment="{suggested.pk}"' in html
    assert _reload(suggested).status == PaymentStatus.SUGGESTED


def test_reconcile_now_is_for_approvers_and_runs_the_engine(approver: Client, clerk: Client, desk: Desk) -> None:
    named = PaymentFactory(tenant=desk.tenant, amount=103_30, remittance_text="Invoice NS-0002")
    assert "Reconcile now" not in _list(clerk, "unmatched")
    assert clerk.post(reverse("web:payment-reconcile")).status_code == 403
    assert _reload(named).status == PaymentStatus.UNMATCHED
    assert "Reconcile now" in _list(approver, "unmatched")
    response = approver.post(reverse("web:payment-reconcile"), follow=True)
    assert "Reconciliation looked at" in response.content.decode()
    assert _reload(named).status == PaymentStatus.MATCHED
    assert _reload(desk.small).status == InvoiceStatus.RECONCILED


def test_another_tenants_payment_and_invoices_stay_out_of_reach(
    clerk: Client, foreign_clerk: Client, desk: Desk, foreign_desk: Desk
) -> None:
    foreign = foreign_desk.payment
    for name in ("payment-detail",):
        assert clerk.get(_url(name, foreign)).status_code == 404
    for name in ("payment-unignore", "payment-split", "payment-ignore"):
        assert clerk.post(_url(name, foreign), _pick(foreign_desk.big)).status_code == 404
    assert _reload(foreign).status == PaymentStatus.UNMATCHED
    # Every vendor's open items are still only this tenant's.
    everyone = clerk.get(_url("payment-detail", desk.payment) + "?scope=all&q=UITEST").content.decode()
    assert f'data-invoice="{foreign_desk.big.pk}"' not in everyone
    # A foreign invoice's id posted to one's own payment is no open invoice here.
    response = clerk.post(_url("payment-split", desk.payment), _pick(foreign_desk.big))
    assert response.status_code == 400
    assert not PaymentAllocation.objects.for_tenant(desk.tenant).exists()
    # Another tenant's allocation cannot be reversed from this tenant.
    clerk.post(_url("payment-split", desk.payment), _pick(desk.small))
    [allocation] = PaymentAllocation.objects.for_tenant(desk.tenant)
    url = reverse(
        "web:payment-allocation-reverse", kwargs={"payment_id": desk.payment.pk, "allocation_id": allocation.pk}
    )
    assert foreign_clerk.post(url, {"reason": "mine now"}).status_code == 404
    assert not PaymentAllocation.objects.for_tenant(desk.tenant).filter(reversal_of=allocation).exists()
    assert (
        foreign_clerk.get(reverse("web:payments") + "?status=partially_matched")
        .content.decode()
        .count('data-testid="payment-row"')
        == 0
    )


def test_the_suggested_list_leaves_out_a_stale_suggestion(clerk: Client, desk: Desk) -> None:
    suggested = _stale_suggestion(desk)
    html = _list(clerk, "suggested")
    assert f'data-payment="{suggested.pk}"' not in html
    assert 'aria-current="page">Suggestion waiting <span class="count">(0)</span>' in html
    assert _reload(suggested).status == PaymentStatus.UNMATCHED
    assert f'data-payment="{suggested.pk}"' in _list(clerk, "unmatched")
