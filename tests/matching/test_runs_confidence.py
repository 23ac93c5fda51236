"""The issue's two scenarios (#20 item 3) through a real matching run on PostgreSQL: an invoice
naming no PO that copies the only open PO of its vendor, and reworded lines at the PO's own
prices, now auto-approve; their near misses (a price a cent beyond the tolerance, a second PO as
good) still go to a person. The loader must hand the engine the inferred PO's competitor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoices.models import Invoice
from tenants.models import Tenant
from tests.factories import BOLTS, HOSES, InvoiceFactory, Line, PurchaseOrderFactory
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

GLOVES_PO = Line("", "Nitrile gloves size M, box of 100", "40", "12.50")
TAPE_PO = Line("", "Duct tape 50 mm x 25 m, grey", "60", "4.80")
GLOVES_INVOICE = Line("", "Box of 100 nitrile gloves (M)", "40", "12.50")
TAPE_INVOICE = Line("", "Grey duct tape 25m roll (50mm)", "60", "4.80")


def decided(invoice: Invoice) -> tuple[str, str | None, Decimal, str, list[tuple[str, str]]]:
    invoice = reload(invoice)
    [result] = results_of(invoice)
    return invoice.status, invoice.review_queue, result.confidence, result.decision_reason, found(result)


def test_an_invoice_copying_the_only_open_po_of_its_vendor_is_approved(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[BOLTS, HOSES], received=True)
    PurchaseOrderFactory(vendor=acme, po_number="PO-101", lines=[Line("CH-1", "Office chair", "4", "120.00")])
    invoice = InvoiceFactory(vendor=acme, po_number="", lines=[BOLTS, HOSES])  # 1045.00 EUR

    run_matching(tenant)

    assert decided(invoice) == (
        "approved", None, Decimal("1.0000"),
        "Auto-approved: clean 3-way match (confidence 1.0000). "
        "PO PO-100 inferred: the only open PO whose lines all agree.",
        [],
    )  # fmt: skip
    assert reload(invoice).purchase_order.po_number == "PO-100"


def test_a_second_po_as_good_sends_it_to_review(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    for number in ("PO-100", "PO-101"):
        PurchaseOrderFactory(vendor=acme, po_number=number, lines=[BOLTS, HOSES], received=True)
    invoice = InvoiceFactory(vendor=acme, po_number="", lines=[BOLTS, HOSES])

    run_matching(tenant)

    assert decided(invoice) == (
        "pending_review", "standard", Decimal("0.9400"),
        "Review: confidence below the auto-approve level. "
        "PO PO-100 inferred, not for sure: PO-101 fits the lines about as well.",
        [],
    )  # fmt: skip


def test_reworded_lines_at_the_pos_prices_are_approved(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_PO, TAPE_PO], received=True)
    invoice = InvoiceFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_INVOICE, TAPE_INVOICE])  # 788.00

    run_matching(tenant)

    assert decided(invoice) == (
        "approved", None, Decimal("1.0000"), "Auto-approved: clean 3-way match (confidence 1.0000).", []
    )  # fmt: skip


def test_a_reworded_line_a_cent_beyond_the_tolerance_goes_to_review(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_PO, TAPE_PO], received=True)
    # 2 % of 12.50 is 0.25: 12.76 is a cent beyond.
    invoice = InvoiceFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_INVOICE.at("12.76"), TAPE_INVOICE])

    run_matching(tenant)

    status, queue, _, reason, discrepancies = decided(invoice)
    assert (status, queue, reason, discrepancies) == (
        "pending_review", "standard", "Review: price_mismatch.", [("price_mismatch", "medium")]
    )  # fmt: skip
