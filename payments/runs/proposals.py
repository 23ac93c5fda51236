"""What a payment run proposes: each approved invoice with its open balance, the discount taken
and why it cannot be paid (`candidates_of`), the choice within the run's maximum
(`proposal_choose`, pure), and the proposal's lines written in one statement (`items_insert`).
payments.runs.services proposes, edits and approves runs with them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from core.ids import uuid7
from core.money import format_minor
from core.tenancy.scoping import tenant_cursor
from invoices.models import Invoice
from matching.selectors import PAYEE_NOT_ON_RECORD, invoices_naming_unknown_accounts
from payments.models import PaymentRun, PaymentRunItem
from payments.reconciliation.loading import open_balances
from payments.runs.creditors import creditors_at
from payments.runs.discounts import discount_taken
from tenants.models import Tenant
from vendors.models import Vendor

NO_VENDOR = "The vendor is not known: the invoice must be matched to a vendor first."
IN_OTHER_RUN = "Already in another payment run (proposed {date})."
NOTHING_OPEN = "Nothing left to pay: credit notes and payments cover it."
OVER_MAX_TOTAL = "Over the run's maximum total."


@dataclass(frozen=True)
class Candidate:
    invoice_id: uuid.UUID
    invoice_number: str
    vendor_id: uuid.UUID | None
    vendor_name: str
    due_date: dt.date | None
    open_amount: int
    # Why it cannot be paid whatever the run's total ("" when it can).
    reason: str
    # The vendor's payable account, masked: written with the proposal, so an approval rewrites
    # only the lines whose account changed meanwhile (not 10,000 rows of a run).
    account_mask: str = ""

    # The early-payment discount taken (payments.runs.discounts); the run pays `amount`.
    discount: int = 0

    @property
    def amount(self) -> int:
        """What the run pays for the invoice: its open balance less the discount taken."""
        return self.open_amount - self.discount

    @property
    def payee(self) -> uuid.UUID:
        """The vendor paid; only a candidate without a reason is paid, and it has one."""
        if self.vendor_id is None:
            raise ValueError(NO_VENDOR)
        return self.vendor_id


def excluded_row(candidate: Candidate, reason: str, currency: str) -> dict[str, Any]:
    return {
        "invoice_id": str(candidate.invoice_id),
        "invoice_number": candidate.invoice_number,
        "vendor_name": candidate.vendor_name,
        "amount": candidate.open_amount,
        "amount_display": format_minor(max(candidate.open_amount, 0), currency),
        "reason": reason,
    }


def proposal_choose(
    candidates: list[Candidate], *, max_total: int | None
) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
    """The invoices a run pays and those it leaves out with why: earliest due first (an invoice
    without a due date is due now), each taken while the total stays within `max_total`. Pure."""
    chosen: list[Candidate] = []
    left_out: list[tuple[Candidate, str]] = []
    total = 0
    ordered = sorted(candidates, key=lambda c: (c.due_date or dt.date.min, c.invoice_number, str(c.invoice_id)))
    for candidate in ordered:
        if candidate.reason:
            left_out.append((candidate, candidate.reason))
        elif max_total is not None and total + candidate.amount > max_total:
            left_out.append((candidate, OVER_MAX_TOTAL))
        else:
            chosen.append(candidate)
            total += candidate.amount
    return chosen, left_out


def candidates_of(
    *,
    tenant: Tenant,
    invoices: list[Invoice],
    currency: str,
    at: dt.datetime,
    paid_on: dt.date,
    take_discounts: bool,
    run: PaymentRun | None = None,
) -> list[Candidate]:
    """Each invoice with its open balance, the discount taken paying it on `paid_on`
    (payments.runs.discounts) and why it cannot be paid, in a fixed number of queries."""
    balances = open_balances(tenant=tenant, invoices=invoices)
    vendor_ids = {invoice.vendor_id for invoice in invoices if invoice.vendor_id}
    names = dict(Vendor.objects.for_tenant(tenant).filter(pk__in=vendor_ids).values_list("id", "name"))
    creditors = creditors_at(tenant=tenant, vendor_ids=vendor_ids, at=at, currency=currency)
    live = PaymentRunItem.objects.for_tenant(tenant).filter(is_live=True, invoice_id__in=[i.pk for i in invoices])
    if run is not None:
        live = live.exclude(run=run)
    in_runs = dict(live.values_list("invoice_id", "run__created_at"))
    unknown_payee = invoices_naming_unknown_accounts(tenant=tenant, invoices=invoices)
    candidates = []
    for invoice in invoices:
        balance = balances[invoice.pk]
        reason = ""
        if invoice.vendor_id is None:
            reason = NO_VENDOR
        elif invoice.pk in in_runs:
            reason = IN_OTHER_RUN.format(date=timezone.localtime(in_runs[invoice.pk]).date().isoformat())
        elif balance <= 0:
            reason = NOTHING_OPEN
        elif invoice.pk in unknown_payee:
            reason = PAYEE_NOT_ON_RECORD
        elif not creditors[invoice.vendor_id].payable:
            reason = creditors[invoice.vendor_id].reason
        candidates.append(
            Candidate(
                invoice.pk,
                invoice.invoice_number,
                invoice.vendor_id,
                names.get(invoice.vendor_id, invoice.vendor_name_raw) if invoice.vendor_id else invoice.vendor_name_raw,
                invoice.due_date,
                balance,
                reason,
                creditors[invoice.vendor_id].mask if invoice.vendor_id else "",
            )
        )
    by_id = {invoice.pk: invoice for invoice in invoices}
    return [
        dataclasses.replace(
            candidate,
            discount=discount_taken(
                open_amount=candidate.open_amount,
                discount_amount=by_id[candidate.invoice_id].discount_amount,
                discount_due_date=by_id[candidate.invoice_id].discount_due_date,
                paid_on=paid_on,
                take_discounts=take_discounts,
            ),
        )
        if not candidate.reason
        else candidate
        for candidate in candidates
    ]


INVOICE_FIELDS = (
    "id", "tenant_id", "invoice_number", "vendor_id", "vendor_name_raw", "due_date", "amount_due",
    "discount_amount", "discount_due_date", "payee_account_hash", "latest_match_id",
)  # fmt: skip


def new_end_to_end_id() -> str:
    # Recon's own prefix and 64 random bits: unique enough per tenant, and what tier 0 looks for.
    return f"RCN{secrets.token_hex(8).upper()}"


def items_insert(*, tenant: Tenant, run: PaymentRun, chosen: list[Candidate], end_to_end: dict[uuid.UUID, str]) -> None:
    """The proposal's lines in one `INSERT … SELECT FROM unnest()`: a run of 10,000 invoices is one
    statement, without building 10,000 model instances (bulk_create's cost here). Raw SQL, so the
    tenant is spelled out; identifiers come from the model's metadata, every value is a parameter."""
    if not chosen:
        return
    table = connection.ops.quote_name(PaymentRunItem._meta.db_table)
    sql = (
        f"INSERT INTO {table} (id, tenant_id, created_at, run_id, invoice_id, vendor_id, amount, discount_amount,"  # noqa: S608
        " end_to_end_id, is_live, creditor_account_mask)"
        " SELECT item.id, %s, %s, %s, item.invoice_id, item.vendor_id, item.amount,"
        " item.discount, item.e2e, true, item.mask"
        " FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[], %s::bigint[], %s::bigint[], %s::text[], %s::text[])"
        " AS item(id, invoice_id, vendor_id, amount, discount, e2e, mask)"
    )
    with tenant_cursor(tenant) as cursor:
        cursor.execute(
            sql,
            [
                tenant.pk,
                timezone.now(),
                run.pk,
                [uuid7() for _ in chosen],
                [candidate.invoice_id for candidate in chosen],
                [candidate.payee for candidate in chosen],
                [candidate.amount for candidate in chosen],
                [candidate.discount for candidate in chosen],
                [end_to_end[candidate.payee] for candidate in chosen],
                [candidate.account_mask for candidate in chosen],
            ],
        )
