"""Reads of payments, always starting from the tenant."""

from __future__ import annotations

import datetime as dt

from django.db.models import Max

from core.tenancy.scoping import TenantQuerySet
from invoices.models import DocumentType, Invoice, InvoiceStatus
from payments.accounts import account_hash
from payments.cash import (
    CurrencyForecast,
    OpenItem,
    SettledInvoice,
    VendorPaymentTimes,
    cash_forecast,
    vendor_payment_times,
)
from payments.models import Payment, PaymentAllocation, PaymentRunItem, PaymentRunStatus
from payments.reconciliation.loading import PAYABLE_STATUSES, open_balances
from tenants.models import Tenant


def payment_list(*, tenant: Tenant) -> TenantQuerySet:
    return Payment.objects.for_tenant(tenant)


def payment_list_by_counterparty_account(*, tenant: Tenant, account: str) -> TenantQuerySet:
    """Payments from or to one account number, found by its keyed hash (never by decrypting)."""
    return payment_list(tenant=tenant).filter(counterparty_account_hash=account_hash(account))


def payment_list_by_bank_account(*, tenant: Tenant, account: str) -> TenantQuerySet:
    return payment_list(tenant=tenant).filter(bank_account_hash=account_hash(account))


def cash_settled_invoices(*, tenant: Tenant) -> list[SettledInvoice]:
    """Reconciled invoices with the booking date of the latest live allocation that settled them.

    One aggregate query. Reversed allocations and their reversals are left out: a payment that
    was taken back did not settle anything. An invoice settled by credit notes alone has no
    payment date and is not history of paying.
    """
    rows = (
        PaymentAllocation.objects.for_tenant(tenant)
        .filter(
            invoice__status=InvoiceStatus.RECONCILED,
            invoice__document_type=DocumentType.INVOICE,
            invoice__vendor__isnull=False,
            reversal_of__isnull=True,
            reversed_by__isnull=True,
        )
        .values("invoice_id", "invoice__vendor_id", "invoice__invoice_date", "invoice__due_date")
        .annotate(settled_on=Max("payment__booking_date"))
        .order_by("invoice_id")
    )
    return [
        SettledInvoice(
            invoice_id=row["invoice_id"],
            vendor_id=row["invoice__vendor_id"],
            invoice_date=row["invoice__invoice_date"],
            due_date=row["invoice__due_date"],
            settled_on=row["settled_on"],
        )
        for row in rows
    ]


def cash_vendor_payment_times(*, tenant: Tenant) -> list[VendorPaymentTimes]:
    return vendor_payment_times(cash_settled_invoices(tenant=tenant))


def cash_open_items(*, tenant: Tenant) -> list[OpenItem]:
    """Approved, scheduled and partially paid invoices with their open balances (four queries).

    The open balance starts from the amount due (total − prepaid), as for payment matching: a
    prepaid part is not cash that will leave again. An invoice in an approved payment run is
    what the run pays (net of the discount it took) on the run's execution date.
    """
    invoices = list(
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=PAYABLE_STATUSES, document_type=DocumentType.INVOICE)
        .only(
            "id", "vendor_id", "currency", "amount_due", "invoice_date", "due_date", "discount_amount",
            "discount_due_date",
        )
        .order_by("invoice_date", "id")
    )  # fmt: skip
    balances = open_balances(tenant=tenant, invoices=invoices)
    scheduled = {
        invoice_id: (execution_date, amount)
        for invoice_id, execution_date, amount in PaymentRunItem.objects.for_tenant(tenant)
        .filter(is_live=True, run__status=PaymentRunStatus.APPROVED, invoice__status=InvoiceStatus.PAYMENT_SCHEDULED)
        .values_list("invoice_id", "run__execution_date", "amount")
    }
    items = []
    for invoice in invoices:
        execution_date, run_amount = scheduled.get(invoice.pk, (None, 0))
        balance = run_amount if execution_date is not None else balances[invoice.pk]
        if balance > 0:
            items.append(
                OpenItem(
                    invoice_id=invoice.pk,
                    vendor_id=invoice.vendor_id,
                    currency=invoice.currency,
                    open_balance=balance,
                    invoice_date=invoice.invoice_date,
                    due_date=invoice.due_date,
                    scheduled_on=execution_date,
                    discount_amount=invoice.discount_amount,
                    discount_due_date=invoice.discount_due_date,
                )
            )
    return items


def cash_forecast_for_tenant(*, tenant: Tenant, today: dt.date, weeks: int) -> list[CurrencyForecast]:
    times = {row.vendor_id: row for row in cash_vendor_payment_times(tenant=tenant)}
    return cash_forecast(cash_open_items(tenant=tenant), times, today=today, weeks=weeks)
