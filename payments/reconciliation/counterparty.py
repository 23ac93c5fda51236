"""Who a bank line comes from: the vendor its counterparty account, name or alias points at.

The reconciliation tiers that need a vendor (DESIGN.md §6) start from `identify_vendor`; the
`Evidence` it returns says how strong the identification is. Pure: no ORM, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum

from rapidfuzz import fuzz

from payments.reconciliation.types import PaymentRecord, VendorRecord
from vendors.names import normalize_vendor_name


class Evidence(StrEnum):
    ACCOUNT = "account"
    NAME = "name"
    FUZZY = "fuzzy"


# Every payment compares its counterparty with every vendor name and alias: normalize each once.
_vendor_key = functools.lru_cache(maxsize=65_536)(normalize_vendor_name)


def identify_vendor(
    payment: PaymentRecord, vendors: Iterable[VendorRecord], *, fuzzy_threshold: int
) -> tuple[VendorRecord, Evidence] | None:
    """The vendor the bank line comes from: known account, then exact name or alias, then fuzzy name.

    Each step must point at exactly one vendor; an account or a name shared by two vendors says
    nothing, and the next step is tried.
    """
    vendors = list(vendors)
    if payment.counterparty_account_hash:
        by_account = [vendor for vendor in vendors if payment.counterparty_account_hash in vendor.account_hashes]
        if len(by_account) == 1:
            return by_account[0], Evidence.ACCOUNT
    name = _vendor_key(payment.counterparty_name)
    if not name:
        return None
    by_name = [
        vendor
        for vendor in vendors
        if name == _vendor_key(vendor.name) or name in {_vendor_key(a) for a in vendor.aliases}
    ]
    if len(by_name) == 1:
        return by_name[0], Evidence.NAME
    if by_name:
        return None
    # Only the best score matters, and whether another vendor shares it.
    scores = [
        (max(fuzz.token_sort_ratio(name, _vendor_key(label)) for label in (vendor.name, *vendor.aliases)), vendor)
        for vendor in vendors
    ]
    best = max((score for score, _ in scores), default=0)
    if best < fuzzy_threshold:
        return None
    top = [vendor for score, vendor in scores if score == best]
    if len(top) > 1:
        return None  # two vendors equally like the name
    return top[0], Evidence.FUZZY
