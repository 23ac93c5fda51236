"""What Recon learned from clerks, as the engine's inputs (issue #20; learning.selectors reads
the rows): each in one query per batch, whatever its size."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from learning.models import ChoiceKind, ExampleKind
from learning.selectors import (
    accepted_tolerance_rule_rows,
    human_choice_rows,
    item_alias_rows,
    vendor_alias_teachings,
)
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


def accepted_tolerance_rules(*, tenant: Tenant) -> dict[tuple[uuid.UUID, str], tuple[Decimal, str]]:
    """By (vendor, kind: price | quantity): the tolerance an administrator accepted from a
    suggestion, and how the reason names that rule."""
    return {
        (row.vendor_id, row.kind): (
            row.proposed_pct,
            f"rule learned from {row.approvals} approvals of {row.kind} differences "
            f"{percent_text(row.low_pct)}–{percent_text(row.high_pct)} %, accepted by {row.decided_by_label} "
            f"on {row.decided_at.date().isoformat() if row.decided_at else '?'}",
        )
        for row in accepted_tolerance_rule_rows(tenant=tenant)
    }


@dataclass(frozen=True)
class LoadedChoices:
    """The batch's choices by hand (by invoice), and the numbers of the POs chosen, which the
    loader must load whatever number the invoice gives."""

    by_invoice: dict[uuid.UUID, HumanChoices]
    po_numbers: frozenset[str]


def human_choices(*, tenant: Tenant, invoice_ids: Collection[uuid.UUID]) -> LoadedChoices:
    """By invoice: the choices a person made on it that the engine honours (its vendor, its PO,
    lines assigned by hand)."""
    lines: dict[uuid.UUID, dict[uuid.UUID, ChosenByHand]] = defaultdict(dict)
    vendors: dict[uuid.UUID, ChosenByHand] = {}
    purchase_orders: dict[uuid.UUID, ChosenByHand] = {}
    po_numbers = set()
    for row in human_choice_rows(tenant=tenant, invoice_ids=invoice_ids):
        choice = ChosenByHand(chosen_id=None, chosen_by=row.chosen_by_label, chosen_on=row.created_at.date())
        if row.kind == ChoiceKind.LINE and row.invoice_line_id is not None:
            lines[row.invoice_id][row.invoice_line_id] = dataclasses.replace(choice, chosen_id=row.po_line_id)
        elif row.kind == ChoiceKind.VENDOR:
            vendors[row.invoice_id] = dataclasses.replace(choice, chosen_id=row.vendor_id)
        elif row.kind == ChoiceKind.PURCHASE_ORDER and row.purchase_order is not None:
            purchase_orders[row.invoice_id] = dataclasses.replace(choice, chosen_id=row.purchase_order_id)
            po_numbers.add(row.purchase_order.po_number)
    return LoadedChoices(
        by_invoice={
            invoice_id: HumanChoices(
                lines=lines.get(invoice_id, {}),
                vendor=vendors.get(invoice_id),
                purchase_order=purchase_orders.get(invoice_id),
            )
            for invoice_id in {*lines, *vendors, *purchase_orders}
        },
        po_numbers=frozenset(po_numbers),
    )


def learned_vendor_aliases(*, tenant: Tenant) -> dict[uuid.UUID, dict[tuple[str, str], str]]:
    """By vendor: the names and tax ids people taught by choosing it by hand, by (kind, normalized
    alias) → "a choice by who on when"."""
    by_vendor: dict[uuid.UUID, dict[tuple[str, str], str]] = defaultdict(dict)
    for kind, alias, vendor_id, who, on in vendor_alias_teachings(tenant=tenant):
        if alias and vendor_id is not None:
            by_vendor[vendor_id][(kind, alias)] = f"a choice by {who} on {on.isoformat()}"
    return by_vendor
