"""What the reviewers decide, and what the vendors send back: the queues worked day by day.

An invoice waits in review three days to two weeks (escalated ones two to ten days), then its reviewer acts
through `review.decisions.invoice_review`, as the web app's buttons do: the clerk on the
standard queue, the approver on the escalated one. What they decide follows the story of the
document (`InvoicePlan.scenario`) and what matching found: a price increase is accepted,
disputed or passed up; a renumbered copy is rejected; a service bill without a PO is approved
with a comment. Disputes end as disputes do: a credit note for the difference (and the invoice
approved for the rest), a credit note for the whole (the invoice voids, a corrected one follows),
a rejection when the vendor never answers, or still open. A rejected invoice with an error is
followed by its corrected version. The last few days' documents are still waiting.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from core.actors import Actor
from core.money import from_minor
from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from matching.models import Discrepancy
from recon_site.demo.invoices import invoice_create_from_plan
from recon_site.demo.people import DemoPeople
from recon_site.demo.plan import BilledLine, DemoCalendar, InvoicePlan, rng_for
from review.assignments import invoice_assign
from review.decisions import invoice_review
from review.decisions_many import ReviewRequest, invoice_review_many
from tenants.models import Tenant
from vendors.models import Vendor

# A refused decision is a bug of the demo's story: it stops the seed (all rolls back).
DECISION_REFUSED = "The demo's reviewers were refused: {refused}"
CREDIT_REASONS = {
    "price_up": "price difference to the order",
    "price_up_high": "price difference to the order",
    "over_billed": "quantity billed above the order",
    "freight_line": "freight included in the agreed price",
}


@dataclass(frozen=True)
class Decision:
    action: str  # review.decisions.REVIEW_ACTIONS: approve | reject | dispute | escalate
    comment: str
    # What follows: partial_credit | full_credit (a credit note from the vendor), reissue (a
    # corrected invoice), reject_later (the vendor never answers); "" for nothing.
    then: str = ""


def _approve(comment: str) -> Decision:
    return Decision(action="approve", comment=comment)


def _reject(comment: str, then: str = "") -> Decision:
    return Decision(action="reject", comment=comment, then=then)


def _dispute(comment: str, then: str) -> Decision:
    return Decision(action="dispute", comment=comment, then=then)


# What reviewers do with each kind of document, with how often (shares add up to 1).
DECISIONS: dict[str, tuple[tuple[float, Decision], ...]] = {
    "price_up": (
        (0.45, _approve("Price increase confirmed by purchasing.")),
        (0.35, _dispute("Unit price above the PO: credit note requested.", "partial_credit")),
        (0.20, Decision(action="escalate", comment="Price increase above what I may accept.")),
    ),
    "price_up_high": (
        (0.7, _dispute("15 % above the agreed price: credit note requested.", "partial_credit")),
        (0.3, _dispute("Price not agreed: asked the vendor for a corrected invoice.", "full_credit")),
    ),
    "freight_line": (
        (0.7, _approve("Freight agreed with the vendor for this delivery.")),
        (0.3, _dispute("Freight is included in the agreed price: credit requested.", "partial_credit")),
    ),
    "tax_slip": ((1.0, _dispute("VAT charged at 16 % instead of 19 %: corrected invoice requested.", "full_credit")),),
    "total_slip": ((1.0, _reject("The total is not lines plus VAT: corrected invoice requested.", "reissue")),),
    "over_billed": ((1.0, _dispute("More billed than ordered: credit note requested.", "partial_credit")),),
    "billed_ahead": (
        (0.5, _approve("Rest of the order confirmed by the warehouse for next week.")),
        (0.5, _dispute("Billed the whole order before the rest arrived.", "reject_later")),
    ),
    "po_typo": (
        (0.8, _approve("PO number mistyped by the vendor; goods and prices checked.")),
        (0.2, _reject("Unknown PO number: returned to the vendor.", "reissue")),
    ),
    "wrong_po": ((1.0, _reject("Billed against another vendor's PO: corrected invoice requested.", "reissue")),),
    "wrong_currency": ((1.0, _reject("Billed in USD; the order is in EUR: corrected invoice requested.", "reissue")),),
    "late": ((1.0, _approve("Goods arrived before the PO was closed; the invoice is correct.")),),
    "cancelled_po": ((1.0, _reject("The order was cancelled before delivery: nothing to pay.")),),
    "renumbered_copy": ((1.0, _reject("The same invoice again under another number.")),),
    "service": (
        (0.95, _approve("Recurring service under contract; no PO needed.")),
        (0.05, _reject("Not ordered by us.")),
    ),
    "one_off": (
        (0.5, _approve("One-off purchase, approved by the plant manager.")),
        (0.5, _reject("Not a supplier of ours: returned to the sender.")),
    ),
}
# What the approver does with what a clerk passed up, and with clean documents in review (above
# the escalation amount, or matched to an inferred PO).
APPROVED_ON_ESCALATION = _approve("Accepted: within what purchasing agreed.")
CHECKED = _approve("Checked against the delivery note and the order.")
# A risk signal is not passed on the delivery note alone: the approver's comment says what was
# checked for it, as an auditor reading the trail would expect.
RISK_CHECKS = {
    "bank_account_changed": "New bank details confirmed by phone with the vendor's known contact.",
    "shared_bank_account": "Shared bank account explained by the vendor (group treasury); confirmed in writing.",
    "new_vendor_large_invoice": "New vendor checked: contract and signed order on file.",
    "unusual_amount": "Larger than usual: the order was confirmed by purchasing.",
}


def review_decision(*, plan: InvoicePlan, types: set[str], queue: str, draw: float) -> Decision:
    """The reviewer's decision on an invoice waiting in `queue`, knowing its story and its discrepancies."""
    decision = _story_decision(plan=plan, types=types, queue=queue, draw=draw)
    checks = [comment for kind, comment in RISK_CHECKS.items() if kind in types]
    if decision.action == "approve" and checks:
        return _approve(" ".join([*checks, decision.comment]).strip())
    return decision


def _story_decision(*, plan: InvoicePlan, types: set[str], queue: str, draw: float) -> Decision:
    for share, decision in DECISIONS.get(plan.scenario, ()):
        if draw < share:
            if decision.action == "escalate" and queue == ReviewQueue.ESCALATED:
                return APPROVED_ON_ESCALATION
            return decision
        draw -= share
    return CHECKED if types else _approve("")


@dataclass
class ReviewDesk:
    """The review work's state across days: what the demo wrote, and what is still to come."""

    tenant: Tenant
    calendar: DemoCalendar
    people: DemoPeople
    vendors: dict[str, Vendor]
    actor: Actor  # who writes the vendors' documents
    plans: dict[uuid.UUID, InvoicePlan]  # every document the demo wrote, by invoice id
    arrivals: dict[int, list[InvoicePlan]]  # documents still to come, by day (shared with the timeline)
    seen: dict[uuid.UUID, int] = field(default_factory=dict)  # first day each invoice waited in review
    followups: dict[int, list[tuple[str, uuid.UUID]]] = field(default_factory=lambda: defaultdict(list))


def _reviewer(queue: str | None) -> str:
    """Clerks work the standard queue; only approvers may act on the escalated one."""
    return "clerk" if queue == ReviewQueue.STANDARD else "approver"


def _act(desk: ReviewDesk, *, invoice: Invoice, action: str, username: str, comment: str) -> None:
    invoice_review(
        tenant=desk.tenant,
        invoice=invoice,
        action=action,
        actor=desk.people.actors[username],
        role=desk.people.roles[username],
        comment=comment,
        expected_status=invoice.status,
    )


def _discrepancy_types(tenant: Tenant, invoices: list[Invoice]) -> dict[uuid.UUID, set[str]]:
    types: dict[uuid.UUID, set[str]] = defaultdict(set)
    rows = Discrepancy.objects.for_tenant(tenant).filter(
        match_result_id__in=[invoice.latest_match_id for invoice in invoices]
    )
    for invoice_id, kind in rows.values_list("invoice_id", "type"):
        types[invoice_id].add(kind)
    return types


def _schedule(desk: ReviewDesk, *, decision: Decision, invoice: Invoice, day: int) -> None:
    """What follows a decision: a document from the vendor, or a later step of a reviewer."""
    plan = desk.plans[invoice.pk]
    rng = rng_for("followup", plan.number, plan.arrival_day)
    if decision.then in ("partial_credit", "full_credit", "reject_later"):
        later = rng.randint(10, 20) if decision.then == "reject_later" else rng.randint(5, 14)
        if day + later <= 0:
            desk.followups[day + later].append((decision.then, invoice.pk))
    elif decision.then == "reissue" and plan.corrected is not None:
        reissue_day = day + rng.randint(2, 7)
        if reissue_day <= 0:
            desk.arrivals[reissue_day].append(_corrected(plan, day=reissue_day))


def _corrected(plan: InvoicePlan, *, day: int) -> InvoicePlan:
    """The vendor's corrected document, under the number of the one it replaces (which no longer bills)."""
    assert plan.corrected is not None
    return dataclasses.replace(
        plan.corrected, number=plan.number, invoice_day=day - 1, arrival_day=day, scenario="corrected"
    )


def credit_note_plan(original: InvoicePlan, *, day: int, net: int | None) -> InvoicePlan:
    """The vendor's credit note for `original`: for `net` (minor units, before VAT), or for all of it."""
    credit = dataclasses.replace(
        original,
        number=f"CN-{original.number}",
        document_type="credit_note",
        credited_number=original.number,
        invoice_day=day,
        arrival_day=day,
        po_number="",
        prepaid_share=Decimal(0),
        scenario="credit_note",
        named_by="id",
        source="api",
        corrected=None,
    )
    if net is None:
        return credit
    reason = CREDIT_REASONS.get(original.scenario, "as agreed")
    line = BilledLine(
        description=f"Credit for invoice {original.number}: {reason}",
        quantity=Decimal(1),
        unit_price=from_minor(net, original.currency),
    )
    return dataclasses.replace(credit, lines=(line,), tax_error=0, total_error=0, shipping=Decimal(0))


def _followup(desk: ReviewDesk, *, kind: str, invoice_id: uuid.UUID, day: int) -> None:
    invoice = Invoice.objects.for_tenant(desk.tenant).get(pk=invoice_id)
    if invoice.status != InvoiceStatus.DISPUTED:
        return
    plan = desk.plans[invoice_id]
    if kind == "reject_later":
        _act(
            desk,
            invoice=invoice,
            action="reject",
            username="approver",
            comment="No answer from the vendor in two weeks: rejected.",
        )
        return
    partial = kind == "partial_credit" and plan.credit_net > 0
    credit = credit_note_plan(plan, day=day, net=plan.credit_net if partial else None)
    created = invoice_create_from_plan(
        tenant=desk.tenant, plan=credit, vendors=desk.vendors, calendar=desk.calendar, actor=desk.actor
    )
    desk.plans[created.pk] = credit
    if partial:
        # Back to review with the credit applied, then approved for what is still owed.
        _act(
            desk,
            invoice=invoice,
            action="escalate",
            username="approver",
            comment=f"Credit note {credit.number} received.",
        )
        _act(
            desk,
            invoice=invoice,
            action="approve",
            username="approver",
            comment=f"Approved less credit note {credit.number}.",
        )
    elif plan.corrected is not None and day + 2 <= 0:
        # Credited in full, the invoice is void; the corrected one follows.
        desk.arrivals[day + 2].append(_corrected(plan, day=day + 2))


def reviews_work(*, desk: ReviewDesk, day: int) -> None:
    """A day's review work: the vendors' answers to disputes, then the queues, oldest first."""
    # Answers that came over the weekend are read on Monday.
    for due in sorted(due for due in desk.followups if due <= day):
        for kind, invoice_id in desk.followups.pop(due):
            _followup(desk, kind=kind, invoice_id=invoice_id, day=day)
    waiting = list(
        Invoice.objects.for_tenant(desk.tenant)
        .filter(status=InvoiceStatus.PENDING_REVIEW)
        .order_by("created_at", "id")
        .only("id", "tenant_id", "status", "review_queue", "latest_match_id", "invoice_number")
    )
    types = _discrepancy_types(desk.tenant, waiting)
    decided: list[tuple[Invoice, Decision]] = []
    for invoice in waiting:
        first_seen = desk.seen.setdefault(invoice.pk, day)
        plan = desk.plans[invoice.pk]
        rng = rng_for("review", plan.number, plan.arrival_day)
        escalated = invoice.review_queue == ReviewQueue.ESCALATED
        waits = rng.randint(2, 10) if escalated else rng.randint(3, 14)
        if first_seen + waits > day:
            continue
        decision = review_decision(
            plan=plan, types=types[invoice.pk], queue=invoice.review_queue or "", draw=rng.random()
        )
        decided.append((invoice, decision))
    # The day's decisions together, as a reviewer working down the queue takes them (the
    # review service's many-form: the same checks, transitions, events and examples).
    outcomes = invoice_review_many(
        tenant=desk.tenant,
        requests=[
            ReviewRequest(
                invoice_id=invoice.pk,
                action=decision.action,
                actor=desk.people.actors[_reviewer(invoice.review_queue)],
                role=desk.people.roles[_reviewer(invoice.review_queue)],
                comment=decision.comment,
                expected_status=invoice.status,
            )
            for invoice, decision in decided
        ],
    )
    refused = [(outcome.request.invoice_id, outcome.error) for outcome in outcomes if not outcome.ok]
    if refused:
        raise RuntimeError(DECISION_REFUSED.format(refused=refused))
    for invoice, decision in decided:
        _schedule(desk, decision=decision, invoice=invoice, day=day)


def open_work_assign(*, desk: ReviewDesk) -> None:
    """At the end of the month, who has what is still open (review.assignments): the clerks share
    the standard queue and the holds, some left for whoever takes them; the approver has most of
    the escalated queue. Each hand-over as a clerk makes it, audited."""
    waiting = (
        Invoice.objects.for_tenant(desk.tenant)
        .filter(status__in=(InvoiceStatus.PENDING_REVIEW, InvoiceStatus.ON_HOLD))
        .order_by("created_at", "id")
    )
    for invoice in waiting:
        draw = rng_for("assign", invoice.invoice_number).random()
        if invoice.review_queue == ReviewQueue.ESCALATED:
            username = "approver" if draw < 0.6 else ""
        else:
            username = "clerk" if draw < 0.4 else "clerk2" if draw < 0.7 else ""
        if username:
            invoice_assign(
                tenant=desk.tenant,
                invoice=invoice,
                actor=desk.people.actors["clerk"],
                assignee_id=desk.people.actors[username].id,
            )
