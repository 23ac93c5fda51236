"""Lookup keys: how a purchase order number, a SKU and a description are compared when one
document names another's (an invoice its PO, an invoice line a PO line). Each key is here in every
form it takes, side by side: the Python function the matching engine and loader call, the ORM
expression the purchasing models store as a generated column (stored because, under row-level
security, only a comparison of plain columns can use an index), and the SQL the loader's raw
queries apply to values that are not stored (a batch's invoice lines). The billing key (a line
key with its quantity and unit price) is here for the same reason. Every form is built from the
two sets defined once below, so the forms compute the same text on every input and under any
database locale; tests/matching/test_lookup_keys.py checks that on tricky inputs. The search
keys of document numbers are here too (`document_number_key`, and `reversed_key` for the ends of
numbers): the web app's search looks POs up by them, stored for the same reason
(tests/test_search_keys.py).

What that means for users. Whitespace is every character Python calls whitespace (SPACES: tabs,
line breaks, no-break and other typographic spaces): a PO number ignores it anywhere ("PO 0042",
with a plain or a no-break space, finds "PO0042"), a SKU only around it ("HB M8" is not "HBM8").
Case is ignored for the ASCII letters a-z only: "po-0042" finds "PO-0042", but "pö-1" and "PÖ-1",
"straße" and "STRASSE", or full-width "ｐｏ" and "ＰＯ" are different keys. PostgreSQL's UPPER and
LOWER cannot be the rule: they follow the database's LC_CTYPE (under C, ASCII letters only; under
C.UTF-8 or en_US.UTF-8, é → É too), so a PO would be found on one database and not on another,
and Python's upper() differs from all of them (ß → SS). Nor can an explicit table of every
letter: translate() scans its table for each character, and the loader keys every line of a
batch. Descriptions are keyed the same way, their ASCII letters in lower case: the key only
narrows the POs that PO inference scores, and the engine then compares descriptions by
similarity, case folded in full (matching.engine.lines.description_similarity).
"""

from __future__ import annotations

import re
import string

from django.db import models
from django.db.models import Func, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast

from core.quantities import QUANTITY_DIGITS, QUANTITY_PLACES, UNIT_PRICE_DIGITS, UNIT_PRICE_PLACES

# The whitespace every key ignores: the characters for which Python's str.isspace() is true
# (Python 3.11, Unicode 14), written out because the database must be given the very same ones.
# PostgreSQL's own sets differ: its regex `\s` follows the C library's iswspace (no no-break
# spaces, U+0085 or U+001C-U+001F) and TRIM strips U+0020 alone. A test checks this is still
# Python's set, so that a Python upgrade adding a space is noticed (then a migration re-creates
# the stored keys).
SPACES = (
    "\t\n\x0b\x0c\r"  # tab, line feed, line tabulation, form feed, carriage return
    "\x1c\x1d\x1e\x1f"  # the file, group, record and unit separators
    " \x85\xa0"  # space, next line, no-break space
    "\u1680"  # ogham space mark
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"  # en quad to hair space
    "\u2028\u2029"  # line and paragraph separators
    "\u202f\u205f\u3000"  # narrow no-break, medium mathematical and ideographic spaces
)
# The only letters whose case a key ignores (see the module docstring): PostgreSQL's translate()
# maps them character for character whatever the locale, as str.translate does.
ASCII_LOWERCASE = string.ascii_lowercase
ASCII_UPPERCASE = string.ascii_uppercase

# What a document number keeps (document_number_key): the ASCII digits and capitals, written
# out rather than as ranges; and the leading zeros of a run of digits, which it drops.
_NOT_NUMBER_CHARACTER = re.compile(f"[^{string.digits}{ASCII_UPPERCASE}]")
_PADDING_ZEROS = re.compile(f"(?<![{string.digits}])0+(?=[{string.digits}])")

_PO_NUMBER_TABLE = str.maketrans(ASCII_LOWERCASE, ASCII_UPPERCASE, SPACES)
_ASCII_UPPER_TABLE = str.maketrans(ASCII_LOWERCASE, ASCII_UPPERCASE)

# SPACES as a PostgreSQL string literal, written as escapes so that the loader's statements stay
# printable in logs and EXPLAIN output (the ORM forms pass the characters as a parameter).
_SPACES_SQL = "E'" + "".join(f"\\U{ord(char):08X}" for char in SPACES) + "'"


def _translate_expression(text: Combinable, *, source: str, target: str) -> Func:
    """PostgreSQL's translate(): each character of `source` becomes the one at its position in
    `target`, and is removed where `target` is shorter."""
    return Func(text, Value(source), Value(target), function="translate", output_field=models.TextField())


def po_number_key(po_number: str) -> str:
    """How a PO number is looked up: whitespace anywhere and the case of ASCII letters ignored
    ("po 1001" finds "PO1001")."""
    return po_number.translate(_PO_NUMBER_TABLE)


def po_number_key_expression(po_number: Combinable) -> Func:
    """`po_number_key` as the database computes it, stored as `PurchaseOrder.po_number_key`."""
    spaces_removed = _translate_expression(po_number, source=SPACES, target="")
    return _translate_expression(spaces_removed, source=ASCII_LOWERCASE, target=ASCII_UPPERCASE)


def document_number_key(number: str) -> str:
    """How search compares a document number (a PO's, typed or stored): ASCII letters and digits
    only, the case of the letters ignored, and a run of digits without its leading zeros
    (`"po-0042 b"` → `"PO42B"`), so that "po42", "PO-0042" and "PO 42" are one number.

    The rule of invoice numbers (invoices.numbers.normalize_invoice_number, the duplicate key) on
    every ASCII input; that one upper-cases with Python's full Unicode rules ("ß" → "SS"), which no
    database function reproduces, so this one, stored as a generated column, changes a-z only."""
    letters_and_digits = _NOT_NUMBER_CHARACTER.sub("", number.translate(_ASCII_UPPER_TABLE))
    return _PADDING_ZEROS.sub("", letters_and_digits)


def document_number_key_expression(number: Combinable) -> Func:
    """`document_number_key` as the database computes it, stored as
    `PurchaseOrder.po_number_search_key`. The patterns name every character they keep: the regular
    expressions of PostgreSQL, like Python's, compare listed characters by code, under any locale."""
    upper = _translate_expression(number, source=ASCII_LOWERCASE, target=ASCII_UPPERCASE)
    letters_and_digits = _regexp_remove(upper, _NOT_NUMBER_CHARACTER.pattern)
    return _regexp_remove(letters_and_digits, _PADDING_ZEROS.pattern)


def _regexp_remove(text: Combinable, pattern: str) -> Func:
    return Func(text, Value(pattern), Value(""), Value("g"), function="regexp_replace", output_field=models.TextField())


def reversed_key(key: str) -> str:
    """A key read backwards: what ends a key begins its reversal, so a search for the end of a
    number ("7790" in "INV7790") is a prefix search, which a B-tree index answers."""
    return key[::-1]


def reversed_key_expression(key: Combinable) -> Func:
    """`reversed_key` as the database computes it. The keys it reverses are ASCII (one byte per
    character), so PostgreSQL's reverse() and Python's slice agree character for character."""
    return Func(key, function="reverse", output_field=models.TextField())


def sku_key(sku: str) -> str:
    """How a SKU is compared: the case of ASCII letters and padding ignored."""
    trimmed = sku.strip(SPACES)
    # The engine keys SKUs for every pair of lines it scores: on ASCII text, upper() changes a-z
    # only, as the table does, and is several times faster than translate().
    return trimmed.upper() if trimmed.isascii() else trimmed.translate(_ASCII_UPPER_TABLE)


def sku_key_expression(sku: Combinable) -> Func:
    """`sku_key` as the database computes it, stored as `PurchaseOrderLine.sku_key`."""
    trimmed = Func(sku, Value(SPACES), function="btrim", output_field=models.TextField())
    return _translate_expression(trimmed, source=ASCII_LOWERCASE, target=ASCII_UPPERCASE)


def sku_key_sql(sku: str) -> str:
    """`sku_key_expression` in SQL, over the SQL expression `sku`."""
    return f"translate(btrim({sku}, {_SPACES_SQL}), '{ASCII_LOWERCASE}', '{ASCII_UPPERCASE}')"


def description_key_expression(description: Combinable) -> Func:
    """A description as PO inference compares it, the case of ASCII letters ignored; stored as
    `PurchaseOrderLine.description_key`."""
    return _translate_expression(description, source=ASCII_UPPERCASE, target=ASCII_LOWERCASE)


def description_key_sql(description: str) -> str:
    """`description_key_expression` in SQL, over the SQL expression `description`."""
    return f"translate({description}, '{ASCII_UPPERCASE}', '{ASCII_LOWERCASE}')"


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
