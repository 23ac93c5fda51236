"""A vendor identified by its bank account on record, through a real run: the loader gives the
engine the tenant's approved accounts (no extra query), the run writes the vendor onto the invoice
and names the account in its reason; an account only proposed, or one only another tenant has on
record, identifies nobody. The engine's rule has its own tests (test_engine_vendor_accounts.py)."""

from __future__ import annotations

import uuid

import pytest

from audit.models import AuditEvent
from invoices.models import Invoice, InvoiceStatus
from matching.bank_account_rematch import (
    ACCOUNT_NOW_ON_RECORD,
    matching_rematch_for_bank_accounts,
    tenants_with_bank_account_changes,
)
from tenants.models import Role, Tenant
from tests.factories import BOLTS, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import found, reload, results_of, run_matching
from tests.matching.test_loading_risk import IBAN, _person, approved_account, naming
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import Vendor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

RECOGNISED = " Vendor Acme Supplies Ltd recognised by its bank account ****4300 on record."
UNREADABLE = "Kundennr. 48213 / Seite 1"  # what a scan read where the vendor's name should be


def unnamed_order(tenant: Tenant, vendor: Vendor, iban: str = IBAN) -> Invoice:
    """A clean 3-way match of the vendor's received PO (1.25 EUR) that names no vendor Recon knows,
    asking to be paid to `iban`."""
    po_number = f"PO-{uuid.uuid4().hex[:8]}"
    PurchaseOrderFactory(vendor=vendor, po_number=po_number, lines=[BOLTS], received=True)
    return InvoiceFactory(tenant=tenant, vendor=None, vendor_name_raw=UNREADABLE, po_number=po_number,
                          lines=[BOLTS.times("10")], **naming(iban))  # fmt: skip


def test_an_invoice_naming_nobody_but_the_vendors_account_is_the_vendors_and_says_why(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    VendorFactory(tenant=tenant, name="Nordic Fasteners AB")
    approved_account(tenant, acme, IBAN)
    invoice = unnamed_order(tenant, acme)

    run_matching(tenant)

    invoice = reload(invoice)
    result = results_of(invoice)[-1]
    assert (invoice.vendor_id, invoice.status) == (acme.pk, InvoiceStatus.APPROVED)
    assert found(result) == []
    assert result.decision_reason.endswith(RECOGNISED)


def test_an_account_only_proposed_identifies_nobody(tenant: Tenant) -> None:
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    clerk, role = _person(tenant, "clerk", Role.CLERK)
    vendor_bank_account_propose(tenant=tenant, vendor=acme, actor=clerk, role=role, iban=IBAN)
    invoice = unnamed_order(tenant, acme)

    run_matching(tenant)

    invoice = reload(invoice)
    assert invoice.vendor_id is None and invoice.status == InvoiceStatus.PENDING_REVIEW
    assert ("unknown_vendor", "high") in found(results_of(invoice)[-1])


def test_another_tenants_vendor_with_the_account_on_record_identifies_nobody_here(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    foreign = VendorFactory(tenant=other_tenant, name="Acme Supplies Ltd")
    approved_account(other_tenant, foreign, IBAN)
    ours = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    invoice = unnamed_order(tenant, ours)

    run_matching(tenant)

    invoice = reload(invoice)
    assert invoice.vendor_id is None and invoice.status == InvoiceStatus.PENDING_REVIEW
    assert "bank account" not in results_of(invoice)[-1].decision_reason


def test_an_unknown_vendors_invoice_is_matched_again_once_its_account_is_approved(tenant: Tenant) -> None:
    """The invoice waited in review as of no known vendor; a second person approves the vendor's
    account it asks to be paid to: the next run (nothing waits in `received`) matches it again,
    once, in the name of the bank-account actor, and now knows the vendor by that account."""
    acme = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    clerk, clerk_role = _person(tenant, "clerk", Role.CLERK)
    approver, approver_role = _person(tenant, "approver", Role.APPROVER)
    proposed = vendor_bank_account_propose(tenant=tenant, vendor=acme, actor=clerk, role=clerk_role, iban=IBAN)
    invoice = unnamed_order(tenant, acme)
    run_matching(tenant)
    assert reload(invoice).vendor_id is None
    assert tenants_with_bank_account_changes().count() == 0

    vendor_bank_account_approve(tenant=tenant, account=proposed, actor=approver, role=approver_role)
    assert [str(t) for t in tenants_with_bank_account_changes()] == [str(tenant.pk)]
    run_matching(tenant)

    invoice = reload(invoice)
    assert invoice.vendor_id == acme.pk and len(results_of(invoice)) == 2
    # The vendor's first account (nothing changed from): a clean match is approved; a payment run
    # still waits out the account's cooling-off before paying to it.
    assert found(results_of(invoice)[-1]) == [] and invoice.status == InvoiceStatus.APPROVED
    assert RECOGNISED.strip() in results_of(invoice)[-1].decision_reason
    move = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition", after__status="received")
        .get()
    )
    assert move.actor_id == "bank_account"
    assert move.after["reason"] == ACCOUNT_NOW_ON_RECORD.format(vendor="Acme Supplies Ltd")
    assert tenants_with_bank_account_changes().count() == 0
    run_matching(tenant)
    assert len(results_of(invoice)) == 2  # once, not at every run


def test_an_account_approved_for_another_tenants_vendor_rematches_nothing_here(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    ours = VendorFactory(tenant=tenant, name="Acme Supplies Ltd")
    invoice = unnamed_order(tenant, ours)
    run_matching(tenant)
    approved_account(other_tenant, VendorFactory(tenant=other_tenant, name="Acme Supplies Ltd"), IBAN)
    assert tenants_with_bank_account_changes().count() == 0
    assert matching_rematch_for_bank_accounts(tenant=tenant).moved == []
    assert reload(invoice).vendor_id is None
