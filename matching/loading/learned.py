"""What Recon learned from clerks, as the engine's inputs (issue #20; learning.selectors reads
the rows): each in one query per batch, whatever its size."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal

from learning.models import ChoiceKind, ExampleKind
from learning.selectors import accepted_tolerance_rule_rows, human_choice_rows, item_alias_rows
from matching.engine.types import ChosenByHand, HumanChoices, LearnedItemAlias
from matching.engine.vocabulary import percent_text
from tenants.models import Tenant


def learned_item_aliases(
    *, tenant: Tenant, vendor_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, tuple[LearnedItemAlias, ...]]]:
    """The active item aliases of these vendors, by vendor and then by the invoice item's key."""
    if not vendor_ids:
        return {}
    by_vendor: dict[uuid.UUID, dict[str, list[LearnedItemAlias]]] = defaultdict(lambda: defaultdict(list))
    for row in item_alias_rows(tenant=tenant, vendor_ids=vendor_ids):
        by_vendor[row.vendor_id][row.invoice_key].append(
            LearnedItemAlias(
                invoice_key=row.invoice_key,
                po_item_key=row.po_item_key,
                approved_by=row.learned_by_label,
                approved_on=row.created_at.date(),
                how="assigned" if row.example.kind == ExampleKind.LINE_REASSIGNMENT else "approved",
            )
        )
    return {vendor: {key: tuple(aliases) for key, aliases in keys.items()} for vendor, keys in by_vendor.items()}


def accepted_tolerance_rules(*, tenant: Tenant) -> dict[uuid.UUID, tuple[Decimal, str]]:
    """By vendor: the price tolerance an administrator accepted from a suggestion, and how the
    reason names that rule."""
    return {
        row.vendor_id: (
            row.proposed_pct,
            f"rule learned from {row.approvals} approvals of price differences "
            f"{percent_text(row.low_pct)}–{percent_text(row.high_pct)} %, accepted by {row.decided_by_label} "
            f"on {row.decided_at.date().isoformat() if row.decided_at else '?'}",
        )
        for row in accepted_tolerance_rule_rows(tenant=tenant)
    }


def human_choices(*, tenant: Tenant, invoice_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, HumanChoices]:
    """By invoice: the choices a person made on it that the engine honours (lines assigned by hand)."""
    lines: dict[uuid.UUID, dict[uuid.UUID, ChosenByHand]] = defaultdict(dict)
    for row in human_choice_rows(tenant=tenant, invoice_ids=invoice_ids):
        choice = ChosenByHand(chosen_id=None, chosen_by=row.chosen_by_label, chosen_on=row.created_at.date())
        if row.kind == ChoiceKind.LINE and row.invoice_line_id is not None:
            lines[row.invoice_id][row.invoice_line_id] = dataclasses.replace(choice, chosen_id=row.po_line_id)
    return {invoice_id: HumanChoices(lines=by_line) for invoice_id, by_line in lines.items()}
