"""A vendor identified by its bank account on record, through a real run: the loader gives the
engine the tenant's approved accounts (no extra query), the run writes the vendor onto the invoice
and names the account in its reason; an account only proposed, or one only another tenant has on
record, identifies nobody. The engine's rule has its own tests (test_engine_vendor_accounts.py)."""

from __future__ import annotations

import uuid

import pytest

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Role, Tenant
from tests.factories import BOLTS, InvoiceFactory, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import found, reload, results_of, run_matching
from tests.matching.test_loading_risk import IBAN, _person, approved_account, naming
from vendors.bank_accounts import vendor_bank_account_propose
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
