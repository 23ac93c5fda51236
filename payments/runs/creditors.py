"""The account each vendor of a payment run is paid to, or why it cannot be paid now.

The one place a run learns about vendors' bank accounts: vendors.selectors.
vendor_bank_accounts_payable (dual control, cooling-off; "the account payable at a moment"),
with the number decrypted only here, for the file. A SEPA (EUR) transfer needs an IBAN.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from payments.accounts import decrypt_account
from tenants.models import Tenant
from vendors.selectors import vendor_bank_accounts_payable

SEPA_NEEDS_IBAN = "A euro (SEPA) transfer needs an IBAN; the vendor's account is a local account number."


@dataclass(frozen=True)
class Creditor:
    vendor_id: uuid.UUID
    account: str  # the number in clear, for the file only; "" when not payable
    bic: str
    mask: str
    reason: str  # "" when payable, else why not in the clerk's words

    @property
    def payable(self) -> bool:
        return not self.reason


def creditors_at(
    *, tenant: Tenant, vendor_ids: Iterable[uuid.UUID], at: dt.datetime, currency: str, decrypt: bool = False
) -> dict[uuid.UUID, Creditor]:
    """`{vendor id: Creditor}` at `at`; the number is decrypted only with `decrypt` (the file)."""
    answers = {}
    for vendor_id, payability in vendor_bank_accounts_payable(tenant=tenant, vendor_ids=vendor_ids, at=at).items():
        account = payability.account
        if account is None or not payability.payable:
            answers[vendor_id] = Creditor(vendor_id, "", "", "", payability.message)
            continue
        reason = SEPA_NEEDS_IBAN if currency == "EUR" and account.kind != "iban" else ""
        number = decrypt_account(account.account_encrypted) if decrypt and not reason else ""
        answers[vendor_id] = Creditor(vendor_id, number, account.bic, account.account_mask, reason)
    return answers
