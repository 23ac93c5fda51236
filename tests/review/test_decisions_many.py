"""`invoice_review_many`: a batch of reviewers' decisions writes what the same decisions one by
one write (states, audit events, examples, learned aliases), refuses what the single form
refuses with the same error while the others go ahead, and knows no other tenant's invoice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from audit.models import AuditEvent
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DomainError
from invoices.models import Invoice
from learning.models import DecisionExample, ItemAlias, ToleranceSuggestion
from review.decisions import CONFIRM_DISCREPANCIES, DISCREPANCIES_CHANGED, DiscrepancyConfirmation, invoice_review
from review.decisions_many import ReviewRequest, invoice_review_many
from tenants.models import Role, Tenant
from tests.factories import InvoiceFactory, Line, MembershipFactory, PurchaseOrderFactory
from tests.matching.runs import acme_vendor, reload, run_matching

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_matching_tasks(settings: Any) -> None:
    """Runs are started by the tests themselves, never queued by documents."""
    settings.MATCH_ON_INGEST = False


GLOVES_PO = Line("", "Nitrile gloves size M, box of 100", "400", "12.50")
TAPE_PO = Line("", "Duct tape 50 mm x 25 m, grey", "600", "4.80")
# Reworded, and inside the price tolerance: an approval teaches item aliases.
GLOVES_INVOICE = Line("", "Box of 100 nitrile gloves (M)", "40", "12.55")
TAPE_INVOICE = Line("", "Grey duct tape 25m roll (50mm)", "60", "4.81")
# 10 % over the PO price: a price mismatch the reviewer must look at.
TAPE_DEAR = Line("", "Duct tape 50 mm x 25 m, grey", "60", "5.28")


def member(tenant: Tenant, username: str, role: str) -> tuple[Actor, str]:
    user = MembershipFactory(tenant=tenant, role=role, user__username=f"{username}-{tenant.slug}").user
    return Actor(kind="user", id=str(user.pk), label=username), role


def in_review(tenant: Tenant) -> dict[str, Invoice]:
    """Invoices waiting in review, by the decision the tests take on them."""
    acme = acme_vendor(tenant)
    PurchaseOrderFactory(vendor=acme, po_number="PO-100", lines=[GLOVES_PO, TAPE_PO], received=True)
    invoices = {
        "approve": InvoiceFactory(
            vendor=acme, invoice_number="INV-1", po_number="PO-100", lines=[GLOVES_INVOICE.times("41"), TAPE_INVOICE]
        ),
        "approve_dear": InvoiceFactory(
            vendor=acme, invoice_number="INV-2", po_number="PO-100", lines=[TAPE_DEAR.times("61")]
        ),
        "reject": InvoiceFactory(
            vendor=acme, invoice_number="INV-3", po_number="PO-100", lines=[TAPE_DEAR.times("62")]
        ),
        "escalate": InvoiceFactory(
            vendor=acme, invoice_number="INV-4", po_number="PO-100", lines=[TAPE_DEAR.times("63")]
        ),
        # More tape than ordered: a high discrepancy, in the escalated queue.
        "over_billed": InvoiceFactory(
            vendor=acme, invoice_number="INV-5", po_number="PO-100", lines=[TAPE_PO.times("700")]
        ),
    }
    run_matching(tenant)
    return {name: reload(invoice) for name, invoice in invoices.items()}


def decisions(tenant: Tenant, invoices: dict[str, Invoice]) -> list[ReviewRequest]:
    clerk, clerk_role = member(tenant, "clerk", Role.CLERK)
    approver, approver_role = member(tenant, "approver", Role.APPROVER)
    comment = "Price increase confirmed by purchasing."
    return [
        ReviewRequest(invoices["approve"].pk, "approve", clerk, clerk_role, expected_status="pending_review"),
        ReviewRequest(invoices["approve_dear"].pk, "approve", clerk, clerk_role, comment=comment),
        ReviewRequest(invoices["reject"].pk, "reject", clerk, clerk_role, comment="Not at this price."),
        ReviewRequest(invoices["escalate"].pk, "escalate", clerk, clerk_role, comment="Above what I may accept."),
        ReviewRequest(invoices["over_billed"].pk, "approve", approver, approver_role, comment="Ordered by phone."),
    ]


def one_by_one(tenant: Tenant, requests: list[ReviewRequest]) -> list[str]:
    """The single form for each request; the error of each refused one ("" when it went through)."""
    errors = []
    for request in requests:
        try:
            invoice_review(
                tenant=tenant,
                invoice=Invoice.objects.for_tenant(tenant).get(pk=request.invoice_id),
                action=request.action,
                actor=request.actor,
                role=request.role,
                comment=request.comment,
                expected_status=request.expected_status,
            )
        except DomainError as exc:
            errors.append(f"{exc.code}: {exc.message}")
        else:
            errors.append("")
    return errors


def written(tenant: Tenant) -> dict[str, Any]:
    """What the decisions left, as comparable across tenants (numbers and labels, not ids)."""
    numbers = dict(Invoice.objects.for_tenant(tenant).values_list("id", "invoice_number"))
    # The reviewers' moves (the matching runs' name their results, other ids in each tenant).
    events = AuditEvent.objects.for_tenant(tenant).filter(
        entity_type="invoice", action="transition", after__has_key="review_action"
    )
    return {
        "states": sorted(Invoice.objects.for_tenant(tenant).values_list("invoice_number", "status", "review_queue")),
        "transitions": sorted(
            (numbers[uuid_of(entity_id)], event_actor, str(sorted(before.items())), str(sorted(after.items())))
            for entity_id, event_actor, before, after in events.values_list(
                "entity_id", "actor_label", "before", "after"
            )
        ),
        "examples": sorted(
            (
                numbers[invoice_id],
                kind,
                label,
                comment,
                str(details.get("discrepancies")),
                details.get("match_decision"),
            )
            for invoice_id, kind, label, comment, details in DecisionExample.objects.for_tenant(tenant).values_list(
                "invoice_id", "kind", "actor_label", "comment", "details"
            )
        ),
        "aliases": sorted(
            ItemAlias.objects.for_tenant(tenant).values_list("invoice_text", "po_item_text", "learned_by_label")
        ),
        "alias_events": sorted(
            AuditEvent.objects.for_tenant(tenant).filter(entity_type="item_alias").values_list("action", "actor_label")
        ),
        "suggestions": sorted(
            ToleranceSuggestion.objects.for_tenant(tenant).values_list("kind", "status", "approvals")
        ),
        "other_events": sorted(
            AuditEvent.objects.for_tenant(tenant)
            .exclude(entity_type__in=["invoice", "item_alias"])
            .filter(actor_kind="user")
            .values_list("entity_type", "action")
        ),
    }


def uuid_of(entity_id: str) -> uuid.UUID:
    return uuid.UUID(entity_id)


def test_a_batch_writes_what_the_same_decisions_one_by_one_write(tenant: Tenant, other_tenant: Tenant) -> None:
    single = decisions(tenant, in_review(tenant))
    batch = decisions(other_tenant, in_review(other_tenant))

    errors = one_by_one(tenant, single)
    outcomes = invoice_review_many(tenant=other_tenant, requests=batch)

    assert [f"{o.error.code}: {o.error.message}" if o.error else "" for o in outcomes] == errors
    assert errors == ["", "", "", "", ""]
    assert [o.invoice.status if o.invoice else None for o in outcomes] == [
        "approved", "approved", "rejected", "pending_review", "approved"
    ]  # fmt: skip
    one, many = written(tenant), written(other_tenant)
    assert many == one
    assert len(many["examples"]) == 4  # approvals and the rejection; an escalation teaches nothing
    assert many["aliases"]  # the reworded lines approved


def test_each_refusal_is_the_single_forms_and_the_others_go_ahead(tenant: Tenant, other_tenant: Tenant) -> None:
    results = []
    for each in (tenant, other_tenant):
        invoices = in_review(each)
        clerk, clerk_role = member(each, "clerk", Role.CLERK)
        approver, approver_role = member(each, "approver", Role.APPROVER)
        # The approver entered INV-1 by hand: someone else must approve it.
        audit_record(tenant=each, actor=approver, entity_type="invoice", entity_id=invoices["approve"].pk,
                     action="created")  # fmt: skip
        results.append(
            [
                ReviewRequest(invoices["approve"].pk, "approve", approver, approver_role),  # segregation of duties
                ReviewRequest(
                    invoices["over_billed"].pk, "approve", approver, approver_role
                ),  # serious: comment needed
                ReviewRequest(invoices["reject"].pk, "reject", clerk, clerk_role),  # no comment
                ReviewRequest(invoices["escalate"].pk, "approve", clerk, clerk_role, expected_status="approved"),
                ReviewRequest(invoices["approve_dear"].pk, "shred", clerk, clerk_role),
                ReviewRequest(
                    invoices["over_billed"].pk, "approve", clerk, clerk_role, comment="ok"
                ),  # escalated queue
            ]
        )
    single, batch = results
    single_errors = one_by_one(tenant, single[:-1]) + one_by_one(tenant, single[-1:])
    # Two requests on one invoice are not one batch: the last one alone.
    outcomes = invoice_review_many(tenant=other_tenant, requests=batch[:-1])
    outcomes += invoice_review_many(tenant=other_tenant, requests=batch[-1:])

    assert [f"{o.error.code}: {o.error.message}" if o.error else "" for o in outcomes] == single_errors
    assert all(single_errors)
    assert "segregation of duties" in single_errors[0]
    assert "high or critical discrepancy" in single_errors[1]
    assert written(other_tenant) == written(tenant)
    assert {status for _, status, _ in written(other_tenant)["states"]} == {"pending_review"}


def test_decisions_that_go_ahead_beside_a_refused_one_are_written(tenant: Tenant) -> None:
    invoices = in_review(tenant)
    clerk, clerk_role = member(tenant, "clerk", Role.CLERK)
    outcomes = invoice_review_many(
        tenant=tenant,
        requests=[
            ReviewRequest(invoices["approve"].pk, "approve", clerk, clerk_role),
            ReviewRequest(invoices["over_billed"].pk, "reject", clerk, clerk_role, comment="No."),  # escalated: refused
            ReviewRequest(invoices["reject"].pk, "reject", clerk, clerk_role, comment="No."),
        ],
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None and outcomes[1].error.code == "permission_denied"
    assert reload(invoices["approve"]).status == "approved"
    assert reload(invoices["over_billed"]).status == "pending_review"
    assert reload(invoices["reject"]).status == "rejected"


def test_another_tenants_invoice_is_not_found_and_left_alone(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = in_review(other_tenant)["approve"]
    clerk, clerk_role = member(tenant, "clerk", Role.CLERK)
    [outcome] = invoice_review_many(tenant=tenant, requests=[ReviewRequest(foreign.pk, "approve", clerk, clerk_role)])
    assert outcome.error is not None and outcome.error.code == "not_found"
    assert reload(foreign).status == "pending_review"
    assert not AuditEvent.objects.for_tenant(other_tenant).filter(actor_label="clerk").exists()


def test_the_same_invoice_twice_in_one_batch_is_a_caller_error(tenant: Tenant) -> None:
    invoice = in_review(tenant)["approve"]
    clerk, clerk_role = member(tenant, "clerk", Role.CLERK)
    request = ReviewRequest(invoice.pk, "approve", clerk, clerk_role)
    with pytest.raises(ValueError, match="more than once"):
        invoice_review_many(tenant=tenant, requests=[request, request])
    assert reload(invoice).status == "pending_review"


def test_a_batch_asks_for_the_confirmation_a_page_asks_for(tenant: Tenant) -> None:
    """`confirmation` is a field of each request: the single form (the invoice page, bulk approval)
    is this with one request, so the rule holds in a batch, each invoice on its own latest match."""
    invoices = in_review(tenant)
    clerk, clerk_role = member(tenant, "clerk", Role.CLERK)
    seen = invoices["approve_dear"].latest_match_id
    nothing_confirmed = DiscrepancyConfirmation()
    outcomes = invoice_review_many(
        tenant=tenant,
        requests=[
            # A clean invoice needs no confirmation; one with discrepancies needs its own match's.
            ReviewRequest(invoices["approve"].pk, "approve", clerk, clerk_role, confirmation=nothing_confirmed),
            ReviewRequest(invoices["escalate"].pk, "approve", clerk, clerk_role, confirmation=nothing_confirmed),
            ReviewRequest(
                invoices["reject"].pk, "approve", clerk, clerk_role, confirmation=DiscrepancyConfirmation(seen)
            ),
            ReviewRequest(
                invoices["approve_dear"].pk, "approve", clerk, clerk_role, confirmation=DiscrepancyConfirmation(seen)
            ),
        ],
    )
    assert [o.error.details if o.error else None for o in outcomes] == [
        None,
        {"confirm_discrepancies": [CONFIRM_DISCREPANCIES]},
        {"confirm_discrepancies": [DISCREPANCIES_CHANGED]},
        None,
    ]
    assert [reload(invoices[name]).status for name in ("approve", "escalate", "reject", "approve_dear")] == [
        "approved", "pending_review", "pending_review", "approved"
    ]  # fmt: skip
