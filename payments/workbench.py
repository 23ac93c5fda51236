"""The payment workbench: a payment's candidate open items, and the clerk's allocation form read back.

On a payment's page the clerk sees, beside the payment, the open items it could pay: the
invoices of the payment's vendor (or of every vendor, when no vendor is known or the clerk asks)
that are approved or partially paid, in the payment's currency, with their open balance
(payments.reconciliation.loading.open_balances) and the most that may be written off on each
(payments.reconciliation.tiers.write_off_limit). They are searched by number the way duplicate
detection compares numbers (invoices.numbers.normalize_invoice_number: case, spaces, dashes and
zero padding do not matter).

The form posts the selected invoices (`invoice`, in page order), an amount per invoice
(`amount-<invoice id>`; positional `amount` values are read too, as the earlier form of typed rows
sent them) and the invoices whose rest is written off (`write_off`). An empty amount
takes the open balance, in the order the invoices were selected, until the payment is used up:
what the page's script fills in as the clerk ticks, so the form works the same without it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db.models import QuerySet
from django.http import QueryDict

from core.money import MoneyError, format_minor, to_minor
from invoices.models import DocumentType, Invoice
from invoices.numbers import normalize_invoice_number
from payments.models import CounterpartyAccount, Payment, PaymentSuggestion
from payments.reconciliation.loading import PAYABLE_STATUSES, open_balances, reconcile_settings_for
from payments.reconciliation.tiers import write_off_limit
from tenants.models import Tenant
from vendors.models import Vendor, VendorAlias, VendorAliasKind
from vendors.names import normalize_vendor_name

# Open items shown at once; past this the clerk searches (the page says how many there are).
MAX_ITEMS = 50
SCOPE_ALL = "all"

NO_SELECTION = "Select at least one invoice to allocate the payment to."
UNKNOWN_INVOICE = "No open invoice {ref} in {currency}."
AMBIGUOUS_INVOICE = "Several open invoices are numbered {ref}; select the one meant in the list."
REPEATED = "Invoice {number} is selected twice."
USED_UP = "The payment is used up before invoice {number}; give it an amount or leave it unselected."
BAD_AMOUNT = "Invoice {number}: {error}"
NOT_POSITIVE = "Invoice {number}: the amount must be greater than zero."


@dataclass(frozen=True)
class OpenItem:
    invoice: Invoice
    balance: int
    write_off_max: int

    @property
    def balance_input(self) -> str:
        """The balance as the amount field takes it ("2896.70": no grouping)."""
        return format_minor(self.balance, self.invoice.currency)


@dataclass(frozen=True)
class OpenItems:
    vendor: Vendor | None
    scope_all: bool
    query: str
    items: list[OpenItem]
    total: int  # matching open items, of which `items` shows the first MAX_ITEMS

    @property
    def truncated(self) -> bool:
        return self.total > len(self.items)


@dataclass
class AllocationForm:
    """The workbench form as posted: what to write, or what is wrong beside which invoice."""

    parts: list[tuple[Invoice, int]] = field(default_factory=list)
    write_off_rest: list[uuid.UUID] = field(default_factory=list)
    note: str = ""
    # What the clerk posted, to show the form again as it was.
    selected: list[str] = field(default_factory=list)
    amounts: dict[str, str] = field(default_factory=dict)
    write_offs: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    row_errors: dict[str, str] = field(default_factory=dict)


def payment_vendor(*, tenant: Tenant, payment: Payment, suggestion: PaymentSuggestion | None) -> Vendor | None:
    """The vendor the payment goes to, as far as Recon knows it, else None.

    In order: the vendor the engine named in its suggestion; the one a clerk's earlier match
    taught for the counterparty account; the one vendor of the invoices the payment already
    pays; the vendor whose name or alias is the counterparty's name.
    """
    vendors = Vendor.objects.for_tenant(tenant)
    if suggestion is not None and suggestion.vendor_id is not None:
        return vendors.filter(pk=suggestion.vendor_id).first()
    if payment.counterparty_account_hash:
        learned = (
            CounterpartyAccount.objects.for_tenant(tenant)
            .filter(account_hash=payment.counterparty_account_hash)
            .values_list("vendor_id", flat=True)
            .first()
        )
        if learned is not None:
            return vendors.filter(pk=learned).first()
    paid = set(
        Invoice.objects.for_tenant(tenant)
        .filter(payment_allocations__payment=payment, vendor__isnull=False)
        .values_list("vendor_id", flat=True)
        .distinct()
    )
    if len(paid) == 1:
        return vendors.filter(pk=paid.pop()).first()
    name = normalize_vendor_name(payment.counterparty_name)
    if name:
        by_name = vendors.filter(normalized_name=name).first()
        if by_name is not None:
            return by_name
        alias = (
            VendorAlias.objects.for_tenant(tenant)
            .filter(kind=VendorAliasKind.NAME, normalized_alias=name)
            .values_list("vendor_id", flat=True)
        )
        return vendors.filter(pk__in=alias[:1]).first()
    return None


def _open_invoices(*, tenant: Tenant, payment: Payment) -> QuerySet[Invoice]:
    return (
        Invoice.objects.for_tenant(tenant)
        .filter(status__in=PAYABLE_STATUSES, document_type=DocumentType.INVOICE, currency=payment.currency)
        .select_related("vendor")
    )


def open_items(*, tenant: Tenant, payment: Payment, vendor: Vendor | None, query: str, scope_all: bool) -> OpenItems:
    """The open items beside the payment: the vendor's (all, when `scope_all` or no vendor), oldest first."""
    invoices = _open_invoices(tenant=tenant, payment=payment)
    if vendor is not None and not scope_all:
        invoices = invoices.filter(vendor=vendor)
    key = normalize_invoice_number(query)
    if key:
        invoices = invoices.filter(invoice_number_normalized__contains=key)
    # Balances are computed, not stored: filter the positive ones in Python, over the candidates.
    candidates = list(invoices.order_by("invoice_date", "invoice_number", "id"))
    balances = open_balances(tenant=tenant, invoices=candidates)
    settings_ = reconcile_settings_for(tenant, currencies=[payment.currency])
    open_rows = [invoice for invoice in candidates if balances[invoice.pk] > 0]
    items = [
        OpenItem(
            invoice=invoice,
            balance=balances[invoice.pk],
            write_off_max=write_off_limit(balances[invoice.pk], payment.currency, settings_),
        )
        for invoice in open_rows[:MAX_ITEMS]
    ]
    return OpenItems(
        vendor=vendor,
        scope_all=scope_all or vendor is None,
        query=query,
        items=items,
        total=len(open_rows),
    )


def _resolve(*, tenant: Tenant, payment: Payment, ref: str) -> list[Invoice]:
    """The open invoice a posted value names: its id (the checkboxes), else its number, however typed."""
    invoices = _open_invoices(tenant=tenant, payment=payment)
    try:
        by_id = list(invoices.filter(pk=uuid.UUID(ref)))
    except ValueError:
        by_id = []
    if by_id:
        return by_id
    key = normalize_invoice_number(ref)
    return list(invoices.filter(invoice_number_normalized=key)[:2]) if key else []


def allocation_form_read(*, tenant: Tenant, payment: Payment, data: QueryDict, remaining: int) -> AllocationForm:
    """The parts the form asks for (amounts in minor units), or its errors; nothing is written."""
    form = AllocationForm(note=data.get("note", "").strip())
    # An amount per invoice (`amount-<ref>`), or, as the earlier form of three rows and scripts
    # post it, the `amount` at the same position as its `invoice`.
    positional = data.getlist("amount")
    for index, value in enumerate(data.getlist("invoice")):
        ref = value.strip()
        if not ref:
            continue
        form.selected.append(ref)
        keyed = f"amount-{ref}"
        if keyed in data:
            form.amounts[ref] = data.get(keyed, "").strip()
        else:
            form.amounts[ref] = positional[index].strip() if index < len(positional) else ""
    form.write_offs = {value.strip() for value in data.getlist("write_off")}
    if not form.selected:
        form.errors.append(NO_SELECTION)
        return form
    resolved: list[tuple[str, Invoice]] = []
    seen: set[uuid.UUID] = set()
    for ref in form.selected:
        found = _resolve(tenant=tenant, payment=payment, ref=ref)
        if not found:
            form.row_errors[ref] = UNKNOWN_INVOICE.format(ref=ref, currency=payment.currency)
        elif len(found) > 1:
            form.row_errors[ref] = AMBIGUOUS_INVOICE.format(ref=ref)
        elif found[0].pk in seen:
            form.row_errors[ref] = REPEATED.format(number=found[0].invoice_number)
        else:
            seen.add(found[0].pk)
            resolved.append((ref, found[0]))
    balances = open_balances(tenant=tenant, invoices=[invoice for _, invoice in resolved])
    typed = 0
    amounts: dict[str, int] = {}
    for ref, invoice in resolved:
        raw = form.amounts.get(ref, "")
        if not raw:
            continue
        try:
            amount = to_minor(raw, payment.currency)
        except MoneyError as exc:
            form.row_errors[ref] = BAD_AMOUNT.format(number=invoice.invoice_number, error=exc)
            continue
        if amount <= 0:
            form.row_errors[ref] = NOT_POSITIVE.format(number=invoice.invoice_number)
            continue
        amounts[ref] = amount
        typed += amount
    left = remaining - typed
    for ref, invoice in resolved:
        if ref in form.row_errors:
            continue
        amount = amounts.get(ref)
        if amount is None:
            # Selection order: the open balance until the payment is used up.
            amount = min(balances[invoice.pk], left)
            if amount <= 0:
                form.row_errors[ref] = USED_UP.format(number=invoice.invoice_number)
                continue
            left -= amount
            form.amounts[ref] = format_minor(amount, payment.currency)
        form.parts.append((invoice, amount))
        if ref in form.write_offs or str(invoice.pk) in form.write_offs:
            form.write_off_rest.append(invoice.pk)
    _keyed_by_id(form, resolved)
    return form


def _keyed_by_id(form: AllocationForm, resolved: list[tuple[str, Invoice]]) -> None:
    """What was posted by number, filed under the invoice's id: the page's rows are keyed by id."""
    for ref, invoice in resolved:
        key = str(invoice.pk)
        if ref == key:
            continue
        form.selected = [key if value == ref else value for value in form.selected]
        form.amounts[key] = form.amounts.pop(ref, "")
        if ref in form.write_offs:
            form.write_offs = (form.write_offs - {ref}) | {key}
        if ref in form.row_errors:
            form.row_errors[key] = form.row_errors.pop(ref)
