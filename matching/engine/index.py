"""The lookups the engine builds once per batch: the tenant's vendors by id, tax id and name or
alias, the batch's purchase orders by lookup key, and each vendor's open POs with the keys of
their lines for inference.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from core.lookup_keys import po_number_key
from matching.engine.lines import LineKeys
from matching.engine.types import MatchContext, PurchaseOrderRecord, VendorRecord
from vendors.names import normalize_tax_id

# The status of the one account of a vendor that identifies it (vendor.py): approved under four
# eyes and what the vendor is paid to now (vendors.bank_accounts). Pending and rejected accounts
# were never approved; a retired one may since have become someone else's.
ACCOUNT_IDENTIFIES = "active"


@dataclass
class BatchIndex:
    """Lookups over the tenant's vendors and the batch's purchase orders, built once per batch."""

    by_id: dict[uuid.UUID, VendorRecord]
    by_tax_id: dict[str, VendorRecord] = field(default_factory=dict)
    by_tax_id_alias: dict[str, VendorRecord] = field(default_factory=dict)  # a tax id learned as an alias
    by_name: dict[str, list[VendorRecord]] = field(default_factory=dict)  # normalized name or alias
    # By keyed hash: the active vendor whose current, approved account it is (vendor.py); an
    # account two active vendors have is nobody's here.
    by_account: dict[str, VendorRecord] = field(default_factory=dict)
    fuzzy_choices: list[str] = field(default_factory=list)
    po_by_key: dict[str, PurchaseOrderRecord] = field(default_factory=dict)  # spaces and case ignored
    po_by_id: dict[uuid.UUID, PurchaseOrderRecord] = field(default_factory=dict)  # a PO chosen by hand
    open_pos_by_vendor: dict[uuid.UUID, list[PurchaseOrderRecord]] = field(default_factory=dict)
    line_keys: dict[uuid.UUID, LineKeys] = field(default_factory=dict)  # by PO id, for inference
    inference_candidates: dict[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)  # by invoice id

    @classmethod
    def build(cls, context: MatchContext) -> BatchIndex:
        vendors = context.vendors
        index = cls(by_id=vendors, inference_candidates=context.inference_candidates or {})
        for purchase_order in sorted(context.purchase_orders.values(), key=lambda po: po.po_number):
            index.po_by_key.setdefault(po_number_key(purchase_order.po_number), purchase_order)
            index.po_by_id[purchase_order.id] = purchase_order
            if purchase_order.status == "open":
                index.open_pos_by_vendor.setdefault(purchase_order.vendor_id, []).append(purchase_order)
                index.line_keys[purchase_order.id] = LineKeys.of(purchase_order)
        for vendor in sorted(vendors.values(), key=lambda v: str(v.id)):
            if vendor.tax_id:
                index.by_tax_id.setdefault(normalize_tax_id(vendor.tax_id), vendor)
            for tax_id in vendor.tax_id_aliases:
                index.by_tax_id_alias.setdefault(tax_id, vendor)
            for name in (vendor.normalized_name, *vendor.aliases):
                if name:
                    bucket = index.by_name.setdefault(name, [])
                    if vendor not in bucket:
                        bucket.append(vendor)
        index.fuzzy_choices = sorted(index.by_name)
        holders: dict[str, set[uuid.UUID]] = {}
        for vendor in vendors.values():
            if vendor.is_active:
                for account in vendor.bank_accounts:
                    if account.status == ACCOUNT_IDENTIFIES and account.account_hash:
                        holders.setdefault(account.account_hash, set()).add(vendor.id)
        index.by_account = {digest: vendors[ids.pop()] for digest, ids in holders.items() if len(ids) == 1}
        return index
