"""A run reads the tenant's amount limits per currency and its vendors' own tolerances through the
loader (tenants.selectors.amount_limits_for): the same 120 in yen and in dinar meets different
limits, and a decision that used a vendor's tolerance says so."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices.models import Invoice, InvoiceStatus
from tenants.models import Tenant
from tenants.services import currency_limit_save
from tests.factories import TEST_ACTOR, InvoiceFactory, Line, PurchaseOrderFactory, VendorFactory
from tests.matching.runs import acme_vendor, reload, results_of, run_matching

pytestmark = pytest.mark.usefixtures("no_matching_tasks")

CABLE = Line("CU-16", "Copper cable", "1", "120")
# Not on the PO: a medium discrepancy, so the total decides between auto-approval and review.
FREIGHT = Line("FR-1", "Freight surcharge", "1", "0")


def _invoice_in(tenant: Tenant, currency: str) -> Invoice:
    vendor = VendorFactory(tenant=tenant, name=f"Cable Works {currency}", tax_id=f"TAX-{currency}")
    po_number = f"PO-{currency}"
    PurchaseOrderFactory(vendor=vendor, po_number=po_number, currency=currency, lines=[CABLE], received=True)
    return InvoiceFactory(
        vendor=vendor, invoice_number=f"INV-{currency}", po_number=po_number, currency=currency, lines=[CABLE, FREIGHT]
    )


def test_yen_and_dinar_limits_are_the_tenants_own_per_currency(tenant: Tenant) -> None:
    # JPY 15,000 and BHD 40.000: some EUR 90 and 95, each in its own minor units.
    for currency, below in (("JPY", 15_000), ("BHD", 40_000)):
        currency_limit_save(
            tenant=tenant,
            actor=TEST_ACTOR,
            currency=currency,
            auto_approve_below=below,
            escalate_from=below * 100,
            write_off_max=0,
            price_tolerance_floor=Decimal("0"),
        )
    yen, dinar = _invoice_in(tenant, "JPY"), _invoice_in(tenant, "BHD")

    run_matching(tenant)

    yen, dinar = reload(yen), reload(dinar)
    assert yen.status == InvoiceStatus.APPROVED
    assert results_of(yen)[0].decision_reason == "Auto-approved: total 120 JPY is below the auto-approve limit 15000."
    assert (dinar.status, dinar.review_queue) == (InvoiceStatus.PENDING_REVIEW, "standard")


def test_a_currency_the_tenant_set_nothing_for_uses_the_defaults_in_its_units(tenant: Tenant) -> None:
    """No limits of the tenant's: 100 yen and 100.000 dinar (the defaults), so both 120s go to review."""
    yen, dinar = _invoice_in(tenant, "JPY"), _invoice_in(tenant, "BHD")
    run_matching(tenant)
    assert {reload(yen).status, reload(dinar).status} == {InvoiceStatus.PENDING_REVIEW}


def test_a_decision_that_used_a_vendors_own_tolerance_says_so(tenant: Tenant) -> None:
    hoses = Line("HH-1M", "Hydraulic hose 1 m", "50", "18.40")
    lenient = acme_vendor(tenant)
    lenient.price_tolerance_pct = Decimal("5")
    lenient.save()
    PurchaseOrderFactory(vendor=lenient, po_number="PO-100", lines=[hoses], received=True)
    invoice = InvoiceFactory(vendor=lenient, invoice_number="INV-1", po_number="PO-100", lines=[hoses.at("19.20")])

    run_matching(tenant)

    # 19.20 against 18.40 is 4.3 % over: a mismatch at the tenant's 2 %, agreement at the vendor's 5 %.
    [result] = results_of(reload(invoice))
    assert not result.discrepancies.exists()
    assert result.decision_reason.endswith("Vendor tolerance for Acme Supplies Ltd used: price ±5 %.")
