"""The normalized invoice number: the key duplicate detection compares."""

from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def normalize_invoice_number(number: str) -> str:
    """`"inv-000123 "` → `"INV123"`.

    Vendors re-send the same invoice with cosmetic changes (case, spaces, dashes, zero padding);
    all of these must collide, or a duplicate payment slips through.
    """
    compact = _NOT_ALNUM.sub("", (number or "").upper())
    return _LEADING_ZEROS.sub("", compact)
