"""The engine honours a person's choices (issue #20, recon-match/1.7), pure: a line assigned by
hand keeps that pair whatever the scores say, the other lines are assigned among the PO lines
left; a line assigned to none stays unpaired; a choice naming a line of another PO is not applied;
a vendor and a PO chosen by hand are the invoice's; each is named in the reason."""

from __future__ import annotations

import datetime as dt

from matching.engine import match_batch
from matching.engine.lines import assign_lines
from matching.engine.types import ChosenByHand, HumanChoices, MatchOutcome
from tests.matching.engine_builders import ACME, context, inv_line, invoice, po_line, purchase_order

ON = dt.date(2026, 12, 7)

BOLT_20 = po_line(1, "", "Bolt M8x20", "100", "0.10")
BOLT_25 = po_line(2, "", "Bolt M8x25", "100", "0.10")


def _by_hand(po_line_id: object) -> ChosenByHand:
    return ChosenByHand(chosen_id=po_line_id, chosen_by="anna", chosen_on=ON)  # type: ignore[arg-type]


def test_a_line_assigned_by_hand_keeps_its_pair_and_the_rest_are_assigned_around_it() -> None:
    first, second = inv_line(1, "", "Bolt M8x20", "100", "0.10"), inv_line(2, "", "Bolt M8x25", "100", "0.10")
    # The person says the first line bills the 25 mm bolts: the second then gets the 20 mm ones.
    pairs = assign_lines([first, second], [BOLT_20, BOLT_25], chosen={first.id: _by_hand(BOLT_25.id)})
    assert [(p.invoice_line.line_number, p.po_line.line_number, p.quality, p.chosen is not None) for p in pairs] == [
        (1, 2, 1.0, True),
        (2, 1, 1.0, False),
    ]
    # To none: unpaired. A line of another PO: not applied, the scores decide.
    assert [p.invoice_line.line_number for p in assign_lines([first, second], [BOLT_20, BOLT_25],
                                                             chosen={first.id: _by_hand(None)})] == [2]  # fmt: skip
    stale = assign_lines([first], [BOLT_20, BOLT_25], chosen={first.id: _by_hand(po_line(9, "", "x", "1", "1").id)})
    assert [(p.po_line.line_number, p.chosen) for p in stale] == [(1, None)]


def test_a_vendor_and_a_po_chosen_by_hand_are_the_invoices_and_the_reason_says_so() -> None:
    order = purchase_order(BOLT_20, number="PO-7")
    unknown = invoice(inv_line(1, "", "Bolt M8x20", "100", "0.10"), vendor=None, vendor_name="Bolt Haus",
                      po_number="PO-X")  # fmt: skip
    matching = context(order)
    matching.human_choices = {
        unknown.id: HumanChoices(vendor=_by_hand(ACME.id), purchase_order=_by_hand(order.id)),
    }
    [outcome] = match_batch([unknown], matching)
    assert isinstance(outcome, MatchOutcome)
    assert (outcome.vendor_id, outcome.purchase_order_id) == (ACME.id, order.id)
    assert "unknown_vendor" not in {d.type for d in outcome.discrepancies}
    assert "po_not_found" not in {d.type for d in outcome.discrepancies}
    assert f"Vendor {ACME.name} chosen by anna on 2026-12-07." in outcome.decision_reason
    assert "Purchase order PO-7 chosen by anna on 2026-12-07." in outcome.decision_reason
    # Without the choices: neither is found.
    [plain] = match_batch([unknown], context(order))
    assert isinstance(plain, MatchOutcome) and plain.vendor_id is None and plain.purchase_order_id is None
