"""Learned item aliases in the pure engine: a reworded line the alias links is identified as if
keyed, the reason names the alias, its approver and date; an alias of another item does nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from core.item_keys import item_key
from matching.engine import MatchOutcome, match_batch
from matching.engine.types import LearnedItemAlias
from tests.matching.engine_builders import context
from tests.matching.test_engine_confidence import (
    GLOVES_INVOICE,
    GLOVES_PO,
    TAPE_INVOICE,
    TAPE_PO,
    reworded_invoice,
    reworded_po,
)


def alias(invoice_text: str, po_text: str) -> LearnedItemAlias:
    return LearnedItemAlias(
        invoice_key=item_key(sku="", description=invoice_text),
        po_item_key=item_key(sku="", description=po_text),
        approved_by="anna",
        approved_on=dt.date(2026, 11, 3),
    )


def match_with(aliases: list[LearnedItemAlias]) -> MatchOutcome:
    # Inside the tolerance but not exact: without aliases the lines keep their similarity (review).
    inv = reworded_invoice(gloves_price="12.55", tape_price="4.81")
    ctx = context(reworded_po())
    vendor_id = inv.vendor_id
    assert isinstance(vendor_id, uuid.UUID)
    ctx.item_aliases = {vendor_id: {a.invoice_key: (a,) for a in aliases}}
    [outcome] = match_batch([inv], ctx)
    assert isinstance(outcome, MatchOutcome)
    return outcome


def test_without_aliases_the_reworded_lines_go_to_review() -> None:
    outcome = match_with([])
    assert outcome.status == "pending_review"
    assert "learned alias" not in outcome.decision_reason


def test_learned_aliases_identify_the_reworded_lines_and_the_reason_names_them() -> None:
    outcome = match_with([alias(GLOVES_INVOICE, GLOVES_PO), alias(TAPE_INVOICE, TAPE_PO)])
    assert outcome.status == "approved"
    assert outcome.breakdown["line_match"] == Decimal("1.0000")
    assert outcome.decision_reason.endswith(
        " Line 1 matched via learned alias, approved by anna on 2026-11-03."
        " Line 2 matched via learned alias, approved by anna on 2026-11-03."
    )


def test_an_alias_to_another_item_approves_nothing() -> None:
    """The gloves' wording linked to the tape's PO line: the optimal assignment still pairs each
    line with its own item, no alias made the difference, and a person looks."""
    outcome = match_with([alias(GLOVES_INVOICE, TAPE_PO)])
    assert outcome.status == "pending_review"
    assert "learned alias" not in outcome.decision_reason
