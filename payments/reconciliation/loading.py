"""Reads for reconciliation: the engine's input in a fixed number of queries, and open balances.

Open balance of an invoice = its amount due (total − prepaid, EN 16931 BT-115: what the vendor
asks to be paid; `Invoice.amount_due`) − net allocations (every kind, reversals subtracted) − what
its credit notes that are not void or rejected still take off (their own amount due). That is
DESIGN.md §4's "amount due = total − prepaid − credit notes applied", less what was paid.
Computed by aggregate queries, never stored: a stored balance would be one more thing a
reversal, a credit note or a bug could leave stale. The database's allocation trigger
(payments.migrations.0007_allocation_limit_on_amount_due) checks the same sum.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.db.models import BigIntegerField, Case, F, OuterRef, Q, Subquery, Sum, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from core.tenancy.scoping import id_array
from invoices.billing import NO_LONGER_BILLING
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.models import CounterpartyAccount, Payment, PaymentAllocation, PaymentDirection, PaymentStatus
from payments.reconciliation.types import OpenInvoice, PaymentRecord, ReconcileSettings, VendorRecord
from tenants.models import Tenant
from tenants.selectors import amount_limits_for, tenant_settings_get
from vendors.models import Vendor, VendorAlias, VendorAliasKind

# Invoices that still expect money (DESIGN.md §4: approved [→ payment_scheduled, in an approved
# payment run: still open, the statement line pays it] → partially_paid → reconciled). Not
# every invoice that still bills (the complement of invoices.billing.NO_LONGER_BILLING): one
# received, in review, on hold or disputed bills, but nobody has agreed to pay it yet; a
# reconciled one is paid.
PAYABLE_STATUSES = (InvoiceStatus.APPROVED, InvoiceStatus.PAYMENT_SCHEDULED, InvoiceStatus.PARTIALLY_PAID)
# Payments a run looks at: never matched by anyone, or only suggested. A partially matched
# payment was split by a clerk, who decides where the rest goes.
RECONCILABLE_PAYMENT_STATUSES = (PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED)

_NET_AMOUNT = Coalesce(
    Sum(Case(When(reversal_of__isnull=True, then=F("amount")), default=-F("amount"))),
    0,
)


@dataclass(frozen=True)
class LoadedReconciliation:
    payments: list[PaymentRecord]
    invoices: list[OpenInvoice]
    vendors: list[VendorRecord]
    settings: ReconcileSettings


def reconcile_settings_for(tenant: Tenant, *, currencies: Collection[str]) -> ReconcileSettings:
    """The tenant's settings, with its write-off limit in each of `currencies` (those of the batch)."""
    stored = tenant_settings_get(tenant=tenant)
    return ReconcileSettings(
        amount_limits=amount_limits_for(tenant=tenant, currencies=currencies),
        write_off_max_pct=stored.write_off_max_pct,
        fuzzy_vendor_threshold=stored.fuzzy_vendor_threshold,
        auto_apply=stored.reconcile_auto_apply,
        auto_apply_min_confidence=stored.reconcile_auto_apply_min_confidence,
    )


def among(ids: Collection[uuid.UUID]) -> RawSQL:
    """Ids for `field__in=among(ids)`: one array parameter, not a placeholder each. Django's `IN`
    list binds and quotes every id in Python, which for a run's 2,000 payments cost more than
    the statement did in PostgreSQL (invoices.lifecycle takes its ids the same way)."""
    return RawSQL("SELECT unnest(%s::uuid[])", (id_array(ids),))


def _allocated_by_invoice(tenant: Tenant, invoice_filter: Q) -> dict[uuid.UUID, int]:
    rows = (
        PaymentAllocation.objects.for_tenant(tenant)
        .filter(invoice_filter)
        .values("invoice_id")
        .annotate(net=_NET_AMOUNT)
        .values_list("invoice_id", "net")
    )
    return dict(rows)


def _credited_by_invoice(tenant: Tenant, invoice_filter: Q) -> dict[uuid.UUID, int]:
    rows = (
        Invoice.objects.for_tenant(tenant)
        .filter(invoice_filter, document_type=DocumentType.CREDIT_NOTE, credited_invoice__isnull=False)
        # A void or rejected credit note takes nothing off (the allocation trigger agrees).
        .exclude(status__in=NO_LONGER_BILLING)
        .values("credited_invoice_id")
        .annotate(total=Sum("amount_due"))
        .values_list("credited_invoice_id", "total")
    )
    return dict(rows)


def open_balances(*, tenant: Tenant, invoices: Collection[Invoice]) -> dict[uuid.UUID, int]:
    """`{invoice id: open balance}` for these invoices (two aggregate queries).

    The invoices need `amount_due` loaded (it is, unless a `.only()` leaves it out).
    """
    ids = [invoice.pk for invoice in invoices]
    if not ids:
        return {}
    allocated = _allocated_by_invoice(tenant, Q(invoice_id__in=among(ids)))
    credited = _credited_by_invoice(tenant, Q(credited_invoice_id__in=among(ids)))
    return {
        invoice.pk: invoice.amount_due - allocated.get(invoice.pk, 0) - credited.get(invoice.pk, 0)
        for invoice in invoices
    }


def open_balance_expression(*, tenant: Tenant) -> Any:
    """`open_balances` as an expression over invoices (`Invoice.objects.…alias(open=…)`): the
    amount due less the net allocations and the live credit notes, each a correlated sub-select
    by the invoice's id (for a page or a filter that a narrower condition has already made small;
    tests/payments/test_open_balance.py ties it to `open_balances`)."""
    allocated = (
        PaymentAllocation.objects.for_tenant(tenant)
        .filter(invoice_id=OuterRef("pk"))
        .order_by()
        .values("invoice_id")
        .annotate(net=_NET_AMOUNT)
        .values("net")
    )
    credited = (
        Invoice.objects.for_tenant(tenant)
        .filter(credited_invoice_id=OuterRef("pk"), document_type=DocumentType.CREDIT_NOTE)
        .exclude(status__in=NO_LONGER_BILLING)
        .order_by()
        .values("credited_invoice_id")
        .annotate(total=Sum("amount_due"))
        .values("total")
    )
    return (
        F("amount_due")
        - Coalesce(Subquery(allocated, output_field=BigIntegerField()), 0)
        - Coalesce(Subquery(credited, output_field=BigIntegerField()), 0)
    )


def paid_by_payment(*, tenant: Tenant, payment_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """`{payment id: net money allocated}` (write-offs are not money from the payment)."""
    if not payment_ids:
        return {}
    rows = (
        PaymentAllocation.objects.for_tenant(tenant)
        .filter(payment_id__in=among(payment_ids), kind="payment")
        .values("payment_id")
        .annotate(net=_NET_AMOUNT)
        .values_list("payment_id", "net")
    )
    return dict(rows)


def _vendors(tenant: Tenant) -> list[VendorRecord]:
    aliases: dict[uuid.UUID, list[str]] = defaultdict(list)
    for vendor_id, alias in (
        VendorAlias.objects.for_tenant(tenant).filter(kind=VendorAliasKind.NAME).values_list("vendor_id", "alias")
    ):
        aliases[vendor_id].append(alias)
    accounts: dict[uuid.UUID, set[str]] = defaultdict(set)
    for vendor_id, account in CounterpartyAccount.objects.for_tenant(tenant).values_list("vendor_id", "account_hash"):
        accounts[vendor_id].add(account)
    return [
        VendorRecord(
            id=vendor_id,
            name=name,
            aliases=tuple(sorted(aliases.get(vendor_id, ()))),
            account_hashes=frozenset(accounts.get(vendor_id, ())),
        )
        for vendor_id, name in Vendor.objects.for_tenant(tenant).filter(is_active=True).values_list("id", "name")
    ]


def load_reconciliation(*, tenant: Tenant, limit: int) -> LoadedReconciliation:
    """The run's input, in seven queries whatever the numbers of payments and invoices.

    At most `limit` payments: those least recently considered by a run, never-considered first.
    """
    # As values, not model instances: building a Payment per row cost more than reading it.
    payments = [
        PaymentRecord(
            id=row["id"],
            amount=row["amount"],
            currency=row["currency"],
            is_debit=row["direction"] == PaymentDirection.DEBIT,
            counterparty_name=row["counterparty_name"],
            counterparty_account_hash=row["counterparty_account_hash"],
            remittance_text=row["remittance_text"],
            booking_date=row["booking_date"],
        )
        for row in Payment.objects.for_tenant(tenant)
        .filter(status__in=RECONCILABLE_PAYMENT_STATUSES, direction=PaymentDirection.DEBIT)
        # Least recently considered first (see Payment.reconcile_considered_at), then oldest.
        .order_by(F("reconcile_considered_at").asc(nulls_first=True), "booking_date", "id")
        .values(
            "id",
            "amount",
            "currency",
            "direction",
            "counterparty_name",
            "counterparty_account_hash",
            "remittance_text",
            "booking_date",
        )[:limit]
    ]
    payable = Q(status__in=PAYABLE_STATUSES, document_type=DocumentType.INVOICE)
    rows: list[dict[str, Any]] = list(
        Invoice.objects.for_tenant(tenant)
        .filter(payable)
        .values(
            "id",
            "vendor_id",
            "invoice_number",
            "invoice_number_normalized",
            "amount_due",
            "currency",
            "invoice_date",
            "due_date",
        )
    )
    allocated = _allocated_by_invoice(tenant, Q(invoice__status__in=PAYABLE_STATUSES))
    credited = _credited_by_invoice(tenant, Q(credited_invoice__status__in=PAYABLE_STATUSES))
    invoices = []
    for row in rows:
        balance = row["amount_due"] - allocated.get(row["id"], 0) - credited.get(row["id"], 0)
        if balance > 0:
            invoices.append(
                OpenInvoice(
                    id=row["id"],
                    vendor_id=row["vendor_id"],
                    number_normalized=row["invoice_number_normalized"],
                    number=row["invoice_number"],
                    open_balance=balance,
                    currency=row["currency"],
                    invoice_date=row["invoice_date"],
                    due_date=row["due_date"],
                )
            )
    currencies = {payment.currency for payment in payments}
    return LoadedReconciliation(
        payments=payments,
        invoices=invoices,
        vendors=_vendors(tenant),
        settings=reconcile_settings_for(tenant, currencies=currencies),
    )
