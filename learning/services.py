"""Writes of the learning app: a person's decision recorded as an example, and what is learned
from it (item aliases, tolerance suggestions); an administrator's accept / decline / undo.

Every decision of a person goes through `example_record`, called by the service that takes the
decision, inside its transaction: review's approve / reject / dispute (review.decisions,
review.disputes), payments' manual allocations (payments.reconciliation.services). Only people
teach: an example recorded for an API key or a system actor is kept as data, but nothing is
learned from it, and the engine's own auto-approvals are never examples.

What an accepted or undone rule changes in matching (the vendor's open invoices re-matched) is
the caller's step after the commit (review.learning_views): matching sits above this app.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.services import AuditEntry, audit_record, audit_record_many
from core.actors import Actor
from core.exceptions import ConflictError
from core.item_keys import STRONG_DESCRIPTION_SIMILARITY, description_similarity, item_key
from core.lookup_keys import sku_key
from invoices.models import Invoice, InvoiceLine
from learning.models import (
    ChoiceKind,
    DecisionExample,
    ExampleKind,
    HumanChoice,
    ItemAlias,
    SuggestionStatus,
    ToleranceSuggestion,
)
from learning.rules import price_difference_pct
from learning.suggestion_reviews import PRICE_MISMATCH, QUANTITY_FINDINGS, TOLERANCE_FIELD, tolerance_suggestion_review
from purchasing.models import PurchaseOrderLine
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.services import vendor_tolerances_update

SUGGESTION_NOT_OPEN = "This suggestion was already decided ({status})."
SUGGESTION_NOT_ACCEPTED = "Only an accepted rule can be undone; this one is {status}."
ALIAS_ALREADY_FORGOTTEN = "This alias was already forgotten."


@dataclass(frozen=True)
class ExampleDiscrepancy:
    """A discrepancy of the match a person overrode, as the engine stated it."""

    type: str
    severity: str
    expected: str | None = None
    actual: str | None = None
    invoice_line_number: int | None = None


def example_record(
    *,
    tenant: Tenant,
    actor: Actor,
    kind: str,
    invoice: Invoice | None = None,
    vendor_id: uuid.UUID | None = None,
    match_result_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
    comment: str = "",
    discrepancies: Sequence[ExampleDiscrepancy] = (),
    details: dict[str, Any] | None = None,
) -> DecisionExample:
    """Record one person's decision as a labelled example, in the caller's transaction, and learn
    from it: an approval teaches item aliases and may propose a tolerance; a rejection forgets
    the item and vendor aliases its match used and resets the tolerance count."""
    fields = example_fields(tenant=tenant, actor=actor, kind=kind, invoice=invoice, vendor_id=vendor_id,
                            match_result_id=match_result_id, payment_id=payment_id, comment=comment,
                            discrepancies=discrepancies, details=details)  # fmt: skip
    with transaction.atomic():
        example = DecisionExample.objects.create(**fields)
        if actor.kind != "user" or example.vendor_id is None:
            return example
        example_aliases_learn(tenant=tenant, example=example, invoice=invoice, actor=actor)
        if kind in (ExampleKind.APPROVE, ExampleKind.REJECT):
            tolerance_suggestion_review(tenant=tenant, vendor_id=example.vendor_id, actor=actor)
    return example


def example_fields(
    *,
    tenant: Tenant,
    actor: Actor,
    kind: str,
    invoice: Invoice | None,
    vendor_id: uuid.UUID | None,
    match_result_id: uuid.UUID | None,
    payment_id: uuid.UUID | None,
    comment: str,
    discrepancies: Sequence[ExampleDiscrepancy],
    details: dict[str, Any] | None,
) -> dict[str, Any]:
    """The columns of one decision's example (`example_record`, and its many-form in
    learning.example_batches): the one place that says what an example holds."""
    if vendor_id is None and invoice is not None:
        vendor_id = invoice.vendor_id
    shown = []
    for discrepancy in discrepancies:
        pct = None
        if discrepancy.type in (PRICE_MISMATCH, *QUANTITY_FINDINGS) and discrepancy.expected and discrepancy.actual:
            pct = price_difference_pct(expected=discrepancy.expected, actual=discrepancy.actual)
        shown.append(
            {
                "type": discrepancy.type,
                "severity": discrepancy.severity,
                "expected": discrepancy.expected,
                "actual": discrepancy.actual,
                "invoice_line_number": discrepancy.invoice_line_number,
                "pct": str(pct) if pct is not None else None,
            }
        )
    return {
        "tenant": tenant,
        "kind": kind,
        "vendor_id": vendor_id,
        "invoice": invoice,
        "match_result_id": match_result_id,
        "payment_id": payment_id,
        "actor_kind": actor.kind,
        "actor_id": str(actor.id),
        "actor_label": actor.label or str(actor.id),
        "comment": comment,
        "details": {
            **(details or {}),
            "invoice_number": invoice.invoice_number if invoice is not None else "",
            "discrepancies": shown,
        },
    }


def example_aliases_learn(
    *,
    tenant: Tenant,
    example: DecisionExample,
    invoice: Invoice | None,
    actor: Actor,
    matched: Sequence[InvoiceLine] | None = None,
) -> None:
    """What a person's example teaches about items and vendors (its tolerance aside): an approval
    learns item aliases, a rejection forgets the item and vendor aliases its match used.
    `matched`: the invoice's lines with their PO lines, when the caller read them already."""
    vendor_id = example.vendor_id
    if invoice is None or vendor_id is None:
        return
    if example.kind == ExampleKind.APPROVE:
        _item_aliases_learn(tenant=tenant, example=example, invoice=invoice, vendor_id=vendor_id, actor=actor,
                            matched=matched)  # fmt: skip
    elif example.kind == ExampleKind.REJECT:
        _item_aliases_unlearn(tenant=tenant, invoice=invoice, vendor_id=vendor_id, actor=actor)
        _vendor_aliases_unlearn(tenant=tenant, invoice=invoice, vendor_id=vendor_id, actor=actor)


def matched_lines(*, tenant: Tenant, invoice_ids: Sequence[uuid.UUID]) -> list[InvoiceLine]:
    """The invoices' lines the match assigned, with their PO lines, by invoice and line number."""
    return list(
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice_id__in=invoice_ids, matched_po_line__isnull=False)
        .select_related("matched_po_line")
        .order_by("invoice_id", "line_number")
    )


def _vouched(line: InvoiceLine) -> bool:
    """Whether the match assigned this line on weak evidence a person's approval now vouches for:
    no line-number hint or SKU named its PO line, and the descriptions are not strongly similar."""
    po_line = line.matched_po_line
    assert po_line is not None
    if line.po_line_number is not None and line.po_line_number == po_line.line_number:
        return False
    if line.sku and sku_key(line.sku) == sku_key(po_line.sku):
        return False
    return description_similarity(line.description, po_line.description) < STRONG_DESCRIPTION_SIMILARITY


def _item_aliases_learn(
    *,
    tenant: Tenant,
    example: DecisionExample,
    invoice: Invoice,
    vendor_id: uuid.UUID,
    actor: Actor,
    matched: Sequence[InvoiceLine] | None = None,
) -> None:
    pairs = []
    for line in matched if matched is not None else matched_lines(tenant=tenant, invoice_ids=[invoice.pk]):
        if _vouched(line):
            assert line.matched_po_line is not None
            pairs.append((line, line.matched_po_line))
    item_aliases_teach(tenant=tenant, example=example, invoice=invoice, vendor_id=vendor_id, actor=actor, pairs=pairs)


def item_aliases_teach(
    *,
    tenant: Tenant,
    example: DecisionExample,
    invoice: Invoice,
    vendor_id: uuid.UUID,
    actor: Actor,
    pairs: Sequence[tuple[InvoiceLine, PurchaseOrderLine]],
) -> list[ItemAlias]:
    """Learn that each invoice line's item (as the vendor wrote it) is its paired PO line's item, a
    person having vouched for the pair in `example` (an approval, a line assigned by hand); the
    links already known are not learned twice. Audited per alias."""
    learned = []
    seen = set()
    for line, po_line in pairs:
        invoice_key = item_key(sku=line.sku, description=line.description)
        po_item_key = item_key(sku=po_line.sku, description=po_line.description)
        if (invoice_key, po_item_key) in seen:
            continue
        seen.add((invoice_key, po_item_key))
        exists = (
            ItemAlias.objects.for_tenant(tenant)
            .filter(vendor_id=vendor_id, invoice_key=invoice_key, po_item_key=po_item_key, forgotten_at__isnull=True)
            .exists()
        )
        if exists:
            continue
        learned.append(
            ItemAlias(
                tenant=tenant,
                vendor_id=vendor_id,
                invoice_text=_item_text(line.sku, line.description),
                invoice_key=invoice_key,
                po_item_text=_item_text(po_line.sku, po_line.description),
                po_item_key=po_item_key,
                example=example,
                learned_by_label=example.actor_label,
            )
        )
    if not learned:
        return []
    created = ItemAlias.objects.bulk_create(learned)
    audit_record_many(
        tenant=tenant,
        actor=actor,
        entries=[
            AuditEntry(
                "item_alias",
                str(alias.pk),
                "learned",
                None,
                {
                    "vendor_id": str(vendor_id),
                    "invoice_text": alias.invoice_text,
                    "po_item": alias.po_item_text,
                    "invoice_id": str(invoice.pk),
                },
            )
            for alias in created
        ],
    )
    return created


def _item_text(sku: str, description: str) -> str:
    return (f"{sku.strip()} · {description}" if sku.strip() else description)[:500]


def _item_aliases_unlearn(*, tenant: Tenant, invoice: Invoice, vendor_id: uuid.UUID, actor: Actor) -> None:
    """A rejected invoice whose lines were assigned through learned aliases: those aliases go."""
    keys = [
        (item_key(sku=line.sku, description=line.description), item_key(sku=po.sku, description=po.description))
        for line in matched_lines(tenant=tenant, invoice_ids=[invoice.pk])
        if (po := line.matched_po_line) is not None
    ]
    for alias in ItemAlias.objects.for_tenant(tenant).filter(vendor_id=vendor_id, forgotten_at__isnull=True):
        if (alias.invoice_key, alias.po_item_key) in keys:
            _alias_forget(tenant=tenant, alias=alias, actor=actor, why=f"invoice {invoice.invoice_number} rejected")


def item_aliases_unlearn_pair(
    *, tenant: Tenant, vendor_id: uuid.UUID, line: InvoiceLine, po_line: PurchaseOrderLine, actor: Actor, why: str
) -> None:
    """A person said this invoice line does not bill this PO line: an alias linking their items goes."""
    invoice_key = item_key(sku=line.sku, description=line.description)
    po_item_key = item_key(sku=po_line.sku, description=po_line.description)
    for alias in ItemAlias.objects.for_tenant(tenant).filter(
        vendor_id=vendor_id, invoice_key=invoice_key, po_item_key=po_item_key, forgotten_at__isnull=True
    ):
        _alias_forget(tenant=tenant, alias=alias, actor=actor, why=why)


def item_alias_forget(*, tenant: Tenant, alias: ItemAlias, actor: Actor) -> ItemAlias:
    """Undo a learned item alias: the next match no longer uses it (kept, with who forgot it)."""
    with transaction.atomic():
        locked = ItemAlias.objects.for_tenant(tenant).select_for_update().get(pk=alias.pk)
        if locked.forgotten_at is not None:
            raise ConflictError(ALIAS_ALREADY_FORGOTTEN)
        _alias_forget(tenant=tenant, alias=locked, actor=actor, why="forgotten by hand")
    return locked


def _alias_forget(*, tenant: Tenant, alias: ItemAlias, actor: Actor, why: str) -> None:
    alias.forgotten_at = timezone.now()
    alias.forgotten_by_label = actor.label or str(actor.id)
    alias.save(update_fields=["forgotten_at", "forgotten_by_label"])
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="item_alias",
        entity_id=alias.pk,
        action="forgotten",
        before={"invoice_text": alias.invoice_text, "po_item": alias.po_item_text},
        after={"why": why},
    )


def vendor_alias_forget(*, tenant: Tenant, alias: VendorAlias, actor: Actor, why: str = "forgotten by hand") -> None:
    """Undo a vendor alias (a name or tax id learned from a vendor chosen by hand or a manual
    payment match, or a name taught by hand): the next invoice carrying it is not recognised by it."""
    with transaction.atomic():
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="vendor",
            entity_id=alias.vendor_id,
            action="alias_removed",
            before={"alias": alias.alias, "normalized_alias": alias.normalized_alias, "kind": alias.kind},
            after={"why": why},
        )
        VendorAlias.objects.for_tenant(tenant).filter(pk=alias.pk).delete()


def _vendor_aliases_unlearn(*, tenant: Tenant, invoice: Invoice, vendor_id: uuid.UUID, actor: Actor) -> None:
    """A rejected invoice whose vendor a learned alias identified: that alias goes (audited).

    Which alias identified it follows the engine's resolution order (matching.engine.vendor
    `learned_alias_of`; tests/learning/test_vendor_tax_ids.py ties the two): a vendor chosen by
    hand on this invoice used none; a tax id on the vendor's record comes before a learned one, the
    vendor's own name before a learned name. Only aliases a person taught by choosing the vendor
    are learned facts; a name entered on the vendor stays."""
    if (
        HumanChoice.objects.for_tenant(tenant)
        .filter(invoice_id=invoice.pk, kind=ChoiceKind.VENDOR, superseded_at__isnull=True)
        .exists()
    ):
        return
    vendor = Vendor.objects.for_tenant(tenant).filter(pk=vendor_id).only("tax_id", "normalized_name").first()
    if vendor is None:
        return
    tax_id = normalize_tax_id(invoice.vendor_tax_id_raw)
    name = normalize_vendor_name(invoice.vendor_name_raw)
    candidates = []
    if tax_id and tax_id != vendor.tax_id:
        candidates.append((VendorAliasKind.TAX_ID, tax_id, "taught_tax_id"))
    if not (tax_id and tax_id == vendor.tax_id) and name and name != vendor.normalized_name:
        candidates.append((VendorAliasKind.NAME, name, "taught_alias"))
    for kind, normalized, taught_key in candidates:
        alias = VendorAlias.objects.for_tenant(tenant).filter(vendor_id=vendor_id, kind=kind,
                                                              normalized_alias=normalized).first()  # fmt: skip
        if alias is None:
            continue
        taught = DecisionExample.objects.for_tenant(tenant).filter(
            kind=ExampleKind.VENDOR_RESOLUTION, vendor_id=vendor_id, actor_kind="user",
            **{f"details__{taught_key}": normalized},
        )  # fmt: skip
        if taught.exists():
            vendor_alias_forget(tenant=tenant, alias=alias, actor=actor,
                                why=f"invoice {invoice.invoice_number} rejected")  # fmt: skip
        return  # the first alias that matches is the one that identified the vendor


@dataclass(frozen=True)
class ToleranceChange:
    """What an accept or an undo did to the vendor (for the caller's re-match)."""

    suggestion: ToleranceSuggestion
    vendor: Vendor
    before: dict[str, Decimal | None]
    after: dict[str, Decimal | None]


def _decide(*, tenant: Tenant, suggestion: ToleranceSuggestion, actor: Actor, expected: str) -> ToleranceSuggestion:
    locked = ToleranceSuggestion.objects.for_tenant(tenant).select_for_update().get(pk=suggestion.pk)
    if locked.status != expected:
        message = SUGGESTION_NOT_OPEN if expected == SuggestionStatus.OPEN else SUGGESTION_NOT_ACCEPTED
        raise ConflictError(message.format(status=locked.get_status_display().lower()))
    return locked


def _tolerances(vendor: Vendor) -> dict[str, Decimal | None]:
    return {"price_tolerance_pct": vendor.price_tolerance_pct, "quantity_tolerance_pct": vendor.quantity_tolerance_pct}


def tolerance_suggestion_accept(*, tenant: Tenant, suggestion: ToleranceSuggestion, actor: Actor) -> ToleranceChange:
    """An administrator accepts: the vendor's tolerance of the suggestion's kind (price or
    quantity) becomes the proposed one (through
    vendors.services, audited), the suggestion is the rule the engine names when it uses it."""
    with transaction.atomic():
        locked = _decide(tenant=tenant, suggestion=suggestion, actor=actor, expected=SuggestionStatus.OPEN)
        vendor = Vendor.objects.for_tenant(tenant).get(pk=locked.vendor_id)
        before = _tolerances(vendor)
        ToleranceSuggestion.objects.for_tenant(tenant).filter(
            vendor_id=vendor.pk, kind=locked.kind, status="accepted"
        ).update(status=SuggestionStatus.REPLACED)
        field = TOLERANCE_FIELD[locked.kind]
        saved = vendor_tolerances_update(
            tenant=tenant, vendor=vendor, actor=actor, **{**before, field: locked.proposed_pct}
        )
        locked.status = SuggestionStatus.ACCEPTED
        locked.previous_pct = before[field]
        locked.decided_by_label = actor.label or str(actor.id)
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "previous_pct", "decided_by_label", "decided_at"])
        audit_record(tenant=tenant, actor=actor, entity_type="tolerance_suggestion", entity_id=locked.pk,
                     action="accepted", before={field: before[field]},
                     after={field: locked.proposed_pct, "approvals": locked.approvals})  # fmt: skip
    return ToleranceChange(suggestion=locked, vendor=saved, before=before, after=_tolerances(saved))


def tolerance_suggestion_decline(
    *, tenant: Tenant, suggestion: ToleranceSuggestion, actor: Actor
) -> ToleranceSuggestion:
    """An administrator declines: nothing changes; its evidence is not proposed again."""
    with transaction.atomic():
        locked = _decide(tenant=tenant, suggestion=suggestion, actor=actor, expected=SuggestionStatus.OPEN)
        locked.status = SuggestionStatus.DECLINED
        locked.decided_by_label = actor.label or str(actor.id)
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_by_label", "decided_at"])
        audit_record(tenant=tenant, actor=actor, entity_type="tolerance_suggestion", entity_id=locked.pk,
                     action="declined", after={"proposed_pct": locked.proposed_pct})  # fmt: skip
    return locked


def tolerance_suggestion_undo(*, tenant: Tenant, suggestion: ToleranceSuggestion, actor: Actor) -> ToleranceChange:
    """Undo an accepted rule: the vendor's tolerance of its kind goes back to what it was before."""
    with transaction.atomic():
        locked = _decide(tenant=tenant, suggestion=suggestion, actor=actor, expected=SuggestionStatus.ACCEPTED)
        vendor = Vendor.objects.for_tenant(tenant).get(pk=locked.vendor_id)
        before = _tolerances(vendor)
        field = TOLERANCE_FIELD[locked.kind]
        saved = vendor_tolerances_update(
            tenant=tenant, vendor=vendor, actor=actor, **{**before, field: locked.previous_pct}
        )
        locked.status = SuggestionStatus.UNDONE
        locked.save(update_fields=["status"])
        audit_record(tenant=tenant, actor=actor, entity_type="tolerance_suggestion", entity_id=locked.pk,
                     action="undone", before={field: before[field]},
                     after={field: locked.previous_pct})  # fmt: skip
    return ToleranceChange(suggestion=locked, vendor=saved, before=before, after=_tolerances(saved))
