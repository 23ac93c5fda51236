"""The money side: weekly payment runs, the bank statements that show them, and the clerk's work.

On Thursdays the company pays what falls due before the next run (later for vendors it pays
late, earlier for those with a cash discount). The bank books the transfers on Friday; on Monday
the statement (CSV, one account per currency) is imported through
`statement_import`, and `reconciliation_run_for_tenant` matches what it can. Most transfers name
their invoices (matched, the invoice reconciled); some name none and are recognised by vendor
and amount; some are short by a bank fee (written off), paid in two instalments (partially
paid, then reconciled), sent from an account under a misspelled name (a suggestion the clerk
accepts), by a payment service nobody knows (the clerk allocates it by hand), or with a deposit
on top (the clerk allocates the invoice part: partially matched). Bank charges, tax payments
and customer receipts are set aside (ignored). The clerk deals with a line after a week, so the
last week's suggestions and unmatched lines are still waiting.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from core.actors import Actor
from core.money import exponent, format_minor, to_minor
from invoices.models import DocumentType, Invoice
from payments.models import Payment, PaymentStatus, PaymentSuggestion
from payments.reconciliation.loading import PAYABLE_STATUSES, open_balances
from payments.reconciliation.services import (
    allocation_accept_suggestion,
    allocation_split,
    payment_ignore,
    reconciliation_run_for_tenant,
)
from payments.services import statement_import
from payments.statements.csv_rows import COLUMNS as STATEMENT_COLUMNS
from recon_site.demo.catalog import DEMO_RATES
from recon_site.demo.people import DemoPeople
from recon_site.demo.plan import FIRST_DAY, DemoCalendar, InvoicePlan, misspelled_name, rng_for
from recon_site.demo.vendors_and_pos import bank_account
from tenants.models import Tenant

# Transfers go out on Thursdays (the bank books them on Friday); the statement is imported and
# reconciled on Monday.
PAYMENT_RUN_WEEKDAY = 3
STATEMENT_WEEKDAY = 0
# A statement line the engine could not settle waits this long before the clerk takes it.
CLERK_AFTER_DAYS = 10
# Write-offs are within 5.00 and 0.5 % (the default tenant settings): only in currencies whose
# 5.00 is a bank fee, not 5 yen.
FEE_CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF"})
PAYMENT_SERVICE = "Zahlungsverkehr Sammelauftrag"
OWN_BANK = "Demo Bank AG"
TAX_OFFICE = "Finanzamt Stuttgart"
CUSTOMER = "Maschinenbau Weber GmbH"


@dataclass(frozen=True)
class StatementLine:
    booking_day: int
    currency: str
    amount: int  # minor units, positive
    direction: str  # debit | credit
    counterparty_name: str
    counterparty_account: str
    remittance_text: str
    transaction_id: str


@dataclass(frozen=True)
class ClerkIntent:
    """What the clerk will do with a line the engine leaves: accept | split | ignore."""

    action: str
    note: str
    invoice_id: uuid.UUID | None = None
    amount: int = 0


@dataclass
class BankDesk:
    tenant: Tenant
    calendar: DemoCalendar
    people: DemoPeople
    actor: Actor  # who imports statements and runs reconciliation
    plans: dict[uuid.UUID, InvoicePlan]
    pending: list[StatementLine] = field(default_factory=list)
    intents: dict[str, tuple[int, ClerkIntent]] = field(default_factory=dict)  # by transaction id
    paid: set[uuid.UUID] = field(default_factory=set)  # invoices a transfer was sent for
    rest_due: dict[uuid.UUID, int] = field(default_factory=dict)  # instalments: the run that pays the rest
    last_import: int = FIRST_DAY
    sequence: int = 0


def own_account(currency: str) -> str:
    """The company's account in `currency` (one per currency, as a treasury keeps them)."""
    return bank_account("DE", purpose=f"own-{currency}")


def is_payment_run(calendar: DemoCalendar, day: int) -> bool:
    return day < 0 and calendar.weekday(day) == PAYMENT_RUN_WEEKDAY


def is_statement_day(calendar: DemoCalendar, day: int) -> bool:
    return day > FIRST_DAY + 7 and calendar.weekday(day) == STATEMENT_WEEKDAY


def _major(euros: Decimal, currency: str) -> int:
    return to_minor((euros * DEMO_RATES[currency]).quantize(Decimal(1).scaleb(-exponent(currency))), currency)


def _line(
    desk: BankDesk,
    *,
    day: int,
    currency: str,
    amount: int,
    name: str,
    account: str,
    text: str,
    direction: str = "debit",
    intent: ClerkIntent | None = None,
) -> None:
    desk.sequence += 1
    transaction_id = f"{desk.calendar.date(day):%Y%m%d}-{desk.sequence:05d}"
    desk.pending.append(
        StatementLine(
            booking_day=day,
            currency=currency,
            amount=amount,
            direction=direction,
            counterparty_name=name,
            counterparty_account=account,
            remittance_text=text,
            transaction_id=transaction_id,
        )
    )
    if intent is not None:
        desk.intents[transaction_id] = (day, intent)


# How the transfer for one invoice looks on the statement, and how often (the rest: "reference").
PAYMENT_SHAPES: tuple[tuple[str, float], ...] = (
    ("reference", 0.64),  # names the invoice: matched, reconciled
    ("no_reference", 0.10),  # names none: recognised by vendor and amount
    ("bank_fee", 0.05),  # short by a bank fee, naming the invoice: the difference written off
    ("instalment", 0.03),  # half now, the rest two weeks later: partially paid, then reconciled
    ("misspelled", 0.08),  # from another account under a misspelled name: a suggestion
    ("payment_service", 0.04),  # through a payment service nobody knows: allocated by hand
    ("deposit", 0.03),  # with a deposit for the next order on top: partially matched by hand
)
REFERENCE_TEXTS = ("{n}", "Rechnung {n}", "Invoice {n}", "RE {n} / Kd-Nr. 40711")


def _payment_shape(draw: float, *, currency: str, balance: int, has_vendor: bool) -> str:
    """The shape the draw falls on (`PAYMENT_SHAPES`), if this invoice can take it; else "reference"."""
    unit = 10 ** exponent(currency)
    possible = {
        "bank_fee": currency in FEE_CURRENCIES and balance >= 1000 * unit,
        "instalment": balance >= 200 * unit,
        "misspelled": has_vendor,
        "no_reference": has_vendor,
    }
    for shape, share in PAYMENT_SHAPES:
        if draw < share:
            return shape if possible.get(shape, True) else "reference"
        draw -= share
    return "reference"


def _last_reported_run(calendar: DemoCalendar, day: int) -> bool:
    """Whether the run of `day` is the last whose transfers (booked the day after) are on a
    statement imported by today: a later run's, if any, would come back after the demo ends."""

    def reported(run: int) -> bool:
        return any(is_statement_day(calendar, statement) for statement in range(run + 2, 1))

    return reported(day) and not (day + 7 < 0 and reported(day + 7))


def _instalment_possible(invoice: Invoice, balance: int) -> bool:
    return balance >= 200 * 10 ** exponent(invoice.currency)


def _pay(
    desk: BankDesk, *, day: int, invoice: Invoice, plan: InvoicePlan, balance: int, instalment: bool = False
) -> None:
    """One transfer for one invoice, in the shape its draw falls on (see `PAYMENT_SHAPES`), or
    the first half of an instalment when the run must start one (`instalment`)."""
    vendor = plan.vendor
    name = vendor.name if vendor is not None else plan.vendor_name
    account = vendor.iban if vendor is not None else bank_account("DE", purpose=plan.vendor_name)
    currency, number = invoice.currency, invoice.invoice_number
    amount, text, intent = balance, number, None
    if invoice.pk in desk.rest_due:
        del desk.rest_due[invoice.pk]
        text = f"{number} Restzahlung"
        shape = "rest"
    else:
        desk.paid.add(invoice.pk)
        draw = rng_for("payment", number, plan.arrival_day).random()
        shape = _payment_shape(draw, currency=currency, balance=balance, has_vendor=vendor is not None)
        if instalment:
            shape = "instalment"
    if shape == "reference":
        text = REFERENCE_TEXTS[len(number) % len(REFERENCE_TEXTS)].format(n=number)
    elif shape == "no_reference":
        text = "Zahlung lt. Vereinbarung"
    elif shape == "bank_fee":
        amount, text = balance - _major(Decimal("2.50"), currency), f"{number} abzgl. Spesen"
    elif shape == "instalment":
        unit = 10 ** exponent(currency)
        amount, text = balance // 2 // unit * unit, f"{number} 1. Rate"
        desk.rest_due[invoice.pk] = day + 14
    elif shape == "misspelled" and vendor is not None:
        name, account, text = misspelled_name(name).upper(), vendor.other_iban, "Zahlung"
        intent = ClerkIntent("accept", "", invoice.pk, balance)
    elif shape == "payment_service":
        name, account, text = PAYMENT_SERVICE, bank_account("DE", purpose="payment-service"), "Sammelzahlung"
        intent = ClerkIntent("split", f"Paid through the payment service for {number}.", invoice.pk, balance)
    elif shape == "deposit":
        amount, text = balance + _major(Decimal(250), currency), f"{number} und Anzahlung Folgeauftrag"
        intent = ClerkIntent("split", f"{number}; the rest is a deposit for the next order.", invoice.pk, balance)
    _line(desk, day=day + 1, currency=currency, amount=amount, name=name, account=account, text=text, intent=intent)


def payment_run(*, desk: BankDesk, day: int) -> None:
    """Transfers for everything payable that falls due before the next run (per vendor's habits)."""
    invoices = list(
        Invoice.objects.for_tenant(desk.tenant)
        .filter(status__in=PAYABLE_STATUSES, document_type=DocumentType.INVOICE)
        .order_by("invoice_date", "invoice_number", "created_at")
    )
    balances = open_balances(tenant=desk.tenant, invoices=invoices)
    horizon = desk.calendar.date(day + 7)
    # Whatever the weekday the demo ends on, one invoice is still partly paid at the end: the last
    # run whose transfers come back on an imported statement starts an instalment, unless one
    # started a week before is still waiting for its rest (both rests fall after that run).
    instalment_wanted = _last_reported_run(desk.calendar, day) and not any(
        rest_day > day for rest_day in desk.rest_due.values()
    )
    due: dict[str, list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        plan = desk.plans[invoice.pk]
        if balances[invoice.pk] <= 0:
            continue
        if invoice.pk in desk.rest_due:
            if desk.rest_due[invoice.pk] > day:
                continue
        elif invoice.pk in desk.paid or invoice.due_date is None:
            continue
        else:
            late = plan.vendor.entry.days_late if plan.vendor is not None else 0
            if invoice.due_date + dt.timedelta(days=late) > horizon:
                continue
        due[plan.vendor.name if plan.vendor is not None else plan.vendor_name].append(invoice)
    for name in sorted(due):
        group = due[name]
        vendor = desk.plans[group[0].pk].vendor
        batch = [invoice for invoice in group if invoice.pk not in desk.rest_due]
        if vendor is not None and vendor.entry.paid_in_batches and len(batch) >= 2:
            for start in range(0, len(batch), 3):
                chunk = batch[start : start + 3]
                desk.paid.update(invoice.pk for invoice in chunk)
                numbers = ", ".join(invoice.invoice_number for invoice in chunk)
                _line(
                    desk,
                    day=day + 1,
                    currency=chunk[0].currency,
                    amount=sum(balances[i.pk] for i in chunk),
                    name=vendor.name,
                    account=vendor.iban,
                    text=f"Rechnungen {numbers}",
                )
            group = [invoice for invoice in group if invoice.pk in desk.rest_due]
        for invoice in group:
            balance = balances[invoice.pk]
            instalment = (
                instalment_wanted and invoice.pk not in desk.rest_due and _instalment_possible(invoice, balance)
            )
            instalment_wanted = instalment_wanted and not instalment
            _pay(desk, day=day, invoice=invoice, plan=desk.plans[invoice.pk], balance=balance, instalment=instalment)


def _other_lines(desk: BankDesk, *, first: int, last: int) -> None:
    """What else the statements carry between two imports: charges, tax, customers' money."""
    for day in range(first, last + 1):
        date = desk.calendar.date(day)
        rng = rng_for("bank-other", day)
        if date.day == 1:
            _line(
                desk,
                day=day,
                currency="EUR",
                amount=3850 + rng.randrange(0, 900),
                name=OWN_BANK,
                account=own_account("EUR"),
                text="Kontofuehrung und Buchungsposten",
                intent=ClerkIntent("ignore", "Bank charges: booked by accounting."),
            )
        if date.day == 10:
            _line(
                desk,
                day=day,
                currency="EUR",
                amount=rng.randrange(1_800_000, 3_200_000),
                name=TAX_OFFICE,
                account=bank_account("DE", purpose="tax-office"),
                text=f"USt-Voranmeldung {date:%m/%Y}",
                intent=ClerkIntent("ignore", "VAT payment to the tax office: not a vendor invoice."),
            )
        if rng.random() < 0.2:
            _line(
                desk,
                day=day,
                currency="EUR",
                amount=rng.randrange(500_000, 4_000_000),
                name=CUSTOMER,
                account=bank_account("DE", purpose="customer"),
                text="Zahlung Auftrag",
                direction="credit",
                intent=ClerkIntent("ignore", "Customer payment: booked in receivables."),
            )


def _statement_csv(lines: list[StatementLine], calendar: DemoCalendar) -> bytes:
    """The lines as the bank's CSV export, in the columns the statement import documents."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=STATEMENT_COLUMNS)
    writer.writeheader()
    for line in lines:
        date = calendar.date(line.booking_day).isoformat()
        writer.writerow(
            {
                "booking_date": date,
                "value_date": date,
                "amount": format_minor(line.amount, line.currency),
                "direction": line.direction,
                "currency": line.currency,
                "counterparty_name": line.counterparty_name,
                "counterparty_account": line.counterparty_account,
                "remittance_text": line.remittance_text,
                "bank_transaction_id": line.transaction_id,
                "bank_account": own_account(line.currency),
            }
        )
    return buffer.getvalue().encode()


def statement_day(*, desk: BankDesk, day: int) -> None:
    """Import the lines booked since the last statement, reconcile, then the clerk's work."""
    _other_lines(desk, first=desk.last_import, last=day - 1)
    desk.last_import = day
    lines = sorted((line for line in desk.pending if line.booking_day < day), key=lambda line: line.transaction_id)
    desk.pending = [line for line in desk.pending if line.booking_day >= day]
    if lines:
        statement_import(
            tenant=desk.tenant,
            binary=_statement_csv(lines, desk.calendar),
            filename=f"statement-{desk.calendar.date(day - 1):%Y-%m-%d}.csv",
            actor=desk.actor,
            format="csv",
        )
    report = reconciliation_run_for_tenant(tenant=desk.tenant, actor=desk.actor)
    if report.status != "finished" or report.failures:
        raise RuntimeError(f"The demo's reconciliation run did not finish cleanly: {report.as_response()}")
    _clerk_work(desk, day=day)


def _payable_balance(desk: BankDesk, invoice_id: uuid.UUID) -> tuple[Invoice | None, int]:
    invoice = Invoice.objects.for_tenant(desk.tenant).filter(pk=invoice_id, status__in=PAYABLE_STATUSES).first()
    if invoice is None:
        return None, 0
    return invoice, open_balances(tenant=desk.tenant, invoices=[invoice])[invoice.pk]


def _clerk_work(desk: BankDesk, *, day: int) -> None:
    """The week-old lines the engine left: accept its suggestion, allocate by hand, or set aside."""
    actor = desk.people.actors["clerk2"]
    ready = sorted(tid for tid, (booked, _) in desk.intents.items() if booked <= day - CLERK_AFTER_DAYS)
    for transaction_id in ready:
        _, intent = desk.intents.pop(transaction_id)
        payment = Payment.objects.for_tenant(desk.tenant).get(bank_transaction_id=transaction_id)
        if payment.status not in (PaymentStatus.UNMATCHED, PaymentStatus.SUGGESTED):
            continue
        if intent.action == "ignore":
            payment_ignore(tenant=desk.tenant, payment=payment, actor=actor, reason=intent.note)
            continue
        assert intent.invoice_id is not None
        suggestion = PaymentSuggestion.objects.for_tenant(desk.tenant).filter(payment=payment).first()
        if intent.action == "accept" and suggestion is not None and _suggestion_holds(desk, suggestion):
            allocation_accept_suggestion(tenant=desk.tenant, payment=payment, actor=actor)
            continue
        invoice, balance = _payable_balance(desk, intent.invoice_id)
        if invoice is not None and balance >= intent.amount:
            allocation_split(
                tenant=desk.tenant, payment=payment, parts=[(invoice, intent.amount)], actor=actor, note=intent.note
            )


def _suggestion_holds(desk: BankDesk, suggestion: PaymentSuggestion) -> bool:
    """Whether the suggestion can still be accepted: it names invoices still owed what it allocates."""
    if not suggestion.allocations:
        return False
    for allocation in suggestion.allocations:
        invoice, balance = _payable_balance(desk, uuid.UUID(allocation["invoice_id"]))
        if invoice is None or balance < int(allocation["amount"]):
            return False
    return True
