"""The loader's facts for the risk signals (matching.engine.risk): the vendors' bank accounts, each
batch vendor's accepted history, and invoices of other vendors sharing a batch invoice's payee
account (on their record, or named by their own invoices). One query each, whatever the batch
size; the shared-account one only when a batch invoice names an account.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict

from core.tenancy.scoping import id_array, tenant_cursor
from invoices.billing import NOT_BILLING
from invoices.models import DocumentType
from invoices.numbers import normalize_invoice_number
from matching.engine import InvoiceRecord, VendorRecord
from matching.engine.risk import ACCEPTED_STATUSES
from matching.engine.types import (
    AcceptedTotalRecord,
    BankAccountRecord,
    SharedAccountInvoiceRecord,
    VendorHistoryRecord,
)
from tenants.models import Tenant
from vendors.models import VendorBankAccount


def vendor_bank_accounts(tenant: Tenant) -> dict[uuid.UUID, tuple[BankAccountRecord, ...]]:
    """Every bank account of the tenant's vendors, newest first per vendor, with the mask of the
    account each replaced (a vendor has a handful: loaded whole, like the vendors themselves)."""
    rows = list(
        VendorBankAccount.objects.for_tenant(tenant)
        .order_by("vendor_id", "-created_at", "-id")
        .values_list("id", "vendor_id", "account_hash", "account_mask", "status", "decided_at", "usable_from",
                     "replaces_id")
    )  # fmt: skip
    masks = {row[0]: row[3] for row in rows}
    accounts: dict[uuid.UUID, list[BankAccountRecord]] = defaultdict(list)
    for _id, vendor_id, digest, mask, status, decided_at, usable_from, replaces_id in rows:
        accounts[vendor_id].append(
            BankAccountRecord(
                account_hash=digest,
                account_mask=mask,
                status=status,
                decided_at=decided_at,
                usable_from=usable_from,
                replaces_mask=masks.get(replaces_id, "") if replaces_id is not None else "",
            )
        )
    return {vendor_id: tuple(records) for vendor_id, records in accounts.items()}


# Per batch vendor: when its first accepted invoice arrived, and its latest accepted ones (at most
# the window per vendor, newest first), all received before the batch's newest invoice. Each
# lateral reads the vendor's invoices in date order (index invoice_vendor_created: the vendor, then
# created_at) from the end it wants, and stops at what it needs: the first accepted one, the window
# of the latest; so the cost is the few rows read, not the vendor's history (both read all of it,
# 29 ms of a batch at 10,000 invoices of 50 vendors, growing with each vendor's history). By the
# vendor's index, not the (tenant-blind) created_at one from the oldest invoice of the database.
_HISTORY_SQL = """
SELECT wanted.vendor_id, first.received_at, recent.created_at, recent.total_amount, recent.currency
FROM unnest(%(vendor_ids)s::uuid[]) AS wanted(vendor_id)
LEFT JOIN LATERAL (
    SELECT created_at AS received_at FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND status = ANY(%(accepted)s::varchar[])
      AND document_type = %(invoice)s AND created_at < %(newest)s
    ORDER BY created_at
    LIMIT 1
) AS first ON TRUE
LEFT JOIN LATERAL (
    SELECT created_at, total_amount, currency FROM invoices_invoice
    WHERE tenant_id = %(tenant_id)s AND vendor_id = wanted.vendor_id AND status = ANY(%(accepted)s::varchar[])
      AND document_type = %(invoice)s AND created_at < %(newest)s AND currency = ANY(%(currencies)s::varchar[])
      AND NOT EXISTS (SELECT FROM unnest(%(batch_ids)s::uuid[]) AS batch(id) WHERE batch.id = invoices_invoice.id)
    ORDER BY created_at DESC, id DESC
    LIMIT %(window)s
) AS recent ON TRUE
"""


def batch_vendor_histories(
    tenant: Tenant,
    invoices: list[InvoiceRecord],
    resolved: dict[uuid.UUID, VendorRecord | None],
    batch_ids: list[uuid.UUID],
    newest: dt.datetime,
    window: int,
) -> dict[uuid.UUID, VendorHistoryRecord]:
    """The accepted history (matching.engine.risk.ACCEPTED_STATUSES) of each vendor the batch's
    invoices resolve to: one record per vendor, empty when it has none (the engine then knows the
    vendor is new). The window is per vendor over the batch's currencies, so a vendor billing in two
    currencies may see fewer than `window` in each: the engine needs a minimum history anyway."""
    vendor_ids = sorted({vendor.id for vendor in resolved.values() if vendor is not None}, key=str)
    if not vendor_ids:
        return {}
    first: dict[uuid.UUID, dt.datetime | None] = {}
    recent: dict[uuid.UUID, list[AcceptedTotalRecord]] = defaultdict(list)
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            _HISTORY_SQL,
            {
                "vendor_ids": id_array(vendor_ids),
                "tenant_id": tenant.pk,
                "accepted": sorted(ACCEPTED_STATUSES),
                "invoice": DocumentType.INVOICE,
                "newest": newest,
                "currencies": sorted({invoice.currency for invoice in invoices}),
                "batch_ids": id_array(batch_ids),
                "window": window,
            },
        )
        for vendor_id, first_received_at, received_at, total_amount, currency in cursor.fetchall():
            first[vendor_id] = first_received_at
            if received_at is not None:
                recent[vendor_id].append(
                    AcceptedTotalRecord(received_at=received_at, total_amount=total_amount, currency=currency)
                )
    return {
        vendor_id: VendorHistoryRecord(
            vendor_id=vendor_id, first_accepted_at=first.get(vendor_id), recent=tuple(recent[vendor_id])
        )
        for vendor_id in vendor_ids
    }


# Per batch invoice naming a payee account, the invoices of *other* vendors with the same
# normalized number or the same total (the duplicate checks' two indexes) that either
# - belong to a vendor with that account on record (index vendorbankaccount_hash), or
# - named that account themselves (index invoice_tenant_payee_hash: a partial index, hence the
#   `<> ''` the planner needs to use it), whether or not it was ever put on a vendor's record:
#   a shell vendor's earlier bill paid to the same account as this one.
_SHARED_SQL = """
WITH wanted AS (
    SELECT * FROM unnest(%(hashes)s::varchar[], %(vendor_ids)s::uuid[], %(numbers)s::varchar[], %(totals)s::bigint[])
        AS wanted(account_hash, vendor_id, number, total)
), candidates AS (
    SELECT wanted.account_hash, other.*
    FROM wanted
    JOIN vendors_vendorbankaccount AS account
        ON account.tenant_id = %(tenant_id)s AND account.account_hash = wanted.account_hash
       AND account.vendor_id <> wanted.vendor_id AND account.status <> 'rejected'
    JOIN LATERAL (
        SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
               status, document_type
        FROM invoices_invoice
        WHERE tenant_id = %(tenant_id)s AND vendor_id = account.vendor_id AND invoice_number_normalized = wanted.number
        UNION ALL
        SELECT id, vendor_id, invoice_number, invoice_number_normalized, total_amount, currency, invoice_date,
               status, document_type
        FROM invoices_invoice
        WHERE tenant_id = %(tenant_id)s AND vendor_id = account.vendor_id AND total_amount = wanted.total
        OFFSET 0
    ) AS other ON TRUE
    UNION ALL
    SELECT wanted.account_hash, named.id, named.vendor_id, named.invoice_number, named.invoice_number_normalized,
           named.total_amount, named.currency, named.invoice_date, named.status, named.document_type
    FROM wanted
    JOIN invoices_invoice AS named
        ON named.tenant_id = %(tenant_id)s AND named.payee_account_hash = wanted.account_hash
       AND named.payee_account_hash <> '' AND named.vendor_id <> wanted.vendor_id
       AND (named.invoice_number_normalized = wanted.number OR named.total_amount = wanted.total)
)
SELECT DISTINCT other.account_hash, other.id, other.vendor_id, vendor.name, other.invoice_number,
       other.invoice_number_normalized, other.total_amount, other.currency, other.invoice_date
FROM candidates AS other
JOIN vendors_vendor AS vendor ON vendor.tenant_id = %(tenant_id)s AND vendor.id = other.vendor_id
WHERE other.status <> ALL(%(not_counted)s::varchar[]) AND other.document_type = %(invoice)s
  AND NOT EXISTS (SELECT FROM unnest(%(batch_ids)s::uuid[]) AS batch(id) WHERE batch.id = other.id)
ORDER BY other.invoice_date, other.id
"""


def batch_shared_account_invoices(
    tenant: Tenant,
    invoices: list[InvoiceRecord],
    resolved: dict[uuid.UUID, VendorRecord | None],
    batch_ids: list[uuid.UUID],
) -> dict[str, list[SharedAccountInvoiceRecord]]:
    """By payee account hash: invoices of *other* vendors having that account on record (any status
    but rejected), or that named that account themselves, that repeat a batch invoice's normalized
    number or total; the engine compares exactly (and the currency). The batch's own invoices are
    added by the engine as it goes."""
    wanted = [
        (invoice.payee_account_hash, vendor.id,
         invoice.invoice_number_normalized or normalize_invoice_number(invoice.invoice_number), invoice.total_amount)
        for invoice in invoices
        if invoice.payee_account_hash and (vendor := resolved[invoice.id]) is not None
    ]  # fmt: skip
    if not wanted:
        return {}
    hashes, vendor_ids, numbers, totals = (list(column) for column in zip(*wanted, strict=True))
    shared: dict[str, list[SharedAccountInvoiceRecord]] = defaultdict(list)
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            _SHARED_SQL,
            {
                "hashes": hashes,
                "vendor_ids": id_array(vendor_ids),
                "numbers": numbers,
                "totals": totals,
                "tenant_id": tenant.pk,
                "not_counted": sorted(NOT_BILLING),
                "invoice": DocumentType.INVOICE,
                "batch_ids": id_array(batch_ids),
            },
        )
        # In _SHARED_SQL's column order, each handed to the record by name.
        for (
            account_hash,
            invoice_id,
            vendor_id,
            vendor_name,
            invoice_number,
            invoice_number_normalized,
            total_amount,
            currency,
            invoice_date,
        ) in cursor.fetchall():
            shared[account_hash].append(
                SharedAccountInvoiceRecord(
                    account_hash=account_hash,
                    invoice_id=invoice_id,
                    vendor_id=vendor_id,
                    vendor_name=vendor_name,
                    invoice_number=invoice_number,
                    invoice_number_normalized=invoice_number_normalized,
                    total_amount=total_amount,
                    currency=currency,
                    invoice_date=invoice_date,
                )
            )
    return dict(shared)
