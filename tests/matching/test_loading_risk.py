"""The risk signals through a real run: the loader's bank accounts, accepted history and shared
accounts from PostgreSQL, what the run writes, and what payment runs and re-matching make of it.
The engine's rules have their own tests (test_engine_risk.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

import matching.loading.risk
from audit.models import AuditEvent
from core.actors import Actor
from core.bank_accounts import account_hash, mask_account
from invoices.models import Invoice, InvoiceStatus
from matching.bank_account_rematch import matching_rematch_for_bank_accounts, tenants_with_bank_account_changes
from matching.engine.types import (
    AcceptedTotalRecord,
    BankAccountRecord,
    SharedAccountInvoiceRecord,
    VendorHistoryRecord,
)
from matching.loading import load_batch
from matching.selectors import invoices_naming_unknown_accounts
from tenants.models import CurrencyLimit, Role, Tenant
from tests.factories import (
    BOLTS,
    InvoiceFactory,
    MembershipFactory,
    PurchaseOrderFactory,
    UserFactory,
    VendorFactory,
)
from tests.matching.runs import found, reload, results_of, run_matching
from tests.matching.test_loading_records import _reordered, _values
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import Vendor, VendorBankAccount

pytestmark = pytest.mark.usefixtures("no_matching_tasks")

IBAN = "NL91 ABNA 0417 1643 00"
FOREIGN_IBAN = "DE89 3704 0044 0532 0130 00"
NEW_IBAN = "GB29 NWBK 6016 1331 9268 19"


def _person(tenant: Tenant, username: str, role: str) -> tuple[Actor, str]:
    username = f"{username}-{uuid.uuid4().hex[:8]}"
    user = MembershipFactory(tenant=tenant, user=UserFactory(username=username), role=role).user
    return Actor(kind="user", id=str(user.pk), label=username), role


def approved_account(tenant: Tenant, vendor: Vendor, iban: str) -> VendorBankAccount:
    """The vendor's account as Recon keeps one: proposed by a clerk, approved by another person."""
    clerk, clerk_role = _person(tenant, "clerk", Role.CLERK)
    approver, approver_role = _person(tenant, "approver", Role.APPROVER)
    account = vendor_bank_account_propose(tenant=tenant, vendor=vendor, actor=clerk, role=clerk_role, iban=iban)
    return vendor_bank_account_approve(tenant=tenant, account=account, actor=approver, role=approver_role)


def small_order(vendor: Vendor, units: str = "10", **fields: Any) -> Invoice:
    """A clean 3-way match of a received PO, 0.125 EUR a bolt: below the auto-approve limit, so
    approved unless a risk signal stops it."""
    po_number = f"PO-{uuid.uuid4().hex[:8]}"
    PurchaseOrderFactory(vendor=vendor, po_number=po_number, lines=[BOLTS], received=True)
    return InvoiceFactory(vendor=vendor, po_number=po_number, lines=[BOLTS.times(units)], **fields)


def naming(iban: str) -> dict[str, str]:
    return {"payee_account_hash": account_hash(iban), "payee_account_mask": mask_account(iban)}


def messages_of(invoice: Invoice) -> dict[str, str]:
    latest = results_of(invoice)[-1]
    return {d.type: d.message for d in latest.discrepancies.all()}


@pytest.mark.django_db
def test_an_invoice_naming_a_foreign_account_is_escalated_with_what_to_do(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="ACME")
    approved_account(tenant, acme, IBAN)
    # 10 × 0.125 = 1.25 EUR: below the auto-approve limit, approved were it not for the account.
    foreign = small_order(acme, **naming(FOREIGN_IBAN))
    own = small_order(acme, "20", **naming(IBAN))
    run_matching(tenant)
    foreign, own = reload(foreign), reload(own)
    assert (foreign.status, foreign.review_queue) == (InvoiceStatus.PENDING_REVIEW, "escalated")
    assert found(results_of(foreign)[-1]) == [("bank_account_mismatch", "critical")]
    assert reload(own).status == InvoiceStatus.APPROVED
    assert messages_of(foreign)["bank_account_mismatch"] == (
        "Account ****3000 is not one of ACME's accounts (the vendor's account on record is ****4300); confirm "
        "with ACME by phone, on a number from the vendor's record rather than from the invoice, before approving."
    )


@pytest.mark.django_db
def test_a_change_cooling_off_flags_the_vendors_invoices_and_a_new_approval_rematches_them(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="ACME")
    approved_account(tenant, acme, IBAN)
    flagged = small_order(acme, **naming(NEW_IBAN))
    run_matching(tenant)
    assert "bank_account_mismatch" in messages_of(reload(flagged))
    # The vendor confirms its new account; once approved, the invoice naming it is matched again
    # and now says the account changed recently (the tenant's 3 cooling-off days have not passed).
    approved_account(tenant, acme, NEW_IBAN)
    outcome = matching_rematch_for_bank_accounts(tenant=tenant)
    assert outcome.moved and reload(flagged).status == InvoiceStatus.RECEIVED
    run_matching(tenant)
    messages = messages_of(reload(flagged))
    assert "bank_account_mismatch" not in messages
    assert "from ****4300 to ****6819" in messages["bank_account_changed"]
    assert (reload(flagged).status, reload(flagged).review_queue) == (InvoiceStatus.PENDING_REVIEW, "escalated")


@pytest.mark.django_db
def test_an_amount_far_above_the_vendors_accepted_history_is_unusual(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="ACME")
    for n, total in enumerate((100_000, 110_000, 95_000, 105_000, 98_000, 102_000)):
        InvoiceFactory(vendor=acme, invoice_number=f"H-{n}", total_amount=total, status=InvoiceStatus.APPROVED)
    # Invoices in review are no history: these would make 48,000 look usual.
    for n in range(6):
        InvoiceFactory(
            vendor=acme, invoice_number=f"R-{n}", total_amount=4_800_000 + n, status="pending_review",
            review_queue="standard",
        )  # fmt: skip
    big = InvoiceFactory(vendor=acme, invoice_number="BIG-1", total_amount=4_800_000)
    usual = InvoiceFactory(vendor=acme, invoice_number="OK-1", total_amount=99_000)
    run_matching(tenant)
    assert "typically 1010.00 EUR over its last 6 accepted" in messages_of(reload(big))["unusual_amount"]
    assert "unusual_amount" not in messages_of(reload(usual))


@pytest.mark.django_db
def test_a_new_vendors_large_first_invoice_is_flagged_until_one_is_accepted(tenant: Tenant) -> None:
    CurrencyLimit.objects.create(
        tenant=tenant, currency="EUR", auto_approve_below=10_000, escalate_from=1_000_000, write_off_max=500,
        new_vendor_first_invoice_max=500_000,
    )  # fmt: skip
    newcomer = VendorFactory(tenant=tenant, name="Newcomer GmbH")
    known = VendorFactory(tenant=tenant, name="Known AG")
    InvoiceFactory(vendor=known, invoice_number="K-0", total_amount=1_000, status=InvoiceStatus.RECONCILED)
    first = InvoiceFactory(vendor=newcomer, invoice_number="N-1", total_amount=600_000)  # 6,000.00 EUR
    other = InvoiceFactory(vendor=known, invoice_number="K-1", total_amount=600_000)
    run_matching(tenant)
    assert "above the new-vendor limit 5000.00 EUR" in messages_of(reload(first))["new_vendor_large_invoice"]
    assert "new_vendor_large_invoice" not in messages_of(reload(other))


@pytest.mark.django_db
def test_the_same_bill_through_two_vendors_paying_one_account_is_flagged(tenant: Tenant) -> None:
    real = VendorFactory(tenant=tenant, name="Real Supplies")
    shell = VendorFactory(tenant=tenant, name="Reel Supplies")
    approved_account(tenant, real, IBAN)
    approved_account(tenant, shell, IBAN)
    InvoiceFactory(vendor=real, invoice_number="INV-0042", total_amount=250_000, status=InvoiceStatus.APPROVED)
    copy = InvoiceFactory(vendor=shell, invoice_number="inv 42", total_amount=250_100, **naming(IBAN))
    different = InvoiceFactory(vendor=shell, invoice_number="INV-77", total_amount=1_000, **naming(IBAN))
    run_matching(tenant)
    message = messages_of(reload(copy))["shared_bank_account"]
    assert message.startswith("Account ****4300 is also Real Supplies's, whose invoice INV-0042")
    assert "the same invoice number INV-0042" in message
    assert "shared_bank_account" not in messages_of(reload(different))


@pytest.mark.django_db
def test_an_account_another_vendors_earlier_invoice_named_counts_though_on_no_record(tenant: Tenant) -> None:
    """The shell vendor never had the account put on its record: its earlier bill named it, and
    the same bill now comes through another vendor paying to that account."""
    real = VendorFactory(tenant=tenant, name="Real Supplies")
    shell = VendorFactory(tenant=tenant, name="Reel Supplies")
    InvoiceFactory(
        vendor=shell, invoice_number="R-311", total_amount=480_000, status=InvoiceStatus.APPROVED, **naming(IBAN)
    )
    InvoiceFactory(vendor=shell, invoice_number="R-312", total_amount=480_000, status=InvoiceStatus.REJECTED,
                   **naming(FOREIGN_IBAN))  # fmt: skip
    copy = InvoiceFactory(vendor=real, invoice_number="X-9", total_amount=480_000, **naming(IBAN))
    elsewhere = InvoiceFactory(vendor=real, invoice_number="X-10", total_amount=480_000, **naming(NEW_IBAN))
    run_matching(tenant)
    message = messages_of(reload(copy))["shared_bank_account"]
    assert message.startswith("Account ****4300 is also Reel Supplies's, whose invoice R-311")
    assert "the same total 4800.00 EUR" in message
    # Another account, and a rejected invoice naming one, count for nothing.
    assert "shared_bank_account" not in messages_of(reload(elsewhere))


@pytest.mark.django_db
def test_a_payment_run_leaves_out_an_invoice_naming_an_account_not_on_record(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="ACME")
    approved_account(tenant, acme, IBAN)
    foreign = small_order(acme, **naming(FOREIGN_IBAN))
    run_matching(tenant)
    # A reviewer approved it anyway: the run still leaves it out while the account is not on record.
    Invoice.objects.for_tenant(tenant).filter(pk=foreign.pk).update(status=InvoiceStatus.APPROVED, review_queue=None)
    assert invoices_naming_unknown_accounts(tenant=tenant, invoices=[reload(foreign)]) == {foreign.pk}
    approved_account(tenant, acme, FOREIGN_IBAN)  # confirmed and put on the vendor's record
    assert invoices_naming_unknown_accounts(tenant=tenant, invoices=[reload(foreign)]) == set()


@pytest.mark.django_db
def test_another_tenants_accounts_and_history_count_for_nothing(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = VendorFactory(tenant=other_tenant, name="ACME")
    approved_account(other_tenant, theirs, IBAN)
    ours = VendorFactory(tenant=tenant, name="ACME")
    invoice = small_order(ours, **naming(FOREIGN_IBAN))
    run_matching(tenant)
    assert reload(invoice).status == InvoiceStatus.APPROVED


@pytest.mark.parametrize("field_order", ["as_declared", "reordered"])
@pytest.mark.django_db
def test_the_risk_records_hold_each_value_under_its_own_name(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, field_order: str
) -> None:
    acme = VendorFactory(tenant=tenant, name="ACME")
    twin = VendorFactory(tenant=tenant, name="ACME Twin")
    old = approved_account(tenant, acme, IBAN)
    new = approved_account(tenant, acme, NEW_IBAN)
    approved_account(tenant, twin, NEW_IBAN)
    accepted = InvoiceFactory(vendor=acme, invoice_number="A-1", total_amount=12_300, status=InvoiceStatus.APPROVED)
    repeated = InvoiceFactory(vendor=twin, invoice_number="B-9", total_amount=777_700, status=InvoiceStatus.APPROVED)
    InvoiceFactory(vendor=acme, invoice_number="B-9", total_amount=777_700, **naming(NEW_IBAN))
    if field_order == "reordered":
        for record in (BankAccountRecord, AcceptedTotalRecord, VendorHistoryRecord, SharedAccountInvoiceRecord):
            monkeypatch.setattr(matching.loading.risk, record.__name__, _reordered(record))

    batch = load_batch(tenant=tenant, limit=10)

    old.refresh_from_db()
    new.refresh_from_db()
    assert [_values(account) for account in batch.context.vendors[acme.pk].bank_accounts] == [
        {"account_hash": new.account_hash, "account_mask": "****6819", "status": "active",
         "decided_at": new.decided_at, "usable_from": new.usable_from, "replaces_mask": "****4300"},
        {"account_hash": old.account_hash, "account_mask": "****4300", "status": "retired",
         "decided_at": old.decided_at, "usable_from": old.usable_from, "replaces_mask": ""},
    ]  # fmt: skip
    accepted.refresh_from_db()
    history = batch.context.vendor_histories[acme.pk]
    assert (history.vendor_id, history.first_accepted_at) == (acme.pk, accepted.created_at)
    assert [_values(r) for r in history.recent] == [
        {"received_at": accepted.created_at, "total_amount": 12_300, "currency": "EUR"}
    ]
    repeated.refresh_from_db()
    assert [_values(r) for r in batch.context.shared_account_invoices[account_hash(NEW_IBAN)]] == [
        {"account_hash": account_hash(NEW_IBAN), "invoice_id": repeated.pk, "vendor_id": twin.pk,
         "vendor_name": "ACME Twin", "invoice_number": "B-9", "invoice_number_normalized": "B9",
         "total_amount": 777_700, "currency": "EUR", "invoice_date": repeated.invoice_date},
    ]  # fmt: skip


@pytest.mark.django_db
def test_a_proposed_payment_run_lists_the_invoice_naming_an_unknown_account_with_why(tenant: Tenant) -> None:
    from matching.selectors import PAYEE_NOT_ON_RECORD
    from payments.runs.services import payment_run_propose
    from tests.payments.run_books import DEBTOR_BIC, DEBTOR_IBAN, DUE_BY, actor_of, paying_vendor, people

    clerk, approver = people(tenant)
    acme = paying_vendor(tenant, "ACME", 1, clerk=clerk, approver=approver)
    foreign = small_order(acme, invoice_number="F-1", **naming(FOREIGN_IBAN))
    own = small_order(acme, "20", invoice_number="O-1")
    run_matching(tenant)
    assert reload(own).status == InvoiceStatus.APPROVED
    # A reviewer approved the flagged one too; the run still leaves it out, saying why.
    Invoice.objects.for_tenant(tenant).filter(pk=foreign.pk).update(status=InvoiceStatus.APPROVED, review_queue=None)
    run = payment_run_propose(
        tenant=tenant, actor=actor_of(clerk), currency="EUR", due_by=DUE_BY, debtor_name="Buyer Ltd",
        debtor_iban=DEBTOR_IBAN, debtor_bic=DEBTOR_BIC,
    )  # fmt: skip
    assert {row["invoice_number"]: row["reason"] for row in run.excluded} == {"F-1": PAYEE_NOT_ON_RECORD}


@pytest.mark.django_db
def test_a_mismatch_is_rematched_by_the_next_run_after_the_account_is_approved(tenant: Tenant) -> None:
    """No one calls a re-match: the run finds the decision newer than the invoice's latest match
    and matches it again, once. The invoice arrived during the cooling-off, so it keeps
    `bank_account_changed` for a person; the vendor's next invoice after it is approved."""
    acme = VendorFactory(tenant=tenant, name="ACME")
    old = approved_account(tenant, acme, IBAN)
    VendorBankAccount.objects.for_tenant(tenant).filter(pk=old.pk).update(
        usable_from=timezone.now() - dt.timedelta(days=30)
    )
    flagged = small_order(acme, **naming(NEW_IBAN))
    run_matching(tenant)
    assert (reload(flagged).status, reload(flagged).review_queue) == (InvoiceStatus.PENDING_REVIEW, "escalated")
    assert found(results_of(flagged)[-1]) == [("bank_account_mismatch", "critical")]
    assert matching_rematch_for_bank_accounts(tenant=tenant).moved == []  # nothing changed since

    # The vendor's letter is checked and the new account approved by a second person: the next
    # run (nothing waits in `received`) re-matches the invoice, which now reads "changed recently".
    new = approved_account(tenant, acme, NEW_IBAN)
    assert [str(t) for t in tenants_with_bank_account_changes()] == [str(tenant.pk)]
    run_matching(tenant)
    assert len(results_of(flagged)) == 2
    assert found(results_of(flagged)[-1]) == [("bank_account_changed", "high")]
    assert reload(flagged).status == InvoiceStatus.PENDING_REVIEW
    move = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(flagged.pk), action="transition", after__status="received")
        .get()
    )
    assert move.actor_id == "bank_account" and "Bank accounts of vendor ACME changed" in move.after["reason"]
    run_matching(tenant)
    assert len(results_of(flagged)) == 2  # once per change, not at every run

    # Its cooling-off ends: the invoice that came during it is not matched again (it arrived
    # then), while the vendor's next one, naming the new account, is approved by the rules.
    VendorBankAccount.objects.for_tenant(tenant).filter(pk=new.pk).update(
        usable_from=timezone.now() - dt.timedelta(minutes=1)
    )
    later = small_order(acme, "30", **naming(NEW_IBAN))
    assert list(tenants_with_bank_account_changes()) == []
    run_matching(tenant)
    assert len(results_of(flagged)) == 2 and reload(flagged).status == InvoiceStatus.PENDING_REVIEW
    assert found(results_of(later)[-1]) == [] and reload(later).status == InvoiceStatus.APPROVED
