"""Re-matching when the facts change (DESIGN.md §4: pending_review, received, on_hold, disputed → received).

An open invoice was matched against facts: its PO and the PO's lines, what was received on them,
the credit notes it had, the tenant's and the vendor's tolerances and the tenant's amount limits.
When one of them changes, or someone asks for it, the invoice goes back to `received` through the
lifecycle's re-match move (`InvoiceMove.rematch`), with the reason and the changed facts in that
move's audit event, and the next run matches it again. Its earlier `MatchResult` stays as history;
the run writes a new one and `latest_match` moves to it (review.match_changes shows the difference
on the invoice page). The triggers, each with who is named in the audit event:

- a goods receipt is booked: the PO's invoices in review or on hold whose matched lines (or
  none) it concerns; matching.holds.matching_requeue_for_receipt, called by purchasing.services
  in the receipt's transaction, in the name of the `goods_receipt` system actor;
- a PO is created: the invoices in review or on hold that name its number (matched without it:
  `po_not_found`); matching.holds.matching_requeue_for_new_purchase_order, in the PO's
  transaction (purchasing.services), in the name of whoever created it;
- a PO is closed or cancelled: its invoices on hold (the goods will not come as ordered);
  matching.holds.matching_requeue_for_purchase_order, in the PO's move (purchasing.lifecycle);
- a PO is reopened: its invoices in review or on hold whose match found it closed (`po_closed`);
  matching.holds.matching_requeue_for_reopened_purchase_order, likewise;
- a credit note arrives for it: the credited invoice, in review or on hold;
  `matching_rematch_for_credit_notes`, by the next matching run before it loads its batch, in
  the name of the `credit_note` system actor;
- the tenant's matching settings: its invoices in review or on hold (for a tolerance, not those
  of vendors overriding both); `matching_rematch_for_tenant_settings`, by the settings page;
- a vendor's own tolerances: that vendor's invoices in review or on hold;
  `matching_rematch_for_vendor_tolerances`, by the vendor's tolerances page;
- a currency's amount limits (auto-approve below, escalate from, the price floor; saved or
  reset to the defaults): the invoices in that currency in review or on hold;
  `matching_rematch_for_currency_limits`, by the Limits page;
- a person asks ("Re-match now", `POST /api/invoices/{id}/rematch`): that invoice, if open and
  not in dispute; `matching_rematch_invoice`.
The settings pages call after their save, in the person's name: tenants and vendors sit below
matching and cannot call up.

PO lines themselves are never edited once stored (no service changes them), so nothing else on a
PO re-matches. Why a credit note is found by the run and not by the door that stores it
(invoices.services): invoices sits below matching, and its one call up (`matching_enqueue`) asks
for that run already; the credit note's transaction would also have to take the matching lock
before its first write (a CSV import of invoices writes many in one transaction, and would have
to take it for every file), and a re-match done after its commit instead would be lost with the
process. The run holds the lock anyway, and what it looks for — a credit note newer than the
credited invoice's latest match — is still there after any crash, so the next run finds it. The
credit note changes no amount the engine compares (it matches on the total; the credit comes off
what is owed, review.disputes): the new match is of the same facts plus whatever else changed
meanwhile, and the re-match shows the reviewer, on the invoice page, that a credit note came.

A reviewer's pending decision is never silently overwritten. Decided as follows:
- Nothing is decided by the re-match itself: it only hands the invoice back to the engine, and
  the engine decides by the tenant's own rules, the same ones every new invoice meets. An
  invoice a person was looking at (in review) is therefore approved
  automatically only when the tenant's auto-approve rules approve it (no high or critical
  discrepancy and a total under AUTO_APPROVE_MAX, or confidence ≥ the tenant's minimum with no
  discrepancy at all); anything else sends it back to review (or on hold, or to the tenant's
  reject rules).
- It is never silent: the re-match move's audit event records the state it was taken from
  (`before`: in review / standard queue, on hold), who or what caused it and the facts
  that changed; the matching event after it records the new decision; and the invoice page's
  "What changed in the last match" lists the state before the re-match, the new decision, the
  discrepancies gone and added, and the confidence before and after — so a reviewer who comes
  back to an invoice that was in their queue sees why it is no longer there.
- A reviewer acting on a page loaded before the re-match cannot approve unseen what the new match
  found: review.decisions checks the match the page confirmed and the status the page showed.
Why not "always back to review": an invoice that was waiting for nothing but the goods (the
issue's case: 250 of 400 received, the rest arrives) would then need a second manual approval
the tenant's rules would not ask of a new invoice with the same facts (and the run's writer,
matching.writer, decides by the engine's outcome alone: holding such an invoice in review would
be a rule there, not here).

An invoice in dispute is not pulled out of it: its dispute (review.disputes) is a conversation
with the vendor that ends in one of its outcomes, each moving the invoice from `disputed`; moved
to `received` under it, the dispute could no longer end. It is matched again once the dispute
ends (back to review, then a receipt, a credit note that came meanwhile, or "Re-match now"); the
lifecycle's disputed → received re-match move is there for a dispute that ends by matching again.

Locks: the tenant's matching lock first (core/locks.py), so a run in flight finishes before its
invoices are moved under it and a run cannot start between the move and the facts it reads; then
the invoice rows (invoice_transition_many), then the audit chain. Big sets go in chunks of
`REMATCH_CHUNK`, each its own transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.db.models.functions import Coalesce

from core.actors import Actor, system_actor
from core.amount_limits import AmountLimits
from core.locks import matching_lock_wait
from core.money import format_minor
from core.state_machine import IllegalTransition
from invoices.billing import NOT_BILLING
from invoices.lifecycle import InvoiceMove, invoice_transition_many
from invoices.models import DocumentType, Invoice, InvoiceStatus
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from matching.enqueue import matching_enqueue
from matching.models import MatchRun
from tenants.models import Tenant

S = InvoiceStatus

# Open invoices a re-match moves back to `received`; one already in `received` is simply matched
# by the next run.
MOVED_BACK = (S.ON_HOLD, S.PENDING_REVIEW)
OPEN_FOR_REMATCH = (S.RECEIVED, *MOVED_BACK)
REMATCH_CHUNK = 500

REMATCH_ASKED = "Re-match asked for by {actor}."
REMATCH_ASKED_WITH_COMMENT = "Re-match asked for by {actor}: {comment}"
NOT_OPEN = "Invoice {number} is {status}: only open invoices (received, on hold, in review) are matched again."
IN_DISPUTE = "In dispute: matched again once its dispute ends, not while the vendor is being asked."
INVOICE_IN_DISPUTE = (
    "Invoice {number} is in dispute: it is matched again once its dispute ends (back to review, a credit note, "
    "void or rejected), not while the vendor is being asked."
)
NOT_AN_INVOICE = "A credit note is not matched against a purchase order, so it is not re-matched."
NOT_FOUND = "No such invoice."
STATUS_LABELS = dict(InvoiceStatus.choices)


@dataclass
class RematchOutcome:
    """What a re-match did: moved back to `received`, already there, or skipped with the reason."""

    moved: list[uuid.UUID] = field(default_factory=list)
    waiting: list[uuid.UUID] = field(default_factory=list)
    skipped: dict[uuid.UUID, str] = field(default_factory=dict)

    def add(self, other: RematchOutcome) -> None:
        self.moved += other.moved
        self.waiting += other.waiting
        self.skipped.update(other.skipped)


def audit_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The changed facts as the audit event stores them: decimals and ids as strings."""

    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(key): plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, (Decimal, uuid.UUID)):
            return str(value)
        return value

    return plain(dict(facts))


def matching_rematch(
    *,
    tenant: Tenant,
    invoice_ids: Sequence[uuid.UUID],
    actor: Actor,
    reason: str,
    facts: Mapping[str, Any],
    trigger: str = MatchRun.Trigger.API,
    run_now: bool = False,
    enqueue: bool = True,
) -> RematchOutcome:
    """Send these invoices back to matching because `facts` changed; returns what became of each.

    Open ones in on_hold or pending_review go back to `received` (one audited re-match move each,
    `reason` and `facts` in its `after`); those already in `received` wait for the run anyway; the
    others (in dispute, drafts, approved, paid, rejected, void, credit notes, unknown ids) are
    skipped with the reason. In chunks of `REMATCH_CHUNK`, each in its own transaction under the
    tenant's matching lock. A run is asked for at commit when `run_now` (a person asked) or
    MATCH_ON_INGEST is on; otherwise the scheduled run takes them. `enqueue=False`: the caller is
    the run that matches them next (a credit note's re-match), so no other is asked for.
    """
    outcome = RematchOutcome()
    unique = list(dict.fromkeys(invoice_ids))
    for start in range(0, len(unique), REMATCH_CHUNK):
        with transaction.atomic():
            matching_lock_wait(tenant=tenant)
            outcome.add(
                matching_rematch_locked(
                    tenant=tenant,
                    invoice_ids=unique[start : start + REMATCH_CHUNK],
                    actor=actor,
                    reason=reason,
                    facts=facts,
                    trigger=trigger,
                    run_now=run_now,
                    enqueue=enqueue,
                )
            )
    return outcome


def matching_rematch_locked(
    *,
    tenant: Tenant,
    invoice_ids: Sequence[uuid.UUID],
    actor: Actor,
    reason: str,
    facts: Mapping[str, Any],
    trigger: str,
    run_now: bool = False,
    enqueue: bool = True,
) -> RematchOutcome:
    """`matching_rematch` inside the caller's transaction, which already holds the matching lock
    (a goods receipt's, a PO change's: they take it before they write anything)."""
    outcome = RematchOutcome()
    found = {
        row["pk"]: row
        for row in Invoice.objects.for_tenant(tenant)
        .filter(pk__in=list(invoice_ids))
        .values("pk", "status", "document_type")
    }
    moves = []
    for invoice_id in invoice_ids:
        row = found.get(invoice_id)
        if row is None:
            outcome.skipped[invoice_id] = NOT_FOUND
        elif row["document_type"] != DocumentType.INVOICE:
            outcome.skipped[invoice_id] = NOT_AN_INVOICE
        elif row["status"] == S.RECEIVED:
            outcome.waiting.append(invoice_id)
        elif row["status"] == S.DISPUTED:
            outcome.skipped[invoice_id] = IN_DISPUTE
        elif row["status"] in MOVED_BACK:
            moves.append(
                InvoiceMove(
                    invoice_id=invoice_id,
                    to_status=S.RECEIVED,
                    reason=reason,
                    expected_status=row["status"],
                    context=audit_facts(facts),
                    rematch=True,
                )
            )
        else:
            outcome.skipped[invoice_id] = STATUS_LABELS.get(row["status"], row["status"])
    if moves:
        for result in invoice_transition_many(tenant=tenant, moves=moves, actor=actor):
            if result.ok:
                outcome.moved.append(result.move.invoice_id)
            else:  # moved by someone else since it was read: it is no longer where it was
                outcome.skipped[result.move.invoice_id] = str(result.error)
    if enqueue and (outcome.moved or outcome.waiting) and (run_now or settings.MATCH_ON_INGEST):
        matching_enqueue(tenant=tenant, trigger=trigger)
    return outcome


def matching_rematch_invoice(*, tenant: Tenant, invoice: Invoice, actor: Actor, comment: str = "") -> RematchOutcome:
    """ "Re-match now" on one invoice (the invoice page, `POST /api/invoices/{id}/rematch`).

    A person asked, so a run is queued at once. An invoice that is not open, or in dispute, is a
    409 with the reason, and nothing changes.
    """
    if invoice.document_type != DocumentType.INVOICE:
        raise IllegalTransition(NOT_AN_INVOICE, details={"document_type": invoice.document_type})
    comment = comment.strip()
    reason = (
        REMATCH_ASKED_WITH_COMMENT.format(actor=actor.label, comment=comment)
        if comment
        else REMATCH_ASKED.format(actor=actor.label)
    )
    outcome = matching_rematch(
        tenant=tenant,
        invoice_ids=[invoice.pk],
        actor=actor,
        reason=reason,
        facts={"rematch_requested": True},
        run_now=True,
    )
    if invoice.pk in outcome.skipped:
        current = Invoice.objects.for_tenant(tenant).values_list("status", flat=True).get(pk=invoice.pk)
        if current == S.DISPUTED:
            raise IllegalTransition(
                INVOICE_IN_DISPUTE.format(number=invoice.invoice_number), details={"status": current}
            )
        raise IllegalTransition(
            NOT_OPEN.format(number=invoice.invoice_number, status=STATUS_LABELS.get(current, current).lower()),
            details={"status": current},
        )
    return outcome


# The tenant's settings the engine decides by (matching.loading.match_settings_from): a change
# of one of them changes what open invoices were matched against. The amounts (auto-approve
# below, escalate from) are per currency (tenants.CurrencyLimit): `MATCHING_LIMITS` below.
MATCHING_SETTINGS = (
    "price_tolerance_pct",
    "quantity_tolerance_pct",
    "auto_approve_min_confidence",
    "reject_on",
    "fuzzy_vendor_threshold",
    "unusual_amount_window",
    "unusual_amount_min_history",
    "unusual_amount_threshold",
)
TOLERANCES = ("price_tolerance_pct", "quantity_tolerance_pct")
# A tenant-wide change re-matches what waits on a person or on goods (DESIGN.md §4); disputes
# are a conversation with the vendor about this invoice, re-matched by its own facts only.
TENANT_CHANGE_REMATCHES = (S.ON_HOLD, S.PENDING_REVIEW)
SETTINGS_CHANGED = "Matching settings changed ({fields}): matching again."
VENDOR_TOLERANCES_CHANGED = "Tolerances of vendor {vendor} changed ({fields}): matching again."


def _changed(before: Mapping[str, Any], after: Mapping[str, Any], names: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    }


def matching_rematch_for_tenant_settings(
    *, tenant: Tenant, actor: Actor, before: Mapping[str, Any], after: Mapping[str, Any]
) -> RematchOutcome:
    """After `tenants.services.tenant_settings_update`: re-match the tenant's invoices in review
    or on hold when a setting the engine decides by changed (`before` / `after`: the values).

    Called by whoever made the change (the settings page): tenants sits below matching and cannot
    call up. A tolerance change leaves out the invoices of vendors whose own tolerances both
    override the tenant's. In chunks (`matching_rematch`); the run is asked for as usual.
    """
    changed = _changed(before, after, MATCHING_SETTINGS)
    if not changed:
        return RematchOutcome()
    invoices = Invoice.objects.for_tenant(tenant).filter(
        status__in=TENANT_CHANGE_REMATCHES, document_type=DocumentType.INVOICE
    )
    if set(changed) <= set(TOLERANCES):
        invoices = invoices.exclude(
            vendor__price_tolerance_pct__isnull=False, vendor__quantity_tolerance_pct__isnull=False
        )
    invoice_ids = list(invoices.order_by("created_at", "id").values_list("pk", flat=True))
    return matching_rematch(
        tenant=tenant,
        invoice_ids=invoice_ids,
        actor=actor,
        reason=SETTINGS_CHANGED.format(fields=_described(changed)),
        facts={"tenant_settings": changed},
    )


def matching_rematch_for_vendor_tolerances(
    *, tenant: Tenant, vendor: Any, actor: Actor, before: Mapping[str, Any], after: Mapping[str, Any]
) -> RematchOutcome:
    """After `vendors.services.vendor_tolerances_update`: re-match the vendor's open invoices
    (on hold, in review) when its own price or quantity tolerance changed."""
    changed = _changed(before, after, TOLERANCES)
    if not changed:
        return RematchOutcome()
    invoice_ids = list(
        Invoice.objects.for_tenant(tenant)
        .filter(vendor_id=vendor.pk, status__in=MOVED_BACK, document_type=DocumentType.INVOICE)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    return matching_rematch(
        tenant=tenant,
        invoice_ids=invoice_ids,
        actor=actor,
        reason=VENDOR_TOLERANCES_CHANGED.format(vendor=vendor.name, fields=_described(changed)),
        facts={"vendor_id": vendor.pk, "vendor_tolerances": changed},
    )


def _described(changed: Mapping[str, Mapping[str, Any]]) -> str:
    """`price tolerance pct 2.000 → 5.000` as the audit reason says it ("default" for none)."""

    def shown(value: Any) -> str:
        if isinstance(value, (list, tuple)):  # reject_on: discrepancy types, by their labels
            return "; ".join(DISCREPANCY_TYPE_LABELS.get(code) or code for code in value) or "none"
        return "default" if value is None else str(value)

    return ", ".join(
        f"{name.replace('_pct', ' %').replace('_', ' ')} {shown(values['before'])} → {shown(values['after'])}"
        for name, values in changed.items()
    )


# Credit notes (DESIGN.md §4 "received (re-match)": a credit note changes what an open invoice
# was matched against). Found by the run, before it loads its batch (matching.services), not
# by the door that stores the credit note (invoices.services): see the module docstring.
CREDIT_NOTE_ACTOR = system_actor("credit_note")
CREDIT_NOTE_ARRIVED = "Credit note {notes} arrived for this invoice: matching again."
CREDIT_NOTES_ARRIVED = "Credit notes {notes} arrived for this invoice: matching again."


def _credited_since_matched(invoices: QuerySet[Invoice], credit_notes: QuerySet[Invoice]) -> QuerySet[Invoice]:
    """Of `invoices`, the open ones (on hold, in review) with a credit note among `credit_notes`
    stored after their latest match (after the invoice itself, if never matched), not void,
    rejected or a draft."""
    matched_at = Coalesce(OuterRef("latest_match__created_at"), OuterRef("created_at"))
    unseen = credit_notes.filter(
        tenant_id=OuterRef("tenant_id"),
        document_type=DocumentType.CREDIT_NOTE,
        credited_invoice_id=OuterRef("pk"),
        created_at__gt=matched_at,
    ).exclude(status__in=NOT_BILLING)
    return invoices.filter(status__in=MOVED_BACK, document_type=DocumentType.INVOICE).filter(Exists(unseen))


def tenants_with_credited_invoices() -> QuerySet[Invoice, uuid.UUID]:
    """The ids of the active tenants with an invoice a credit note arrived for since its latest
    match (`tenant_id` values): the schedule (matching.tasks.run_matching_all) runs them too,
    though they may have nothing in `received`. Across tenants, as the schedule is."""
    every = Invoice.objects.unscoped()
    return (
        _credited_since_matched(every.filter(tenant__is_active=True), every)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )


def matching_rematch_for_credit_notes(*, tenant: Tenant) -> RematchOutcome:
    """Re-match the open invoices (on hold, in review) credited by a credit note their latest
    match has not seen: one stored after that match (and not void, rejected or a draft).

    Called by a run (matching.services.matching_run_for_tenant) holding the tenant's matching
    lock, before it loads its batch: the invoices moved back to `received` are matched by that
    run, so no other run is asked for. One transaction per invoice, its move's reason naming
    its credit notes and their totals, their ids and amounts in its facts. Safe to run twice: the
    new match is newer than the credit note. An invoice in dispute is not taken out of it;
    once its dispute ends back in review, the credit note is still one its match has not seen,
    and the next run matches it again.
    """
    credited = list(
        _credited_since_matched(Invoice.objects.for_tenant(tenant), Invoice.objects.for_tenant(tenant))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    outcome = RematchOutcome()
    if not credited:
        return outcome
    notes_of: dict[uuid.UUID, list[Mapping[str, Any]]] = {invoice_id: [] for invoice_id in credited}
    for note in (
        Invoice.objects.for_tenant(tenant)
        .filter(document_type=DocumentType.CREDIT_NOTE, credited_invoice_id__in=credited)
        .filter(
            created_at__gt=Coalesce(F("credited_invoice__latest_match__created_at"), F("credited_invoice__created_at"))
        )
        .exclude(status__in=NOT_BILLING)
        .order_by("created_at", "id")
        .values("pk", "credited_invoice_id", "invoice_number", "currency", "total_amount")
    ):
        notes_of[note["credited_invoice_id"]].append(note)
    for invoice_id, notes in notes_of.items():
        described = ", ".join(
            f"{note['invoice_number']} ({note['currency']} {format_minor(note['total_amount'], note['currency'])})"
            for note in notes
        )
        outcome.add(
            matching_rematch(
                tenant=tenant,
                invoice_ids=[invoice_id],
                actor=CREDIT_NOTE_ACTOR,
                reason=(CREDIT_NOTE_ARRIVED if len(notes) == 1 else CREDIT_NOTES_ARRIVED).format(notes=described),
                facts={
                    "credit_notes": [
                        {
                            "credit_note_id": note["pk"],
                            "credit_note_number": note["invoice_number"],
                            "currency": note["currency"],
                            "total_amount": note["total_amount"],
                        }
                        for note in notes
                    ]
                },
                enqueue=False,
            )
        )
    return outcome


# The amounts per currency the engine decides by (tenants.CurrencyLimit, core.amount_limits):
# auto-approve below, escalate from, and the price floor of the tolerance. The write-off limit
# is the payment reconciliation's, not matching's.
MATCHING_LIMITS = ("auto_approve_below", "escalate_from", "price_tolerance_floor", "new_vendor_first_invoice_max")
LIMITS_CHANGED = "Amount limits in {currency} changed ({fields}): matching again."


def matching_rematch_for_currency_limits(
    *, tenant: Tenant, actor: Actor, before: AmountLimits, after: AmountLimits
) -> RematchOutcome:
    """After `tenants.services.currency_limit_save` / `currency_limit_delete`: re-match the
    tenant's invoices in that currency in review or on hold when a limit the engine decides by
    changed (`before` / `after`: the limits in force, the defaults for a currency with none of
    its own). Called by whoever made the change (the Limits page), as the tolerances are."""
    currency = after.currency
    changed = _changed(
        {name: getattr(before, name) for name in MATCHING_LIMITS},
        {name: getattr(after, name) for name in MATCHING_LIMITS},
        MATCHING_LIMITS,
    )
    if not changed:
        return RematchOutcome()
    invoice_ids = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=TENANT_CHANGE_REMATCHES, document_type=DocumentType.INVOICE, currency=currency)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )

    def shown(name: str, value: Any) -> str:  # in major units; the floor without trailing zeros
        if value is None:  # the new-vendor limit, unset
            return "none"
        return f"{value.normalize():f}" if name == "price_tolerance_floor" else format_minor(value, currency)

    fields = ", ".join(
        f"{name.replace('_', ' ')} {shown(name, values['before'])} → {shown(name, values['after'])}"
        for name, values in changed.items()
    )
    return matching_rematch(
        tenant=tenant,
        invoice_ids=invoice_ids,
        actor=actor,
        reason=LIMITS_CHANGED.format(currency=currency, fields=fields),
        facts={"currency": currency, "currency_limits": changed},
    )
