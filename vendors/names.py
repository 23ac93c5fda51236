"""Normalization of vendor names and tax ids, so exact comparisons ignore cosmetic differences."""

from __future__ import annotations

import re
import unicodedata

# Legal-form suffixes that say nothing about which company it is ("ACME Ltd" = "Acme").
_LEGAL_FORMS = {
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "plc",
    "gmbh",
    "ag",
    "sa",
    "sas",
    "sarl",
    "bv",
    "nv",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "aps",
    "co",
    "corp",
    "corporation",
    "company",
    "kg",
    "pty",
    "llp",
    "lp",
}
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalize_vendor_name(name: str) -> str:
    """`"ACME Supplies, Ltd."` → `"acme supplies"`: case, accents, punctuation, legal form."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    ascii_folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = [word for word in _NON_WORD.sub(" ", ascii_folded).split() if word]
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words.pop()
    return " ".join(words)


def normalize_tax_id(tax_id: str) -> str:
    """`"de 123 456-789"` → `"DE123456789"`: tax ids are compared without spaces or punctuation."""
    return re.sub(r"[^0-9A-Za-z]", "", tax_id or "").upper()
