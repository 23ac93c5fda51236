"""What changed between an invoice's previous match and its latest one (the invoice page's
"What changed in the last match"), and whether it can be matched again ("Re-match now").

Results are history (matching.rematch): each run writes a new `MatchResult` and the invoice's
`latest_match` moves to it. A reviewer coming back to an invoice needs the difference, not two
lists to compare by eye: the decision and confidence before and after, the discrepancies the new
facts settled and those they raised, and, when the invoice was sent back by a re-match, why and
from which state (the re-match's audit event).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from audit.models import NEWEST_FIRST, AuditEvent
from invoices.lifecycle import REMATCH_ONLY
from invoices.models import DocumentType, Invoice, InvoiceStatus
from matching.models import Discrepancy, MatchResult
from matching.rematch import OPEN_FOR_REMATCH
from tenants.models import Tenant

# A discrepancy is "the same" in two results when it is of the same type on the same lines: its
# message and figures change with the facts (250 received, then 400), which is the point.
DiscrepancyKey = tuple[str, int | None, int | None]


def _key(discrepancy: Discrepancy) -> DiscrepancyKey:
    return (discrepancy.type, discrepancy.invoice_line_number, discrepancy.po_line_number)


@dataclass(frozen=True)
class Rematch:
    """The latest re-match move: when, who, why, and the state the invoice was taken from."""

    at: dt.datetime
    actor_label: str
    reason: str
    from_status: str
    from_queue: str | None


@dataclass
class MatchChanges:
    invoice: Invoice
    latest: MatchResult | None = None
    previous: MatchResult | None = None
    gone: list[Discrepancy] = field(default_factory=list)
    added: list[Discrepancy] = field(default_factory=list)
    kept: list[Discrepancy] = field(default_factory=list)
    rematch: Rematch | None = None

    @property
    def compared(self) -> bool:
        """Two results to compare."""
        return self.latest is not None and self.previous is not None

    @property
    def decision_changed(self) -> bool:
        previous, latest = self.previous, self.latest
        if previous is None or latest is None:
            return False
        return (previous.decision, previous.review_queue) != (latest.decision, latest.review_queue)

    @property
    def confidence_change(self) -> Decimal | None:
        previous, latest = self.previous, self.latest
        if previous is None or latest is None:
            return None
        return latest.confidence - previous.confidence

    @property
    def can_rematch(self) -> bool:
        """Open invoices only ("Re-match now"): not drafts, decided, paid or closed ones."""
        return self.invoice.status in OPEN_FOR_REMATCH and self.invoice.document_type == DocumentType.INVOICE

    @property
    def waiting_for_run(self) -> bool:
        """Sent back and not yet matched again: the next run decides."""
        return self.invoice.status == InvoiceStatus.RECEIVED and self.latest is not None


def _latest_rematch(*, tenant: Tenant, invoice: Invoice) -> Rematch | None:
    """The newest re-match move of the invoice (back to `received` from an open state)."""
    events = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition", after__status="received")
        .filter(before__status__in=sorted({source for source, _ in REMATCH_ONLY}))
        .order_by(*NEWEST_FIRST)
    )
    event = events.first()
    if event is None:
        return None
    before: dict[str, Any] = event.before or {}
    after: dict[str, Any] = event.after or {}
    return Rematch(
        at=event.occurred_at,
        # A person or an API key by name; Recon's own triggers (a goods receipt) say "automatically".
        actor_label="" if event.actor_kind == "system" else (event.actor_label or event.actor_id),
        reason=str(after.get("reason", "")),
        from_status=str(before.get("status", "")),
        from_queue=before.get("review_queue"),
    )


def invoice_match_changes(*, tenant: Tenant, invoice: Invoice) -> MatchChanges:
    """The invoice's two newest results and their difference (two queries, three with a re-match)."""
    changes = MatchChanges(invoice=invoice)
    newest = list(
        MatchResult.objects.for_tenant(tenant).filter(invoice_id=invoice.pk).order_by("-created_at", "-id")[:2]
    )
    if not newest:
        return changes
    changes.latest = newest[0]
    changes.previous = newest[1] if len(newest) > 1 else None
    rematch = _latest_rematch(tenant=tenant, invoice=invoice)
    # Only a re-match that led to the latest result, or that waits for the next run.
    if rematch is not None and (changes.previous is None or rematch.at > changes.previous.created_at):
        changes.rematch = rematch
    if changes.previous is None:
        return changes
    by_result: dict[Any, list[Discrepancy]] = {result.pk: [] for result in newest}
    for discrepancy in (
        Discrepancy.objects.for_tenant(tenant)
        .filter(match_result_id__in=list(by_result))
        .order_by("invoice_line_number", "type")
    ):
        by_result[discrepancy.match_result_id].append(discrepancy)
    before = {_key(d): d for d in by_result[changes.previous.pk]}
    after = {_key(d): d for d in by_result[changes.latest.pk]}
    changes.gone = [d for key, d in before.items() if key not in after]
    changes.added = [d for key, d in after.items() if key not in before]
    changes.kept = [d for key, d in after.items() if key in before]
    return changes
