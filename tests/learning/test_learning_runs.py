"""Recon learns from clerks, through real matching runs on PostgreSQL (issue #20 items 1–2):
a reworded line approved once makes the next identical rewording match as if keyed, with the
reason naming the alias; a rejection unlearns; five approvals of the same price difference
propose a vendor tolerance that, accepted, approves the next such invoice naming the rule.
Everything learned stays in its tenant."""

from __future__ import annotations

from typing import Any

import pytest

from core.actors import Actor
from invoices.models import Invoice
from learning.models import DecisionExample, ItemAlias, ToleranceSuggestion
from learning.services import item_alias_forget, tolerance_suggestion_accept, tolerance_suggestion_decline
from review.decisions import invoice_review
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory
from tests.matching.runs import acme_vendor, reload, results_of, run_matching

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

GLOVES_PO = Line("", "Nitrile gloves size M, box of 100", "40", "12.50")
TAPE_PO = Line("", "Duct tape 50 mm x 25 m, grey", "60", "4.80")
# Inside the 2 % tolerance but not the PO's own prices: no discrepancy, no proof of the item.
GLOVES_INVOICE = Line("", "Box of 100 nitrile gloves (M)", "40", "12.55")
TAPE_INVOICE = Line("", "Grey duct tape 25m roll (50mm)", "60", "4.81")


def member(tenant: Tenant, role: str = Role.APPROVER) -> Actor:
    user = MembershipFactory(tenant=tenant, role=role).user
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def review(tenant: Tenant, invoice: Invoice, action: str, actor: Actor, comment: str = "") -> Invoice:
    return invoice_review(
        tenant=tenant, invoice=reload(invoice), action=action, actor=actor, role=Role.APPROVER, comment=comment
    )


def latest_reason(invoice: Invoice) -> str:
    return results_of(invoice)[-1].decision_reason


_quantities = iter(range(10, 400))


def reworded(tenant: Tenant, **fields: Any) -> Invoice:
    # Each its own quantities: the same total again within days would be a possible duplicate.
    gloves = GLOVES_INVOICE.times(str(next(_quantities)))
    return InvoiceFactory(vendor=fields.pop("vendor"), po_number="PO-100", lines=[gloves, TAPE_INVOICE])


def test_a_reworded_invoice_approved_once_makes_the_next_match_as_if_keyed(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_PO.times("400"), TAPE_PO.times("600")],
                         received=True)  # fmt: skip
    first = reworded(tenant, vendor=acme)
    run_matching(tenant)
    assert reload(first).status == "pending_review"

    anna = member(tenant)
    review(tenant, first, "approve", anna)

    example = DecisionExample.objects.for_tenant(tenant).get(invoice=first)
    assert (example.kind, example.actor_label, example.match_result_id) == (
        "approve", anna.label, results_of(first)[-1].pk
    )  # fmt: skip
    aliases = ItemAlias.objects.for_tenant(tenant).order_by("invoice_text")
    assert [(a.invoice_text, a.po_item_text) for a in aliases] == [
        (GLOVES_INVOICE.description, GLOVES_PO.description),
        (TAPE_INVOICE.description, TAPE_PO.description),
    ]

    second = reworded(tenant, vendor=acme)
    run_matching(tenant)
    today = example.created_at.date().isoformat()
    assert reload(second).status == "approved"
    assert latest_reason(second) == (
        "Auto-approved: clean 3-way match (confidence 1.0000)."
        f" Line 1 matched via learned alias, approved by {anna.label} on {today}."
        f" Line 2 matched via learned alias, approved by {anna.label} on {today}."
    )


def test_a_forgotten_alias_is_not_used_and_a_rejection_unlearns(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_PO.times("400"), TAPE_PO.times("600")],
                         received=True)  # fmt: skip
    anna = member(tenant)
    first = reworded(tenant, vendor=acme)
    run_matching(tenant)
    review(tenant, first, "approve", anna)
    gloves = ItemAlias.objects.for_tenant(tenant).get(invoice_text=GLOVES_INVOICE.description)
    item_alias_forget(tenant=tenant, alias=gloves, actor=anna)

    second = reworded(tenant, vendor=acme)
    run_matching(tenant)
    assert "Line 2 matched via learned alias" in latest_reason(second)
    assert "Line 1 matched via learned alias" not in latest_reason(second)

    # The tape billed 5 % over its PO price: a person looks, and rejects what the alias matched.
    third = InvoiceFactory(vendor=acme, po_number="PO-100", lines=[TAPE_INVOICE.at("5.04")])
    run_matching(tenant)
    assert reload(third).status == "pending_review"
    assert "Line 1 matched via learned alias" in latest_reason(third)
    review(tenant, third, "reject", anna, comment="not the tape we ordered")
    assert not ItemAlias.objects.for_tenant(tenant).filter(forgotten_at__isnull=True).exists()
    assert DecisionExample.objects.for_tenant(tenant).filter(kind="reject", invoice=third).exists()


def test_what_one_tenant_learned_does_not_match_anothers_invoices(tenant: Tenant, other_tenant: Tenant) -> None:
    for owner in (tenant, other_tenant):
        PurchaseOrderFactory(vendor=acme_vendor(owner), po_number="PO-100",
                             lines=[GLOVES_PO.times("400"), TAPE_PO.times("600")], received=True)  # fmt: skip
    first = reworded(tenant, vendor=acme_vendor_of(tenant))
    run_matching(tenant)
    review(tenant, first, "approve", member(tenant))

    theirs = reworded(other_tenant, vendor=acme_vendor_of(other_tenant))
    run_matching(other_tenant)
    assert reload(theirs).status == "pending_review"
    assert not ItemAlias.objects.for_tenant(other_tenant).exists()


def acme_vendor_of(tenant: Tenant):
    from vendors.models import Vendor

    return Vendor.objects.for_tenant(tenant).get(name="Acme Supplies Ltd")


BOLT_PO = Line("HB-M8", "Hex bolt M8", "10000", "10.00")
# 2.8 % above the PO price: a price_mismatch (tolerance 2 %), which the approvers accept each time.
BOLT_INVOICE = Line("HB-M8", "Hex bolt M8", "10", "10.28")


def surcharged(tenant: Tenant, vendor: Any) -> Invoice:
    return InvoiceFactory(vendor=vendor, po_number="PO-200", lines=[BOLT_INVOICE.times(str(next(_quantities)))])


def test_five_approvals_of_the_same_price_difference_propose_a_tolerance_that_accepted_approves_the_next(
    tenant: Tenant,
) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-200", lines=[BOLT_PO], received=True)
    anna, admin = member(tenant), member(tenant, Role.ADMIN)
    invoices = [surcharged(tenant, acme) for _ in range(5)]
    run_matching(tenant)
    for number, invoice in enumerate(invoices, start=1):
        assert reload(invoice).status == "pending_review"
        assert not ToleranceSuggestion.objects.for_tenant(tenant).exists()
        review(tenant, invoice, "approve", anna)
        assert ToleranceSuggestion.objects.for_tenant(tenant).exists() == (number == 5)

    suggestion = ToleranceSuggestion.objects.for_tenant(tenant).get()
    assert (str(suggestion.low_pct), str(suggestion.high_pct), str(suggestion.proposed_pct)) == (
        "2.800", "2.800", "2.800"
    )  # fmt: skip
    assert sorted(item["invoice_number"] for item in suggestion.evidence) == sorted(i.invoice_number for i in invoices)

    change = tolerance_suggestion_accept(tenant=tenant, suggestion=suggestion, actor=admin)
    assert str(change.vendor.price_tolerance_pct) == "2.800"

    nxt = surcharged(tenant, acme)
    run_matching(tenant)
    assert reload(nxt).status == "approved"
    today = change.suggestion.decided_at.date().isoformat()
    assert latest_reason(nxt).endswith(
        f" Vendor tolerance for {acme.name} used: price ±2.8 % (rule learned from 5 approvals of price "
        f"differences 2.8–2.8 %, accepted by {admin.label} on {today})."
    )


def test_a_rejection_resets_the_count_and_a_declined_suggestion_is_not_proposed_again(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-200", lines=[BOLT_PO], received=True)
    anna = member(tenant)
    invoices = [surcharged(tenant, acme) for _ in range(11)]
    run_matching(tenant)
    for invoice in invoices[:4]:
        review(tenant, invoice, "approve", anna)
    review(tenant, invoices[4], "reject", anna, comment="surcharge not agreed")
    for invoice in invoices[5:9]:
        review(tenant, invoice, "approve", anna)
    assert not ToleranceSuggestion.objects.for_tenant(tenant).exists()
    review(tenant, invoices[9], "approve", anna)
    suggestion = ToleranceSuggestion.objects.for_tenant(tenant).get()
    assert suggestion.approvals == 5

    tolerance_suggestion_decline(tenant=tenant, suggestion=suggestion, actor=member(tenant, Role.ADMIN))
    review(tenant, invoices[10], "approve", anna)
    assert list(ToleranceSuggestion.objects.for_tenant(tenant).values_list("status", flat=True)) == ["declined"]
