"""The loader's purchase orders: those a batch names, those it may infer, with what was received and billed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from core.lookup_keys import billing_key_sql, description_key_sql, po_number_key, sku_key_sql
from core.tenancy.scoping import id_array, tenant_cursor
from invoices.billing import NOT_BILLING
from matching.engine import InvoiceRecord, PurchaseOrderLineRecord, PurchaseOrderRecord, VendorRecord
from matching.engine.purchase_order import inference_of
from purchasing.models import PurchaseOrder, PurchaseOrderLine
from tenants.models import Tenant


def batch_purchase_orders(
    tenant: Tenant,
    po_keys: set[str],
    inferring: list[tuple[InvoiceRecord, VendorRecord]],
    batch_ids: list[uuid.UUID],
) -> tuple[dict[str, PurchaseOrderRecord], dict[uuid.UUID, frozenset[uuid.UUID]]]:
    """The POs the batch names, and the open POs the engine will infer for invoices naming none;
    with lines, received quantities over all receipts, and what invoices outside the batch
    already billed. And, by inferring invoice, the PO the engine may infer (none, or the one)
    and its competitor, if one is within the engine's margin.

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
            PurchaseOrderLineRecord(
                id=line_id,
                line_number=line_number,
                sku=sku,
                description=description,
                quantity=quantity,
                unit_price=unit_price,
            )
        )
    loaded = {
        po_id: PurchaseOrderRecord(
            id=po_id,
            po_number=po_number,
            vendor_id=vendor_id,
            currency=currency,
            status=status,
            lines=tuple(lines_by_po[po_id]),
        )
        for po_id, (_, po_number, vendor_id, currency, status) in po_rows.items()
    }

    # What the engine looks up by number (every PO under each key, as its index keeps the first
    # by number) and what it will infer.
    kept = {po.id: po for po in loaded.values() if po_number_key(po.po_number) in po_keys}
    inference_candidates: dict[uuid.UUID, frozenset[uuid.UUID]] = {}
    for invoice, vendor in inferring:
        candidates = [
            loaded[po_id]
            for po_id in candidates_by_invoice.get(invoice.id, ())
            if po_id in loaded and loaded[po_id].vendor_id == vendor.id
        ]
        # The pick and its competitor (within the engine's margin), so the engine sees whether
        # the inference is unique (purchase_order.po_match_of) and picks the same one.
        inference = inference_of(invoice, candidates)
        picked = [po for po in (inference.purchase_order, inference.competitor) if po is not None]
        inference_candidates[invoice.id] = frozenset(po.id for po in picked)
        kept.update((po.id, po) for po in picked)

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
                "not_counted": sorted(NOT_BILLING),
                "batch_ids": id_array(batch_ids),
            },
        )
        for sql in (_RECEIVED_SQL, _BILLED_SQL)
    )
    # Built field by field: dataclasses.replace, per line of a batch's thousand, cost more.
    zero = Decimal(0)
    purchase_orders = {
        po.po_number: PurchaseOrderRecord(
            id=po.id,
            po_number=po.po_number,
            vendor_id=po.vendor_id,
            currency=po.currency,
            status=po.status,
            lines=tuple(
                PurchaseOrderLineRecord(
                    id=line.id,
                    line_number=line.line_number,
                    sku=line.sku,
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    received_quantity=received.get(line.id, zero),
                    billed_quantity=billed.get(line.id, zero),
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

# The POs a batch names (by core.lookup_keys.po_number_key, as the stored PurchaseOrder.po_number_key holds it),
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
#
# The f-string inserts the key SQL of core.lookup_keys (constants), never a value.
_PURCHASE_ORDERS_SQL = f"""
WITH invoice_line AS MATERIALIZED (
    -- The keys, as the PO line columns store them, are computed here, once, so the joins below
    -- compare plain columns: under RLS a join condition that calls translate/btrim (not LEAKPROOF)
    -- could not use the key indexes.
    SELECT line.*, keys.sku_key, keys.description_key,
           {billing_key_sql("keys.sku_key", quantity="line.quantity", unit_price="line.unit_price")}
               AS sku_billing_key,
           {billing_key_sql("keys.description_key", quantity="line.quantity", unit_price="line.unit_price")}
               AS description_billing_key
    FROM unnest(%(invoice_ids)s::uuid[], %(vendor_ids)s::uuid[], %(currencies)s::varchar[],
                %(line_ids)s::uuid[], %(skus)s::varchar[], %(descriptions)s::varchar[],
                %(quantities)s::numeric[], %(unit_prices)s::numeric[])
        AS line(invoice_id, vendor_id, currency, line_id, sku, description, quantity, unit_price)
    CROSS JOIN LATERAL (
        SELECT {sku_key_sql("line.sku")} AS sku_key, {description_key_sql("line.description")} AS description_key
    ) AS keys
), exact AS (
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.sku_billing_key = line.sku_billing_key
    WHERE line.sku_key <> ''
    UNION ALL
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.description_billing_key = line.description_billing_key
    WHERE line.sku_key = ''
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
    WHERE line.sku_key <> '' AND line.invoice_id NOT IN (SELECT invoice_id FROM exactly_billed)
    UNION ALL
    SELECT line.invoice_id, line.vendor_id, line.currency, line.line_id, po_line.purchase_order_id,
           po_line.quantity = line.quantity AND po_line.unit_price = line.unit_price
    FROM invoice_line AS line
    JOIN purchasing_purchaseorderline AS po_line
      ON po_line.tenant_id = %(tenant_id)s AND po_line.description_key = line.description_key
    WHERE line.sku_key = '' AND line.invoice_id NOT IN (SELECT invoice_id FROM exactly_billed)
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
"""  # noqa: S608


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
        for invoice_id, po_id, po_number, vendor_id, currency, status in cursor.fetchall():
            po_rows[po_id] = (po_id, po_number, vendor_id, currency, status)
            if invoice_id is not None:
                candidates[invoice_id].append(po_id)
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
