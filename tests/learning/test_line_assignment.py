"""A line assigned by hand (issue #20 item 1), through real matching runs on PostgreSQL: the
invoice goes back to matching with the assignment honoured and named in the reason, the choice
is a labelled example tied to the match it overrode and an audited event on the invoice, and it
teaches the item alias the next invoice of the vendor matches by. Refusals change nothing."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from core.actors import Actor
from core.exceptions import ConflictError, DocumentInvalid
from invoices.models import Invoice, InvoiceLine
from learning.models import DecisionExample, HumanChoice, ItemAlias
from purchasing.models import PurchaseOrderLine
from review.decisions import ReviewForbidden
from review.manual_choices import (
    MATCH_CHANGED,
    NOT_A_LINE_OF_THE_PO,
    PEOPLE_ONLY,
    PO_LINE_TAKEN,
    invoice_line_assign,
)
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, PurchaseOrderFactory
from tests.learning.test_learning_runs import member
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

GLOVES = Line("", "Nitrile gloves size M, box of 100", "40", "12.50")
DELIVERY_PO = Line("", "Delivery charge", "2", "35.00")
# The vendor's word for the delivery line: nothing like the PO's, so the engine pairs it with nothing.
FREIGHT = Line("", "Freight surcharge", "1", "35.00")


def _line(invoice: Invoice, number: int) -> InvoiceLine:
    return InvoiceLine.objects.for_tenant(invoice.tenant_id).get(invoice=invoice, line_number=number)


def _po_line(po_number: str, number: int, tenant: Tenant) -> PurchaseOrderLine:
    return PurchaseOrderLine.objects.for_tenant(tenant).get(purchase_order__po_number=po_number, line_number=number)


def _assign(tenant: Tenant, invoice: Invoice, line: int, po_line: PurchaseOrderLine | None, actor: Actor,
            role: str = Role.CLERK) -> HumanChoice:  # fmt: skip
    invoice = reload(invoice)
    return invoice_line_assign(
        tenant=tenant,
        invoice=invoice,
        invoice_line_id=_line(invoice, line).pk,
        po_line_id=po_line.pk if po_line is not None else None,
        actor=actor,
        role=role,
        expected_match_id=invoice.latest_match_id,
    )


@pytest.fixture
def in_review(tenant: Tenant) -> Invoice:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES, DELIVERY_PO], received=True)
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-1", po_number="PO-100", lines=[GLOVES, FREIGHT])
    run_matching(tenant)
    invoice = reload(invoice)
    assert invoice.status == "pending_review"
    assert ("unmatched_line", "medium") in found(results_of(invoice)[-1])
    return invoice


def test_a_line_assigned_by_hand_is_matched_so_and_teaches_the_next_invoice(tenant: Tenant, in_review: Invoice) -> None:
    cleo = member(tenant, Role.CLERK)
    overridden = results_of(in_review)[-1]
    delivery = _po_line("PO-100", 2, tenant)

    choice = _assign(tenant, in_review, 2, delivery, cleo)

    assert reload(in_review).status == "received"  # back to matching, in the person's name
    example = DecisionExample.objects.for_tenant(tenant).get(pk=choice.example_id)
    assert (example.kind, example.actor_label, example.match_result_id) == (
        "line_reassignment",
        cleo.label,
        overridden.pk,
    )
    assert example.details["po_line_number"] == 2 and example.details["previous_po_line_number"] is None
    assert [d["type"] for d in example.details["discrepancies"]] == ["unmatched_line"]
    event = AuditEvent.objects.for_tenant(tenant).get(entity_id=str(in_review.pk), action="line_assigned")
    assert event.after["reason"] == "Line 2 assigned to PO line 2 · Delivery charge."
    alias = ItemAlias.objects.for_tenant(tenant).get()
    assert (alias.invoice_text, alias.po_item_text, alias.example_id) == (
        "Freight surcharge",
        "Delivery charge",
        example.pk,
    )

    run_matching(tenant)
    rematched = reload(in_review)
    today = choice.created_at.date().isoformat()
    assert rematched.status == "approved"
    assert _line(rematched, 2).matched_po_line_id == delivery.pk
    assert results_of(rematched)[-1].decision_reason.endswith(
        f" Line 2 assigned to PO line 2 by {cleo.label} on {today}."
    )

    # The next invoice words the delivery the same way: matched by the alias the choice taught.
    following = InvoiceFactory(vendor=in_review.vendor, invoice_number="INV-2", po_number="PO-100",
                               lines=[FREIGHT])  # fmt: skip
    run_matching(tenant)
    assert (reload(following).status, found(results_of(following)[-1])) == ("approved", []), results_of(following)[
        -1
    ].decision_reason
    assert f"Line 1 matched via learned alias, assigned by {cleo.label} on {today}." in (
        results_of(following)[-1].decision_reason
    )


def test_a_line_assigned_to_no_po_line_stays_unordered_and_says_who_chose_it(
    tenant: Tenant, in_review: Invoice
) -> None:
    anna = member(tenant, Role.APPROVER)
    gloves = _po_line("PO-100", 1, tenant)
    _assign(tenant, in_review, 1, None, anna, Role.APPROVER)
    run_matching(tenant)
    rematched = reload(in_review)
    assert _line(rematched, 1).matched_po_line_id is None
    reason = results_of(rematched)[-1].decision_reason
    assert f"Line 1 assigned to no PO line by {anna.label}" in reason
    assert "Line 1 (Nitrile gloves size M, box of 100) was assigned by hand to no line of purchase order PO-100." in [
        d.message for d in results_of(rematched)[-1].discrepancies.all()
    ]
    # Gloves then bills nothing: assigning it back to its PO line is a choice too; nothing is taught
    # by "none", and a line of the PO already chosen for another line is refused.
    assert not ItemAlias.objects.for_tenant(tenant).exists()
    _assign(tenant, rematched, 1, gloves, anna, Role.APPROVER)
    assert HumanChoice.objects.for_tenant(tenant).filter(superseded_at__isnull=False).count() == 1
    run_matching(tenant)
    with pytest.raises(ConflictError) as refused:
        _assign(tenant, in_review, 2, gloves, anna, Role.APPROVER)
    assert str(refused.value) == PO_LINE_TAKEN.format(po_line=1, line=1)


def test_refusals_change_nothing(tenant: Tenant, other_tenant: Tenant, in_review: Invoice) -> None:
    cleo = member(tenant, Role.CLERK)
    PurchaseOrderFactory(vendor=acme_vendor(other_tenant), po_number="PO-100", lines=[GLOVES, DELIVERY_PO])
    foreign_line = _po_line("PO-100", 2, other_tenant)
    with pytest.raises(DocumentInvalid) as refused:
        invoice_line_assign(tenant=tenant, invoice=in_review, invoice_line_id=_line(in_review, 2).pk,
                            po_line_id=foreign_line.pk, actor=cleo, role=Role.CLERK)  # fmt: skip
    assert str(refused.value) == NOT_A_LINE_OF_THE_PO.format(po_number="PO-100")
    with pytest.raises(ConflictError) as stale:
        invoice_line_assign(tenant=tenant, invoice=in_review, invoice_line_id=_line(in_review, 2).pk,
                            po_line_id=None, actor=cleo, role=Role.CLERK,
                            expected_match_id=results_of(in_review)[0].invoice_id)  # fmt: skip
    assert str(stale.value) == MATCH_CHANGED
    with pytest.raises(ReviewForbidden) as key:
        invoice_line_assign(tenant=tenant, invoice=in_review, invoice_line_id=_line(in_review, 2).pk,
                            po_line_id=None, actor=Actor(kind="api_key", id="k", label="erp"), role=None)  # fmt: skip
    assert str(key.value) == PEOPLE_ONLY
    assert reload(in_review).status == "pending_review"
    assert not HumanChoice.objects.for_tenant(tenant).exists()
    assert not DecisionExample.objects.for_tenant(tenant).exists()
