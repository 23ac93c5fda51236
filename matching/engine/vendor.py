"""Which vendor sent the invoice: by id, tax id on record, a tax id learned as an alias, exact
normalized name or alias, the vendor's bank account on record, then a fuzzy name that must
clearly beat every other vendor.

A payee account identifies a vendor only when it is the vendor's current account on record
(`active`: proposed by one person, approved by another, vendors.bank_accounts), held by no other
active vendor, and only when no name identified a vendor exactly: a scanned invoice whose name the
reader could not make out still says where it wants to be paid, and paying the vendor's own
approved account is what the invoice would be paid to anyway. An account that is *not* on the
vendor's record never identifies anyone: that is the forged-account fraud (risk.py's
`bank_account_mismatch`), so no payee account is ever learned as an alias (learning.choices),
and an account a clerk once saw on an invoice stays evidence only.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process

from matching.engine.index import BatchIndex
from matching.engine.types import ChosenByHand, InvoiceRecord, MatchSettings, VendorRecord
from vendors.names import normalize_tax_id, normalize_vendor_name

# A fuzzy vendor match must beat the runner-up (another vendor) by this many points.
FUZZY_MARGIN = 3.0


@dataclass(frozen=True)
class VendorResolution:
    vendor: VendorRecord | None
    method: str  # chosen | id | tax_id | tax_id_alias | name | alias | bank_account | fuzzy | none
    score: float = 0.0

    def text(self, invoice: InvoiceRecord, chosen: ChosenByHand | None) -> str:
        """What the decision's reason adds: a vendor chosen by hand, or recognised by a name or tax
        id a person taught (DESIGN.md §5: a match that used a learned fact says so) — here, or
        already when the invoice came in (method `id`: the door resolves exactly, learned aliases
        included, vendors.selectors.vendor_resolve_exact)."""
        if self.vendor is None:
            return ""
        if self.method == "chosen" and chosen is not None:
            return f" Vendor {self.vendor.name} chosen by {chosen.chosen_by} on {chosen.chosen_on.isoformat()}."
        if self.method == "bank_account":
            mask = next(
                (a.account_mask for a in self.vendor.bank_accounts if a.account_hash == invoice.payee_account_hash), ""
            )
            return f" Vendor {self.vendor.name} recognised by its bank account {mask or '(masked)'} on record."
        alias = learned_alias_of(self.vendor, invoice) if self.method in ("id", "tax_id_alias", "alias") else None
        if alias is None:
            return ""
        what, shown, learned = alias
        return f" Vendor {self.vendor.name} recognised by the {what} {shown!r}, learned from {learned}."


def learned_alias_of(vendor: VendorRecord, invoice: InvoiceRecord) -> tuple[str, str, str] | None:
    """The learned alias of `vendor` that identifies `invoice` by the resolution order (a tax id
    on record first, then a learned tax id; the vendor's own name first, then a learned name):
    ("tax id" | "name", as the invoice writes it, who taught it and when), or None."""
    tax_id = normalize_tax_id(invoice.vendor_tax_id_raw)
    if tax_id and tax_id == normalize_tax_id(vendor.tax_id):
        return None
    if tax_id and tax_id in vendor.learned_tax_ids:
        return "tax id", invoice.vendor_tax_id_raw.strip(), vendor.learned_tax_ids[tax_id]
    name = normalize_vendor_name(invoice.vendor_name_raw)
    if name and name != vendor.normalized_name and name in vendor.learned_aliases:
        return "name", invoice.vendor_name_raw.strip(), vendor.learned_aliases[name]
    return None


def resolve_vendor(
    invoice: InvoiceRecord, index: BatchIndex, settings: MatchSettings, chosen: ChosenByHand | None = None
) -> VendorResolution:
    """Chosen by hand → id → tax id on record → tax id alias → exact normalized name or alias →
    the vendor's active bank account on record (module docstring) → fuzzy above the tenant's
    threshold. A vendor a person chose for this invoice (`chosen`) wins over every finding.

    A fuzzy match counts only when its best vendor beats every other vendor by FUZZY_MARGIN
    points: "Acme Supplies" must not be guessed between "Acme Supply" and "Acme Supplies UK".
    """
    if chosen is not None and chosen.chosen_id in index.by_id:
        return VendorResolution(index.by_id[chosen.chosen_id], "chosen", 100.0)
    if invoice.vendor_id is not None and invoice.vendor_id in index.by_id:
        return VendorResolution(index.by_id[invoice.vendor_id], "id", 100.0)
    tax_id = normalize_tax_id(invoice.vendor_tax_id_raw)
    if tax_id and tax_id in index.by_tax_id:
        return VendorResolution(index.by_tax_id[tax_id], "tax_id", 100.0)
    if tax_id and tax_id in index.by_tax_id_alias:
        return VendorResolution(index.by_tax_id_alias[tax_id], "tax_id_alias", 100.0)
    name = normalize_vendor_name(invoice.vendor_name_raw)
    exact = index.by_name.get(name, []) if name else []
    if len(exact) == 1:
        method = "name" if exact[0].normalized_name == name else "alias"
        return VendorResolution(exact[0], method, 100.0)
    holder = index.by_account.get(invoice.payee_account_hash) if invoice.payee_account_hash else None
    # A name several vendors share is settled by the account only when the account is one of theirs.
    if holder is not None and (not exact or holder.id in {vendor.id for vendor in exact}):
        return VendorResolution(holder, "bank_account", 100.0)
    if not name or len(exact) > 1 or not index.fuzzy_choices:
        return VendorResolution(None, "none")
    candidates = process.extract(name, index.fuzzy_choices, scorer=fuzz.WRatio, limit=6)
    best_vendor: VendorRecord | None = None
    best_score = 0.0
    runner_up = 0.0
    for choice, score, _ in candidates:
        for vendor in index.by_name[choice]:
            if best_vendor is None:
                best_vendor, best_score = vendor, score
            elif vendor.id != best_vendor.id:
                runner_up = max(runner_up, score)
    if best_vendor is None or best_score < settings.fuzzy_vendor_threshold:
        return VendorResolution(None, "none", best_score)
    if best_score - runner_up < FUZZY_MARGIN:
        return VendorResolution(None, "none", best_score)
    return VendorResolution(best_vendor, "fuzzy", best_score)
