"""Suggestions that no longer hold: found when they are listed or accepted, and withdrawn.

A `PaymentSuggestion` is the engine's view of the open invoices when its run looked. The
invoices move on (paid from another payment, voided, credited) and the payment may be allocated
by hand; a suggestion that then stays listed invites an Accept that can only fail. So the
suggestions are re-validated where a clerk meets them: `suggestion_staleness` says why each
no longer holds (three queries for a page), and `suggestions_withdraw` removes those and puts
their payments back among the unmatched, with the same `suggestion_withdrawn` audit event a run
writes when its new look finds nothing. A run stores what it suggests with `suggestions_store`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from django.db import transaction
from django.db.models import Exists, OuterRef

from audit.services import AuditEntry, audit_record_many
from core.actors import Actor, system_actor
from core.tenancy.scoping import tenant_rows_insert, tenant_rows_update
from invoices.models import DocumentType, Invoice
from payments.models import Payment, PaymentStatus, PaymentSuggestion
from payments.reconciliation.loading import PAYABLE_STATUSES, RECONCILABLE_PAYMENT_STATUSES, among, open_balances
from payments.reconciliation.types import Proposal
from payments.reconciliation.writing import money_label
from tenants.models import Tenant

STALE_PAYMENT = "the payment is {status} now."
STALE_INVOICE_GONE = "an invoice it named no longer exists."
STALE_INVOICE_STATUS = "invoice {number} is {status} now."
STALE_INVOICE_PAID = "invoice {number} has {balance} open, not the {amount} suggested (paid meanwhile)."
STALE_NO_CANDIDATE = "none of the invoices it named is open any more."
# Who withdraws a suggestion a page found stale: no clerk decided it, the check did.
REVALIDATION_ACTOR = system_actor("payments:suggestion_check")


def suggestion_staleness(*, tenant: Tenant, suggestions: Sequence[PaymentSuggestion]) -> dict[uuid.UUID, str]:
    """`{payment id: why}` for the suggestions that no longer hold; the others are left out.

    A suggestion holds while its payment is unmatched or suggested and every invoice it
    allocates to is still payable, in the payment's currency, with at least the suggested amount
    open (payment and write-off together, as `allocations_apply` checks them). A suggestion that
    allocates nothing (several invoices fit) holds while one of its candidates is still open.
    The suggestions need their `payment` loaded.
    """
    invoice_ids: set[str] = set()
    for suggestion in suggestions:
        invoice_ids |= {str(item["invoice_id"]) for item in suggestion.allocations}
        invoice_ids |= {str(invoice_id) for invoice_id in suggestion.candidate_invoice_ids}
    invoices = {
        str(invoice.pk): invoice
        for invoice in Invoice.objects.for_tenant(tenant)
        .filter(pk__in=invoice_ids)
        .only("id", "status", "currency", "amount_due", "invoice_number", "document_type")
    }
    balances = open_balances(tenant=tenant, invoices=list(invoices.values()))
    stale: dict[uuid.UUID, str] = {}
    for suggestion in suggestions:
        why = _why_stale(suggestion, invoices, balances)
        if why is not None:
            stale[suggestion.payment_id] = why
    return stale


def _open(invoice: Invoice | None, currency: str, balances: Mapping[uuid.UUID, int]) -> bool:
    return (
        invoice is not None
        and invoice.status in PAYABLE_STATUSES
        and invoice.document_type == DocumentType.INVOICE
        and invoice.currency == currency
        and balances.get(invoice.pk, 0) > 0
    )


def _why_stale(
    suggestion: PaymentSuggestion, invoices: Mapping[str, Invoice], balances: Mapping[uuid.UUID, int]
) -> str | None:
    payment = suggestion.payment
    if payment.status not in RECONCILABLE_PAYMENT_STATUSES:
        return STALE_PAYMENT.format(status=payment.get_status_display().lower())
    if not suggestion.allocations:
        candidates = [invoices.get(str(invoice_id)) for invoice_id in suggestion.candidate_invoice_ids]
        if any(_open(invoice, payment.currency, balances) for invoice in candidates):
            return None
        return STALE_NO_CANDIDATE
    wanted: dict[str, int] = {}
    for item in suggestion.allocations:
        wanted[str(item["invoice_id"])] = wanted.get(str(item["invoice_id"]), 0) + int(item["amount"])
    for invoice_id, amount in wanted.items():
        invoice = invoices.get(invoice_id)
        if invoice is None:
            return STALE_INVOICE_GONE
        if invoice.status not in PAYABLE_STATUSES or invoice.currency != payment.currency:
            return STALE_INVOICE_STATUS.format(
                number=invoice.invoice_number, status=invoice.get_status_display().lower()
            )
        balance = balances.get(invoice.pk, 0)
        if amount > balance:
            return STALE_INVOICE_PAID.format(
                number=invoice.invoice_number,
                balance=money_label(max(balance, 0), invoice.currency),
                amount=money_label(amount, invoice.currency),
            )
    return None


def suggestions_withdraw(
    *, tenant: Tenant, suggestions: Sequence[PaymentSuggestion], reasons: Mapping[uuid.UUID, str], actor: Actor
) -> int:
    """Remove these suggestions (the rows judged, by id) and put their payments back to unmatched.

    By id, not by payment: a run that replaced a suggestion meanwhile made a new judgement,
    which stays. A payment goes back to unmatched only while it is still `suggested` and has no
    suggestion left (compare-and-set), with one `suggestion_withdrawn` event naming why
    (`reasons`: payment id → why). Returns how many payments went back.
    """
    if not suggestions:
        return 0
    payment_ids = [suggestion.payment_id for suggestion in suggestions]
    with transaction.atomic():
        PaymentSuggestion.objects.for_tenant(tenant).filter(pk__in=[s.pk for s in suggestions]).delete()
        has_suggestion = PaymentSuggestion.objects.for_tenant(tenant).filter(payment_id=OuterRef("pk"))
        back = list(
            Payment.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .filter(pk__in=payment_ids, status=PaymentStatus.SUGGESTED)
            .exclude(Exists(has_suggestion))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Payment.objects.for_tenant(tenant).filter(pk__in=back).update(status=PaymentStatus.UNMATCHED)
        audit_record_many(
            tenant=tenant,
            actor=actor,
            entries=[
                AuditEntry(
                    "payment",
                    str(payment_id),
                    "suggestion_withdrawn",
                    {"status": PaymentStatus.SUGGESTED},
                    {"status": PaymentStatus.UNMATCHED, "reason": f"Out of date: {reasons.get(payment_id, '')}"},
                )
                for payment_id in back
            ],
        )
    return len(back)


def suggestions_revalidate(*, tenant: Tenant, suggestions: Sequence[PaymentSuggestion]) -> list[PaymentSuggestion]:
    """The suggestions that still hold; the stale ones are withdrawn on the way (by the check)."""
    stale = suggestion_staleness(tenant=tenant, suggestions=suggestions)
    if stale:
        suggestions_withdraw(
            tenant=tenant,
            suggestions=[s for s in suggestions if s.payment_id in stale],
            reasons=stale,
            actor=REVALIDATION_ACTOR,
        )
    return [suggestion for suggestion in suggestions if suggestion.payment_id not in stale]


def suggestions_store(
    *, tenant: Tenant, suggested: Sequence[Proposal], unanswered: Sequence[uuid.UUID], actor: Actor
) -> None:
    """Replace the suggestions of these payments, and set their status by compare-and-set.

    A payment a clerk allocated meanwhile is no longer unmatched/suggested; the update then
    skips it and its new suggestion is removed again. Set-based like allocations_apply: one
    read of the payments' statuses, then one statement per table (ids as one array each).
    """
    touched = [proposal.payment_id for proposal in suggested] + list(unanswered)
    if not touched:
        return
    PaymentSuggestion.objects.for_tenant(tenant).filter(payment_id__in=among(touched)).delete()
    statuses = dict(
        Payment.objects.for_tenant(tenant)
        .filter(pk__in=among(touched), status__in=RECONCILABLE_PAYMENT_STATUSES)
        .values_list("id", "status")
    )
    suggested = [proposal for proposal in suggested if proposal.payment_id in statuses]
    tenant_rows_insert(
        tenant=tenant,
        rows=[
            PaymentSuggestion(
                tenant=tenant,
                payment_id=proposal.payment_id,
                tier=proposal.tier,
                confidence=proposal.confidence,
                reason=proposal.reason,
                allocations=[
                    {"invoice_id": str(a.invoice_id), "amount": a.amount, "kind": a.kind} for a in proposal.allocations
                ],
                candidate_invoice_ids=[str(invoice_id) for invoice_id in proposal.candidates],
                vendor_id=proposal.vendor_id,
            )
            for proposal in suggested
        ],
    )
    newly_suggested = [p for p in suggested if statuses[p.payment_id] == PaymentStatus.UNMATCHED]
    no_longer = [payment_id for payment_id in unanswered if statuses.get(payment_id) == PaymentStatus.SUGGESTED]
    # Compare-and-set on the status read above (a clerk may have moved a payment since).
    tenant_rows_update(
        tenant=tenant,
        model=Payment,
        fields=("status",),
        rows=[(p.payment_id, PaymentStatus.SUGGESTED) for p in newly_suggested],
        only_where={"status": PaymentStatus.UNMATCHED},
    )
    tenant_rows_update(
        tenant=tenant,
        model=Payment,
        fields=("status",),
        rows=[(payment_id, PaymentStatus.UNMATCHED) for payment_id in no_longer],
        only_where={"status": PaymentStatus.SUGGESTED},
    )
    entries = [
        AuditEntry(
            "payment",
            str(proposal.payment_id),
            "suggested",
            {"status": PaymentStatus.UNMATCHED},
            {
                "status": PaymentStatus.SUGGESTED,
                "tier": proposal.tier,
                "confidence": str(proposal.confidence),
                "reason": proposal.reason,
            },
        )
        for proposal in newly_suggested
    ] + [
        AuditEntry(
            "payment",
            str(payment_id),
            "suggestion_withdrawn",
            {"status": PaymentStatus.SUGGESTED},
            {"status": PaymentStatus.UNMATCHED},
        )
        for payment_id in no_longer
    ]
    audit_record_many(tenant=tenant, actor=actor, entries=entries)
