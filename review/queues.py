"""The review queues as the web app works them: filtered reads, and the reviewer's decisions.

Reads (`review_queue_list`) start from the tenant like every
selector. Writes go through `invoice_review` (and so through the one transition function); the
rules added here are the web app's, on top of those of `review.decisions`:
- approving over a high or critical discrepancy needs a comment (the auditor will ask why the
  reviewer overrode the engine);
- bulk approval takes only clean invoices (matched, and no discrepancy at all on their latest
  match: a medium price difference is still a difference someone must look at), each through its
  own transition, so a refusal of one does not undo the others; the confirmation lists every
  chosen invoice with its discrepancies and the sum per currency being approved;
- an invoice the tenant's approval policy gives a chain of approvals (review.approvals) is not
  clean for bulk approval either: each step is someone's own decision on its page;
- an invoice the reviewer may not approve (segregation of duties: they entered it, or changed its
  vendor's bank details) is left out with the reason, before the confirmation;
- after a decision the reviewer goes on to the next invoice of the same queue (`next_in_queue`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.actors import Actor
from core.exceptions import DomainError
from core.money import exponent
from invoices.models import Invoice, InvoiceStatus
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from matching.models import Discrepancy
from review.approvals import chain_rule_of
from review.assignments import assignee_filter
from review.decisions import (
    ESCALATED_NEEDS_APPROVER,
    SERIOUS_SEVERITIES,
    DiscrepancyConfirmation,
    can_review,
    invoice_review,
)
from review.segregation import invoice_approval_exclusions_many
from tenants.models import Tenant

NOT_CLEAN = "Not clean ({labels}): approve it on its own page, where each discrepancy is shown."
NOT_MATCHED = "Not matched yet: review it on its own page."
NOT_IN_QUEUE = "No longer waiting for review."
NEEDS_CHAIN = "Needs the approval chain “{rule}”: approve it on its own page, step by step."

# Sort keys the queue offers, as ORM orderings; the default shows the oldest first (first in,
# first out is what an AP team owes its vendors).
QUEUE_SORTS = {
    "age": ("created_at",),
    "-age": ("-created_at",),
    "amount": ("total_amount",),
    "-amount": ("-total_amount",),
    "vendor": ("vendor__name", "vendor_name_raw"),
    "-vendor": ("-vendor__name", "-vendor_name_raw"),
    "confidence": ("latest_match__confidence",),
    "-confidence": ("-latest_match__confidence",),
    "invoice_date": ("invoice_date",),
    "-invoice_date": ("-invoice_date",),
}
DEFAULT_SORT = "age"


@dataclass(frozen=True)
class QueueFilters:
    """What the reviewer narrowed the queue to. Amounts are in major units of each currency."""

    vendor_id: uuid.UUID | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    discrepancy_type: str = ""
    older_than_days: int | None = None
    # "me", "none" or a member's id (review.assignments.assignee_filter); "" for anyone.
    assigned: str = ""
    sort: str = DEFAULT_SORT


def _serious_on_latest(tenant: Tenant) -> Exists:
    return Exists(
        Discrepancy.objects.for_tenant(tenant).filter(
            match_result_id=OuterRef("latest_match_id"), severity__in=SERIOUS_SEVERITIES
        )
    )


def _amount_bound(queryset: QuerySet, value: Decimal, lookup: str) -> Q:
    """`total_amount <lookup> value` per currency: the same 100.00 is 10000 cents but 100 yen."""
    bound = Q(pk__in=[])
    for currency in set(queryset.values_list("currency", flat=True)):
        minor = int(value.scaleb(exponent(currency)).to_integral_value())
        bound |= Q(currency=currency, **{f"total_amount__{lookup}": minor})
    return bound


def _any_on_latest(tenant: Tenant) -> Exists:
    return Exists(Discrepancy.objects.for_tenant(tenant).filter(match_result_id=OuterRef("latest_match_id")))


def review_queue_list(*, tenant: Tenant, queue: str, filters: QueueFilters, user_id: Any = None) -> QuerySet:
    """The invoices waiting in `queue`, filtered and sorted, with `has_serious` and
    `has_discrepancy` annotated (`is_clean` reads the latter); `user_id` is whom "me" means."""
    invoices = (
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.PENDING_REVIEW, review_queue=queue)
        .select_related("vendor", "latest_match", "purchase_order", "assigned_to")
        .annotate(has_serious=_serious_on_latest(tenant), has_discrepancy=_any_on_latest(tenant))
    )
    if filters.vendor_id is not None:
        invoices = invoices.filter(vendor_id=filters.vendor_id)
    if filters.discrepancy_type:
        invoices = invoices.filter(
            Exists(
                Discrepancy.objects.for_tenant(tenant).filter(
                    match_result_id=OuterRef("latest_match_id"), type=filters.discrepancy_type
                )
            )
        )
    if filters.assigned and (assigned := assignee_filter(value=filters.assigned, user_id=user_id)) is not None:
        invoices = invoices.filter(**assigned)
    if filters.older_than_days:
        invoices = invoices.filter(created_at__lte=timezone.now() - dt.timedelta(days=filters.older_than_days))
    if filters.amount_min is not None:
        invoices = invoices.filter(_amount_bound(invoices, filters.amount_min, "gte"))
    if filters.amount_max is not None:
        invoices = invoices.filter(_amount_bound(invoices, filters.amount_max, "lte"))
    ordering = QUEUE_SORTS.get(filters.sort, QUEUE_SORTS[DEFAULT_SORT])
    # The id last: a stable order, so a page boundary never shows an invoice twice.
    return invoices.order_by(*ordering, "id")


def discrepancies_by_invoice(*, tenant: Tenant, invoices: Iterable[Invoice]) -> dict[uuid.UUID, list[Discrepancy]]:
    """The latest match's discrepancies of each invoice, in one query (for a page of the queue)."""
    match_ids = [invoice.latest_match_id for invoice in invoices if invoice.latest_match_id]
    found: dict[uuid.UUID, list[Discrepancy]] = {}
    for discrepancy in Discrepancy.objects.for_tenant(tenant).filter(match_result_id__in=match_ids).order_by("type"):
        found.setdefault(discrepancy.invoice_id, []).append(discrepancy)
    return found


def is_clean(invoice: Invoice) -> bool:
    """What bulk approval takes: matched, and no discrepancy at all on the latest match (the
    invoice annotated by `review_queue_list` or `bulk_approval_plan`)."""
    return invoice.latest_match_id is not None and not invoice.has_discrepancy


def next_in_queue(*, tenant: Tenant, queue: str, sort: str = DEFAULT_SORT, after: Invoice) -> Invoice | None:
    """The invoice a reviewer works next once `after` is decided: the head of `queue` in the
    queue's sort (oldest first by default), `after` aside. The head, not the one below `after`:
    every decision takes its invoice out of the queue, so working from the head is working the
    queue in order, and an invoice passed over is met again rather than forgotten."""
    invoices = review_queue_list(tenant=tenant, queue=queue, filters=QueueFilters(sort=sort))
    return invoices.exclude(pk=after.pk).first()


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    total_minor: int
    count: int


@dataclass
class BulkApproval:
    """What a bulk approval would do or did: the approved invoices, the others with the reason,
    each chosen invoice's discrepancies (latest match) and the sums per currency approved."""

    approved: list[Invoice] = field(default_factory=list)
    skipped: list[tuple[Invoice, str]] = field(default_factory=list)
    discrepancies: dict[uuid.UUID, list[Discrepancy]] = field(default_factory=dict)

    @property
    def totals(self) -> list[CurrencyTotal]:
        """The exact sum of the approved invoices' totals per currency (minor units), by currency."""
        sums: dict[str, list[int]] = {}
        for invoice in self.approved:
            entry = sums.setdefault(invoice.currency, [0, 0])
            entry[0] += invoice.total_amount
            entry[1] += 1
        return [CurrencyTotal(currency, total, count) for currency, (total, count) in sorted(sums.items())]

    def discrepancies_of(self, invoice: Invoice) -> list[Discrepancy]:
        return self.discrepancies.get(invoice.pk, [])


def _not_clean_reason(found: list[Discrepancy]) -> str:
    labels = sorted({DISCREPANCY_TYPE_LABELS.get(d.type, d.type) for d in found})
    return NOT_CLEAN.format(labels=", ".join(labels)) if labels else NOT_MATCHED


def bulk_approval_plan(
    *, tenant: Tenant, invoice_ids: Iterable[uuid.UUID], role: str | None, user_id: int | None = None
) -> BulkApproval:
    """Which of the chosen invoices a bulk approval would approve, before the reviewer confirms.

    The checks here make the confirmation page honest; `invoice_review` checks the role, the
    cleanliness and segregation of duties (`user_id`, the reviewer: review.segregation) again, on
    the locked row, when the approval is made.
    """
    invoices = list(
        Invoice.objects.for_tenant(tenant)
        .filter(pk__in=list(invoice_ids))
        .select_related("vendor")
        .annotate(has_discrepancy=_any_on_latest(tenant))
        .order_by("created_at", "id")
    )
    plan = BulkApproval(discrepancies=discrepancies_by_invoice(tenant=tenant, invoices=invoices))
    exclusions = invoice_approval_exclusions_many(tenant=tenant, invoices=invoices) if user_id is not None else {}
    for invoice in invoices:
        refusal = exclusions.get(invoice.pk, {}).get(user_id) if user_id is not None else None
        if invoice.status != InvoiceStatus.PENDING_REVIEW:
            plan.skipped.append((invoice, NOT_IN_QUEUE))
        elif not is_clean(invoice):
            plan.skipped.append((invoice, _not_clean_reason(plan.discrepancies_of(invoice))))
        elif not can_review(role=role, invoice=invoice):
            plan.skipped.append((invoice, ESCALATED_NEEDS_APPROVER))
        elif refusal:
            plan.skipped.append((invoice, refusal))
        elif (rule := chain_rule_of(tenant=tenant, invoice=invoice)) is not None:
            plan.skipped.append((invoice, NEEDS_CHAIN.format(rule=rule.name)))
        else:
            plan.approved.append(invoice)
    return plan


def invoice_review_bulk_approve(
    *, tenant: Tenant, invoice_ids: Iterable[uuid.UUID], actor: Actor, role: str | None, comment: str = ""
) -> BulkApproval:
    """Approve the clean invoices among `invoice_ids`, each in its own transaction.

    Each goes through `invoice_review` with `expected_status=pending_review`, so one that a
    colleague decided meanwhile is reported as skipped, not overwritten; the role check of the
    escalated queue applies to each as on its own page; and it confirms no discrepancy, so an
    invoice re-matched with one since the plan is refused on its locked row, not approved unseen.
    """
    user_id = int(actor.id) if actor.kind == "user" else None
    plan = bulk_approval_plan(tenant=tenant, invoice_ids=invoice_ids, role=role, user_id=user_id)
    outcome = BulkApproval(skipped=list(plan.skipped), discrepancies=plan.discrepancies)
    for invoice in plan.approved:
        try:
            invoice_review(
                tenant=tenant,
                invoice=invoice,
                action="approve",
                actor=actor,
                role=role,
                comment=comment or "Bulk approval of clean invoices.",
                expected_status=InvoiceStatus.PENDING_REVIEW,
                confirmation=DiscrepancyConfirmation(match_id=None),
            )
        except DomainError as exc:
            outcome.skipped.append((invoice, exc.message))
        else:
            outcome.approved.append(invoice)
    return outcome
