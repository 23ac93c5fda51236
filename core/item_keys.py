"""How an invoice line and a PO line are compared as items: description similarity, and the key
of an item that a learned alias (learning.models.ItemAlias) links across documents.

Here in the kernel because two layers apply the very same rule: the matching engine scores pairs
with it (matching.engine.lines), and the learning app decides with it, when a clerk approves, which
pairs the engine was unsure of and a clerk vouched for.
"""

from __future__ import annotations

import functools

from rapidfuzz import fuzz

from core.lookup_keys import sku_key

# Invoice line ↔ PO line pairs below these are not the same item / are surely the same item.
MIN_DESCRIPTION_SIMILARITY = 0.6
STRONG_DESCRIPTION_SIMILARITY = 0.9


# Pure, and a vendor's POs and invoices repeat its catalogue's descriptions: inferring a PO
# compares one invoice's lines with those of every open PO of the vendor, mostly the same pairs.
# Bounded: 16,384 pairs of descriptions of up to 500 characters, some 20 MB per worker at worst.
@functools.lru_cache(maxsize=16_384)
def description_similarity(left: str, right: str) -> float:
    """0..1. The mean of token-set similarity (word order and extra words forgiven) and
    token-sort similarity (extra words cost): a vague "Bolt M8" fits "Bolt M8 x 20" and
    "Bolt M8 x 25" alike and well, but less than the exact "Bolt M8 x 20" fits its own line."""
    a, b = left.casefold(), right.casefold()
    return (fuzz.token_set_ratio(a, b) + fuzz.token_sort_ratio(a, b)) / 200.0


def item_key(*, sku: str, description: str) -> str:
    """What names an item on one side of a learned alias: its SKU when it has one (as SKUs are
    compared, core.lookup_keys.sku_key), else its description with case and runs of whitespace
    ignored. Prefixed, so a SKU never equals a description."""
    code = sku_key(sku)
    if code:
        return f"sku:{code}"
    return "text:" + " ".join(description.casefold().split())
