"""Who hears of a change of a vendor's bank details (#19 item 2: "the vendor's other contacts can
be notified").

Two kinds of people: the vendor's own contacts flagged for it (vendors.contact_notices: of a
proposal and of its approval), and, here, the tenant's active administrators, those who can stop
a forged "our bank details have changed" letter: by e-mail, through Django's backend as the daily digest is (console in
development, SMTP in a deployment), after the change commits, so a change rolled back tells no
one. They hear of a proposal (so that someone besides the proposer looks at it before the
cooling-off ends) and of its approval or rejection. Whoever acted is not told of their own act; a
member without an e-mail address is skipped. The app's in-app notifications (review.people) point
at an invoice and sit above vendors in the layers, so they are not used for this.

A mail server that refuses is logged and changes nothing: the change itself is already committed,
audited and on the vendor's page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from core.actors import Actor
from tenants.models import Membership, Role, Tenant
from vendors.contact_notices import bank_account_contacts_notify, bank_account_shown
from vendors.models import BankAccountStatus, VendorBankAccount

logger = logging.getLogger(__name__)

NOTICE_SUBJECT = "[Recon] {vendor}: bank account {mask} {what}"
NOTICE_WHAT = {
    BankAccountStatus.PENDING: "proposed",
    BankAccountStatus.ACTIVE: "approved",
    BankAccountStatus.REJECTED: "rejected",
}
NOTICE_BODY = {
    BankAccountStatus.PENDING: (
        "{actor} proposed a new bank account for {vendor}: {account}{replacing}.\n"
        "{comment}"
        "Nothing is paid to it until another person approves it and its cooling-off period ends.\n"
        "If your organisation did not expect this change, check it with {vendor} on a phone number from your "
        "own records (not from the letter or e-mail that announced it) before anyone approves it."
    ),
    BankAccountStatus.ACTIVE: (
        "{actor} approved the bank account {account} of {vendor}{replacing}.\n"
        "{comment}"
        "Payment runs pay to it from {usable_from}, after the cooling-off period."
    ),
    BankAccountStatus.REJECTED: (
        "{actor} rejected the bank account {account} proposed for {vendor}; its current account is unchanged.\n"
        "{comment}"
    ),
}


def _recipients(tenant: Tenant, actor: Actor) -> list[str]:
    admins = Membership.objects.for_tenant(tenant).filter(is_active=True, role=Role.ADMIN).select_related("user")
    acting = str(actor.id) if actor.kind == "user" else None
    return sorted(
        {membership.user.email for membership in admins if membership.user.email and str(membership.user_id) != acting}
    )


def _message(*, account: VendorBankAccount, actor: Actor, replaced_mask: str) -> tuple[str, str]:
    vendor = account.vendor
    status = BankAccountStatus(account.status)
    what = NOTICE_WHAT[status]
    comment = account.decision_comment if status != BankAccountStatus.PENDING else account.comment
    details: dict[str, Any] = {
        "actor": actor.label or str(actor.id),
        "vendor": vendor.name,
        "account": bank_account_shown(account),
        "replacing": f", to replace {replaced_mask}" if replaced_mask else "",
        "comment": f"Comment: “{comment}”\n" if comment else "",
        "usable_from": account.usable_from.date().isoformat() if account.usable_from else "",
    }
    link = settings.APP_BASE_URL.rstrip("/") + reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk})
    body = NOTICE_BODY[status].format(**details) + f"\n\nThe vendor's bank accounts: {link}#bank-accounts\n"
    return NOTICE_SUBJECT.format(vendor=vendor.name, mask=account.account_mask, what=what), body


def bank_account_change_notify(*, tenant: Tenant, account: VendorBankAccount, actor: Actor) -> None:
    """After the caller's transaction commits, e-mail the tenant's other administrators that
    `account` was proposed, approved or rejected by `actor` (its current status says which), and
    the vendor's flagged contacts that it was proposed or approved (vendors.contact_notices)."""
    if account.status not in NOTICE_WHAT:
        return
    replaced = account.replaces if account.status == BankAccountStatus.ACTIVE else None
    if account.status == BankAccountStatus.PENDING:
        replaced = (
            VendorBankAccount.objects.for_tenant(tenant)
            .filter(vendor_id=account.vendor_id, status=BankAccountStatus.ACTIVE)
            .first()
        )
    replaced_mask = replaced.account_mask if replaced else ""
    bank_account_contacts_notify(tenant=tenant, account=account, replaced_mask=replaced_mask)
    recipients = _recipients(tenant, actor)
    if not recipients:
        return
    subject, body = _message(account=account, actor=actor, replaced_mask=replaced_mask)

    def send() -> None:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:  # the change is committed and audited; a mail server's refusal is logged
            logger.exception("Bank account notice for vendor %s could not be sent", account.vendor_id)

    transaction.on_commit(send)
