"""Re-matching when the facts change (matching.rematch, DESIGN.md §4 "received (re-match)").

The issue's case, worked by hand: a PO for 400 widgets at 20.00 (8,000.00), 250 received, an
invoice for all 400. The match finds `quantity_not_received` (medium: 400 billed > 250 received),
nothing high, a total above AUTO_APPROVE_MAX (100.00) and a discrepancy, so: in review, standard
queue. The receipt of the missing 150 makes it a clean 3-way match (confidence 1), which the
tenant's rules approve automatically (confidence ≥ 0.95 with no discrepancy).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from audit.verify import audit_chain_verify
from core.state_machine import IllegalTransition, StaleState
from invoices.models import DocumentType, Invoice
from matching.rematch import (
    IN_DISPUTE,
    NOT_AN_INVOICE,
    NOT_FOUND,
    REMATCH_ASKED,
    matching_rematch,
    matching_rematch_for_tenant_settings,
    matching_rematch_for_vendor_tolerances,
    matching_rematch_invoice,
)
from purchasing.models import PurchaseOrder
from purchasing.services import goods_receipt_create
from review.decisions import invoice_review
from review.disputes import DisputeEnd, dispute_open, dispute_resolve
from review.match_changes import invoice_match_changes
from review.models import DisputeOutcome, DisputeReason
from tenants.models import Role, Tenant
from tests.audit.sealing import seal
from tests.document_factories import GoodsReceiptDocumentFactory
from tests.factories import (
    BOLTS,
    TEST_ACTOR,
    InvoiceFactory,
    Line,
    MembershipFactory,
    PurchaseOrderFactory,
    VendorFactory,
)
from tests.matching.runs import (
    acme_vendor,
    found,
    reload,
    results_of,
    run_matching,
    set_tenant_settings,
    transitions_of,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

WIDGETS = Line("WD-400", "Widget, steel", "400", "20.00")


def _in_review_for_missing_goods(tenant: Tenant, *, po_number: str = "PO-700") -> tuple[Invoice, PurchaseOrder]:
    acme = acme_vendor(tenant)
    purchase_order = PurchaseOrderFactory(vendor=acme, po_number=po_number, lines=[WIDGETS])
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(
            po_number=po_number, receipt_number=f"GR-{po_number}-1", quantities={1: "250"}
        ),
        actor=TEST_ACTOR,
    )
    invoice = InvoiceFactory(vendor=acme, invoice_number=f"INV-{po_number}", po_number=po_number, lines=[WIDGETS])
    run_matching(tenant)
    invoice = reload(invoice)
    [first] = results_of(invoice)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "standard")
    assert found(first) == [("quantity_not_received", "medium")]
    return invoice, purchase_order


def _receive(tenant: Tenant, po_number: str, quantity: str, number: str) -> None:
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(po_number=po_number, receipt_number=number, quantities={1: quantity}),
        actor=TEST_ACTOR,
    )


def test_a_late_receipt_rematches_the_invoice_in_review_and_the_discrepancy_goes(tenant: Tenant) -> None:
    invoice, _ = _in_review_for_missing_goods(tenant)
    [first] = results_of(invoice)

    _receive(tenant, "PO-700", "150", "GR-PO-700-2")

    # Back to `received` in the receipt's transaction, with the reason and the fact in the event.
    invoice = reload(invoice)
    assert (invoice.status, invoice.review_queue, invoice.latest_match_id) == ("received", None, first.pk)
    rematch = transitions_of(invoice)[-1]
    assert (rematch.actor_kind, rematch.actor_id) == ("system", "goods_receipt")
    assert rematch.before == {"status": "pending_review", "review_queue": "standard"}
    assert rematch.after["reason"] == "Goods receipt GR-PO-700-2 arrived for purchase order PO-700: matching again."
    assert rematch.after["goods_receipt_id"]

    run_matching(tenant)

    invoice = reload(invoice)
    old, new = results_of(invoice)
    assert old.pk == first.pk and invoice.latest_match_id == new.pk  # the old result stays, history
    assert found(old) == [("quantity_not_received", "medium")]
    assert (new.decision, new.confidence, found(new)) == ("approved", Decimal("1.0000"), [])
    # Approved by the tenant's own rules, the same a new invoice meets, and said so on the page.
    assert invoice.status == "approved"
    changes = invoice_match_changes(tenant=tenant, invoice=invoice)
    assert [d.type for d in changes.gone] == ["quantity_not_received"] and changes.added == []
    assert (changes.previous.decision, changes.latest.decision) == ("pending_review", "approved")
    assert changes.rematch is not None and changes.rematch.from_status == "pending_review"
    assert changes.confidence_change is not None and changes.confidence_change > 0
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_receipt_that_settles_only_part_sends_it_back_to_review_with_what_is_left(tenant: Tenant) -> None:
    invoice, _ = _in_review_for_missing_goods(tenant)
    _receive(tenant, "PO-700", "100", "GR-PO-700-2")  # 350 of 400
    run_matching(tenant)
    invoice = reload(invoice)
    _old, new = results_of(invoice)
    assert (invoice.status, invoice.review_queue) == ("pending_review", "standard")
    assert found(new) == [("quantity_not_received", "medium")]
    changes = invoice_match_changes(tenant=tenant, invoice=invoice)
    assert (
        [d.type for d in changes.kept] == ["quantity_not_received"]
        and not changes.gone
        and not changes.decision_changed
    )


def test_a_reviewer_acting_on_the_page_loaded_before_the_rematch_is_refused(tenant: Tenant) -> None:
    """The reviewer's decision and the new facts never overwrite each other silently."""
    invoice, _ = _in_review_for_missing_goods(tenant)
    _receive(tenant, "PO-700", "150", "GR-PO-700-2")
    with pytest.raises(StaleState):
        invoice_review(
            tenant=tenant,
            invoice=invoice,
            action="reject",
            actor=TEST_ACTOR,
            role="approver",
            comment="short delivery",
            expected_status="pending_review",
        )
    assert reload(invoice).status == "received"


def test_an_invoice_in_dispute_stays_there_and_is_rematched_once_the_dispute_ends(tenant: Tenant) -> None:
    """Moved out of `disputed` under an open dispute, the dispute could never end (its outcomes
    move the invoice from `disputed`): the receipt leaves it, "Re-match now" says why, and once the
    dispute is back to review the invoice is matched again like any other."""
    invoice, _ = _in_review_for_missing_goods(tenant)
    author = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    dispute = dispute_open(
        tenant=tenant, invoice=invoice, actor=TEST_ACTOR, role=Role.APPROVER, author=author,
        reason=DisputeReason.NOT_RECEIVED, comment="150 missing",
    )  # fmt: skip
    _receive(tenant, "PO-700", "150", "GR-PO-700-2")
    assert reload(invoice).status == "disputed"
    with pytest.raises(IllegalTransition, match="is in dispute: it is matched again once its dispute ends"):
        matching_rematch_invoice(tenant=tenant, invoice=invoice, actor=TEST_ACTOR)
    assert matching_rematch(
        tenant=tenant, invoice_ids=[invoice.pk], actor=TEST_ACTOR, reason="x", facts={}
    ).skipped == {invoice.pk: IN_DISPUTE}

    dispute_resolve(
        tenant=tenant, dispute=dispute, actor=TEST_ACTOR, role=Role.APPROVER,
        end=DisputeEnd(outcome=DisputeOutcome.BACK_TO_REVIEW, comment="The rest arrived."),
    )  # fmt: skip
    assert reload(invoice).status == "pending_review"
    matching_rematch_invoice(tenant=tenant, invoice=invoice, actor=TEST_ACTOR)
    run_matching(tenant)
    assert reload(invoice).status == "approved"  # 400 of 400 received now: clean
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_receipt_for_other_lines_leaves_an_invoice_in_review_alone(tenant: Tenant) -> None:
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-710", lines=[WIDGETS, BOLTS])
    _receive(tenant, "PO-710", "250", "GR-710-1")
    invoice = InvoiceFactory(vendor=acme, invoice_number="INV-710", po_number="PO-710", lines=[WIDGETS])
    run_matching(tenant)
    assert reload(invoice).status == "pending_review"
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(po_number="PO-710", receipt_number="GR-710-2", quantities={2: "1000"}),
        actor=TEST_ACTOR,
    )
    assert reload(invoice).status == "pending_review"  # its matched line got nothing new


def test_rematch_moves_the_open_skips_the_others_and_audits_each_move(tenant: Tenant, other_tenant: Tenant) -> None:
    vendor = VendorFactory(tenant=tenant)
    on_hold = InvoiceFactory(vendor=vendor, status="on_hold")
    in_review = InvoiceFactory(vendor=vendor, status="pending_review", review_queue="escalated")
    disputed = InvoiceFactory(vendor=vendor, status="disputed")
    waiting = InvoiceFactory(vendor=vendor, status="received")
    final = {status: InvoiceFactory(vendor=vendor, status=status) for status in ("approved", "rejected", "void")}
    draft = InvoiceFactory(vendor=vendor, status="draft")
    credit_note = InvoiceFactory(vendor=vendor, status="received", document_type=DocumentType.CREDIT_NOTE)
    foreign = InvoiceFactory(
        vendor=VendorFactory(tenant=other_tenant), status="pending_review", review_queue="standard"
    )

    outcome = matching_rematch(
        tenant=tenant,
        invoice_ids=[
            on_hold.pk,
            in_review.pk,
            disputed.pk,
            waiting.pk,
            *(i.pk for i in final.values()),
            draft.pk,
            credit_note.pk,
            foreign.pk,
        ],
        actor=TEST_ACTOR,
        reason="PO line 1 price corrected",
        facts={"purchase_order_line": {"unit_price": {"before": Decimal("20.00"), "after": Decimal("19.50")}}},
    )

    assert sorted(outcome.moved) == sorted([on_hold.pk, in_review.pk])
    assert outcome.waiting == [waiting.pk]
    assert outcome.skipped == {
        final["approved"].pk: "Approved",
        final["rejected"].pk: "Rejected",
        final["void"].pk: "Void",
        draft.pk: "Draft",
        disputed.pk: IN_DISPUTE,
        credit_note.pk: NOT_AN_INVOICE,
        foreign.pk: NOT_FOUND,
    }
    for invoice in (on_hold, in_review):
        assert reload(invoice).status == "received"
        [event] = transitions_of(invoice)
        assert event.after == {
            "status": "received",
            "review_queue": None,
            "reason": "PO line 1 price corrected",
            "purchase_order_line": {"unit_price": {"before": "20.00", "after": "19.50"}},
        }
    for invoice in (waiting, *final.values(), draft, disputed, credit_note):
        assert reload(invoice).status == invoice.status and transitions_of(invoice) == []
    assert Invoice.objects.for_tenant(other_tenant).get(pk=foreign.pk).status == "pending_review"
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_rematch_now_refuses_what_is_not_open_and_names_the_person(tenant: Tenant) -> None:
    approved = InvoiceFactory(vendor=VendorFactory(tenant=tenant), invoice_number="INV-1", status="approved")
    with pytest.raises(IllegalTransition, match="Invoice INV-1 is approved: only open invoices"):
        matching_rematch_invoice(tenant=tenant, invoice=approved, actor=TEST_ACTOR)
    assert transitions_of(approved) == []

    in_review = InvoiceFactory(vendor=VendorFactory(tenant=tenant), status="pending_review", review_queue="standard")
    matching_rematch_invoice(tenant=tenant, invoice=in_review, actor=TEST_ACTOR, comment="  ")
    [event] = transitions_of(in_review)
    assert event.after["reason"] == REMATCH_ASKED.format(actor=TEST_ACTOR.label)


def test_a_vendor_tolerance_change_rematches_that_vendors_open_invoices_only(tenant: Tenant) -> None:
    acme, other = acme_vendor(tenant), VendorFactory(tenant=tenant, name="Other Ltd")
    mine = [
        InvoiceFactory(vendor=acme, status="on_hold"),
        InvoiceFactory(vendor=acme, status="pending_review", review_queue="standard"),
    ]
    left = [InvoiceFactory(vendor=acme, status="approved"), InvoiceFactory(vendor=acme, status="disputed")]
    theirs = InvoiceFactory(vendor=other, status="pending_review", review_queue="standard")
    before = {"price_tolerance_pct": None, "quantity_tolerance_pct": None}

    unchanged = matching_rematch_for_vendor_tolerances(
        tenant=tenant, vendor=acme, actor=TEST_ACTOR, before=before, after=dict(before)
    )
    assert unchanged.moved == []
    outcome = matching_rematch_for_vendor_tolerances(
        tenant=tenant,
        vendor=acme,
        actor=TEST_ACTOR,
        before=before,
        after={"price_tolerance_pct": Decimal("5.000"), "quantity_tolerance_pct": None},
    )
    assert sorted(outcome.moved) == sorted(invoice.pk for invoice in mine)
    assert [reload(invoice).status for invoice in (*left, theirs)] == ["approved", "disputed", "pending_review"]
    [event] = transitions_of(mine[0])
    assert (
        event.after["reason"]
        == "Tolerances of vendor Acme Supplies Ltd changed (price tolerance % default → 5.000): matching again."
    )
    assert event.after["vendor_tolerances"] == {"price_tolerance_pct": {"before": None, "after": "5.000"}}


def test_a_tenant_tolerance_change_rematches_review_and_holds_not_overridden_vendors(tenant: Tenant) -> None:
    plain = VendorFactory(tenant=tenant, name="Plain")
    own = VendorFactory(
        tenant=tenant, name="Own", price_tolerance_pct=Decimal("1.000"), quantity_tolerance_pct=Decimal("0")
    )
    in_review = InvoiceFactory(vendor=plain, status="pending_review", review_queue="standard")
    on_hold = InvoiceFactory(vendor=plain, status="on_hold")
    disputed = InvoiceFactory(vendor=plain, status="disputed")
    overridden = InvoiceFactory(vendor=own, status="pending_review", review_queue="standard")
    before = {"price_tolerance_pct": Decimal("2.000")}

    outcome = matching_rematch_for_tenant_settings(
        tenant=tenant, actor=TEST_ACTOR, before=before, after={"price_tolerance_pct": Decimal("3.000")}
    )
    assert sorted(outcome.moved) == sorted([in_review.pk, on_hold.pk])
    assert (reload(disputed).status, reload(overridden).status) == ("disputed", "pending_review")

    # A setting the vendors' own tolerances do not replace re-matches theirs too.
    set_tenant_settings(tenant, auto_approve_min_confidence=Decimal("0.900"))
    outcome = matching_rematch_for_tenant_settings(
        tenant=tenant,
        actor=TEST_ACTOR,
        before={"auto_approve_min_confidence": Decimal("0.950")},
        after={"auto_approve_min_confidence": Decimal("0.900")},
    )
    assert outcome.moved == [overridden.pk]
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact
