"""PO inference skips the POs whose score bound cannot beat the best found: it must still pick
exactly the PO that scoring every open PO of the vendor picks (engine.purchase_order.infer_purchase_order)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import hypothesis.strategies as st
from hypothesis import given, settings

from matching.engine import InvoiceLineRecord, InvoiceRecord, PurchaseOrderLineRecord, PurchaseOrderRecord
from matching.engine.lines import assign_lines
from matching.engine.purchase_order import MIN_INFERRED_COVERAGE, infer_purchase_order
from tests.matching.engine_builders import ACME, DAY, inv_line, invoice, po_line, purchase_order

# Few words and SKUs, so that lines collide: shared SKUs, near and exact description matches,
# whitespace-only SKUs (identified with a PO line that has none), equal totals between POs.
DESCRIPTIONS = ("Hex bolt", "Hex bolt M8", "Washer", "Washers M4", "Ball bearing", "Bearing ball", "Hose 1 m")
SKUS = ("", " ", "A1", "a1 ", "B2", "C3")
QUANTITIES = ("1", "2", "2.5", "10", "100")
PRICES = ("0", "0.125", "1.00", "4.20", "18.40")


def every_po_scored(
    inv: InvoiceRecord, open_purchase_orders: Sequence[PurchaseOrderRecord]
) -> PurchaseOrderRecord | None:
    """The rule without shortcuts: the best total assignment score among the POs in the invoice
    currency covering at least half of its lines; ties to the PO number that sorts first."""
    best: tuple[float, str, PurchaseOrderRecord] | None = None
    for candidate in open_purchase_orders:
        if candidate.currency != inv.currency:
            continue
        pairs = assign_lines(inv.lines, candidate.lines)
        if len(pairs) < MIN_INFERRED_COVERAGE * len(inv.lines):
            continue
        ranked = (-sum(pair.score for pair in pairs), candidate.po_number, candidate)
        if best is None or ranked[:2] < best[:2]:
            best = ranked
    return best[2] if best is not None else None


@st.composite
def po_lines(draw: st.DrawFn) -> tuple[PurchaseOrderLineRecord, ...]:
    return tuple(
        po_line(
            number,
            draw(st.sampled_from(SKUS)),
            draw(st.sampled_from(DESCRIPTIONS)),
            draw(st.sampled_from(QUANTITIES[1:])),
            draw(st.sampled_from(PRICES)),
        )
        for number in range(1, draw(st.integers(0, 5)) + 1)
    )


@st.composite
def inference_cases(draw: st.DrawFn) -> tuple[InvoiceRecord, list[PurchaseOrderRecord]]:
    orders = [
        purchase_order(*draw(po_lines()), number=f"PO-{index:02d}", currency=draw(st.sampled_from(("EUR", "USD"))))
        for index in draw(st.lists(st.integers(0, 99), max_size=8, unique=True))
    ]
    if orders and draw(st.booleans()):  # the same lines under another number: an exact tie
        twin = draw(st.sampled_from(orders))
        orders.append(PurchaseOrderRecord(uuid.uuid4(), "PO-00-twin", ACME.id, twin.currency, "open", twin.lines))
    lines: list[InvoiceLineRecord] = [
        inv_line(
            number,
            draw(st.sampled_from(SKUS)),
            draw(st.sampled_from(DESCRIPTIONS)),
            draw(st.sampled_from(QUANTITIES)),
            draw(st.sampled_from(PRICES)),
            hint=draw(st.one_of(st.none(), st.integers(1, 6))),
        )
        for number in range(1, draw(st.integers(0, 5)) + 1)
    ]
    return invoice(*lines, po_number="", date=DAY), orders


@settings(max_examples=400, deadline=None)
@given(inference_cases())
def test_the_inferred_po_is_the_one_scoring_every_po_would_pick(
    case: tuple[InvoiceRecord, list[PurchaseOrderRecord]],
) -> None:
    inv, orders = case
    assert infer_purchase_order(inv, orders) is every_po_scored(inv, orders)


def test_a_po_only_described_like_the_invoice_still_wins_over_hundreds_of_others() -> None:
    """No SKUs, no hints: the bounds cannot rule anything out by identity, only by similarity."""
    lines = [("Hex bolt M8", "100", "0.125"), ("Washers M4", "200", "0.012"), ("Hose 1 m", "5", "18.40")]
    others = [
        purchase_order(po_line(1, "", "Ball bearing", "4", "4.20"), po_line(2, "", "Hex bolt", "7", "0.13"),
                       number=f"PO-{n:03d}")
        for n in range(300)
    ]  # fmt: skip
    wanted = purchase_order(*(po_line(n, "", d, q, p) for n, (d, q, p) in enumerate(lines, start=1)), number="PO-150-X")
    inv = invoice(*(inv_line(n, "", d, q, p) for n, (d, q, p) in enumerate(lines, start=1)), po_number="")

    assert infer_purchase_order(inv, [*others, wanted]) is wanted
    assert every_po_scored(inv, [*others, wanted]) is wanted
