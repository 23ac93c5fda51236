"""Cells for CSV files people open in spreadsheets.

A cell starting with `=`, `+`, `-`, `@`, a tab, a carriage return or a NUL can be run as a
formula by Excel or LibreOffice ("CSV injection"); every CSV Recon writes prefixes such a cell
with `'`, which spreadsheets show as text. Data is stored as received; only exports escape.
"""

from __future__ import annotations

from typing import Any

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text
