"""The loader: one batch of a tenant's `received` invoices and everything the engine needs for it.

A constant number of queries, whatever the batch size (tests/matching/test_runs.py counts them):

 1. the tenant's settings            6. the POs named, and a few open ones per invoice naming none to infer from
 2. the batch's invoices             7. the lines of those POs
 3. their lines                      8. received quantity per PO line (one aggregate)
 4. every vendor of the tenant       9. billed quantity per PO line (one aggregate)
 5. every vendor alias              10. the earlier invoices that could be duplicates

Vendors are resolved here *before* POs and earlier invoices are loaded, with the engine's own
resolver over the tenant's vendors (pure, no queries), so an invoice whose vendor the engine will
find only by a fuzzy name still gets that vendor's open POs and earlier invoices: the loader
loads exactly the vendors the engine will pick, no more and no fewer. Likewise for POs inferred
from a vendor's open POs: the database narrows them to a few candidates per invoice, the
engine's own inference picks among them here, and only the POs the engine will use get their
quantities summed and go into the context (see _purchase_orders).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet

from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceStatus
from invoices.numbers import normalize_invoice_number
from matching.engine import (
    InvoiceLineRecord,
    InvoiceRecord,
    MatchContext,
    MatchSettings,
    PriorInvoiceRecord,
    PurchaseOrderLineRecord,
    PurchaseOrderRecord,
    VendorRecord,
)
from matching.engine.core import (
    NOT_COUNTED,
    POSSIBLE_DUPLICATE_DAYS,
    BatchIndex,
    infer_purchase_order,
    po_key,
    resolve_vendor,
)
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant, TenantSettings
from tenants.scoping import id_array, tenant_cursor
from vendors.models import Vendor, VendorAlias


@dataclass
class LoadedBatch:
    """The engine's input for one batch, plus what the persister needs to describe the outcome."""

    invoices: list[InvoiceRecord]
    context: MatchContext
    # By id, for the outbox events' metadata (the engine's records carry ids only).
    purchase_order_numbers: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def invoice_ids(self) -> list[uuid.UUID]:
        return [invoice.id for invoice in self.invoices]


def tenant_settings_for(tenant: Tenant) -> TenantSettings:
    """The tenant's settings row; the defaults if it has none (a tenant made outside the services)."""
    return TenantSettings.objects.filter(tenant=tenant).first() or TenantSettings(tenant=tenant)


def match_settings_from(tenant_settings: TenantSettings) -> MatchSettings:
    return MatchSettings(
        auto_approve_max=tenant_settings.auto_approve_max,
        escalate_from=tenant_settings.escalate_from,
        auto_approve_min_confidence=tenant_settings.auto_approve_min_confidence,
        price_tolerance_pct=tenant_settings.price_tolerance_pct,
        price_tolerance_abs=tenant_settings.price_tolerance_abs,
        quantity_tolerance_pct=tenant_settings.quantity_tolerance_pct,
        reject_on=frozenset(tenant_settings.reject_on or ()),
        fuzzy_vendor_threshold=tenant_settings.fuzzy_vendor_threshold,
    )


# What a run takes: invoices in `received` (credit notes are never 3-way matched).
MATCHABLE = Q(status=InvoiceStatus.RECEIVED, document_type=DocumentType.INVOICE)


def matchable_invoices(*, tenant: Tenant, exclude_invoice_ids: Collection[uuid.UUID] = ()) -> QuerySet[Invoice]:
    """The tenant's `MATCHABLE` invoices, less `exclude_invoice_ids` (oldest first in `load_batch`)."""
    return Invoice.objects.for_tenant(tenant).filter(MATCHABLE).exclude(pk__in=list(exclude_invoice_ids))


def load_batch(
    *,
    tenant: Tenant,
    limit: int,
    tenant_settings: TenantSettings | None = None,
    exclude_invoice_ids: Collection[uuid.UUID] = (),
) -> LoadedBatch:
    """Up to `limit` invoices in `received`, oldest first, and their matching context.

    `exclude_invoice_ids`: invoices that already failed in this drain, so one invoice that keeps
    failing cannot hold the queue. The batch is not locked here: the tenant's matching lock
    serializes runs, and the writes compare-and-set each invoice's status.
    """
    tenant_settings = tenant_settings or tenant_settings_for(tenant)
    settings = match_settings_from(tenant_settings)
    invoice_rows = list(
        matchable_invoices(tenant=tenant, exclude_invoice_ids=exclude_invoice_ids)
        .order_by("created_at", "id")
        .values(
            "id",
            "invoice_number",
            "invoice_number_normalized",
            "currency",
            "invoice_date",
            "subtotal_amount",
            "tax_amount",
            "shipping_amount",
            "total_amount",
            "vendor_id",
            "vendor_name_raw",
            "vendor_tax_id_raw",
            "po_number",
            "tax_rate",
            "created_at",
        )[:limit]
    )
    if not invoice_rows:
        return LoadedBatch(invoices=[], context=MatchContext(settings=settings))
    batch_ids = [row["id"] for row in invoice_rows]

    lines_by_invoice: dict[uuid.UUID, list[InvoiceLineRecord]] = defaultdict(list)
    # As tuples, in InvoiceLineRecord's field order after the invoice id (a batch's thousand lines).
    for invoice_id, *line in (
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice_id__in=batch_ids)
        .order_by("line_number")
        .values_list(
            "invoice_id",
            "id",
            "line_number",
            "sku",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "po_line_number",
        )
    ):
        lines_by_invoice[invoice_id].append(InvoiceLineRecord(*line))
    invoices = [
        InvoiceRecord(
            id=row["id"],
            invoice_number=row["invoice_number"],
            invoice_number_normalized=row["invoice_number_normalized"],
            currency=row["currency"],
            invoice_date=row["invoice_date"],
            subtotal_amount=row["subtotal_amount"],
            tax_amount=row["tax_amount"],
            shipping_amount=row["shipping_amount"],
            total_amount=row["total_amount"],
            lines=tuple(lines_by_invoice[row["id"]]),
            vendor_id=row["vendor_id"],
            vendor_name_raw=row["vendor_name_raw"],
            vendor_tax_id_raw=row["vendor_tax_id_raw"],
            po_number=row["po_number"],
            tax_rate=row["tax_rate"],
            received_at=row["created_at"],
        )
        for row in invoice_rows
    ]

    vendors = _vendors(tenant)
    context = MatchContext(settings=settings, vendors=vendors)
    # The vendor each invoice will be matched as (see the module docstring).
    vendor_index = BatchIndex.build(context)
    resolved = {invoice.id: resolve_vendor(invoice, vendor_index, settings).vendor for invoice in invoices}
    # Inference from open POs only happens for invoices that name no PO.
    inferring = [
        (invoice, vendor)
        for invoice in invoices
        if not invoice.po_number and (vendor := resolved[invoice.id]) is not None
    ]
    po_keys = {po_key(invoice.po_number) for invoice in invoices if invoice.po_number}

    context.purchase_orders, context.inference_candidates = _purchase_orders(tenant, po_keys, inferring, batch_ids)
    context.prior_invoices = _prior_invoices(
        tenant, invoices, resolved, batch_ids, newest=max(row["created_at"] for row in invoice_rows)
    )
    return LoadedBatch(
        invoices=invoices,
        context=context,
        purchase_order_numbers={po.id: po.po_number for po in context.purchase_orders.values()},
    )


def _vendors(tenant: Tenant) -> dict[uuid.UUID, VendorRecord]:
    aliases: dict[uuid.UUID, list[str]] = defaultdict(list)
    for vendor_id, alias in (
        VendorAlias.objects.for_tenant(tenant).order_by("normalized_alias").values_list("vendor_id", "normalized_alias")
    ):
        aliases[vendor_id].append(alias)
    return {
        row["id"]: VendorRecord(
            id=row["id"],
            name=row["name"],
            normalized_name=row["normalized_name"],
            tax_id=row["tax_id"],
            aliases=tuple(aliases[row["id"]]),
            is_active=row["is_active"],
            price_tolerance_pct=row["price_tolerance_pct"],
            quantity_tolerance_pct=row["quantity_tolerance_pct"],
        )
        for row in Vendor.objects.for_tenant(tenant).values(
            "id", "name", "normalized_name", "tax_id", "is_active", "price_tolerance_pct", "quantity_tolerance_pct"
        )
    }


def _purchase_orders(
    tenant: Tenant,
    po_keys: set[str],
    inferring: list[tuple[InvoiceRecord, VendorRecord]],
    batch_ids: list[uuid.UUID],
) -> tuple[dict[str, PurchaseOrderRecord], dict[uuid.UUID, frozenset[uuid.UUID]]]:
    """The POs the batch names, and the open POs the engine will infer for invoices naming none;
    with lines, received quantities over all receipts, and what invoices outside the batch
    already billed. And, by inferring invoice, the PO the engine may infer (none, or the one).

    To infer, the engine compares an invoice with the open POs of its vendor, and a vendor may
    have thousands. The database narrows them first (_PURCHASE_ORDERS_SQL: at most
    INFERENCE_CANDIDATES per invoice, those sharing the most lines with it), the engine's own
    inference picks among them here, and only the named and picked POs go on: their received
    and billed quantities are summed (two aggregates over a batch's worth of PO lines), and they
    are the context the engine sees, told which PO each inferring invoice may take, so that it
    picks the same one whatever else the batch holds.
    """
    po_rows, candidates_by_invoice = _purchase_order_rows(tenant, po_keys, inferring)
    lines_by_po: dict[uuid.UUID, list[PurchaseOrderLineRecord]] = defaultdict(list)
    for line_id, purchase_order_id, line_number, sku, description, quantity, unit_price in (
        PurchaseOrderLine.objects.for_tenant(tenant)
        .filter(purchase_order_id__in=list(po_rows))
        .order_by("line_number")
        .values_list("id", "purchase_order_id", "line_number", "sku", "description", "quantity", "unit_price")
    ):
        lines_by_po[purchase_order_id].append(
            PurchaseOrderLineRecord(line_id, line_number, sku, description, quantity, unit_price)
        )
    loaded = {po_id: PurchaseOrderRecord(*row, lines=tuple(lines_by_po[po_id])) for po_id, row in po_rows.items()}

    # What the engine looks up by number (every PO under each key, as its index keeps the first
    # by number) and what it will infer.
    kept = {po.id: po for po in loaded.values() if po_key(po.po_number) in po_keys}
    inference_candidates: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    for invoice, vendor in inferring:
        candidates = [
            loaded[po_id]
            for po_id in candidates_by_invoice.get(invoice.id, ())
            if po_id in loaded and loaded[po_id].vendor_id == vendor.id
        ]
        inferred = infer_purchase_order(invoice, candidates)
        inference_candidates[invoice.id] = frozenset({inferred.id} if inferred is not None else ())
        if inferred is not None:
            kept[inferred.id] = inferred

    # By the kept POs' line ids (loaded above), each looked up in the index of the receipt line's
    # or invoice line's PO line (_RECEIVED_SQL, _BILLED_SQL). The batch's own invoices are left out of what
    # was billed: one that is back in `received` (a receipt arrived) still points at the lines
    # of its last match, and is about to be matched again; the engine adds the batch's claims
    # as it goes.
    kept_line_ids = id_array(line.id for purchase_order in kept.values() for line in purchase_order.lines)
    received, billed = (
        _quantity_per_po_line(
            sql,
            {
                "line_ids": kept_line_ids,
                "tenant_id": tenant.pk,
                "not_counted": sorted(NOT_COUNTED),
                "batch_ids": id_array(batch_ids),
            },
        )
        for sql in (_RECEIVED_SQL, _BILLED_SQL)
    )
    # Built field by field: dataclasses.replace, per line of a batch's thousand, cost more.
    zero = Decimal(0)
    purchase_orders = {
        po.po_number: PurchaseOrderRecord(
            po.id,
            po.po_number,
            po.vendor_id,
            po.currency,
            po.status,
            tuple(
                PurchaseOrderLineRecord(
                    line.id,
                    line.line_number,
                    line.sku,
                    line.description,
                    line.quantity,
                    line.unit_price,
                    received.get(line.id, zero),
                    billed.get(line.id, zero),
                )
                for line in po.lines
            ),
        )
        for po in sorted(kept.values(), key=lambda po: po.po_number)
    }
    return purchase_orders, inference_candidates


# At most this many open POs per invoice are scored to infer its PO: those sharing the most lines
# with it. The PO an invoice was made from shares all of them; a vendor buying from a small
# catalogue has many POs sharing a few. Bounded, so a batch loads the same few hundred PO lines
# whatever the vendor's history.
INFERENCE_CANDIDATES = 20

# The POs a batch names (by the engine's po_key, as the stored PurchaseOrder.po_number_key holds it),
# and for each invoice naming none, the open POs of its vendor in its currency with a line of the
# same SKU as one of the invoice's (or, for an invoice line without SKU, the same description):
# the stored keys PurchaseOrderLine.sku_key and description_key. Ranked by how many
# of the invoice's lines they share, then by how many of those also agree on quantity and price
# (the PO of a partial invoice shares its SKUs; the PO it was made from also its numbers), then
# by number. Raw SQL for the window function, so the tenant filter is spelled out on every table;
# one statement whether or not the batch infers.
#
# A vendor buying from a small catalogue has thousands of PO lines under each SKU, and reading
# them all would grow with its history. So the lines that bill exactly the same (key, quantity,
# price: the whole index key, a few rows) are looked up first; an invoice that some open POs of
# its vendor bill exactly on every line (`exactly_billed`: the PO it was made from, and any twin)
# has those as its candidates. Scoring every PO could prefer another only if one with the same
# SKUs matched the invoice's descriptions or line-number hints better than the exact one does.
# Only the other invoices (partial bills, changed prices) read every PO line sharing a key.
_PURCHASE_ORDERS_SQL = """
WITH invoice_line AS MATERIALIZED (
    -- The keys are computed here, once, so the joins below compare plain columns: under RLS a
    -- join condition that calls UPPER/LOWER (not LEAKPROOF) could not use the key indexes.
    SELECT line.*, keys.sku_key, keys.description_key, keys.sku_key || numbers.key AS sku_billing_key,
           keys.description_key || numbers.key AS description_billing_key
    FROM unnest(%(invoice_ids)s::uuid[], %(vendor_ids)s::uuid[], %(currencies)s::varchar[],
                %(line_ids)s::uuid[], %(skus)s::varchar[], %(descriptions)s::varchar[],
                %(quantities)s::numeric[], %(unit_prices)s::numeric[])
        AS line(invoice_id, vendor_id, currency, line_id, sku, description, quantity, unit_price)
    -- As purchasing.models.po_line_billing_key prints them: at the PO line columns' scale.
    CROSS JOIN LATERAL (SELECT UPPER(TRIM(line.sku)) AS sku_key, LOWER(line.description) AS description_key) AS keys
    CROSS JOIN LATERAL (
        SELECT '|' || line.quantity::numeric(18, 4)::text || '|' || line.unit_price::numeric(18, 6)::text AS key
    ) AS numbers
), exact AS (
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.sku_billing_key = line.sku_billing_key
    WHERE TRIM(line.sku) <> ''
    UNION ALL
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.description_billing_key = line.description_billing_key
    WHERE TRIM(line.sku) = ''
), exact_per_po AS (
    SELECT invoice_id, vendor_id, currency, purchase_order_id, COUNT(DISTINCT line_id) AS lines
    FROM exact
    GROUP BY invoice_id, vendor_id, currency, purchase_order_id
), exactly_billed AS (
    SELECT per_po.invoice_id, per_po.vendor_id, per_po.currency, per_po.purchase_order_id, per_po.lines
    FROM exact_per_po AS per_po
    JOIN (SELECT invoice_id, COUNT(*) AS lines FROM invoice_line GROUP BY invoice_id) AS invoice_size
      ON invoice_size.invoice_id = per_po.invoice_id AND invoice_size.lines = per_po.lines
    WHERE EXISTS (SELECT FROM purchasing_purchaseorder AS po
                  WHERE po.tenant_id = %(tenant_id)s AND po.id = per_po.purchase_order_id
                    AND po.vendor_id = per_po.vendor_id AND po.status = %(open)s AND po.currency = per_po.currency)
), shared AS (
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id,
           po_line.quantity = line.quantity AND po_line.unit_price = line.unit_price AS same_numbers
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.sku_key = line.sku_key
    WHERE TRIM(line.sku) <> '' AND line.invoice_id NOT IN (SELECT invoice_id FROM exactly_billed)
    UNION ALL
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id,
           po_line.quantity = line.quantity AND po_line.unit_price = line.unit_price
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.description_key = line.description_key
    WHERE TRIM(line.sku) = '' AND line.invoice_id NOT IN (SELECT invoice_id FROM exactly_billed)
), overlap AS (
    SELECT invoice_id, vendor_id, currency, purchase_order_id, lines, lines AS same_numbers
    FROM exactly_billed
    UNION ALL
    SELECT invoice_id, vendor_id, currency, purchase_order_id,
           COUNT(DISTINCT line_id) AS lines,
           COUNT(DISTINCT line_id) FILTER (WHERE same_numbers) AS same_numbers
    FROM shared
    GROUP BY invoice_id, vendor_id, currency, purchase_order_id
), ranked AS (
    SELECT overlap.invoice_id, po.id, po.po_number, po.vendor_id, po.currency, po.status,
           ROW_NUMBER() OVER (PARTITION BY overlap.invoice_id
                              ORDER BY overlap.lines DESC, overlap.same_numbers DESC, po.po_number) AS rank
    FROM overlap
    -- By primary key, one PO per group (OFFSET 0 keeps the planner from hashing every PO of the
    -- tenant instead, a cost that would grow with its history).
    JOIN LATERAL (
        SELECT id, po_number, vendor_id, currency, status FROM purchasing_purchaseorder
        WHERE tenant_id = %(tenant_id)s AND id = overlap.purchase_order_id
          AND vendor_id = overlap.vendor_id AND status = %(open)s AND currency = overlap.currency
        OFFSET 0
    ) AS po ON TRUE
)
SELECT invoice_id, id, po_number, vendor_id, currency, status FROM ranked WHERE rank <= %(limit)s
UNION ALL
SELECT NULL, id, po_number, vendor_id, currency, status
FROM purchasing_purchaseorder
WHERE tenant_id = %(tenant_id)s AND po_number_key = ANY(%(po_keys)s::text[])
"""


def _purchase_order_rows(
    tenant: Tenant, po_keys: set[str], inferring: list[tuple[InvoiceRecord, VendorRecord]]
) -> tuple[dict[uuid.UUID, tuple[uuid.UUID, str, uuid.UUID, str, str]], dict[uuid.UUID, list[uuid.UUID]]]:
    """The POs named by `po_keys` and the candidates to infer from (see _PURCHASE_ORDERS_SQL):
    `(id, po_number, vendor_id, currency, status)` by id, and the candidates' ids by invoice.

    A PO sharing neither a SKU nor a description (case aside) with the invoice is no candidate,
    though the engine might score it by similar descriptions: inference is by line overlap
    (DESIGN.md §5), and a vendor's whole order history is too much to score for every invoice.
    """
    names = ("invoice_ids", "vendor_ids", "currencies", "line_ids", "skus", "descriptions", "quantities", "unit_prices")
    lines = [
        (invoice.id, vendor.id, invoice.currency, line.id, line.sku, line.description, line.quantity, line.unit_price)
        for invoice, vendor in inferring
        for line in invoice.lines
    ]
    columns = [list(values) for values in zip(*lines, strict=True)] if lines else [[] for _ in names]
    po_rows: dict[uuid.UUID, tuple[uuid.UUID, str, uuid.UUID, str, str]] = {}
    candidates: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            _PURCHASE_ORDERS_SQL,
            {
                **dict(zip(names, columns, strict=True)),
                "tenant_id": tenant.pk,
                "open": PurchaseOrder.Status.OPEN,
                "limit": INFERENCE_CANDIDATES,
                "po_keys": sorted(po_keys),
            },
        )
        for invoice_id, *row in cursor.fetchall():
            po_rows[row[0]] = tuple(row)
            if invoice_id is not None:
                candidates[invoice_id].append(row[0])
    return po_rows, candidates


# Per kept PO line, what all its receipts brought, and what earlier invoices billed on it (not
# void or rejected). A LATERAL probe per PO line (OFFSET 0 keeps it one): given the thousand ids
# of a batch, PostgreSQL otherwise preferred reading every receipt line of every tenant.
_RECEIVED_SQL = """
SELECT receipt_line.purchase_order_line_id, SUM(receipt_line.quantity)
FROM unnest(%(line_ids)s::uuid[]) AS kept(id)
JOIN LATERAL (
    SELECT purchase_order_line_id, quantity FROM purchasing_goodsreceiptline
    WHERE tenant_id = %(tenant_id)s AND purchase_order_line_id = kept.id
    OFFSET 0
) AS receipt_line ON TRUE
GROUP BY receipt_line.purchase_order_line_id
"""
_BILLED_SQL = """
SELECT invoice_line.matched_po_line_id, SUM(invoice_line.quantity)
FROM unnest(%(line_ids)s::uuid[]) AS kept(id)
JOIN LATERAL (
    SELECT line.matched_po_line_id, line.quantity
    FROM invoices_invoiceline AS line
    JOIN invoices_invoice AS invoice ON invoice.tenant_id = %(tenant_id)s AND invoice.id = line.invoice_id
    WHERE line.tenant_id = %(tenant_id)s AND line.matched_po_line_id = kept.id
      AND invoice.status <> ALL(%(not_counted)s::varchar[]) AND line.invoice_id <> ALL(%(batch_ids)s::uuid[])
    OFFSET 0
) AS invoice_line ON TRUE
GROUP BY invoice_line.matched_po_line_id
"""


def _quantity_per_po_line(sql: str, params: dict[str, Any]) -> dict[uuid.UUID, Decimal]:
    with tenant_cursor(params["tenant_id"]) as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


# The earlier invoices each batch invoice could duplicate, per (resolved vendor, invoice): the
# same normalized number, or the same total dated within the window. Each branch is one probe
# of an index (invoice_tenant_vendor_number, invoice_tenant_vendor_total), forced by the
# LATERAL join: as one OR over the batch's vendors, numbers and totals, PostgreSQL walked the
# created_at index of every invoice received before the batch.
_PRIOR_INVOICES_SQL = """
SELECT DISTINCT earlier.id, earlier.vendor_id, earlier.invoice_number, earlier.invoice_number_normalized,
       earlier.total_amount, earlier.currency, earlier.invoice_date, earlier.status, earlier.created_at
FROM unnest(%(vendor_ids)s::uuid[], %(numbers)s::varchar[], %(totals)s::bigint[], %(dates)s::date[])
    AS wanted(vendor_id, number, total, invoice_date)
JOIN LATERAL (
    SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
           status, created_at, document_type
    FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND invoice_number_normalized = wanted.number
    UNION ALL
    SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
           status, created_at, document_type
    FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND total_amount = wanted.total
      AND invoice_date BETWEEN wanted.invoice_date - %(days)s AND wanted.invoice_date + %(days)s
) AS earlier ON TRUE
WHERE earlier.created_at < %(newest)s
  AND earlier.status <> ALL(%(not_counted)s::varchar[])
  AND earlier.document_type = %(invoice)s
  -- An anti-join, not `id <> ALL(…)`: the planner estimated that one element by element, 3 ms of
  -- planning for a batch of 100 (more than running the query).
  AND NOT EXISTS (SELECT FROM unnest(%(batch_ids)s::uuid[]) AS batch(id) WHERE batch.id = earlier.id)
ORDER BY earlier.invoice_date, earlier.id
"""


def _prior_invoices(
    tenant: Tenant,
    invoices: list[InvoiceRecord],
    resolved: dict[uuid.UUID, VendorRecord | None],
    batch_ids: list[uuid.UUID],
    newest: dt.datetime,
) -> dict[uuid.UUID, list[PriorInvoiceRecord]]:
    """The earlier invoices that could be one of the batch's invoices again, by vendor.

    Only those the engine could flag, looked up per invoice with the vendor it will be matched
    as: the same normalized number (`duplicate_invoice`), or the same total dated within the
    near-duplicate window (`possible_duplicate`); the engine does the exact comparison (and the
    currency). Indexed, so the cost does not grow with the tenant's history. "Earlier" =
    received before the batch's newest invoice: an invoice that arrived later is compared when
    its own turn comes, so the original is never flagged as the copy of its duplicate. Credit
    notes repeat their invoice's number and total on purpose: they are no duplicates.
    """
    wanted = [
        (vendor.id, invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number),
         invoice.total_amount, invoice.invoice_date)
        for invoice in invoices
        if (vendor := resolved[invoice.id]) is not None
    ]  # fmt: skip
    if not wanted:
        return {}
    vendor_ids, numbers, totals, dates = (list(column) for column in zip(*wanted, strict=True))
    prior: dict[uuid.UUID, list[PriorInvoiceRecord]] = defaultdict(list)
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            _PRIOR_INVOICES_SQL,
            {
                "vendor_ids": id_array(vendor_ids),
                "numbers": numbers,
                "totals": totals,
                "dates": dates,
                "tenant_id": tenant.pk,
                "days": POSSIBLE_DUPLICATE_DAYS,
                "newest": newest,
                "not_counted": sorted(NOT_COUNTED),
                "invoice": DocumentType.INVOICE,
                "batch_ids": id_array(batch_ids),
            },
        )
        for row in cursor.fetchall():
            *fields, received_at = row
            record = PriorInvoiceRecord(*fields, received_at=received_at)
            prior[record.vendor_id].append(record)
    return dict(prior)
