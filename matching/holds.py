"""Invoices waiting on goods: matched again when a receipt (or a PO change) arrives, escalated when none does.

An invoice goes `on_hold` when its match finds nothing received yet for its PO lines (DESIGN.md
§4). A goods receipt for those lines sends it back to `received`, to be matched again, and with
it every other open invoice of the PO the receipt changes the facts of: in review too (a late
receipt for goods a reviewer was told were missing; `matching_requeue_for_receipt`, through
matching.rematch; one in dispute stays there until its dispute ends). A PO closed or cancelled
releases its holds (`matching_requeue_for_purchase_order`); one reopened sends back the open
invoices whose match found it closed (`matching_requeue_for_reopened_purchase_order`); a new PO,
the open invoices that named its number before it existed (`matching_requeue_for_new_purchase_order`).
An invoice still waiting after the tenant's `hold_max_days` goes to the escalated review queue
(`matching_escalate_stale_holds`, run on a schedule).

These are the calls up from purchasing (purchasing.services, purchasing.lifecycle): each runs in
the PO's or the receipt's own transaction, which takes the tenant's matching lock first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.actors import Actor, system_actor
from core.lookup_keys import po_number_key, po_number_key_expression
from invoices.lifecycle import InvoiceMove, invoice_transition_chunked
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceStatus, ReviewQueue
from matching.engine.vocabulary import PO_CLOSED
from matching.models import Discrepancy, MatchRun
from matching.rematch import MOVED_BACK, matching_rematch_locked
from purchasing.models import GoodsReceipt, GoodsReceiptLine, PurchaseOrder
from tenants.models import Tenant
from tenants.selectors import tenant_settings_get

RECEIPT_ACTOR = system_actor("goods_receipt")
HOLD_ESCALATION_ACTOR = system_actor("hold_escalation")

REQUEUED_FOR_RECEIPT = "Goods receipt {receipt_number} arrived for purchase order {po_number}: matching again."
REQUEUED_FOR_PO_STATUS = "Purchase order {po_number} was {status}: matching again."
REQUEUED_FOR_PO_REOPENED = "Purchase order {po_number} was reopened: matching again."
REQUEUED_FOR_NEW_PO = "Purchase order {po_number} was created: matching again."
HOLD_EXPIRED = "Still no goods receipt {days} days after it was put on hold."


def matching_requeue_for_receipt(*, tenant: Tenant, goods_receipt: GoodsReceipt) -> list[uuid.UUID]:
    """Send the PO's open invoices these goods concern back to `received`, in the receipt's transaction.

    On hold or in review (DESIGN.md §4 "received (re-match)"): the next run matches
    them again with the new received quantities, and a discrepancy the goods settle ("only 250
    received") goes with the old result. A run is queued at commit when MATCH_ON_INGEST is on.
    The receipt's transaction holds the matching lock already. Returns the ids of the invoices moved.
    """
    return matching_requeue_for_receipts(tenant=tenant, goods_receipts=[goods_receipt])


def matching_requeue_for_receipts(*, tenant: Tenant, goods_receipts: Sequence[GoodsReceipt]) -> list[uuid.UUID]:
    """`matching_requeue_for_receipt` for many receipts booked together (purchasing's many-form),
    as if one after the other in their order: the open invoices of their POs and the lines each
    receipt brought read at once, then each receipt's invoices moved with its own reason (an
    invoice moved by one is no longer open for the next)."""
    if not goods_receipts:
        return []
    arrived: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for receipt_id, po_line_id in (
        GoodsReceiptLine.objects.for_tenant(tenant)
        .filter(goods_receipt_id__in=[receipt.pk for receipt in goods_receipts])
        .values_list("goods_receipt_id", "purchase_order_line_id")
    ):
        arrived[receipt_id].add(po_line_id)
    orders = [receipt.purchase_order for receipt in goods_receipts]
    open_invoices = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=MOVED_BACK)
        .filter(
            Q(purchase_order_id__in={order.pk for order in orders})
            | Q(purchase_order__isnull=True, po_number__in={order.po_number for order in orders})
        )
        .order_by("created_at", "id")
        .values_list("pk", "purchase_order_id", "po_number")
    )
    matched: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for invoice_id, po_line_id in (
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice_id__in=[invoice_id for invoice_id, *_ in open_invoices], matched_po_line__isnull=False)
        .values_list("invoice_id", "matched_po_line_id")
    ):
        matched[invoice_id].add(po_line_id)
    moved: list[uuid.UUID] = []
    for receipt, order in zip(goods_receipts, orders, strict=True):
        # Only invoices these goods concern: one whose matched lines received nothing new was
        # matched against facts that did not change (and an invoice on hold keeps its hold clock
        # running). One with no matched line at all is tried again.
        waiting = [
            invoice_id
            for invoice_id, purchase_order_id, po_number in open_invoices
            if invoice_id not in moved
            and (purchase_order_id == order.pk or (purchase_order_id is None and po_number == order.po_number))
            and (not matched[invoice_id] or matched[invoice_id] & arrived[receipt.pk])
        ]
        if not waiting:
            continue
        moved += _requeue_on_hold(
            tenant=tenant,
            invoice_ids=waiting,
            reason=REQUEUED_FOR_RECEIPT.format(receipt_number=receipt.receipt_number, po_number=order.po_number),
            context={"goods_receipt_id": str(receipt.pk)},
            actor=RECEIPT_ACTOR,
            trigger=MatchRun.Trigger.RECEIPT,
        )
    return moved


def matching_requeue_for_purchase_order(
    *, tenant: Tenant, purchase_order: PurchaseOrder, actor: Actor
) -> list[uuid.UUID]:
    """Put the PO's `on_hold` invoices back to `received` after it was closed or cancelled.

    They were waiting for goods that will now not come as ordered, so they need a reviewer, not
    HOLD_MAX_DAYS more of waiting: matched again, they get `po_closed`. Runs in the caller's
    transaction (purchasing.lifecycle, which holds the matching lock); the audit events name
    whoever changed the PO. Returns the ids of the invoices moved.
    """
    waiting = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.ON_HOLD)
        .filter(Q(purchase_order=purchase_order) | Q(purchase_order__isnull=True, po_number=purchase_order.po_number))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    reason = REQUEUED_FOR_PO_STATUS.format(po_number=purchase_order.po_number, status=purchase_order.status)
    return _requeue_on_hold(
        tenant=tenant,
        invoice_ids=waiting,
        reason=reason,
        context={"purchase_order_id": str(purchase_order.pk)},
        actor=actor,
        trigger=MatchRun.Trigger.API,
    )


def matching_requeue_for_reopened_purchase_order(
    *, tenant: Tenant, purchase_order: PurchaseOrder, actor: Actor
) -> list[uuid.UUID]:
    """Match again the PO's open invoices (in review, on hold) whose latest match found it
    closed (`po_closed`), after it was reopened: that discrepancy no longer holds.

    In the caller's transaction (purchasing.lifecycle, under the matching lock), audited in the
    name of whoever reopened it. Returns the ids of the invoices moved.
    """
    closed_found = Discrepancy.objects.for_tenant(tenant).filter(
        match_result_id=OuterRef("latest_match_id"), type=PO_CLOSED
    )
    waiting = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=MOVED_BACK, document_type=DocumentType.INVOICE)
        .filter(Q(purchase_order=purchase_order) | Q(purchase_order__isnull=True, po_number=purchase_order.po_number))
        .filter(Exists(closed_found))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    return _requeue_on_hold(
        tenant=tenant,
        invoice_ids=waiting,
        reason=REQUEUED_FOR_PO_REOPENED.format(po_number=purchase_order.po_number),
        context={"purchase_order_id": str(purchase_order.pk)},
        actor=actor,
        trigger=MatchRun.Trigger.API,
    )


def matching_requeue_for_new_purchase_order(
    *, tenant: Tenant, purchase_order: PurchaseOrder, actor: Actor
) -> list[uuid.UUID]:
    """Match again the open invoices (in review, on hold) that name this new PO's number.

    They were matched when no PO had that number (`po_not_found`, or a PO inferred from the
    vendor's others): the PO they name now exists. Compared as matching compares it
    (core.lookup_keys.po_number_key: spaces and the case of a-z ignored), whatever the invoice's
    vendor: one of another vendor is matched again too, and then finds `vendor_mismatch`. In the
    PO's own transaction (purchasing.services.purchase_order_create, under the matching lock),
    audited in the name of whoever created it. Returns the ids of the invoices moved.
    """
    return matching_requeue_for_new_purchase_orders(tenant=tenant, purchase_orders=[purchase_order], actor=actor)


def matching_requeue_for_new_purchase_orders(
    *, tenant: Tenant, purchase_orders: Sequence[PurchaseOrder], actor: Actor
) -> list[uuid.UUID]:
    """`matching_requeue_for_new_purchase_order` for each of many new POs (purchasing's
    many-form): the open invoices naming any of them read at once, then each PO's re-matched
    with its own reason, in the POs' order."""
    by_key: dict[str, PurchaseOrder] = {}
    for purchase_order in purchase_orders:  # two numbers alike as matching compares them: the first moves them
        by_key.setdefault(po_number_key(purchase_order.po_number), purchase_order)
    waiting = (
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=MOVED_BACK, document_type=DocumentType.INVOICE)
        .exclude(po_number="")
        .alias(po_key=po_number_key_expression(F("po_number")))
        .filter(po_key__in=list(by_key))
        .annotate(named_key=po_number_key_expression(F("po_number")))
        .order_by("created_at", "id")
        .values_list("pk", "named_key")
    )
    naming: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for invoice_id, key in waiting:
        naming[by_key[key].pk].append(invoice_id)
    moved: list[uuid.UUID] = []
    for purchase_order in purchase_orders:
        moved += _requeue_on_hold(
            tenant=tenant,
            invoice_ids=naming.get(purchase_order.pk, []),
            reason=REQUEUED_FOR_NEW_PO.format(po_number=purchase_order.po_number),
            context={"purchase_order_id": str(purchase_order.pk), "po_number": purchase_order.po_number},
            actor=actor,
            trigger=MatchRun.Trigger.API,
        )
    return moved


def _requeue_on_hold(
    *,
    tenant: Tenant,
    invoice_ids: list[uuid.UUID],
    reason: str,
    context: dict[str, str],
    actor: Actor,
    trigger: str,
) -> list[uuid.UUID]:
    """Back to `received` for these invoices (matching.rematch: one audited re-match move each);
    a run queued at commit when MATCH_ON_INGEST is on."""
    if not invoice_ids:
        return []
    return matching_rematch_locked(
        tenant=tenant, invoice_ids=invoice_ids, actor=actor, reason=reason, facts=context, trigger=trigger
    ).moved


def matching_escalate_stale_holds(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Escalate `on_hold` invoices still waiting for goods after the tenant's `hold_max_days`.

    An invoice went on hold when its latest match said so, so that result's time is the start
    of the wait (`updated_at` for one put on hold some other way). Safe to run twice: the second
    finds nothing. Returns how many were escalated.
    """
    now = now or timezone.now()
    max_days = tenant_settings_get(tenant=tenant).hold_max_days
    stale = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.ON_HOLD)
        .annotate(held_since=Coalesce("latest_match__created_at", "updated_at"))
        .filter(held_since__lt=now - dt.timedelta(days=max_days))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    reason = HOLD_EXPIRED.format(days=max_days)
    moves = [
        InvoiceMove(
            invoice_id=invoice_id,
            to_status=InvoiceStatus.PENDING_REVIEW,
            queue=ReviewQueue.ESCALATED,
            reason=reason,
            expected_status=InvoiceStatus.ON_HOLD,
        )
        for invoice_id in stale
    ]
    return invoice_transition_chunked(tenant=tenant, moves=moves, actor=HOLD_ESCALATION_ACTOR)
