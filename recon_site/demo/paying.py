"""Paying through Recon: the vendors' bank accounts under dual control, and a payment run.

On the first day the second clerk enters each vendor's bank account (the one its transfers go to)
and the administrator approves it: four eyes, through `vendors.bank_accounts`, each audited. In the last
week one vendor's new bank details are approved (so its page says "Cooling off until …" and the
run leaves it out, saying why), and another vendor's change is entered but not yet approved. On
the last working day the clerk proposes a payment run of the approved euro invoices due within
two weeks, takes out those the week's transfers already paid (their statement lines are not in
yet), and the approver approves it: its invoices end the demo `payment_scheduled`, and the run's
page offers its pain.001 file. A week earlier, on the Thursday before the last week, the euro
invoices due within the week went out through a run too: the bank booked its transfers on
Friday, and Monday's statement (CAMT.053, which carries each transfer's EndToEndId) brought them
back, so reconciliation's tier 0 paid exactly each transfer's invoices. One vendor's transfer came
back the same Monday (its account closed, AC04): that reconciliation reopened its invoices with a
`payment_returned` discrepancy, and the last run leaves them out until the account is changed.

The services take their time from the clock, not from the demo's calendar: an account approved
"on day -90" is approved now, and its cooling-off (usable from approval + the tenant's
`bank_account_cooling_off_days`) would still be running at the end of the seed. So the
administrator sets the cooling-off to 0 days while the existing accounts are taken over (they
were paid for years: nothing to wait for), and back to what it was right after, through the
settings service, both audited. The late change then cools off for the tenant's days from the
moment of the seed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from core.money import format_minor
from payments.models import PaymentRun, PaymentRunItem
from payments.runs.services import payment_run_approve, payment_run_line_remove, payment_run_propose
from payments.services import statement_import
from recon_site.demo.bank import PAYMENT_RUN_WEEKDAY, BankDesk, own_account
from recon_site.demo.plan import FIRST_DAY, VendorPlan
from recon_site.demo.vendors_and_pos import bank_account
from tenants.selectors import tenant_settings_get
from tenants.services import tenant_settings_update
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import Vendor, VendorBankAccount

# The vendor whose new bank details the approver approves in the last days (cooling off at the
# end), and the one whose change waits for approval: both pay in euros and bill every month.
COOLING_OFF_VENDOR = "mueller"
PENDING_CHANGE_VENDOR = "schneider"
# The vendor in whose name a forged bill asks to be paid to another account (`risks`).
FORGED_VENDOR = "servitech"
# Whose transfer is not the one the bank returns: each of these vendors has its own story.
NOT_RETURNED = (COOLING_OFF_VENDOR, PENDING_CHANGE_VENDOR, FORGED_VENDOR)
TAKEN_OVER = "Taken over from the ERP's vendor master: paid to for years."
CHANGE_LETTER = "The vendor's letter of {date}: new bank after a merger."
CHANGE_CHECKED = "Called the vendor back on the number we have on file: the change is genuine."
CHANGE_BY_MAIL = "Change of bank details received by e-mail on {date}: to be confirmed by phone."
RUN_CURRENCY = "EUR"
RUN_DAYS_AHEAD = 14  # the run pays what falls due in the next two weeks
RETURN_REASON = "AC04"  # ISO 20022: account closed
# Who changes bank details: never who approves invoices (the clerk, the approver), whom segregation
# of duties would bar from approving the vendor's invoices (review.segregation). Clerk2, who works
# the bank statements, enters them; the administrator approves them (four eyes).
BANK_DETAILS_CLERK = "clerk2"
BANK_DETAILS_DECIDER = "admin"


@dataclass(frozen=True)
class BankAccountEntry:
    """What a clerk types for a vendor's account: an IBAN, or a local number with its bank code."""

    iban: str = ""
    account_number: str = ""
    bank_code: str = ""
    country: str = ""


def _entry(number: str, country: str) -> BankAccountEntry:
    """The demo's account number (`bank_account`) as the add form takes it: where the country has
    no IBANs it is the bank code, then the account number (`021000021 576616042`)."""
    if " " not in number:
        return BankAccountEntry(iban=number)
    *bank_code, account_number = number.split()
    return BankAccountEntry(account_number=account_number, bank_code="".join(bank_code), country=country)


@dataclass
class PayingDesk:
    """Who pays through Recon, and what waits between the last week's days."""

    bank: BankDesk
    plans: dict[str, VendorPlan]  # by vendor key
    vendors: dict[str, Vendor]
    # The last working days (oldest first): the change's letter, its approval, the run.
    last_workdays: tuple[int, ...]
    # The Thursday whose transfers go out through a Recon run and come back on Monday's statement.
    earlier_run_day: int
    change_waiting: VendorBankAccount | None = None
    runs: list[PaymentRun] = field(default_factory=list)
    booked: list[tuple[int, PaymentRun]] = field(default_factory=list)  # the bank books a run's transfers

    @classmethod
    def open(cls, *, bank: BankDesk, plans: list[VendorPlan], vendors: dict[str, Vendor]) -> PayingDesk:
        workdays = tuple(day for day in range(FIRST_DAY, 1) if bank.calendar.weekday(day) < 5)
        # Thursday's transfers are booked on Friday and on Monday's statement: four days later.
        thursday = max(day for day in workdays if day <= -4 and bank.calendar.weekday(day) == PAYMENT_RUN_WEEKDAY)
        return cls(
            bank=bank,
            plans={plan.key: plan for plan in plans},
            vendors=vendors,
            last_workdays=workdays[-3:],
            earlier_run_day=thursday,
        )


def account_propose(desk: PayingDesk, *, key: str, number: str, comment: str) -> VendorBankAccount:
    people, plan = desk.bank.people, desk.plans[key]
    entry = _entry(number, plan.entry.country)
    return vendor_bank_account_propose(
        tenant=desk.bank.tenant,
        vendor=desk.vendors[key],
        actor=people.actors[BANK_DETAILS_CLERK],
        role=people.roles[BANK_DETAILS_CLERK],
        iban=entry.iban,
        account_number=entry.account_number,
        bank_code=entry.bank_code,
        country=entry.country,
        comment=comment,
    )


def account_approve(desk: PayingDesk, account: VendorBankAccount, *, comment: str = "") -> None:
    people = desk.bank.people
    vendor_bank_account_approve(
        tenant=desk.bank.tenant,
        account=account,
        actor=people.actors[BANK_DETAILS_DECIDER],
        role=people.roles[BANK_DETAILS_DECIDER],
        comment=comment,
    )


def bank_accounts_take_over(*, desk: PayingDesk) -> None:
    """Every vendor's account entered by clerk2 and approved by the administrator, on the first day;
    the cooling-off set to 0 days meanwhile (see the module's docstring) and then restored."""
    tenant, admin = desk.bank.tenant, desk.bank.people.actors["admin"]
    cooling_off_days = tenant_settings_get(tenant=tenant).bank_account_cooling_off_days
    tenant_settings_update(tenant=tenant, actor=admin, bank_account_cooling_off_days=0)
    for key, plan in desk.plans.items():
        account_approve(desk, account_propose(desk, key=key, number=plan.iban, comment=TAKEN_OVER))
    tenant_settings_update(tenant=tenant, actor=admin, bank_account_cooling_off_days=cooling_off_days)


def changed_account(plan: VendorPlan) -> str:
    """The vendor's new account, when the demo changes its bank details (and its invoice names it)."""
    return bank_account(plan.entry.country, purpose=f"{plan.key}-changed")


def paying_day(*, desk: PayingDesk, day: int) -> None:
    """The last week's work on paying: a vendor's change of bank details entered (third-last
    working day) and approved after a call-back (second-last: still cooling off at the end); on
    the last working day another vendor's change entered and left for the approver, and the
    payment run proposed and approved."""
    if day not in desk.last_workdays:
        return
    letter, approval, last = desk.last_workdays
    date = desk.bank.calendar.date(day)
    if day == letter:
        desk.change_waiting = account_propose(
            desk,
            key=COOLING_OFF_VENDOR,
            number=changed_account(desk.plans[COOLING_OFF_VENDOR]),
            comment=CHANGE_LETTER.format(date=date.isoformat()),
        )
    if day == approval and desk.change_waiting is not None:
        account_approve(desk, desk.change_waiting, comment=CHANGE_CHECKED)
        desk.change_waiting = None
    if day == last:
        account_propose(
            desk,
            key=PENDING_CHANGE_VENDOR,
            number=changed_account(desk.plans[PENDING_CHANGE_VENDOR]),
            comment=CHANGE_BY_MAIL.format(date=date.isoformat()),
        )
        desk.runs.append(_payment_run_through_recon(desk, day=day))


def _payment_run_through_recon(desk: PayingDesk, *, day: int, days_ahead: int = RUN_DAYS_AHEAD) -> PaymentRun:
    """The clerk proposes the run (approved euro invoices due within `days_ahead`), takes out what
    the week's transfers already paid (the statement showing them is not imported yet), and the
    approver approves it: its invoices become `payment_scheduled` and its pain.001 is written."""
    bank = desk.bank
    tenant, clerk = bank.tenant, bank.people.actors["clerk"]
    run = payment_run_propose(
        tenant=tenant,
        actor=clerk,
        currency=RUN_CURRENCY,
        due_by=bank.calendar.date(day + days_ahead),
        debtor_name=tenant.name,
        debtor_iban=own_account(RUN_CURRENCY),
    )
    paid_already = sorted(
        PaymentRunItem.objects.for_tenant(tenant)
        .filter(run=run, invoice_id__in=bank.paid)
        .values_list("invoice_id", flat=True)
    )
    for invoice_id in paid_already:
        run = payment_run_line_remove(tenant=tenant, run=run, invoice_id=invoice_id, actor=clerk)
    run = payment_run_approve(tenant=tenant, run=run, actor=bank.people.actors["approver"])
    bank.paid.update(PaymentRunItem.objects.for_tenant(tenant).filter(run=run).values_list("invoice_id", flat=True))
    return run


def paying_thursday(*, desk: PayingDesk, day: int) -> None:
    """On the Thursday before the last week, the euro invoices due within the week go out through
    a Recon run (before the week's other transfers, which then leave them alone): the bank books
    them on Friday, and Monday's statement brings them back with their EndToEndIds (tier 0)."""
    if day == desk.earlier_run_day:
        run = _payment_run_through_recon(desk, day=day, days_ahead=7)
        desk.runs.append(run)
        desk.booked.append((day + 1, run))


@dataclass(frozen=True)
class Transfer:
    """A run's transfer as the bank books it: one debit per EndToEndId."""

    booking_day: int
    end_to_end_id: str
    name: str
    iban: str
    amount: int
    numbers: str  # the invoice numbers it paid


def _debit_entry(desk: PayingDesk, transfer: Transfer) -> str:
    booked = desk.bank.calendar.date(transfer.booking_day).isoformat()
    return (
        f'<Ntry><Amt Ccy="{RUN_CURRENCY}">{format_minor(transfer.amount, RUN_CURRENCY)}</Amt>'
        f"<CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{booked}</Dt></BookgDt>"
        f"<ValDt><Dt>{booked}</Dt></ValDt><AcctSvcrRef>{transfer.end_to_end_id}-BK</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{transfer.end_to_end_id}</EndToEndId></Refs>"
        f"<RltdPties><Cdtr><Nm>{escape(transfer.name)}</Nm></Cdtr>"
        f"<CdtrAcct><Id><IBAN>{transfer.iban}</IBAN></Id></CdtrAcct></RltdPties>"
        f"<RmtInf><Ustrd>{escape(transfer.numbers[:140])}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    )


def _return_entry(desk: PayingDesk, transfer: Transfer, *, day: int) -> str:
    """The transfer coming back on `day`: a credit carrying its EndToEndId and the bank's reason."""
    booked = desk.bank.calendar.date(day).isoformat()
    return (
        f'<Ntry><Amt Ccy="{RUN_CURRENCY}">{format_minor(transfer.amount, RUN_CURRENCY)}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><RvslInd>true</RvslInd><Sts>BOOK</Sts><BookgDt><Dt>{booked}</Dt></BookgDt>"
        f"<ValDt><Dt>{booked}</Dt></ValDt><AcctSvcrRef>{transfer.end_to_end_id}-RT</AcctSvcrRef>"
        f"<NtryDtls><TxDtls><Refs><EndToEndId>{transfer.end_to_end_id}</EndToEndId></Refs>"
        f"<RltdPties><Dbtr><Nm>{escape(transfer.name)}</Nm></Dbtr></RltdPties>"
        f"<RtrInf><Rsn><Cd>{RETURN_REASON}</Cd></Rsn><AddtlInf>Account closed</AddtlInf></RtrInf>"
        f"<AddtlTxInf>SEPA return {transfer.end_to_end_id} {RETURN_REASON}</AddtlTxInf></TxDtls></NtryDtls></Ntry>"
    )


def _camt053(*, statement_id: str, created: dt.date, entries: list[str]) -> bytes:
    """The bank's CAMT.053 of the euro account with `entries` (each an `<Ntry>`)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{created}T18:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><Acct><Id><IBAN>{own_account(RUN_CURRENCY)}</IBAN></Id>"
        f"<Ccy>{RUN_CURRENCY}</Ccy></Acct>{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def _returned(desk: PayingDesk, transfers: list[Transfer]) -> Transfer | None:
    """The transfer the bank sends back: the largest that paid one invoice, leaving out the vendors
    of other stories (`NOT_RETURNED`)."""
    others = {desk.plans[key].name for key in NOT_RETURNED}
    candidates = [transfer for transfer in transfers if transfer.name not in others]
    return min(
        candidates,
        key=lambda transfer: (len(transfer.numbers.split()), -transfer.amount, transfer.end_to_end_id),
        default=None,
    )


def run_transfers_import(*, desk: PayingDesk, day: int) -> None:
    """On a statement day, before reconciliation: the statement of the run transfers the bank
    booked since, imported (CAMT.053, which carries EndToEndIds; the demo's CSV has no column for
    them), so tier 0 reconciles exactly each transfer's invoices. Then that morning's statement,
    on which one vendor's transfer comes back (its account closed, AC04): the same reconciliation
    reopens its invoices (`payment_returned`) and the next run holds them back until the account
    is changed (payments.runs.returns)."""
    due = [(booking_day, run) for booking_day, run in desk.booked if booking_day < day]
    if not due:
        return
    desk.booked = [(booking_day, run) for booking_day, run in desk.booked if booking_day >= day]
    calendar = desk.bank.calendar
    by_name = {plan.name: plan for plan in desk.plans.values()}
    transfers = []
    for booking_day, run in due:
        items: dict[str, list[PaymentRunItem]] = defaultdict(list)
        for item in (
            PaymentRunItem.objects.for_tenant(desk.bank.tenant).filter(run=run).select_related("vendor", "invoice")
        ):
            items[item.end_to_end_id].append(item)
        for end_to_end_id in sorted(items):
            group = items[end_to_end_id]
            vendor = group[0].vendor
            transfers.append(
                Transfer(
                    booking_day=booking_day,
                    end_to_end_id=end_to_end_id,
                    name=vendor.name,
                    iban=by_name[vendor.name].iban,
                    amount=sum(item.amount for item in group),
                    numbers=" ".join(sorted(item.invoice.invoice_number for item in group)),
                )
            )
    booked = calendar.date(day - 1)
    _statement_import(
        desk,
        statement_id=f"RUNS-{booked:%Y%m%d}",
        created=booked,
        entries=[_debit_entry(desk, transfer) for transfer in transfers],
    )
    returned = _returned(desk, transfers)
    if returned is not None:
        today = calendar.date(day)
        _statement_import(
            desk,
            statement_id=f"RETURNS-{today:%Y%m%d}",
            created=today,
            entries=[_return_entry(desk, returned, day=day)],
        )


def _statement_import(desk: PayingDesk, *, statement_id: str, created: dt.date, entries: list[str]) -> None:
    statement_import(
        tenant=desk.bank.tenant,
        binary=_camt053(statement_id=statement_id, created=created, entries=entries),
        filename=f"camt053-{statement_id.lower()}.xml",
        actor=desk.bank.actor,
        format="camt053",
    )
