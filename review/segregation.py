"""Segregation of duties (DESIGN.md §6a, issue #19 item 1): who may not approve an invoice, and why.

Two people must be involved in every payment: one who says where the money goes or what is owed,
and one who says it is owed. So these users may not approve an invoice, each told why:

- **who entered or last edited it**: the user actors of its "created" and "updated" audit events;
- **who changed its vendor's bank details** — proposed or approved (four eyes) an account of the
  vendor that is *active* (where a payment run would pay this invoice) or *pending* (where it
  would pay once approved), whenever that was.

The window for bank details is "the account this invoice would be paid to", not a number of days
nor "since the invoice arrived", because that is the conflict an auditor looks for: a person who
put an account on the vendor's record and then approves a bill paid to it has moved money alone,
however long ago the account was set up (a fraudster is patient; a day count is a loophole).
When the account is replaced by someone else's proposal and approval, the previous pair may
approve again: their account no longer receives this vendor's money. Rejecting a proposed account
changes nothing and does not exclude; an account proposed through an API key names no person.
A small team (two or three people) may find nobody left for a vendor: then a third person, an
administrator, approves — the same answer as for an invoice its only approver entered.

Every approval path reads this one module: the invoice page (the button is replaced by the
reason), bulk approval (the invoice is left out with the reason), the API, each step of an
approval chain and a delegate (refused for their own changes and for their delegator's).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from django.utils import timezone

from audit.models import AuditEvent
from invoices.models import Invoice
from tenants.models import Tenant
from vendors.models import BankAccountStatus, VendorBankAccount

SOD_REFUSED = "You entered or last changed this invoice: someone else must approve it (segregation of duties)."
BANK_DETAILS_REFUSED = (
    "You changed this vendor's bank details on {date} ({what} account {account}) — someone else must approve "
    "this invoice (segregation of duties)."
)
_PROPOSED, _APPROVED = "proposed", "approved"

# Refusals by user id: the message the user reads.
Exclusions = dict[int, str]


def _user_id(raw: object) -> int | None:
    text = str(raw)
    return int(text) if text.isdigit() else None


def _bank_details_refusal(*, when: dt.datetime, what: str, account: str) -> str:
    day = timezone.localtime(when).date().isoformat()
    return BANK_DETAILS_REFUSED.format(date=day, what=what, account=account)


def bank_details_changers(*, tenant: Tenant, vendor_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Exclusions]:
    """For each vendor, the users who proposed or approved its active or pending bank account, each
    with the refusal naming their latest such change (one query for any number of vendors)."""
    wanted = list({vendor_id for vendor_id in vendor_ids if vendor_id is not None})
    if not wanted:
        return {}
    accounts = (
        VendorBankAccount.objects.for_tenant(tenant)
        .filter(vendor_id__in=wanted, status__in=[BankAccountStatus.ACTIVE, BankAccountStatus.PENDING])
        .order_by()
        .values_list(
            "vendor_id", "status", "account_mask", "proposed_by_kind", "proposed_by_id", "created_at",
            "decided_by_id", "decided_at",
        )
    )  # fmt: skip
    latest: dict[uuid.UUID, dict[int, tuple[dt.datetime, str, str]]] = {vendor_id: {} for vendor_id in wanted}
    for vendor_id, status, mask, proposed_kind, proposed_id, proposed_at, decided_id, decided_at in accounts:
        facts = []
        if proposed_kind == "user":
            facts.append((_user_id(proposed_id), proposed_at, _PROPOSED))
        # Only a person approves an account (vendors.bank_accounts: NEEDS_PERSON).
        if status == BankAccountStatus.ACTIVE and decided_at is not None:
            facts.append((_user_id(decided_id), decided_at, _APPROVED))
        changes = latest[vendor_id]
        for user_id, when, what in facts:
            if user_id is not None and (user_id not in changes or changes[user_id][0] < when):
                changes[user_id] = (when, what, mask)
    return {
        vendor_id: {
            user_id: _bank_details_refusal(when=when, what=what, account=mask)
            for user_id, (when, what, mask) in changes.items()
        }
        for vendor_id, changes in latest.items()
    }


def _entered_or_edited(*, tenant: Tenant, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, set[int]]:
    """The user actors of each invoice's "created" and "updated" audit events (one query)."""
    rows = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(
            entity_type="invoice",
            entity_id__in=[str(invoice_id) for invoice_id in invoice_ids],
            action__in=("created", "updated"),
            actor_kind="user",
        )
        .order_by()
        .values_list("entity_id", "actor_id")
        .distinct()
    )
    found: dict[uuid.UUID, set[int]] = {invoice_id: set() for invoice_id in invoice_ids}
    for entity_id, actor_id in rows:
        user_id = _user_id(actor_id)
        if user_id is not None:
            found[uuid.UUID(str(entity_id))].add(user_id)
    return found


def invoice_approval_exclusions_many(*, tenant: Tenant, invoices: Iterable[Invoice]) -> dict[uuid.UUID, Exclusions]:
    """`invoice_approval_exclusions` for many invoices in two queries (bulk approval's plan)."""
    chosen = list(invoices)
    entered = _entered_or_edited(tenant=tenant, invoice_ids=[invoice.pk for invoice in chosen])
    changers = bank_details_changers(tenant=tenant, vendor_ids=[invoice.vendor_id for invoice in chosen])
    exclusions: dict[uuid.UUID, Exclusions] = {}
    for invoice in chosen:
        refusals: Exclusions = dict(changers.get(invoice.vendor_id, {})) if invoice.vendor_id else {}
        # Entering the invoice is the nearer reason: it wins when both apply.
        refusals.update(dict.fromkeys(entered[invoice.pk], SOD_REFUSED))
        exclusions[invoice.pk] = refusals
    return exclusions


def invoice_approval_exclusions(*, tenant: Tenant, invoice: Invoice) -> Exclusions:
    """The users who may not approve this invoice (module docstring), by id, each with the refusal
    they read on the page, in the API's error and beside the invoice left out of a bulk approval."""
    return invoice_approval_exclusions_many(tenant=tenant, invoices=[invoice])[invoice.pk]
