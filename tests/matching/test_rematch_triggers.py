"""The re-match triggers of issue #18 item 3 beyond receipts and tolerances (matching.rematch's
docstring lists them all): a PO created after an invoice named it, a PO reopened, a credit note
for an open invoice, a currency's amount limits. Each is worked end to end: the invoice's move
back to `received` with its audit event (who, the reason, the facts), then a real run that
writes a new `MatchResult` and keeps the old one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from audit.verify import audit_chain_verify
from core.amount_limits import AmountLimits
from invoices.models import DocumentType, Invoice
from invoices.services import invoice_create
from matching import tasks as matching_tasks
from matching.rematch import matching_rematch_for_currency_limits
from purchasing.lifecycle import purchase_order_act
from purchasing.models import PurchaseOrder
from purchasing.services import goods_receipt_create, purchase_order_create
from review.disputes import dispute_open
from review.models import DisputeReason
from tenants.models import Role, Tenant
from tenants.selectors import amount_limits_for
from tenants.services import currency_limit_delete, currency_limit_save
from tests.audit.sealing import seal
from tests.document_factories import (
    GoodsReceiptDocumentFactory,
    InvoiceDocumentFactory,
    PurchaseOrderDocumentFactory,
)
from tests.factories import TEST_ACTOR, InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory
from tests.matching.runs import acme_vendor, found, reload, results_of, run_matching, transitions_of
from vendors.models import Vendor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_matching_tasks")]

WIDGETS = Line("WD-400", "Widget, steel", "400", "20.00")


def _acme(tenant: Tenant) -> Vendor:
    return Vendor.objects.for_tenant(tenant).filter(tax_id="DE123456789").first() or acme_vendor(tenant)


def _matched(invoice: Invoice, status: str) -> Invoice:
    run_matching(invoice.tenant)
    invoice = reload(invoice)
    assert invoice.status == status
    return invoice


def _in_review_for_missing_goods(
    tenant: Tenant, po_number: str = "PO-700", invoice_date: dt.date = dt.date(2026, 10, 10)
) -> Invoice:
    """400 widgets billed at 8,000.00, 250 received: in review for `quantity_not_received`."""
    acme = _acme(tenant)
    PurchaseOrderFactory(vendor=acme, po_number=po_number, lines=[WIDGETS])
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(
            po_number=po_number, receipt_number=f"GR-{po_number}", quantities={1: "250"}
        ),
        actor=TEST_ACTOR,
    )
    invoice = _matched(
        InvoiceFactory(
            vendor=acme,
            invoice_number=f"INV-{po_number}",
            invoice_date=invoice_date,
            po_number=po_number,
            lines=[WIDGETS],
        ),
        "pending_review",
    )
    assert found(results_of(invoice)[0]) == [("quantity_not_received", "medium")]
    return invoice


def _dispute(tenant: Tenant, invoice: Invoice, reason: str, comment: str) -> None:
    author = MembershipFactory(tenant=tenant, role=Role.APPROVER).user
    dispute_open(
        tenant=tenant,
        invoice=invoice,
        actor=TEST_ACTOR,
        role=Role.APPROVER,
        author=author,
        reason=reason,
        comment=comment,
    )
    assert reload(invoice).status == "disputed"


# --- a PO created after the invoice named it ---------------------------------------------------


def test_a_po_created_later_rematches_the_invoices_that_named_it(tenant: Tenant, other_tenant: Tenant) -> None:
    acme = _acme(tenant)
    # Named as the vendor typed it: the PO is found by its lookup key (spaces, a-z case ignored).
    waiting = _matched(InvoiceFactory(vendor=acme, po_number="po 900", lines=[WIDGETS]), "pending_review")
    [first] = results_of(waiting)
    assert ("po_not_found", "high") in found(first) and first.purchase_order_id is None
    other_number = _matched(InvoiceFactory(vendor=acme, po_number="PO-901", lines=[WIDGETS]), "pending_review")
    foreign = _matched(InvoiceFactory(vendor=_acme(other_tenant), po_number="PO900", lines=[WIDGETS]), "pending_review")

    purchase_order = purchase_order_create(
        tenant=tenant,
        document=PurchaseOrderDocumentFactory(po_number="PO900", vendor_id=acme.pk, lines=[WIDGETS]),
        actor=TEST_ACTOR,
    )

    # Back to `received` in the PO's own transaction, in the name of whoever created the PO.
    waiting = reload(waiting)
    assert (waiting.status, waiting.latest_match_id) == ("received", first.pk)
    rematch = transitions_of(waiting)[-1]
    assert (rematch.actor_kind, rematch.actor_id) == ("system", "test")
    assert rematch.before == {"status": "pending_review", "review_queue": "escalated"}
    assert rematch.after["reason"] == "Purchase order PO900 was created: matching again."
    assert rematch.after["purchase_order_id"] == str(purchase_order.pk)
    # Another number, another tenant's invoice naming the same number: left alone.
    assert (reload(other_number).status, len(results_of(other_number))) == ("pending_review", 1)
    assert (reload(foreign).status, len(results_of(foreign))) == ("pending_review", 1)

    waiting = _matched(waiting, "on_hold")  # found its PO; nothing received yet
    old, new = results_of(waiting)
    assert old.pk == first.pk and waiting.latest_match_id == new.pk  # the old result is history
    assert new.purchase_order_id == purchase_order.pk == waiting.purchase_order_id
    assert "po_not_found" not in [kind for kind, _ in found(new)]
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_a_po_created_later_leaves_an_invoice_in_dispute_where_it_is(tenant: Tenant) -> None:
    acme = _acme(tenant)
    disputed = _matched(InvoiceFactory(vendor=acme, po_number="PO-902", lines=[WIDGETS]), "pending_review")
    _dispute(tenant, disputed, DisputeReason.OTHER, "Which order is this?")
    purchase_order_create(
        tenant=tenant,
        document=PurchaseOrderDocumentFactory(po_number="PO-902", vendor_id=acme.pk, lines=[WIDGETS]),
        actor=TEST_ACTOR,
    )
    assert reload(disputed).status == "disputed"
    assert len(results_of(disputed)) == 1


# --- a PO reopened ------------------------------------------------------------------------------


def test_a_reopened_po_rematches_the_invoices_whose_match_found_it_closed(tenant: Tenant) -> None:
    acme = _acme(tenant)
    purchase_order = PurchaseOrderFactory(vendor=acme, po_number="PO-910", lines=[WIDGETS])
    goods_receipt_create(
        tenant=tenant,
        document=GoodsReceiptDocumentFactory(po_number="PO-910", receipt_number="GR-910", quantities={1: "400"}),
        actor=TEST_ACTOR,
    )
    purchase_order_act(tenant=tenant, purchase_order=purchase_order, action="close", actor=TEST_ACTOR)
    invoice = _matched(InvoiceFactory(vendor=acme, po_number="PO-910", lines=[WIDGETS]), "pending_review")
    [first] = results_of(invoice)
    assert found(first) == [("po_closed", "high")]

    purchase_order_act(
        tenant=tenant, purchase_order=purchase_order, action="reopen", actor=TEST_ACTOR, comment="Late invoice"
    )

    invoice = reload(invoice)
    rematch = transitions_of(invoice)[-1]
    assert invoice.status == "received"
    assert rematch.after["reason"] == "Purchase order PO-910 was reopened: matching again."
    assert rematch.after["purchase_order_id"] == str(purchase_order.pk)
    invoice = _matched(invoice, "approved")  # open, everything received, the price agrees
    old, new = results_of(invoice)
    assert (old.pk, found(new), new.decision) == (first.pk, [], "approved")


def test_a_reopened_po_leaves_an_invoice_in_review_for_something_else_alone(tenant: Tenant) -> None:
    invoice = _in_review_for_missing_goods(tenant, po_number="PO-911")
    purchase_order = PurchaseOrder.objects.for_tenant(tenant).get(po_number="PO-911")
    purchase_order_act(tenant=tenant, purchase_order=purchase_order, action="close", actor=TEST_ACTOR)
    purchase_order_act(tenant=tenant, purchase_order=purchase_order, action="reopen", actor=TEST_ACTOR)
    # Its match never found the PO closed: the reopening changes nothing it was matched against.
    assert (reload(invoice).status, len(results_of(invoice))) == ("pending_review", 1)


# --- a credit note ------------------------------------------------------------------------------


def _credit_note(tenant: Tenant, invoice: Invoice, number: str, amount: str) -> Invoice:
    document = InvoiceDocumentFactory(
        invoice_number=number,
        vendor_id=invoice.vendor_id,
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice_number=invoice.invoice_number,
        lines=[Line("WD-400", "Widget, steel: price corrected", "1", amount)],
    )
    credit_note = invoice_create(tenant=tenant, document=document, actor=TEST_ACTOR)
    assert credit_note.credited_invoice_id == invoice.pk
    return credit_note


def test_a_credit_note_for_an_invoice_in_review_rematches_it_in_the_next_run(tenant: Tenant) -> None:
    invoice = _in_review_for_missing_goods(tenant)
    [first] = results_of(invoice)
    credit_note = _credit_note(tenant, invoice, "CN-700", "100.00")
    # Stored by the door; the invoice is not moved by it (a partial credit changes no state).
    assert reload(invoice).status == "pending_review"

    run = run_matching(tenant)

    # The run moved it back first, then matched it in the same batch.
    invoice = reload(invoice)
    rematch = next(event for event in transitions_of(invoice) if event.after.get("credit_notes"))
    assert (rematch.actor_kind, rematch.actor_id) == ("system", "credit_note")
    assert rematch.before == {"status": "pending_review", "review_queue": "standard"}
    assert rematch.after["status"] == "received"
    assert rematch.after["reason"] == "Credit note CN-700 (EUR 100.00) arrived for this invoice: matching again."
    assert rematch.after["credit_notes"] == [
        {
            "credit_note_id": str(credit_note.pk),
            "credit_note_number": "CN-700",
            "currency": "EUR",
            "total_amount": 10000,
        }
    ]
    old, new = results_of(invoice)
    assert old.pk == first.pk and invoice.latest_match_id == new.pk and new.run_id == run.pk
    # Matching is on the total: the goods are still missing, so back in review for that.
    assert (invoice.status, found(new)) == ("pending_review", [("quantity_not_received", "medium")])
    assert reload(credit_note).status == "received"  # a credit note is never matched itself

    # Seen by the new match: the next run leaves it alone.
    run_matching(tenant)
    assert len(results_of(reload(invoice))) == 2
    assert seal(tenant).unsealed == 0
    assert audit_chain_verify(tenant=tenant).intact


def test_two_credit_notes_are_named_in_one_rematch(tenant: Tenant) -> None:
    invoice = _in_review_for_missing_goods(tenant)
    _credit_note(tenant, invoice, "CN-701", "100.00")
    _credit_note(tenant, invoice, "CN-702", "20.50")
    run_matching(tenant)
    rematches = [event for event in transitions_of(reload(invoice)) if event.after.get("credit_notes")]
    assert len(rematches) == 1
    assert rematches[0].after["reason"] == (
        "Credit notes CN-701 (EUR 100.00), CN-702 (EUR 20.50) arrived for this invoice: matching again."
    )
    assert len(results_of(invoice)) == 2


def test_a_credit_note_for_an_invoice_on_hold_rematches_it(tenant: Tenant) -> None:
    acme = _acme(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-720", lines=[WIDGETS])
    invoice = _matched(InvoiceFactory(vendor=acme, po_number="PO-720", lines=[WIDGETS]), "on_hold")
    _credit_note(tenant, invoice, "CN-720", "50.00")
    run_matching(tenant)
    invoice = reload(invoice)
    assert invoice.status == "on_hold" and len(results_of(invoice)) == 2
    assert transitions_of(invoice)[-2].before == {"status": "on_hold", "review_queue": None}


def test_a_credit_note_leaves_an_invoice_in_dispute_or_voided_by_it_alone(tenant: Tenant) -> None:
    disputed = _in_review_for_missing_goods(tenant, po_number="PO-730")
    _dispute(tenant, disputed, DisputeReason.QUANTITY, "150 missing")
    _credit_note(tenant, disputed, "CN-730", "100.00")
    # A month later: not a possible duplicate of the first (same vendor and total).
    credited_in_full = _in_review_for_missing_goods(tenant, po_number="PO-731", invoice_date=dt.date(2026, 11, 20))
    _credit_note(tenant, credited_in_full, "CN-731", "8000.00")
    assert reload(credited_in_full).status == "void"  # voided by the door

    run_matching(tenant)

    assert (reload(disputed).status, len(results_of(disputed))) == ("disputed", 1)
    assert (reload(credited_in_full).status, len(results_of(credited_in_full))) == ("void", 1)


def test_the_schedule_runs_a_tenant_whose_only_work_is_a_credited_invoice(
    tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With MATCH_ON_INGEST off, only the schedule runs matching; a credit note is never in a
    batch itself, so its tenant is named for the invoice it credits."""
    invoice = _in_review_for_missing_goods(tenant)
    _in_review_for_missing_goods(other_tenant)  # in review, no credit note: nothing to run
    _credit_note(tenant, invoice, "CN-740", "10.00")
    queued: list[str] = []
    monkeypatch.setattr(matching_tasks, "async_task", lambda func, tenant_id, **kwargs: queued.append(tenant_id))

    assert matching_tasks.run_matching_all() == "queued matching for 1 tenants"
    assert queued == [str(tenant.pk)]

    run_matching(tenant)  # matched again: the credit note is seen
    assert matching_tasks.run_matching_all() == "queued matching for 0 tenants"


# --- a currency's amount limits -----------------------------------------------------------------


def _limits_saved(tenant: Tenant, currency: str, **changes: int | Decimal) -> tuple[AmountLimits, AmountLimits]:
    before = amount_limits_for(tenant=tenant, currencies=[currency])[currency]
    values: dict[str, int | Decimal] = {
        "auto_approve_below": before.auto_approve_below,
        "escalate_from": before.escalate_from,
        "write_off_max": before.write_off_max,
        "price_tolerance_floor": before.price_tolerance_floor,
        **changes,
    }
    currency_limit_save(
        tenant=tenant,
        actor=TEST_ACTOR,
        currency=currency,
        auto_approve_below=int(values["auto_approve_below"]),
        escalate_from=int(values["escalate_from"]),
        write_off_max=int(values["write_off_max"]),
        price_tolerance_floor=Decimal(values["price_tolerance_floor"]),
    )
    return before, amount_limits_for(tenant=tenant, currencies=[currency])[currency]


def test_raised_auto_approve_limit_rematches_that_currencys_invoices_in_review(tenant: Tenant) -> None:
    """8,000.00 with a medium discrepancy: over the default 100.00, so a person looks at it.
    Under an auto-approve limit of 10,000.00 (escalation from 20,000.00), the tenant's rules
    approve it without one."""
    invoice = _in_review_for_missing_goods(tenant)
    dollars = _matched(
        InvoiceFactory(vendor=_acme(tenant), currency="USD", po_number="PO-NONE", lines=[WIDGETS]),
        "pending_review",
    )
    # The write-off limit is the payments', not matching's: nothing is re-matched for it.
    before, after = _limits_saved(tenant, "EUR", write_off_max=1000)
    unchanged = matching_rematch_for_currency_limits(tenant=tenant, actor=TEST_ACTOR, before=before, after=after)
    assert (unchanged.moved, reload(invoice).status) == ([], "pending_review")

    before, after = _limits_saved(tenant, "EUR", auto_approve_below=1_000_000, escalate_from=2_000_000)
    outcome = matching_rematch_for_currency_limits(tenant=tenant, actor=TEST_ACTOR, before=before, after=after)

    assert outcome.moved == [invoice.pk]
    assert reload(dollars).status == "pending_review"  # another currency: left alone
    rematch = transitions_of(invoice)[-1]
    assert rematch.after["reason"] == (
        "Amount limits in EUR changed (auto approve below 100.00 → 10000.00, escalate from 10000.00 → 20000.00): "
        "matching again."
    )
    assert rematch.after["currency_limits"]["auto_approve_below"] == {"before": 10000, "after": 1000000}
    invoice = _matched(invoice, "approved")
    old, new = results_of(invoice)
    assert (old.decision, new.decision, found(new)) == (
        "pending_review",
        "approved",
        [("quantity_not_received", "medium")],
    )


def test_limits_reset_to_the_defaults_rematch_too(tenant: Tenant) -> None:
    _limits_saved(tenant, "EUR", escalate_from=500_000)  # 5,000.00: the 8,000.00 invoice escalates
    invoice = _in_review_for_missing_goods(tenant)
    assert invoice.review_queue == "escalated"
    before = amount_limits_for(tenant=tenant, currencies=["EUR"])["EUR"]
    currency_limit_delete(tenant=tenant, actor=TEST_ACTOR, currency="EUR")
    after = amount_limits_for(tenant=tenant, currencies=["EUR"])["EUR"]
    assert after.is_default

    outcome = matching_rematch_for_currency_limits(tenant=tenant, actor=TEST_ACTOR, before=before, after=after)

    assert outcome.moved == [invoice.pk]
    invoice = _matched(invoice, "pending_review")
    assert invoice.review_queue == "standard"  # under the default 10,000.00 again
