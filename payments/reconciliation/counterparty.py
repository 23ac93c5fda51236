"""Who a bank line comes from: the vendor its counterparty account, name or alias points at.

The reconciliation tiers that need a vendor (DESIGN.md §6) start from `identify_vendor`; the
`Evidence` it returns says how strong the identification is. Pure: no ORM, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from enum import StrEnum

from rapidfuzz import fuzz, process

from payments.reconciliation.types import PaymentRecord, VendorRecord
from vendors.names import normalize_vendor_name


class Evidence(StrEnum):
    ACCOUNT = "account"
    NAME = "name"
    FUZZY = "fuzzy"


# Every payment compares its counterparty with every vendor name and alias: normalize each once.
_vendor_key = functools.lru_cache(maxsize=65_536)(normalize_vendor_name)


class VendorDirectory:
    """A batch's vendors keyed once: by counterparty account, by normalized name or alias, and
    the normalized labels the fuzzy comparison scores.

    Built once per batch (engine.reconcile_batch), so identifying a payment's vendor is a look-up
    by account and by name, and one scoring call over every label for a name no vendor goes by,
    instead of a pass over every vendor (and a set of its aliases) per payment.
    """

    def __init__(self, vendors: Iterable[VendorRecord]) -> None:
        self.vendors = list(vendors)
        self._by_account: dict[str, list[VendorRecord]] = {}
        self._by_name: dict[str, list[VendorRecord]] = {}
        self._labels: list[str] = []
        self._label_vendor: list[int] = []  # position in `vendors` of each label's vendor
        for position, vendor in enumerate(self.vendors):
            for account_hash in vendor.account_hashes:
                self._by_account.setdefault(account_hash, []).append(vendor)
            keys = [_vendor_key(label) for label in (vendor.name, *vendor.aliases)]
            for key in dict.fromkeys(keys):  # a vendor once per key, whether name or alias
                self._by_name.setdefault(key, []).append(vendor)
            self._labels += keys
            self._label_vendor += [position] * len(keys)

    def by_account(self, account_hash: str) -> list[VendorRecord]:
        return self._by_account.get(account_hash, [])

    def by_name(self, name: str) -> list[VendorRecord]:
        return self._by_name.get(name, [])

    def best_fuzzy(self, name: str, *, threshold: int) -> list[VendorRecord]:
        """The vendors whose best label scores highest against `name`, if that score reaches `threshold`."""
        # One call scores every label (the scorer fuzz.token_sort_ratio is, label by label); only
        # labels that reach the threshold come back, and no other can be the best.
        matches = process.extract(
            name, self._labels, scorer=fuzz.token_sort_ratio, processor=None, limit=None, score_cutoff=threshold
        )
        best_by_vendor: dict[int, float] = {}
        for _, score, label in matches:
            position = self._label_vendor[label]
            if position not in best_by_vendor or score > best_by_vendor[position]:
                best_by_vendor[position] = score
        if not best_by_vendor:
            return []
        best = max(best_by_vendor.values())
        return [self.vendors[position] for position, score in sorted(best_by_vendor.items()) if score == best]


def identify_vendor(
    payment: PaymentRecord, vendors: Iterable[VendorRecord] | VendorDirectory, *, fuzzy_threshold: int
) -> tuple[VendorRecord, Evidence] | None:
    """The vendor the bank line comes from: known account, then exact name or alias, then fuzzy name.

    Each step must point at exactly one vendor; an account or a name shared by two vendors says
    nothing, and the next step is tried.
    """
    directory = vendors if isinstance(vendors, VendorDirectory) else VendorDirectory(vendors)
    if payment.counterparty_account_hash:
        by_account = directory.by_account(payment.counterparty_account_hash)
        if len(by_account) == 1:
            return by_account[0], Evidence.ACCOUNT
    name = _vendor_key(payment.counterparty_name)
    if not name:
        return None
    by_name = directory.by_name(name)
    if len(by_name) == 1:
        return by_name[0], Evidence.NAME
    if by_name:
        return None
    # Only the best score matters, and whether another vendor shares it.
    top = directory.best_fuzzy(name, threshold=fuzzy_threshold)
    if len(top) != 1:
        return None  # none close enough, or two vendors equally like the name
    return top[0], Evidence.FUZZY
