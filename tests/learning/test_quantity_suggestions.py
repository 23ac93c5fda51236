"""Quantity-tolerance suggestions (issue #20 item 2), through real matching runs: five approvals of
the same quantity billed over the order (and the receipts) propose the vendor's quantity
tolerance with the evidence, beside its price suggestions and by the same rule; accepted, the
next such invoice is approved and its reason names the rule; undone, the tolerance goes back.
A price suggestion of the same vendor is a separate one."""

from __future__ import annotations

import pytest

from learning.models import ToleranceSuggestion
from learning.services import tolerance_suggestion_accept, tolerance_suggestion_undo
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, PurchaseOrderFactory
from tests.learning.test_learning_runs import member, review
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]


def _over_billed(tenant: Tenant, vendor: object, number: int) -> object:
    """Its own PO of 100 (received in full) billed 103: 3 % over the order and the receipts. Each
    at its own price, so no two totals look like a duplicate."""
    price = f"{10 + number}.00"
    PurchaseOrderFactory(vendor=vendor, po_number=f"PO-{number}", lines=[Line("PL-1", "Pallet", "100", price)],
                         received=True)  # fmt: skip
    return InvoiceFactory(vendor=vendor, invoice_number=f"INV-{number}", po_number=f"PO-{number}",
                          lines=[Line("PL-1", "Pallet", "103", price)])  # fmt: skip


def test_five_approvals_of_the_same_quantity_over_the_order_propose_a_quantity_tolerance(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    anna, admin = member(tenant), member(tenant, Role.ADMIN)
    invoices = [_over_billed(tenant, acme, number) for number in range(1, 6)]
    run_matching(tenant)
    for number, invoice in enumerate(invoices, start=1):
        assert ("quantity_exceeds_po", "high") in found(results_of(invoice)[-1])
        assert not ToleranceSuggestion.objects.for_tenant(tenant).exists()
        review(tenant, invoice, "approve", anna, comment="the vendor ships full layers")
        assert ToleranceSuggestion.objects.for_tenant(tenant).exists() == (number == 5)

    suggestion = ToleranceSuggestion.objects.for_tenant(tenant).get()
    assert (suggestion.kind, str(suggestion.low_pct), str(suggestion.high_pct), str(suggestion.proposed_pct)) == (
        "quantity", "3.000", "3.000", "3.000"
    )  # fmt: skip
    assert sorted(item["invoice_number"] for item in suggestion.evidence) == [f"INV-{n}" for n in range(1, 6)]

    change = tolerance_suggestion_accept(tenant=tenant, suggestion=suggestion, actor=admin)
    assert (str(change.vendor.quantity_tolerance_pct), change.vendor.price_tolerance_pct) == ("3.000", None)

    following = _over_billed(tenant, acme, 6)
    run_matching(tenant)
    today = change.suggestion.decided_at.date().isoformat()
    assert (reload(following).status, found(results_of(following)[-1])) == ("approved", [])
    assert results_of(following)[-1].decision_reason.endswith(
        f" Vendor tolerance for {acme.name} used: quantity ±3 % (rule learned from 5 approvals of quantity "
        f"differences 3–3 %, accepted by {admin.label} on {today})."
    )

    undone = tolerance_suggestion_undo(tenant=tenant, suggestion=change.suggestion, actor=admin)
    assert undone.vendor.quantity_tolerance_pct is None
    again = _over_billed(tenant, acme, 7)
    run_matching(tenant)
    assert ("quantity_exceeds_po", "high") in found(results_of(again)[-1])
