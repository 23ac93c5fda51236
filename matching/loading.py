"""The loader: one batch of a tenant's `received` invoices and everything the engine needs for it.

A constant number of queries, whatever the batch size (tests/matching/test_runs.py counts them):

 1. the tenant's settings            6. the purchase orders (referenced, plus open ones to infer from)
 2. the batch's invoices             7. the lines of those POs
 3. their lines                      8. received quantity per PO line (one aggregate)
 4. every vendor of the tenant       9. billed quantity per PO line (one aggregate)
 5. every vendor alias              10. the earlier invoices that could be duplicates

Vendors are resolved here *before* POs and earlier invoices are loaded, with the engine's own
resolver over the tenant's vendors (pure, no queries), so an invoice whose vendor the engine will
find only by a fuzzy name still gets that vendor's open POs and earlier invoices: the loader
loads exactly the vendors the engine will pick, no more and no fewer. Likewise for POs inferred
from a vendor's open POs: the engine's own inference picks them here, and only the POs the
engine will use get their quantities summed and go into the context (see _purchase_orders).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Q, QuerySet, Sum

from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceStatus
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
from purchasing.models import GoodsReceiptLine, PurchaseOrder, PurchaseOrderLine, po_number_lookup_key
from tenants.models import Tenant, TenantSettings
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
        Invoice.objects.for_tenant(tenant)
        .filter(status=InvoiceStatus.RECEIVED, document_type=DocumentType.INVOICE)  # credit notes: never 3-way matched
        .exclude(pk__in=list(exclude_invoice_ids))
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
    for line in (
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice_id__in=batch_ids)
        .order_by("line_number")
        .values(
            "id",
            "invoice_id",
            "line_number",
            "sku",
            "description",
            "quantity",
            "unit_price",
            "amount",
            "po_line_number",
        )
    ):
        invoice_id = line.pop("invoice_id")
        lines_by_invoice[invoice_id].append(InvoiceLineRecord(**line))
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
    vendor_ids = {vendor.id for vendor in resolved.values() if vendor is not None}
    # Inference from open POs only happens for invoices that name no PO.
    inferring = [
        (invoice, vendor)
        for invoice in invoices
        if not invoice.po_number and (vendor := resolved[invoice.id]) is not None
    ]
    po_keys = {po_key(invoice.po_number) for invoice in invoices if invoice.po_number}

    context.purchase_orders = _purchase_orders(tenant, po_keys, inferring, batch_ids)
    context.prior_invoices = _prior_invoices(
        tenant, invoices, vendor_ids, batch_ids, newest=max(row["created_at"] for row in invoice_rows)
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
) -> dict[str, PurchaseOrderRecord]:
    """The POs the batch names, and the open POs the engine will infer for invoices naming none;
    with lines, received quantities over all receipts, and what invoices outside the batch
    already billed.

    To infer, the engine compares an invoice with every open PO of its vendor, and a vendor may
    have thousands. They are all loaded (without quantities), the engine's own inference picks
    the PO each such invoice will get, and only the named and picked POs go on: their received
    and billed quantities are summed (two aggregates over a batch's worth of PO lines, instead of
    over every open PO's), and they are the context the engine sees. The engine's inference over
    that smaller set gives the same PO (the pick is the best over all open POs, so over any set
    that contains it) and finds none where there was none.
    """
    wanted = Q(pk__in=[])  # matches nothing; OR-ed with what is asked for
    if po_keys:
        wanted |= Q(po_key__in=po_keys)
    inferring_vendor_ids = {vendor.id for _, vendor in inferring}
    if inferring_vendor_ids:
        wanted |= Q(vendor_id__in=inferring_vendor_ids, status=PurchaseOrder.Status.OPEN)
    po_rows = list(
        PurchaseOrder.objects.for_tenant(tenant)
        # The engine's po_key in SQL, so every PO the engine could find by number is loaded.
        .annotate(po_key=po_number_lookup_key(F("po_number")))
        .filter(wanted)
        # No ORDER BY (the model's is -created_at): PostgreSQL would walk the created_at index of
        # every tenant's POs to honour it. Nothing here depends on the order (see the sorts below).
        .order_by()
        .values("id", "po_number", "vendor_id", "currency", "status")
    )
    lines_by_po: dict[uuid.UUID, list[PurchaseOrderLineRecord]] = defaultdict(list)
    for line_id, purchase_order_id, line_number, sku, description, quantity, unit_price in (
        PurchaseOrderLine.objects.for_tenant(tenant)
        .filter(purchase_order_id__in=[row["id"] for row in po_rows])
        .order_by("line_number")
        .values_list("id", "purchase_order_id", "line_number", "sku", "description", "quantity", "unit_price")
    ):
        lines_by_po[purchase_order_id].append(
            PurchaseOrderLineRecord(line_id, line_number, sku, description, quantity, unit_price)
        )
    candidates = [PurchaseOrderRecord(**row, lines=tuple(lines_by_po[row["id"]])) for row in po_rows]

    # What the engine looks up by number (every PO under each key, as its index keeps the first
    # by number) and what it will infer.
    kept = {po.id: po for po in candidates if po_key(po.po_number) in po_keys}
    open_by_vendor: dict[uuid.UUID, list[PurchaseOrderRecord]] = defaultdict(list)
    for purchase_order in candidates:
        if purchase_order.status == PurchaseOrder.Status.OPEN:
            open_by_vendor[purchase_order.vendor_id].append(purchase_order)
    for invoice, vendor in inferring:
        inferred = infer_purchase_order(invoice, open_by_vendor[vendor.id])
        if inferred is not None:
            kept[inferred.id] = inferred

    # By the kept POs' line ids (loaded above) rather than through a join on the PO line: for the
    # billed quantities PostgreSQL scanned every PO line of the tenant (and of every other tenant,
    # in parallel) to find the kept ones; by ids it looks them up in matched_po_line's index.
    kept_line_ids = [line.id for purchase_order in kept.values() for line in purchase_order.lines]
    received = _quantity_per_po_line(
        GoodsReceiptLine.objects.for_tenant(tenant).filter(purchase_order_line_id__in=kept_line_ids),
        "purchase_order_line_id",
    )
    # Earlier invoices' claims on the PO lines. The batch's own invoices are left out: one that
    # is back in `received` (a receipt arrived) still points at the lines of its last match,
    # and is about to be matched again; the engine adds the batch's claims as it goes.
    billed = _quantity_per_po_line(
        InvoiceLine.objects.for_tenant(tenant)
        .filter(matched_po_line_id__in=kept_line_ids)
        .exclude(invoice__status__in=NOT_COUNTED)
        .exclude(invoice_id__in=batch_ids),
        "matched_po_line_id",
    )
    return {
        purchase_order.po_number: dataclasses.replace(
            purchase_order,
            lines=tuple(
                dataclasses.replace(
                    line,
                    received_quantity=received.get(line.id, Decimal(0)),
                    billed_quantity=billed.get(line.id, Decimal(0)),
                )
                for line in purchase_order.lines
            ),
        )
        for purchase_order in sorted(kept.values(), key=lambda po: po.po_number)
    }


def _quantity_per_po_line(queryset: QuerySet, po_line_field: str) -> dict[uuid.UUID, Decimal]:
    rows = queryset.order_by().values(po_line_field).annotate(total=Sum("quantity"))
    return {row[po_line_field]: row["total"] for row in rows}


def _prior_invoices(
    tenant: Tenant,
    invoices: list[InvoiceRecord],
    vendor_ids: set[uuid.UUID],
    batch_ids: list[uuid.UUID],
    newest: dt.datetime,
) -> dict[uuid.UUID, list[PriorInvoiceRecord]]:
    """The earlier invoices of the batch's vendors that could be one of its invoices again.

    Only those the engine could flag: the same normalized number (`duplicate_invoice`), or the
    same total dated within the near-duplicate window (`possible_duplicate`). A superset is
    loaded (any batch number or total for any batch vendor); the engine does the exact
    comparison. Indexed by (tenant, vendor, number), so the cost does not grow with the
    tenant's history. "Earlier" = received before the batch's newest invoice: an invoice
    that arrived later is compared when its own turn comes, so the original is never flagged
    as the copy of its duplicate.
    """
    if not vendor_ids:
        return {}
    window = dt.timedelta(days=POSSIBLE_DUPLICATE_DAYS)
    numbers = {invoice.invoice_number_normalized for invoice in invoices}
    totals = {invoice.total_amount for invoice in invoices}
    earliest = min(invoice.invoice_date for invoice in invoices) - window
    latest = max(invoice.invoice_date for invoice in invoices) + window
    prior: dict[uuid.UUID, list[PriorInvoiceRecord]] = defaultdict(list)
    for row in (
        Invoice.objects.for_tenant(tenant)
        .filter(vendor_id__in=vendor_ids, created_at__lt=newest)
        .filter(
            Q(invoice_number_normalized__in=numbers)
            | Q(total_amount__in=totals, invoice_date__range=(earliest, latest))
        )
        .exclude(status__in=NOT_COUNTED)
        .exclude(pk__in=batch_ids)
        # A credit note repeats its invoice's number and total on purpose: it is no duplicate.
        .filter(document_type=DocumentType.INVOICE)
        .order_by("invoice_date", "id")
        .values(
            "id",
            "vendor_id",
            "invoice_number",
            "invoice_number_normalized",
            "total_amount",
            "currency",
            "invoice_date",
            "status",
            "created_at",
        )
    ):
        received_at = row.pop("created_at")
        prior[row["vendor_id"]].append(PriorInvoiceRecord(**row, received_at=received_at))
    return dict(prior)
