"""Which vendor sent the invoice: by id, tax id, exact normalized name or alias, then a fuzzy name
that must clearly beat every other vendor.
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
    method: str  # chosen | id | tax_id | name | alias | fuzzy | none
    score: float = 0.0

    def text(self, invoice: InvoiceRecord, chosen: ChosenByHand | None) -> str:
        """What the decision's reason adds: a vendor chosen by hand, or recognised by a name a
        person taught (DESIGN.md §5: a match that used a learned fact says so)."""
        if self.vendor is None:
            return ""
        if self.method == "chosen" and chosen is not None:
            return f" Vendor {self.vendor.name} chosen by {chosen.chosen_by} on {chosen.chosen_on.isoformat()}."
        learned = self.vendor.learned_aliases.get(normalize_vendor_name(invoice.vendor_name_raw))
        if self.method == "alias" and learned:
            return (
                f" Vendor {self.vendor.name} recognised by the name {invoice.vendor_name_raw.strip()!r}, "
                f"learned from {learned}."
            )
        return ""


def resolve_vendor(
    invoice: InvoiceRecord, index: BatchIndex, settings: MatchSettings, chosen: ChosenByHand | None = None
) -> VendorResolution:
    """Chosen by hand → id → tax id → exact normalized name or alias → fuzzy above the tenant's
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
    name = normalize_vendor_name(invoice.vendor_name_raw)
    if not name:
        return VendorResolution(None, "none")
    exact = index.by_name.get(name, [])
    if len(exact) == 1:
        method = "name" if exact[0].normalized_name == name else "alias"
        return VendorResolution(exact[0], method, 100.0)
    if len(exact) > 1 or not index.fuzzy_choices:
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
