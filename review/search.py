"""Search from every page: what the clerk typed, read as an invoice number, a PO number, a vendor
name and an amount, and the tenant's documents it finds, ranked.

Ranked: the whole key first, then keys that start with what was typed, then numbers that end
with it (or names with a later word starting with it), then numbers that merely contain it; the
newest first within a rank. A bare number ("1250") read as an amount comes after the numbers
that contain it, an amount written as one ("1,250.00") with the exact keys.

How it stays fast (README, "Web app"; `manage.py bench_search`): without pg_trgm, every rank is a
B-tree range on a stored key, and under row-level security only a LEAKPROOF comparison may be an
index condition (core.lookup_keys). Equality of text and of integers is LEAKPROOF, and so is
`^@` (starts_with) — LIKE is not — so:

- exact: `key = q`; start: `key ^@ q`, on text_pattern_ops indexes, a range whatever the collation;
- end: `reversed_key ^@ reverse(q)`, the end of a number as the start of its reversal;
- inside: the newest `CONTAINS_WINDOW` documents, walked in the index of their creation time,
  which holds the keys beside it (an index-only scan, no table reads), and only when the better
  ranks leave room in the list and the number typed is not a document's whole number; older
  documents are found by their number's start or end, which is what clerks type;
- amounts: `total = minor units` for each exponent the amount fits (1250 is 125000 cents of EUR,
  1250 yen, 1250000 fils of BHD), on an index of the totals, each with its currencies;
- vendors: the start of the normalized name by index; a later word by a scan of the tenant's
  vendors, which are hundreds, not the hundred thousands of invoices.

One query per kind of document (a UNION ALL of its ranks, each sorted and limited), so a search
costs the same three queries whatever it finds.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import Any

from django.db import models

from core.lookup_keys import SPACES, document_number_key, reversed_key
from core.money import CURRENCY_EXPONENTS, MoneyError, to_minor
from core.tenancy.scoping import tenant_cursor
from invoices.models import DocumentType, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from purchasing.models import PurchaseOrder
from tenants.models import Tenant
from vendors.names import normalize_vendor_name

# Numbers that merely contain what was typed are looked for among the newest documents only (see
# the module docstring); a number's start and end are found at any age.
CONTAINS_WINDOW = 10_000
# Longer than any key (64 characters): the rest of a pasted paragraph changes nothing.
MAX_QUERY_LENGTH = 100


class Rank(IntEnum):
    """How well a document matches, best first."""

    EXACT = 0
    PREFIX = 1
    TAIL = 2  # a number's end, or a later word of a name
    CONTAINS = 3
    AMOUNT = 4  # a bare number read as an amount


class Kind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    PURCHASE_ORDER = "purchase_order", "Purchase order"
    VENDOR = "vendor", "Vendor"


@dataclass(frozen=True)
class SearchQuery:
    """What was typed, as each kind of document compares it."""

    text: str
    invoice_key: str  # invoices.numbers.normalize_invoice_number
    number_key: str  # core.lookup_keys.document_number_key (PO numbers)
    name_key: str  # vendors.names.normalize_vendor_name
    amount: Decimal | None
    amount_written: bool  # with a decimal point or a thousands separator: meant as an amount

    @property
    def is_empty(self) -> bool:
        return not (self.invoice_key or self.number_key or self.name_key or self.amount is not None)


@dataclass(frozen=True)
class SearchHit:
    """One document found: what the list shows of it and how it ranked."""

    kind: str
    kind_label: str  # "Credit note" for an invoice that credits
    rank: Rank
    id: uuid.UUID
    title: str  # the number, or the vendor's name
    vendor_name: str  # of an invoice or a PO
    status: str  # the code, "" for a vendor
    status_label: str
    date: dt.date | None
    amount: int | None  # an invoice's total, in minor units of `currency`
    currency: str
    tax_id: str  # of a vendor
    created_at: dt.datetime


# Amounts as clerks write them: 1250, 1250.5, 1,250.00 (English grouping), 1.250,00 and 12,50
# (continental), ASCII digits only (\d would take any script's).
_PLAIN = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED_WITH_COMMAS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
_DECIMAL_COMMA = re.compile(r"[0-9]+,[0-9]{1,2}")
_GROUPED_WITH_POINTS = re.compile(r"[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")
_DIGIT_GROUPING = str.maketrans("", "", SPACES + "'")
_CURRENCIES_BY_EXPONENT: dict[int, list[str]] = {}
for _code, _exponent in sorted(CURRENCY_EXPONENTS.items()):
    _CURRENCIES_BY_EXPONENT.setdefault(_exponent, []).append(_code)


def amount_typed(text: str) -> Decimal | None:
    """The amount `text` writes, if it is one (`"1,250.00"` → 1250.00); a lone point is a decimal
    point (`"1.250"` is 1.25), a comma followed by three digits groups thousands."""
    compact = text.translate(_DIGIT_GROUPING)
    if _PLAIN.fullmatch(compact):
        return Decimal(compact)
    if _GROUPED_WITH_COMMAS.fullmatch(compact):
        return Decimal(compact.replace(",", ""))
    if _DECIMAL_COMMA.fullmatch(compact):
        return Decimal(compact.replace(",", "."))
    if _GROUPED_WITH_POINTS.fullmatch(compact):
        return Decimal(compact.replace(".", "").replace(",", "."))
    return None


def search_query_parse(*, text: str) -> SearchQuery:
    """What `text` is to each kind of document; empty keys where it names none of them."""
    typed = text.strip(SPACES)[:MAX_QUERY_LENGTH]
    amount = amount_typed(typed)
    return SearchQuery(
        text=typed,
        invoice_key=normalize_invoice_number(typed),
        number_key=document_number_key(typed),
        name_key=normalize_vendor_name(typed),
        amount=amount,
        amount_written=amount is not None and any(mark in typed for mark in ".,"),
    )


def _prefix_of(key: str) -> str:
    """The start a key's documents share while it is still being typed: without a final run of
    zeros, which the keys drop when a digit follows ("PO-000" is on its way to "PO-0004", key
    "PO4", so it looks for "PO", not "PO0")."""
    return re.sub(r"(?<![0-9])0+$", "", key)


# The SQL of a search. Raw, not the ORM: the box asks at every pause in typing, and composing a
# union of ranks through the ORM cost more than the database's part (15-20 ms against 5-10). Each
# rank is a branch of a UNION ALL, its own newest `limit` ids; the outer query reads what the list
# shows of them. Every branch names its tenant (the index conditions) and runs under row-level
# security (`tenant_cursor`). The ranks are written into the SQL as numbers: they are Rank values,
# never input.
_BRANCH = "(SELECT id, {rank} AS rank FROM {table} WHERE tenant_id = %(tenant)s AND {condition} {newest})"
_NEWEST = "ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
# Inside a number: a walk of the tenant's newest `CONTAINS_WINDOW` rows in the index of creation
# times, which holds the keys, so no row of the table is read; it stops at `limit` matches.
# Row-level security checks each row walked (a microsecond or so), hence the window. The walk is
# not made when the better ranks (`better`, the query's WITH) already fill the list, nor when the
# number typed is a document's whole number (then fragments of other numbers are noise): the
# conditions name no row, so PostgreSQL decides once, before the walk.
_CONTAINS_BRANCH = (
    "(SELECT id, {rank} AS rank FROM ("
    "SELECT id, created_at, {key} AS key FROM {table} WHERE tenant_id = %(tenant)s"
    " ORDER BY created_at DESC, id DESC LIMIT %(window)s) AS recent"
    " WHERE strpos(key, %(key)s) > 0 AND NOT ({starts}) AND right(key, %(key_length)s) <> %(key)s"
    " AND (SELECT count(*) FROM better) < %(limit)s AND NOT EXISTS (SELECT FROM better WHERE rank = {exact})"
    " {newest})"
)
_INVOICE_ROWS = (
    "SELECT hit.rank, invoice.id, invoice.invoice_number, COALESCE(vendor.name, invoice.vendor_name_raw),"
    " invoice.status, invoice.invoice_date, invoice.total_amount, invoice.currency, invoice.created_at,"
    " invoice.document_type"
    " FROM ({branches}) AS hit"
    " JOIN invoices_invoice AS invoice ON invoice.id = hit.id AND invoice.tenant_id = %(tenant)s"
    " LEFT JOIN vendors_vendor AS vendor ON vendor.id = invoice.vendor_id AND vendor.tenant_id = %(tenant)s"
)
_PURCHASE_ORDER_ROWS = (
    "SELECT hit.rank, po.id, po.po_number, vendor.name, po.status, po.order_date, po.currency, po.created_at"
    " FROM ({branches}) AS hit"
    " JOIN purchasing_purchaseorder AS po ON po.id = hit.id AND po.tenant_id = %(tenant)s"
    " JOIN vendors_vendor AS vendor ON vendor.id = po.vendor_id AND vendor.tenant_id = %(tenant)s"
)
_VENDOR_ROWS = (
    "SELECT hit.rank, vendor.id, vendor.name, vendor.tax_id, vendor.is_active, vendor.created_at"
    " FROM ({branches}) AS hit"
    " JOIN vendors_vendor AS vendor ON vendor.id = hit.id AND vendor.tenant_id = %(tenant)s"
)


def _branch(*, rank: Rank, table: str, condition: str) -> str:
    return _BRANCH.format(rank=int(rank), table=table, condition=condition, newest=_NEWEST)


def _starts(column: str, *, prefix: str) -> str:
    """The documents of the PREFIX rank, or of the EXACT one when the key has no start to share."""
    return f"{column} ^@ %(prefix)s" if prefix else f"{column} = %(key)s"


@dataclass(frozen=True)
class _NumberRanks:
    """A document number's search: the better ranks (the query's `better`) and the walk inside
    numbers that waits for them."""

    better: list[str]
    contains: str


def _number_ranks(*, table: str, key: str, reversed_key_column: str, prefix: str) -> _NumberRanks:
    """The ranks of a document number's search (`key` and `reversed_key_column` are its columns),
    each excluding the documents of the better ones. `%(key)s` is the typed key, `%(prefix)s` its
    start (`_prefix_of`), `%(reversed)s` its reversal."""
    starts = _starts(key, prefix=prefix)
    better = [_branch(rank=Rank.EXACT, table=table, condition=f"{key} = %(key)s")]
    if prefix:
        better.append(_branch(rank=Rank.PREFIX, table=table, condition=f"{starts} AND {key} <> %(key)s"))
    better.append(
        _branch(rank=Rank.TAIL, table=table, condition=f"{reversed_key_column} ^@ %(reversed)s AND NOT ({starts})")
    )
    contains = _CONTAINS_BRANCH.format(
        rank=int(Rank.CONTAINS),
        table=table,
        key=key,
        starts=_starts("key", prefix=prefix),
        exact=int(Rank.EXACT),
        newest=_NEWEST,
    )
    return _NumberRanks(better=better, contains=contains)


def _number_parameters(*, tenant: Tenant, key: str, limit: int) -> dict[str, Any]:
    return {
        "tenant": tenant.pk,
        "key": key,
        "prefix": _prefix_of(key),
        "reversed": reversed_key(key),
        "key_length": len(key),
        "limit": limit,
        "window": CONTAINS_WINDOW,
    }


def _amount_branch(*, rank: Rank, amount: Decimal, parameters: dict[str, Any]) -> str | None:
    """Invoices totalling `amount` in every currency it fits exactly: 1250 is 125000 cents, 1250
    yen and 1250000 fils; 12.345 only in currencies of three decimals or more. Adds the branch's
    parameters to `parameters`."""
    fits = []
    for exponent_value, currencies in _CURRENCIES_BY_EXPONENT.items():
        try:
            minor = to_minor(amount, currencies[0])
        except MoneyError:  # more decimals than these currencies have, or too large
            continue
        parameters[f"minor_{exponent_value}"] = minor
        parameters[f"currencies_{exponent_value}"] = currencies
        fits.append(f"(total_amount = %(minor_{exponent_value})s AND currency = ANY(%(currencies_{exponent_value})s))")
    if not fits:
        return None
    return _branch(rank=rank, table="invoices_invoice", condition="(" + " OR ".join(fits) + ")")


def _rows(
    *, tenant: Tenant, sql: str, branches: list[str], parameters: dict[str, Any], better: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """The rows of every rank, in one query (`better`: the ranks a walk inside numbers waits for);
    a document found by two ranks once, in the better."""
    if better:
        sql = f"WITH better AS ({' UNION ALL '.join(better)}) {sql}"
        branches = ["(SELECT id, rank FROM better)", *branches]
    if not branches:
        return []
    with tenant_cursor(tenant) as cursor:
        cursor.execute(sql.format(branches=" UNION ALL ".join(branches)), parameters)
        rows = cursor.fetchall()
    best: dict[uuid.UUID, tuple[Any, ...]] = {}
    for row in rows:
        kept = best.get(row[1])
        if kept is None or row[0] < kept[0]:
            best[row[1]] = row
    return list(best.values())


def invoice_search(*, tenant: Tenant, query: SearchQuery, limit: int) -> list[SearchHit]:
    """Invoices (and credit notes) by number and by total."""
    parameters = _number_parameters(tenant=tenant, key=query.invoice_key, limit=limit)
    better: list[str] = []
    branches: list[str] = []
    if query.invoice_key:
        numbers = _number_ranks(
            table="invoices_invoice",
            key="invoice_number_normalized",
            reversed_key_column="invoice_number_reversed",
            prefix=parameters["prefix"],
        )
        better, branches = numbers.better, [numbers.contains]
    if query.amount is not None:
        rank = Rank.EXACT if query.amount_written else Rank.AMOUNT
        if (amounts := _amount_branch(rank=rank, amount=query.amount, parameters=parameters)) is not None:
            branches.append(amounts)
    rows = _rows(tenant=tenant, sql=_INVOICE_ROWS, better=better, branches=branches, parameters=parameters)
    return [_invoice_hit(row) for row in rows]


def _invoice_hit(row: tuple[Any, ...]) -> SearchHit:
    rank, invoice_id, number, vendor_name, status, invoice_date, total, currency, created_at, document_type = row
    return SearchHit(
        kind=Kind.INVOICE,
        kind_label=DocumentType(document_type).label,
        rank=Rank(rank),
        id=invoice_id,
        title=number,
        vendor_name=vendor_name,
        status=status,
        status_label=InvoiceStatus(status).label,
        date=invoice_date,
        amount=total,
        currency=currency,
        tax_id="",
        created_at=created_at,
    )


def purchase_order_search(*, tenant: Tenant, query: SearchQuery, limit: int) -> list[SearchHit]:
    """Purchase orders by number."""
    if not query.number_key:
        return []
    parameters = _number_parameters(tenant=tenant, key=query.number_key, limit=limit)
    numbers = _number_ranks(
        table="purchasing_purchaseorder",
        key="po_number_search_key",
        reversed_key_column="po_number_search_key_reversed",
        prefix=parameters["prefix"],
    )
    rows = _rows(
        tenant=tenant,
        sql=_PURCHASE_ORDER_ROWS,
        better=numbers.better,
        branches=[numbers.contains],
        parameters=parameters,
    )
    return [
        SearchHit(
            kind=Kind.PURCHASE_ORDER,
            kind_label=Kind.PURCHASE_ORDER.label,
            rank=Rank(rank),
            id=po_id,
            title=number,
            vendor_name=vendor_name,
            status=status,
            status_label=PurchaseOrder.Status(status).label,
            date=order_date,
            amount=None,
            currency=currency,
            tax_id="",
            created_at=created_at,
        )
        for rank, po_id, number, vendor_name, status, order_date, currency, created_at in rows
    ]


def vendor_search(*, tenant: Tenant, query: SearchQuery, limit: int) -> list[SearchHit]:
    """Vendors by their normalized name (vendors.names): the whole name, its start, or the start of
    a later word ("supp" finds "Acme Supplies"), the last by reading the tenant's vendors."""
    if not query.name_key:
        return []
    name = "normalized_name"
    branches = [
        _branch(rank=Rank.EXACT, table="vendors_vendor", condition=f"{name} = %(name)s"),
        _branch(rank=Rank.PREFIX, table="vendors_vendor", condition=f"{name} ^@ %(name)s AND {name} <> %(name)s"),
        _branch(
            rank=Rank.TAIL,
            table="vendors_vendor",
            condition=f"strpos(' ' || {name}, %(word)s) > 1 AND NOT ({name} ^@ %(name)s)",
        ),
    ]
    parameters = {"tenant": tenant.pk, "name": query.name_key, "word": f" {query.name_key}", "limit": limit}
    rows = _rows(tenant=tenant, sql=_VENDOR_ROWS, branches=branches, parameters=parameters)
    return [
        SearchHit(
            kind=Kind.VENDOR,
            kind_label=Kind.VENDOR.label,
            rank=Rank(rank),
            id=vendor_id,
            title=vendor_name,
            vendor_name="",
            status="",
            status_label="Active" if is_active else "Inactive",
            date=None,
            amount=None,
            currency="",
            tax_id=tax_id,
            created_at=created_at,
        )
        for rank, vendor_id, vendor_name, tax_id, is_active, created_at in rows
    ]


def hits_ranked(hits: Sequence[SearchHit], *, limit: int) -> list[SearchHit]:
    """Best rank first, the newest first within a rank (documents of every kind together)."""
    return sorted(hits, key=lambda hit: (hit.rank, -hit.created_at.timestamp(), str(hit.id)))[:limit]


@dataclass(frozen=True)
class SearchResults:
    query: SearchQuery
    invoices: list[SearchHit]
    purchase_orders: list[SearchHit]
    vendors: list[SearchHit]

    def best(self, *, limit: int) -> list[SearchHit]:
        """The `limit` best of every kind, as the header's list shows them."""
        return hits_ranked([*self.invoices, *self.purchase_orders, *self.vendors], limit=limit)


def search_run(*, tenant: Tenant, text: str, limit: int) -> SearchResults:
    """Up to `limit` of each kind of document `text` finds, each list ranked (three queries)."""
    query = search_query_parse(text=text)
    if query.is_empty:
        return SearchResults(query=query, invoices=[], purchase_orders=[], vendors=[])
    return SearchResults(
        query=query,
        invoices=hits_ranked(invoice_search(tenant=tenant, query=query, limit=limit), limit=limit),
        purchase_orders=hits_ranked(purchase_order_search(tenant=tenant, query=query, limit=limit), limit=limit),
        vendors=hits_ranked(vendor_search(tenant=tenant, query=query, limit=limit), limit=limit),
    )
