"""The loader: one batch of a tenant's `received` invoices and everything the engine needs for it.

A constant number of queries, whatever the batch size (tests/matching/test_runs_queries.py counts them):

 1. the tenant's settings            7. the POs named, and a few open ones per invoice naming none to infer from
 2. the batch's invoices             8. the lines of those POs
 3. the limits of their currencies   9. received quantity per PO line (one aggregate)
 4. their lines                     10. billed quantity per PO line (one aggregate)
 5. every vendor of the tenant      11. the earlier invoices that could be duplicates
 6. every vendor alias, tax ids too  12. the tolerance rules accepted from Recon's suggestions
                                    13. the learned item aliases of the batch's vendors
                                    14. the choices people made by hand on the batch's invoices
                                    15. the vendor names and tax ids people taught by choosing vendors

Vendors are resolved here *before* POs and earlier invoices are loaded, with the engine's own
resolver over the tenant's vendors (pure, no queries), so an invoice whose vendor the engine will
find only by a fuzzy name still gets that vendor's open POs and earlier invoices: the loader
loads exactly the vendors the engine will pick, no more and no fewer. Likewise for POs inferred
from a vendor's open POs: the database narrows them to a few candidates per invoice, the
engine's own inference picks among them here, and only the POs the engine will use get their
quantities summed and go into the context (see purchase_orders.batch_purchase_orders).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from core.amount_limits import AmountLimits
from core.lookup_keys import po_number_key
from invoices.models import DocumentType, Invoice, InvoiceLine, InvoiceStatus
from matching.engine import InvoiceLineRecord, InvoiceRecord, MatchContext, MatchSettings, VendorRecord
from matching.engine.index import BatchIndex
from matching.engine.vendor import resolve_vendor
from matching.loading.learned import (
    accepted_tolerance_rules,
    human_choices,
    learned_item_aliases,
    learned_vendor_aliases,
)
from matching.loading.prior_invoices import batch_prior_invoices
from matching.loading.purchase_orders import batch_purchase_orders
from matching.loading.risk import batch_shared_account_invoices, batch_vendor_histories, vendor_bank_accounts
from tenants.models import Tenant, TenantSettings
from tenants.selectors import amount_limits_for, tenant_settings_get
from vendors.models import Vendor, VendorAlias, VendorAliasKind


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


def match_settings_from(
    tenant_settings: TenantSettings, amount_limits: Mapping[str, AmountLimits] | None = None
) -> MatchSettings:
    """The engine's settings: the tenant's, with its limits in each currency of the batch."""
    return MatchSettings(
        auto_approve_min_confidence=tenant_settings.auto_approve_min_confidence,
        price_tolerance_pct=tenant_settings.price_tolerance_pct,
        quantity_tolerance_pct=tenant_settings.quantity_tolerance_pct,
        reject_on=frozenset(tenant_settings.reject_on or ()),
        fuzzy_vendor_threshold=tenant_settings.fuzzy_vendor_threshold,
        amount_limits=dict(amount_limits or {}),
        unusual_amount_window=tenant_settings.unusual_amount_window,
        unusual_amount_min_history=tenant_settings.unusual_amount_min_history,
        unusual_amount_threshold=tenant_settings.unusual_amount_threshold,
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
    tenant_settings = tenant_settings or tenant_settings_get(tenant=tenant)
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
            "payee_account_hash",
            "payee_account_mask",
        )[:limit]
    )
    if not invoice_rows:
        return LoadedBatch(invoices=[], context=MatchContext(settings=match_settings_from(tenant_settings)))
    currencies = {row["currency"] for row in invoice_rows}
    settings = match_settings_from(tenant_settings, amount_limits_for(tenant=tenant, currencies=currencies))
    batch_ids = [row["id"] for row in invoice_rows]

    lines_by_invoice: dict[uuid.UUID, list[InvoiceLineRecord]] = defaultdict(list)
    # Tuples unpacked where they are selected (a batch's thousand lines: no dict per row), and
    # every record built by keyword, so no order of the record's fields can misplace a value.
    for invoice_id, line_id, line_number, sku, description, quantity, unit_price, amount, po_line_number in (
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
        lines_by_invoice[invoice_id].append(
            InvoiceLineRecord(
                id=line_id,
                line_number=line_number,
                sku=sku,
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                po_line_number=po_line_number,
            )
        )
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
            payee_account_hash=row["payee_account_hash"],
            payee_account_mask=row["payee_account_mask"],
        )
        for row in invoice_rows
    ]

    vendors = _vendors(tenant, learned_vendor_aliases(tenant=tenant))
    choices = human_choices(tenant=tenant, invoice_ids=batch_ids)
    rules = accepted_tolerance_rules(tenant=tenant)
    for (vendor_id, kind), (pct, rule) in rules.items():
        vendor = vendors.get(vendor_id)
        # Named only while the vendor's tolerance is still the accepted one (not edited since).
        if vendor is not None and kind == "price" and vendor.price_tolerance_pct == pct:
            vendors[vendor_id] = dataclasses.replace(vendor, tolerance_rule=rule)
        elif vendor is not None and kind == "quantity" and vendor.quantity_tolerance_pct == pct:
            vendors[vendor_id] = dataclasses.replace(vendor, quantity_tolerance_rule=rule)
    context = MatchContext(settings=settings, vendors=vendors)
    # The vendor each invoice will be matched as (see the module docstring).
    vendor_index = BatchIndex.build(context)
    resolved = {
        invoice.id: resolve_vendor(
            invoice, vendor_index, settings, chosen.vendor if (chosen := choices.by_invoice.get(invoice.id)) else None
        ).vendor
        for invoice in invoices
    }
    # Inference from open POs only happens for invoices that name no PO.
    inferring = [
        (invoice, vendor)
        for invoice in invoices
        if not invoice.po_number and (vendor := resolved[invoice.id]) is not None
    ]
    po_keys = {po_number_key(invoice.po_number) for invoice in invoices if invoice.po_number}
    po_keys |= {po_number_key(number) for number in choices.po_numbers}

    context.item_aliases = learned_item_aliases(
        tenant=tenant, vendor_ids={vendor.id for vendor in resolved.values() if vendor is not None}
    )
    context.human_choices = choices.by_invoice
    context.purchase_orders, context.inference_candidates = batch_purchase_orders(tenant, po_keys, inferring, batch_ids)
    newest = max(row["created_at"] for row in invoice_rows)
    context.prior_invoices = batch_prior_invoices(tenant, invoices, resolved, batch_ids, newest=newest)
    context.vendor_histories = batch_vendor_histories(
        tenant, invoices, resolved, batch_ids, newest=newest, window=settings.unusual_amount_window
    )
    context.shared_account_invoices = batch_shared_account_invoices(tenant, invoices, resolved, batch_ids)
    return LoadedBatch(
        invoices=invoices,
        context=context,
        purchase_order_numbers={po.id: po.po_number for po in context.purchase_orders.values()},
    )


def _vendors(
    tenant: Tenant, learned: Mapping[uuid.UUID, Mapping[tuple[str, str], str]]
) -> dict[uuid.UUID, VendorRecord]:
    """The tenant's vendors; `learned`: by vendor, the names and tax ids people taught (named in a
    reason only while the alias is still the vendor's, not forgotten)."""
    aliases: dict[tuple[uuid.UUID, str], list[str]] = defaultdict(list)
    for vendor_id, kind, alias in (
        VendorAlias.objects.for_tenant(tenant)
        .order_by("normalized_alias")
        .values_list("vendor_id", "kind", "normalized_alias")
    ):
        aliases[(vendor_id, kind)].append(alias)
    bank_accounts = vendor_bank_accounts(tenant)

    def taught(vendor_id: uuid.UUID, kind: str) -> dict[str, str]:
        held = aliases[(vendor_id, kind)]
        return {alias: text for (of, alias), text in learned.get(vendor_id, {}).items() if of == kind and alias in held}

    return {
        row["id"]: VendorRecord(
            id=row["id"],
            name=row["name"],
            normalized_name=row["normalized_name"],
            tax_id=row["tax_id"],
            aliases=tuple(aliases[(row["id"], VendorAliasKind.NAME)]),
            tax_id_aliases=tuple(aliases[(row["id"], VendorAliasKind.TAX_ID)]),
            is_active=row["is_active"],
            price_tolerance_pct=row["price_tolerance_pct"],
            quantity_tolerance_pct=row["quantity_tolerance_pct"],
            bank_accounts=bank_accounts.get(row["id"], ()),
            learned_aliases=taught(row["id"], VendorAliasKind.NAME),
            learned_tax_ids=taught(row["id"], VendorAliasKind.TAX_ID),
        )
        for row in Vendor.objects.for_tenant(tenant).values(
            "id", "name", "normalized_name", "tax_id", "is_active", "price_tolerance_pct", "quantity_tolerance_pct"
        )
    }
