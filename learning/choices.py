"""A person's choices on an invoice the engine honours when it matches the invoice again (issue
#20 items 1 and 2): an invoice line assigned by hand to a PO line of the invoice's PO, or to
none; the vendor of an invoice whose vendor was not recognised; the PO of an invoice naming none
or an unknown one.

Called by review.manual_choices inside its transaction, after the invoice's re-match move and
the decision's example (learning.services.example_record) are written: the choice cites the
example, supersedes the earlier choice of the same line (kept, with when), teaches the item
alias the assignment vouches for (as an approval does) and forgets one it contradicts, and is
audited on the invoice's timeline.

A vendor chosen teaches what identifies the vendor on its next invoices: the name the invoice
gives and the tax id it carries (vendors.VendorAlias of kind name and tax_id), each listed and
forgettable on "What Recon learned", each named by the match that uses it, each forgotten when an
invoice resolved through it is rejected (learning.services). The payee account the invoice asks to
be paid to is deliberately NOT learned: an account that is not on the vendor's record must never
identify the vendor, because "a known vendor's invoice, paid to a new account" is exactly how a
forged invoice looks (DESIGN.md §5 `bank_account_mismatch`; accounts are added only under four
eyes, vendors.bank_accounts). Its keyed hash and mask are kept on the example's details as
evidence of what the person saw; a payee account identifies a vendor only when it is that
vendor's approved account on record (matching.engine.vendor), never because a person chose.
"""

from __future__ import annotations

from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from invoices.models import Invoice, InvoiceLine
from learning.models import ChoiceKind, DecisionExample, HumanChoice
from learning.services import item_aliases_teach, item_aliases_unlearn_pair
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_tax_id, normalize_vendor_name
from vendors.services import vendor_alias_add
from vendors.tax_ids import tax_id_warnings


def line_text(po_line: PurchaseOrderLine | None) -> str:
    """A PO line as a choice names it to a person ("PO line 2 · Duct tape"), or "no PO line"."""
    return f"PO line {po_line.line_number} · {po_line.description}" if po_line is not None else "no PO line"


def line_assignment_record(
    *,
    tenant: Tenant,
    example: DecisionExample,
    invoice: Invoice,
    invoice_line: InvoiceLine,
    po_line: PurchaseOrderLine | None,
    previous: PurchaseOrderLine | None,
    actor: Actor,
) -> HumanChoice:
    """Record that `invoice_line` bills `po_line` (None: no line of the PO), as `actor` chose;
    `previous` is the PO line the overridden match had paired it with."""
    now = timezone.now()
    HumanChoice.objects.for_tenant(tenant).filter(
        kind=ChoiceKind.LINE, invoice_line_id=invoice_line.pk, superseded_at__isnull=True
    ).update(superseded_at=now)
    choice = HumanChoice.objects.create(
        tenant=tenant,
        kind=ChoiceKind.LINE,
        invoice=invoice,
        invoice_line=invoice_line,
        po_line=po_line,
        purchase_order_id=po_line.purchase_order_id if po_line is not None else None,
        example=example,
        chosen_by_label=example.actor_label,
    )
    reason = f"Line {invoice_line.line_number} assigned to {line_text(po_line)}"
    if actor.kind == "user" and invoice.vendor_id is not None:
        if previous is not None and (po_line is None or previous.pk != po_line.pk):
            item_aliases_unlearn_pair(
                tenant=tenant, vendor_id=invoice.vendor_id, line=invoice_line, po_line=previous, actor=actor,
                why=f"line {invoice_line.line_number} of invoice {invoice.invoice_number} assigned elsewhere by hand",
            )  # fmt: skip
        if po_line is not None:
            item_aliases_teach(tenant=tenant, example=example, invoice=invoice, vendor_id=invoice.vendor_id,
                               actor=actor, pairs=[(invoice_line, po_line)])  # fmt: skip
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice.pk,
        action="line_assigned",
        before={"invoice_line": invoice_line.line_number, "po_line": previous.line_number if previous else None},
        after={
            "invoice_line": invoice_line.line_number,
            "po_line": po_line.line_number if po_line is not None else None,
            "reason": f"{reason}.",
        },
    )
    return choice


def _supersede(*, tenant: Tenant, invoice: Invoice, kind: str) -> None:
    HumanChoice.objects.for_tenant(tenant).filter(invoice_id=invoice.pk, kind=kind, superseded_at__isnull=True).update(
        superseded_at=timezone.now()
    )


def _teachable(*, tenant: Tenant, vendor: Vendor, kind: str, normalized: str) -> bool | None:
    """Whether `normalized` (a name or tax id of `kind`) can be taught as `vendor`'s alias: True to
    add it, None when it already is the vendor's alias, False when it is the vendor's own or names
    another vendor (the person chose for this invoice; the name or number stays ambiguous)."""
    if kind == VendorAliasKind.TAX_ID:
        if normalized == vendor.tax_id or Vendor.objects.for_tenant(tenant).filter(tax_id=normalized).exists():
            return False
    elif normalized == vendor.normalized_name:
        return False
    existing = VendorAlias.objects.for_tenant(tenant).filter(kind=kind, normalized_alias=normalized).first()
    if existing is None:
        return True
    return None if existing.vendor_id == vendor.pk else False


def _tax_id_learnable(normalized: str) -> bool:
    """A tax id worth learning: some digits (not "N/A" or "none"), and valid in its scheme when the
    scheme is known (vendors.tax_ids): a mistyped or misread number would teach a wrong key."""
    return len(normalized) >= 4 and any(ch.isdigit() for ch in normalized) and not tax_id_warnings(normalized)


def vendor_choice_record(
    *, tenant: Tenant, example: DecisionExample, invoice: Invoice, vendor: Vendor, actor: Actor
) -> HumanChoice:
    """Record that `vendor` sent the invoice, as `actor` chose, and teach the name the invoice
    gives and the tax id it carries as aliases of the vendor (vendors.VendorAlias, the one list of
    a vendor's other names and tax ids, listed and forgettable on "What Recon learned"), so the
    next invoice under that name or tax id resolves by itself. Not taught: a name or tax id that
    is already the vendor's, or another vendor's (see `_teachable`), a tax id that is not one
    (`_tax_id_learnable`), and never the payee account (module docstring). The example keeps
    what was taught (`taught_alias`, `taught_tax_id`), which the matching reason cites."""
    _supersede(tenant=tenant, invoice=invoice, kind=ChoiceKind.VENDOR)
    choice = HumanChoice.objects.create(tenant=tenant, kind=ChoiceKind.VENDOR, invoice=invoice, vendor=vendor,
                                        example=example, chosen_by_label=example.actor_label)  # fmt: skip
    name = invoice.vendor_name_raw.strip()
    taught: dict[str, str] = {}
    normalized = normalize_vendor_name(name)
    if normalized and (teach := _teachable(tenant=tenant, vendor=vendor, kind=VendorAliasKind.NAME,
                                           normalized=normalized)) is not False:  # fmt: skip
        if teach:
            vendor_alias_add(tenant=tenant, vendor=vendor, alias=name, actor=actor)
        taught["taught_alias"] = normalized
    tax_id = invoice.vendor_tax_id_raw.strip()
    normalized_tax_id = normalize_tax_id(tax_id)
    if (
        _tax_id_learnable(normalized_tax_id)
        and (teach := _teachable(tenant=tenant, vendor=vendor, kind=VendorAliasKind.TAX_ID,
                                 normalized=normalized_tax_id)) is not False
    ):  # fmt: skip
        if teach:
            vendor_alias_add(tenant=tenant, vendor=vendor, alias=tax_id, actor=actor, kind=VendorAliasKind.TAX_ID)
        taught["taught_tax_id"] = normalized_tax_id
    if invoice.payee_account_hash:  # evidence only: never learned (module docstring)
        taught["payee_account_hash"] = invoice.payee_account_hash
        taught["payee_account_mask"] = invoice.payee_account_mask
    if taught:
        example.details = {**example.details, **taught}
        example.save(update_fields=["details"])
    learned = [f"the name {name!r}"] if "taught_alias" in taught else []
    learned += [f"the tax id {normalized_tax_id}"] if "taught_tax_id" in taught else []
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice.pk,
        action="vendor_chosen",
        before={"vendor_name_raw": name, "vendor_tax_id_raw": tax_id},
        after={
            "vendor_id": str(vendor.pk),
            "reason": f"Vendor {vendor.name} chosen for the name {name!r}"
            + (f" ({' and '.join(learned)} learned as its aliases)." if learned else "."),
        },
    )
    return choice


def purchase_order_choice_record(
    *, tenant: Tenant, example: DecisionExample, invoice: Invoice, purchase_order: PurchaseOrder, actor: Actor
) -> HumanChoice:
    """Record that the invoice bills `purchase_order`, as `actor` chose (the invoice named none,
    or one that does not exist)."""
    _supersede(tenant=tenant, invoice=invoice, kind=ChoiceKind.PURCHASE_ORDER)
    choice = HumanChoice.objects.create(tenant=tenant, kind=ChoiceKind.PURCHASE_ORDER, invoice=invoice,
                                        purchase_order=purchase_order, example=example,
                                        chosen_by_label=example.actor_label)  # fmt: skip
    audit_record(
        tenant=tenant,
        actor=actor,
        entity_type="invoice",
        entity_id=invoice.pk,
        action="purchase_order_chosen",
        before={"po_number": invoice.po_number},
        after={
            "purchase_order_id": str(purchase_order.pk),
            "reason": f"Purchase order {purchase_order.po_number} chosen.",
        },
    )
    return choice
