"""The 3-way match of one invoice against its purchase order and goods receipts, and of a batch.

Steps (DESIGN.md §5), each a function with the rule it applies in its docstring: resolve the
vendor (vendor.py) → check duplicates (duplicates.py) → resolve the PO (purchase_order.py) →
assign invoice lines to PO lines (lines.py) → check quantities (ordered, received, billed before)
→ check prices → check header arithmetic (checks.py) → score → decide (decision.py).

Pure: plain data in (types.py), plain data out; no ORM, no clock, no randomness. Similarity
scores are floats (they are not money); amounts are integer minor units and quantities and
prices `Decimal`s throughout.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from matching.engine.checks import check_header, check_lines
from matching.engine.decision import confidence_of, decide
from matching.engine.duplicates import EarlierInvoices, check_duplicates
from matching.engine.index import BatchIndex
from matching.engine.lines import assign_lines, chosen_applicable, chosen_lines_text, learned_alias_text
from matching.engine.purchase_order import po_match_of, resolve_purchase_order
from matching.engine.risk import RiskState, check_risks
from matching.engine.types import (
    ENGINE_VERSION,
    Discrepancy,
    InvoiceRecord,
    LineAssignment,
    MatchContext,
    MatchFailure,
    MatchOutcome,
    PriorInvoiceRecord,
    VendorRecord,
)
from matching.engine.vendor import resolve_vendor
from matching.engine.vocabulary import (
    APPROVED,
    CRITICAL,
    DISCREPANCY_TYPES,
    HIGH,
    LOW,
    MEDIUM,
    RECEIPT_MISSING,
    REJECTED,
    UNKNOWN_VENDOR,
    UNMATCHED_LINE,
    percent_text,
)

_ZERO = Decimal(0)

_SEVERITY_ORDER = {CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3}


def match_invoice(
    invoice: InvoiceRecord,
    context: MatchContext,
    index: BatchIndex,
    billed_in_batch: dict[uuid.UUID, Decimal],
    earlier: EarlierInvoices,
    risk: RiskState | None = None,
) -> MatchOutcome:
    """Match one invoice; see the module docstring for the steps (and risk.py for the risk
    signals of an invoice whose vendor is known; `risk` carries the batch's so far)."""
    settings = context.settings
    discrepancies: list[Discrepancy] = []

    choices = context.human_choices.get(invoice.id)
    vendor_resolution = resolve_vendor(invoice, index, settings, choices.vendor if choices else None)
    vendor = vendor_resolution.vendor
    if vendor is None:
        shown = invoice.vendor_name_raw or invoice.vendor_tax_id_raw or "(none given)"
        discrepancies.append(
            Discrepancy(UNKNOWN_VENDOR, HIGH, f"No vendor matches {shown!r}.", expected=None, actual=shown)
        )
    else:
        discrepancies.extend(check_duplicates(invoice, vendor, earlier))
        discrepancies.extend(check_risks(invoice, vendor, risk or RiskState.build(context), settings))

    resolution = resolve_purchase_order(invoice, vendor, index, choices.purchase_order if choices else None)
    discrepancies.extend(resolution.discrepancies)
    purchase_order = resolution.purchase_order

    aliases = context.item_aliases.get(vendor.id) if vendor is not None else None
    chosen = choices.lines if choices is not None else None
    pairs = assign_lines(invoice.lines, purchase_order.lines, aliases, chosen) if purchase_order is not None else []
    assigned = {pair.invoice_line.id for pair in pairs}
    if purchase_order is not None:
        to_none = chosen_applicable(chosen, purchase_order.lines)
        for line in invoice.lines:
            if line.id not in assigned:
                # A person who said the line bills no PO line still leaves it unordered: the
                # finding stays, worded as their choice.
                how = "was assigned by hand to" if line.id in to_none else "matches"
                discrepancies.append(
                    Discrepancy(
                        UNMATCHED_LINE,
                        MEDIUM,
                        f"Line {line.line_number} ({line.description}) {how} no line of purchase order "
                        f"{purchase_order.po_number}.",
                        invoice_line_number=line.line_number,
                        expected=None,
                        actual=line.description,
                    )
                )

    price_pct = vendor.price_tolerance_pct if vendor and vendor.price_tolerance_pct is not None else None
    quantity_pct = vendor.quantity_tolerance_pct if vendor and vendor.quantity_tolerance_pct is not None else None
    findings = check_lines(
        invoice,
        pairs,
        billed_in_batch,
        price_tolerance_pct=price_pct if price_pct is not None else settings.price_tolerance_pct,
        price_tolerance_abs=settings.limits_for(invoice.currency).price_tolerance_floor,
        quantity_tolerance_pct=quantity_pct if quantity_pct is not None else settings.quantity_tolerance_pct,
        compare_prices=purchase_order is not None and purchase_order.currency == invoice.currency,
    )
    discrepancies.extend(findings.discrepancies)
    if findings.nothing_received and purchase_order is not None:
        discrepancies.append(
            Discrepancy(RECEIPT_MISSING, MEDIUM,
                        f"Nothing has been received yet on the lines of purchase order {purchase_order.po_number}.",
                        expected=None, actual=None)
        )  # fmt: skip
    discrepancies.extend(check_header(invoice))

    po_score, inference_text = po_match_of(invoice, resolution, pairs, findings)
    confidence, breakdown = confidence_of(invoice, po_score, pairs, findings)
    ordered = tuple(
        sorted(
            discrepancies,
            key=lambda d: (_SEVERITY_ORDER[d.severity], DISCREPANCY_TYPES.index(d.type), d.invoice_line_number or 0),
        )
    )
    status, queue, reason = decide(invoice, confidence, ordered, settings)
    reason += vendor_resolution.text(invoice, choices.vendor if choices else None)
    chosen_po = choices.purchase_order if choices is not None else None
    if chosen_po is not None and purchase_order is not None and purchase_order.id == chosen_po.chosen_id:
        reason += (
            f" Purchase order {purchase_order.po_number} chosen by {chosen_po.chosen_by} "
            f"on {chosen_po.chosen_on.isoformat()}."
        )
    reason += inference_text + learned_alias_text(pairs)
    if purchase_order is not None:
        reason += chosen_lines_text(invoice.lines, pairs, chosen, purchase_order.lines)
    if pairs and vendor is not None:
        reason += vendor_override_text(vendor, price_pct, quantity_pct)
    return MatchOutcome(
        invoice_id=invoice.id,
        vendor_id=vendor.id if vendor is not None else None,
        purchase_order_id=purchase_order.id if purchase_order is not None else None,
        confidence=confidence,
        breakdown=breakdown,
        status=status,
        review_queue=queue,
        decision_reason=reason,
        discrepancies=ordered,
        assignments=tuple(
            LineAssignment(
                invoice_line_id=pair.invoice_line.id,
                po_line_id=pair.po_line.id,
                invoice_line_number=pair.invoice_line.line_number,
                po_line_number=pair.po_line.line_number,
                score=Decimal(str(round(pair.score, 4))),
            )
            for pair in sorted(pairs, key=lambda pair: pair.invoice_line.line_number)
        ),
        engine_version=ENGINE_VERSION,
    )


def vendor_override_text(vendor: VendorRecord, price_pct: Decimal | None, quantity_pct: Decimal | None) -> str:
    """What a decision adds when the lines were checked with the vendor's own tolerances instead
    of the tenant's (DESIGN.md §5: a match that used a learned or overriding fact says so)."""
    # An accepted suggestion names itself: the rule, who accepted it and from what evidence.
    used = [
        f"{name} ±{percent_text(pct)} %" + (f" ({rule})" if rule else "")
        for name, pct, rule in (
            ("price", price_pct, vendor.tolerance_rule),
            ("quantity", quantity_pct, vendor.quantity_tolerance_rule),
        )
        if pct is not None
    ]
    return f" Vendor tolerance for {vendor.name} used: {', '.join(used)}." if used else ""


def match_batch(invoices: Sequence[InvoiceRecord], context: MatchContext) -> list[MatchOutcome | MatchFailure]:
    """Match invoices in order; each sees what the ones before it billed and sent.

    An invoice that is rejected (a duplicate, say) bills nothing and is no precedent for the
    next. An exception matching one invoice becomes its MatchFailure; the rest go on.
    """
    index = BatchIndex.build(context)
    billed_in_batch: dict[uuid.UUID, Decimal] = defaultdict(lambda: _ZERO)
    earlier = EarlierInvoices.build(context.prior_invoices)
    risk = RiskState.build(context)
    lines_by_id = {line.id: line for invoice in invoices for line in invoice.lines}
    results: list[MatchOutcome | MatchFailure] = []
    for invoice in invoices:
        try:
            outcome = match_invoice(invoice, context, index, billed_in_batch, earlier, risk)
        except Exception as exc:  # one bad invoice must not stop the batch; the run records it
            results.append(MatchFailure(invoice.id, f"{type(exc).__name__}: {exc}"))
            continue
        results.append(outcome)
        if outcome.status == REJECTED:
            continue
        for assignment in outcome.assignments:
            billed_in_batch[assignment.po_line_id] += lines_by_id[assignment.invoice_line_id].quantity
        if outcome.vendor_id is not None and (vendor := context.vendors.get(outcome.vendor_id)) is not None:
            risk.shared.add(invoice, vendor)
            if outcome.status == APPROVED:
                risk.history.add(vendor.id, invoice)
        if outcome.vendor_id is not None:
            earlier.add(
                PriorInvoiceRecord(
                    id=invoice.id,
                    vendor_id=outcome.vendor_id,
                    invoice_number=invoice.invoice_number,
                    invoice_number_normalized=invoice.invoice_number_normalized,
                    total_amount=invoice.total_amount,
                    currency=invoice.currency,
                    invoice_date=invoice.invoice_date,
                    status=outcome.status,
                    received_at=invoice.received_at,
                )
            )
    return results
