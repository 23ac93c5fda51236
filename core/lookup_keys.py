"""Lookup keys: how a purchase order number, a SKU and a description are compared when one
document names another's (an invoice its PO, an invoice line a PO line). Each key is here in every
form it takes, side by side: the Python function the matching engine and loader call, the ORM
expression the purchasing models store as a generated column (stored because, under row-level
security, only a comparison of plain columns can use an index), and the SQL the loader's raw
queries apply to values that are not stored (a batch's invoice lines). The billing key (a line
key with its quantity and unit price) is here for the same reason. tests/matching/test_lookup_keys.py
checks against the database that the forms agree on a table of tricky inputs, and pins the inputs
on which they do not (see DIVERGENCES below).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Func, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast, Lower, Trim, Upper

from core.quantities import QUANTITY_DIGITS, QUANTITY_PLACES, UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES

# DIVERGENCES, measured on PostgreSQL 15 with LC_CTYPE C.UTF-8 (tests/matching/test_lookup_keys.py
# pins them). Aligning a stored key means a migration that re-creates its generated column.
# - Whitespace: Python's split() and strip() know more of it than PostgreSQL's regex `\s` (the C
#   library's iswspace) and TRIM (the space U+0020 only). No-break spaces (U+00A0, U+2007, U+202F),
#   U+0085 and the separators U+001C-U+001F are removed from a PO number in Python only; a SKU's
#   padding of tabs, newlines or any space but U+0020 is stripped in Python only.
# - Case: Python upper-cases with Unicode's full mapping, which may lengthen the text (ß → SS,
#   ﬁ → FI); PostgreSQL maps one character to one, so ß stays ß. PostgreSQL's UPPER and LOWER also
#   follow the database's LC_CTYPE: under C they change ASCII letters only (é stays é).
# Descriptions have no Python key: the engine compares them by similarity (lines.py), and both
# sides of the description key are computed by the database.

# The whitespace a PO number key removes, as a PostgreSQL regular expression.
PO_NUMBER_SPACES = r"\s+"


def po_number_key(po_number: str) -> str:
    """How a PO number is looked up: spaces and case ignored ("po 1001" finds "PO1001")."""
    return "".join(po_number.split()).upper()


def po_number_key_expression(po_number: Combinable) -> Func:
    """`po_number_key` as the database computes it, stored as `PurchaseOrder.po_number_key`."""
    return Upper(Func(po_number, Value(PO_NUMBER_SPACES), Value(""), Value("g"), function="regexp_replace"))


def sku_key(sku: str) -> str:
    """How a SKU is compared: case and padding ignored."""
    return sku.strip().upper()


def sku_key_expression(sku: Combinable) -> Func:
    """`sku_key` as the database computes it, stored as `PurchaseOrderLine.sku_key`."""
    return Upper(Trim(sku))


def sku_key_sql(sku: str) -> str:
    """`sku_key_expression` in SQL, over the SQL expression `sku`."""
    return f"UPPER(TRIM({sku}))"


def description_key_expression(description: Combinable) -> Func:
    """A description as PO inference compares it, case ignored; stored as
    `PurchaseOrderLine.description_key`."""
    return Lower(description)


def description_key_sql(description: str) -> str:
    """`description_key_expression` in SQL, over the SQL expression `description`."""
    return f"LOWER({description})"


def billing_key_expression(key: Func, *, quantity: Combinable, unit_price: Combinable) -> Func:
    """`key|quantity|unit_price`, the numbers as their columns print them (fixed scale).

    What an invoice line billing a PO line exactly has in common with it, as one text: under
    row-level security only LEAKPROOF comparisons can be index conditions, and text equality is
    one while numeric equality is not, so with the numbers apart an index would find every line
    of a SKU (thousands, growing with history) and compare the numbers one by one. The columns
    are NUMERIC(18,4) and NUMERIC(18,6) (core.quantities), which is what sets the scale here.
    """
    parts = (
        key,
        Value("|"),
        Cast(quantity, models.TextField()),
        Value("|"),
        Cast(unit_price, models.TextField()),
    )
    return Func(*parts, template="(%(expressions)s)", arg_joiner=" || ", output_field=models.TextField())


def billing_key_sql(key: str, *, quantity: str, unit_price: str) -> str:
    """`billing_key_expression` in SQL, over SQL expressions; the numbers are cast to the columns'
    types, so a value given as `2.5` prints as the stored `2.5000`."""
    return (
        f"({key} || '|' || {quantity}::numeric({QUANTITY_DIGITS}, {QUANTITY_PLACES})::text"
        f" || '|' || {unit_price}::numeric({UNIT_PRICE_DIGITS}, {UNIT_PRICE_PLACES})::text)"
    )
