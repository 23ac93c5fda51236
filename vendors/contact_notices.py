"""The vendor's own contacts told of a change of its bank details (#19 item 2: "the vendor's other
contacts can be notified").

A forged "our bank details have changed" letter works because the vendor never hears of it. So
when a change of a vendor's account is proposed, and again when it is approved, every contact of
that vendor flagged "tell about bank-detail changes" (VendorContact.notify_bank_changes) gets an
e-mail, by the mechanism that tells the tenant's administrators (vendors.bank_account_notices):
Django's mail backend, after the change commits, so a change rolled back tells no one. A rejected
proposal is not sent to them: it changes nothing of theirs, and they heard of the proposal.

The e-mail shows the account masked (`****4300`, with BIC and bank), never in full, nor the
tenant's internal comment or a link into the app (the reader is outside the tenant). It asks the
reader, if they did not ask for the change, to call the buyer on a number they already know for
it, not one given in the e-mail or the request.

Who counts as one of the "other" contacts: every flagged contact, the one whose letter or e-mail
the request seemed to come from included. Recon does not record which contact asked (the
proposal's comment is free text), and even if it did, a forged request borrows a real contact's
name and address: that contact is exactly the person who must hear of a change they did not
make, and one who did make it loses nothing by a confirmation. The person who acted in Recon is a
member of the tenant, not a contact, so nobody is skipped as "the one who acted".

Each contact gets a message of their own (no contact sees another's address). Once the messages
are handed to the mail backend, one audit event on the vendor (`contacts_told_of_bank_change`,
by Recon itself) records who was told and who could not be reached, with the account (masked)
and the change: the vendor's page lists these (`bank_change_notices`). A mail server that
refuses is logged, and the contact is listed as not reached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.actors import system_actor
from tenants.models import Tenant
from vendors.models import BankAccountStatus, Vendor, VendorBankAccount, VendorContact

logger = logging.getLogger(__name__)

TOLD_ACTION = "contacts_told_of_bank_change"
NOTICE_ACTOR = system_actor("bank-account-notices")

CONTACT_SUBJECT = {
    BankAccountStatus.PENDING: "{buyer}: a change of the bank account we pay {vendor} to ({mask})",
    BankAccountStatus.ACTIVE: "{buyer}: we now pay {vendor} to the bank account {mask}",
}
CONTACT_BODY = {
    BankAccountStatus.PENDING: (
        "Dear {name},\n\n"
        "{buyer} has been asked to change the bank account it pays {vendor} to. The new account is "
        "{account}{replacing}.\n"
        "Nothing is paid to it until a second person at {buyer} has approved the change and a waiting "
        "period has passed."
    ),
    BankAccountStatus.ACTIVE: (
        "Dear {name},\n\n"
        "{buyer} has approved the change of the bank account it pays {vendor} to: payments go to "
        "{account} from {usable_from}{replacing}."
    ),
}
CONTACT_WARNING = (
    "If you did not ask for this change, call {buyer} at once on a phone number you already know for "
    "them (not one given in this e-mail or in the request), so that they can stop it.\n\n"
    "You receive this because you are a contact of {vendor} at {buyer}."
)
CHANGE_WORDS = {BankAccountStatus.PENDING: "proposed", BankAccountStatus.ACTIVE: "approved"}


def bank_account_shown(account: VendorBankAccount) -> str:
    """The account as a notice shows it: masked, with its BIC and bank name when known."""
    return " · ".join(part for part in (account.account_mask, account.bic, account.bank_name) if part)


def _message(
    *, tenant: Tenant, vendor: Vendor, account: VendorBankAccount, contact: VendorContact, replaced_mask: str
) -> EmailMessage:
    status = BankAccountStatus(account.status)
    words = {
        "buyer": tenant.name,
        "vendor": vendor.name,
        "name": contact.name,
        "mask": account.account_mask,
        "account": bank_account_shown(account),
        "usable_from": timezone.localtime(account.usable_from).date().isoformat() if account.usable_from else "",
        "replacing": f" (instead of {replaced_mask})" if replaced_mask else "",
    }
    body = CONTACT_BODY[status].format(**words) + "\n\n" + CONTACT_WARNING.format(**words) + "\n"
    return EmailMessage(
        subject=CONTACT_SUBJECT[status].format(**words),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
    )


def _person(contact: VendorContact) -> str:
    # As a person reads it on the vendor's page and in the audit trail (the contact may be removed later).
    return f"{contact.name} ({contact.email})"


def bank_account_contacts_notify(
    *, tenant: Tenant, account: VendorBankAccount, replaced_mask: str = ""
) -> list[VendorContact]:
    """Inside the transaction of a proposal or an approval of `account`: after it commits, e-mail
    the vendor's contacts flagged for bank-detail changes, then record who was told. Returns the
    contacts to be told (none for a rejection, or a vendor with no flagged contact)."""
    if account.status not in CONTACT_SUBJECT:
        return []
    contacts = list(
        VendorContact.objects.for_tenant(tenant).filter(vendor_id=account.vendor_id, notify_bank_changes=True)
    )
    if not contacts:
        return []
    vendor = account.vendor
    messages = [
        (contact, _message(tenant=tenant, vendor=vendor, account=account, contact=contact, replaced_mask=replaced_mask))
        for contact in contacts
    ]
    change = {"account": account.account_mask, "account_id": str(account.pk), "change": CHANGE_WORDS[account.status]}

    def send() -> None:
        told: list[str] = []
        not_told: list[str] = []
        try:
            connection = get_connection()
        except Exception:  # a backend that cannot even be set up: nobody is reached
            logger.exception("No mail connection for the bank account notices of vendor %s", vendor.pk)
            connection = None
        for contact, message in messages:
            try:
                if connection is None:
                    raise ConnectionError("no mail connection")
                message.connection = connection
                message.send()
                told.append(_person(contact))
            except Exception:  # the change is committed and audited; the refusal is logged and listed
                logger.exception("Bank account notice to contact %s of vendor %s not sent", contact.pk, vendor.pk)
                not_told.append(_person(contact))
        try:
            with transaction.atomic():
                audit_record(
                    tenant=tenant,
                    actor=NOTICE_ACTOR,
                    entity_type="vendor",
                    entity_id=vendor.pk,
                    action=TOLD_ACTION,
                    after=change | {"told": told, "not_told": not_told},
                )
        except Exception:  # the e-mails are out; only the record of them is missing, and logged
            logger.exception("The bank account notices of vendor %s could not be recorded", vendor.pk)

    transaction.on_commit(send)
    return contacts


@dataclass(frozen=True)
class BankChangeNotice:
    """One notice as the vendor's page lists it: when, which change, who was told, who not."""

    occurred_at: Any
    account: str
    change: str
    told: list[str]  # "Anna Berg (anna@vendor.example)"
    not_told: list[str]


def bank_change_notices(*, tenant: Tenant, vendor: Vendor, limit: int = 10) -> list[BankChangeNotice]:
    """The vendor's latest notices to its contacts, newest first (from the audit trail)."""
    events = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="vendor", entity_id=str(vendor.pk), action=TOLD_ACTION)
        .order_by("-occurred_at")[:limit]
    )
    return [
        BankChangeNotice(
            occurred_at=event.occurred_at,
            account=str((event.after or {}).get("account", "")),
            change=str((event.after or {}).get("change", "")),
            told=[str(person) for person in (event.after or {}).get("told", [])],
            not_told=[str(person) for person in (event.after or {}).get("not_told", [])],
        )
        for event in events
    ]
