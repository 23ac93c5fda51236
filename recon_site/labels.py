"""Every code family a screen shows, by the name templates give it: `{{ code|label:"invoice_status" }}`.

Each family's labels are owned by the app that owns the codes (core.labels); this is only the
index the site's templates and exports read them through, here because it reads every app.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit.labels import AUDIT_ACTION_LABELS
from core.actors import ACTOR_KIND_LABELS
from core.labels import code_label
from invoices.models import DocumentType, InvoiceSource, InvoiceStatus, ReviewQueue
from matching.engine.decision import COMPONENT_LABELS
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from matching.models import Discrepancy, MatchRun
from payments.models import AllocationKind, PaymentDirection, PaymentStatus, StatementFormat
from purchasing.models import PurchaseOrder
from review.decisions import REVIEW_ACTION_LABELS
from review.models import (
    DisputeCommentKind,
    DisputeOutcome,
    DisputeReason,
    DisputeStatus,
    ImportKind,
    ImportStatus,
)
from tenants.models import Role

CODE_FAMILIES: dict[str, Mapping[str, str]] = {
    "discrepancy_type": DISCREPANCY_TYPE_LABELS,
    "severity": dict(Discrepancy.Severity.choices),
    "confidence_component": COMPONENT_LABELS,
    "invoice_status": dict(InvoiceStatus.choices),
    "review_queue": dict(ReviewQueue.choices),
    "invoice_source": dict(InvoiceSource.choices),
    "document_type": dict(DocumentType.choices),
    "review_action": REVIEW_ACTION_LABELS,
    "match_run_status": dict(MatchRun.Status.choices),
    "match_run_trigger": dict(MatchRun.Trigger.choices),
    "purchase_order_status": dict(PurchaseOrder.Status.choices),
    "payment_status": dict(PaymentStatus.choices),
    "payment_direction": dict(PaymentDirection.choices),
    "allocation_kind": dict(AllocationKind.choices),
    "statement_format": dict(StatementFormat.choices),
    "audit_action": AUDIT_ACTION_LABELS,
    "actor_kind": ACTOR_KIND_LABELS,
    "role": dict(Role.choices),
    "import_kind": dict(ImportKind.choices),
    "import_status": dict(ImportStatus.choices),
    "dispute_reason": dict(DisputeReason.choices),
    "dispute_status": dict(DisputeStatus.choices),
    "dispute_outcome": dict(DisputeOutcome.choices),
    "dispute_comment_kind": dict(DisputeCommentKind.choices),
}


def family_label(*, family: str, code: str | None) -> str:
    """The label of `code` in `family`; "" for no code. An unknown family is a KeyError: a typo in
    a template must fail its test, not print the code."""
    return code_label(code=code, labels=CODE_FAMILIES[family]) or ""
