"""A vendor's bank accounts under dual control (issue #19 item 2; DESIGN.md §6a).

Changing where a vendor's money goes is the classic payment fraud (a forged "our bank details
have changed" letter), so:

- **Proposed, not saved**: adding or changing an account creates it `pending`, proposed by one
  person (or an API client), audited (`bank_account_proposed`). One change waits at a time.
- **Four eyes**: a *different* person — an approver or an administrator, signed in — approves or
  rejects it. The proposer is refused (`SAME_PERSON`), and so is an API key: a key is an
  integration, not a second person.
- **Cooling-off**: approved, it becomes `active` with `usable_from = approved_at + the tenant's
  bank_account_cooling_off_days` (Settings → Matching, 3 by default); the account it replaces is
  `retired` in the same transaction. Until `usable_from` no payment run pays to it:
  `vendor_bank_accounts_payable` (vendors.selectors) is what runs ask.
- **Never shown in full**: the number is kept encrypted with its keyed hash (core.bank_accounts,
  the statements' mechanism); pages, the API, the admin and audit events show `account_mask`
  (`****4300`) with the BIC and bank name.

Every status change goes through `vendor_bank_account_transition` (BANK_ACCOUNT_LIFECYCLE) with
its audit event in the same transaction.

Each proposal and decision is e-mailed to the tenant's other administrators after it commits, and
each proposal and approval to the vendor's contacts flagged for it (vendors.bank_account_notices,
vendors.contact_notices). The change is in the audit trail and on the vendor's page (its "Bank
accounts" card lists every proposal, decision and replacement; its "Contacts" card, who was told).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from schwifty import BIC, IBAN
from schwifty import exceptions as schwifty_errors
from schwifty.registry import get_iban_spec
from stdnum import bic as stdnum_bic

from audit.services import audit_record
from core.actors import Actor
from core.bank_accounts import account_hash, encrypt_account, mask_account, normalize_account
from core.exceptions import ConflictError, DocumentInvalid, DomainError
from core.state_machine import StateMachine
from core.text import nul_error
from tenants.models import Role, Tenant
from tenants.selectors import tenant_settings_get
from vendors.bank_account_notices import bank_account_change_notify
from vendors.models import BankAccountKind, BankAccountStatus, Vendor, VendorBankAccount

A = BankAccountStatus

BANK_ACCOUNT_LIFECYCLE = StateMachine(
    entity="Bank account",
    moves={
        A.PENDING: frozenset({A.ACTIVE, A.REJECTED}),
        A.ACTIVE: frozenset({A.RETIRED}),
        A.REJECTED: frozenset(),
        A.RETIRED: frozenset(),
    },
)
# The audit action of each move: a timeline reads "Bank account approved", not "Status changed".
_TRANSITION_ACTIONS = {
    A.ACTIVE: "bank_account_approved",
    A.REJECTED: "bank_account_rejected",
    A.RETIRED: "bank_account_retired",
}

PROPOSER_ROLES = frozenset({Role.CLERK, Role.ADMIN})
DECIDER_ROLES = frozenset({Role.APPROVER, Role.ADMIN})

COMMENT_MAX = 2000
IBAN_OR_LOCAL = "Enter an IBAN, or an account number with its bank code and country."
IBAN_AND_LOCAL = "Enter either an IBAN or a local account number, not both."
IBAN_CHECKSUM = "This IBAN's check digits are wrong: a digit is mistyped or two are swapped."
IBAN_LENGTH = "This IBAN has the wrong number of characters for its country."
IBAN_COUNTRY = "An IBAN starts with a country code, and {country!r} is not one that uses IBANs."
IBAN_STRUCTURE = "This is not an IBAN of its country: its bank code or account number has the wrong form."
BIC_INVALID = "A BIC has 8 or 11 letters and digits (bank, country, location, branch), e.g. ABNANL2A."
BIC_COUNTRY = "The BIC is of a bank in {bic_country}, the IBAN of an account in {iban_country}."
ACCOUNT_NUMBER_INVALID = "An account number has 1 to 34 letters and digits (spaces and dashes are ignored)."
BANK_CODE_REQUIRED = "A local account needs its bank code (sort code, routing number, bank number)."
BANK_CODE_INVALID = "A bank code has 1 to 15 letters and digits."
COUNTRY_INVALID = "Enter the bank's country as a two-letter code, such as US, GB or CH."
COUNTRY_USES_IBAN = "Bank accounts in {country} have IBANs: enter the IBAN instead."
COMMENT_TOO_LONG = f"At most {COMMENT_MAX} characters."
REJECT_REASON_REQUIRED = "Say why the account is rejected: the person who proposed it will read it."
ALREADY_PENDING = "A change of this vendor's bank account ({mask}) is already waiting for approval."
ALREADY_ACTIVE = "This is already the vendor's bank account; nothing was changed."
SAME_PERSON = "You proposed this account: another person must approve or reject it (four eyes)."
NEEDS_PERSON = "A bank account is approved or rejected by a person signed in, not by an API key."
NEEDS_DECIDER = "Only an approver or an administrator can approve or reject a bank account."
NEEDS_PROPOSER = "Only a clerk or an administrator can add or change a bank account."
NOT_PENDING = "This account is not waiting for approval any more ({status}); nothing was changed."


class BankAccountForbidden(DomainError):
    status_code = 403
    code = "permission_denied"


@dataclass(frozen=True)
class ParsedAccount:
    """A checked account: the number to keep (normalized) and what may be shown of it."""

    kind: str
    number: str
    country: str
    bank_code: str
    bic: str
    bank_name: str


def _refused(field: str, message: str) -> DocumentInvalid:
    return DocumentInvalid(message, details={field: [message]})


def _text(value: Any, field: str, *, limit: int, too_long: str) -> str:
    text = value if isinstance(value, str) else ""
    if problem := nul_error(text):
        raise _refused(field, problem)
    if len(text) > limit:  # longer than any real value (a 10 kB paste): refused as what it is not
        raise _refused(field, too_long)
    return text.strip()


def _compact(text: str) -> str:
    return normalize_account(text.replace("-", "").replace(".", ""))


def bank_account_parsed(
    *, iban: str = "", bic: str = "", account_number: str = "", bank_code: str = "", country: str = ""
) -> ParsedAccount:
    """Check what a person typed: an IBAN (schwifty: country, length, check digits, the country's
    structure) with an optional BIC, or a local account (number, bank code, country) where the
    country has no IBANs. Each refusal names its field."""
    iban = _text(iban, "iban", limit=64, too_long=IBAN_LENGTH)
    bic = _text(bic, "bic", limit=32, too_long=BIC_INVALID)
    account_number = _text(account_number, "account_number", limit=64, too_long=ACCOUNT_NUMBER_INVALID)
    bank_code = _text(bank_code, "bank_code", limit=32, too_long=BANK_CODE_INVALID)
    country = _text(country, "country", limit=16, too_long=COUNTRY_INVALID)
    if iban and account_number:
        raise _refused("iban", IBAN_AND_LOCAL)
    if not iban and not account_number:
        raise _refused("iban", IBAN_OR_LOCAL)
    bic_checked = _bic_checked(bic) if bic else None
    if iban:
        return _iban_parsed(iban, bic_checked)
    number = _compact(account_number)
    if not number.isalnum() or not number.isascii() or len(number) > 34:
        raise _refused("account_number", ACCOUNT_NUMBER_INVALID)
    code = _compact(bank_code)
    if not code:
        raise _refused("bank_code", BANK_CODE_REQUIRED)
    if not code.isalnum() or not code.isascii() or len(code) > 15:
        raise _refused("bank_code", BANK_CODE_INVALID)
    country = country.upper()
    if not _is_country(country):
        raise _refused("country", COUNTRY_INVALID)
    if _uses_iban(country):
        raise _refused("iban", COUNTRY_USES_IBAN.format(country=country))
    return ParsedAccount(
        kind=BankAccountKind.LOCAL,
        number=number,
        country=country,
        bank_code=code,
        bic=str(bic_checked.compact) if bic_checked else "",
        bank_name=_bank_name(bic_checked),
    )


def _is_country(country: str) -> bool:
    # An ISO 3166 alpha-2 code: python-stdnum holds the list to check a BIC's country letters (its
    # only public door to it); pycountry, which has it too, is not a declared dependency.
    return len(country) == 2 and country.isalpha() and stdnum_bic.is_valid(f"AAAA{country}AA")


def _uses_iban(country: str) -> bool:
    try:
        return not get_iban_spec(country).aspirational
    except schwifty_errors.SchwiftyException:
        return False


def _bic_checked(bic: str) -> BIC:
    try:
        return BIC(_compact(bic))
    except (schwifty_errors.SchwiftyException, ValueError) as exc:
        raise _refused("bic", BIC_INVALID) from exc


def _bank_name(bic: BIC | None) -> str:
    names = list(getattr(bic, "bank_names", []) or []) if bic is not None else []
    return str(names[0])[:255] if names else ""


def _iban_parsed(text: str, bic: BIC | None) -> ParsedAccount:
    compact = _compact(text)
    try:
        iban = IBAN(compact)
    except schwifty_errors.InvalidCountryCode as exc:
        raise _refused("iban", IBAN_COUNTRY.format(country=compact[:2])) from exc
    except schwifty_errors.InvalidLength as exc:
        raise _refused("iban", IBAN_LENGTH) from exc
    except schwifty_errors.InvalidChecksumDigits as exc:
        raise _refused("iban", IBAN_CHECKSUM) from exc
    except (schwifty_errors.SchwiftyException, ValueError) as exc:
        raise _refused("iban", IBAN_STRUCTURE) from exc
    if bic is not None and bic.country_code != iban.country_code:
        message = BIC_COUNTRY.format(bic_country=bic.country_code, iban_country=iban.country_code)
        raise _refused("bic", message)
    derived = bic if bic is not None else _derived_bic(iban)
    return ParsedAccount(
        kind=BankAccountKind.IBAN,
        number=str(iban.compact),
        country=str(iban.country_code),
        bank_code="",
        bic=str(derived.compact) if derived is not None else "",
        bank_name=_bank_name(derived) or str(getattr(iban, "bank_name", "") or "")[:255],
    )


def _derived_bic(iban: IBAN) -> BIC | None:
    try:
        return iban.bic
    except (schwifty_errors.SchwiftyException, ValueError):  # a bank registry without this bank code
        return None


def _comment_checked(comment: Any, *, field: str = "comment", required_message: str = "") -> str:
    text = comment if isinstance(comment, str) else ""
    if problem := nul_error(text):
        raise _refused(field, problem)
    text = text.strip()
    if required_message and not text:
        raise _refused(field, required_message)
    if len(text) > COMMENT_MAX:
        raise _refused(field, COMMENT_TOO_LONG)
    return text


def _shown(account: VendorBankAccount) -> dict[str, Any]:
    """What an audit event keeps of an account: never the number, only what a page may show."""
    return {
        "vendor_id": str(account.vendor_id),
        "account": account.account_mask,
        "kind": account.kind,
        "country": account.country,
        "bic": account.bic,
        "bank_name": account.bank_name,
        "status": account.status,
    }


def vendor_bank_account_propose(
    *,
    tenant: Tenant,
    vendor: Vendor,
    actor: Actor,
    role: str | None = None,
    iban: str = "",
    bic: str = "",
    account_number: str = "",
    bank_code: str = "",
    country: str = "",
    comment: str = "",
) -> VendorBankAccount:
    """Propose a new account for the vendor (a first one, or a change): `pending` until another
    person decides. `role` is the proposer's membership role (None: an API key, which may propose
    as an ERP connector does). Refused: bad input (by field), a change already waiting (409), the
    vendor's current account again (409)."""
    if actor.kind == "user" and role not in PROPOSER_ROLES:
        raise BankAccountForbidden(NEEDS_PROPOSER)
    parsed = bank_account_parsed(
        iban=iban, bic=bic, account_number=account_number, bank_code=bank_code, country=country
    )
    comment = _comment_checked(comment)
    digest = account_hash(parsed.number)
    with transaction.atomic():
        # The vendor's row lock orders concurrent proposals for it (one waits, then sees the other's).
        Vendor.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=vendor.pk)
        current = VendorBankAccount.objects.for_tenant(tenant).filter(vendor=vendor, status__in=[A.PENDING, A.ACTIVE])
        for other in current:
            if other.status == A.PENDING:
                raise ConflictError(ALREADY_PENDING.format(mask=other.account_mask), details={"pending": str(other.pk)})
            if other.account_hash == digest and other.bic == parsed.bic:
                raise ConflictError(ALREADY_ACTIVE, details={"active": str(other.pk)})
        try:
            account = VendorBankAccount.objects.create(
                tenant=tenant,
                vendor=vendor,
                status=A.PENDING,
                kind=parsed.kind,
                account_encrypted=encrypt_account(parsed.number),
                account_hash=digest,
                account_mask=mask_account(parsed.number),
                country=parsed.country,
                bank_code=parsed.bank_code,
                bic=parsed.bic,
                bank_name=parsed.bank_name,
                proposed_by_kind=actor.kind,
                proposed_by_id=str(actor.id),
                proposed_by_label=(actor.label or str(actor.id))[:150],
                comment=comment,
            )
        except IntegrityError as exc:  # the one-pending constraint: a proposal committed meanwhile
            raise ConflictError(ALREADY_PENDING.format(mask="")) from exc
        after = _shown(account) | {"comment": comment}
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="vendor_bank_account",
            entity_id=account.pk,
            action="bank_account_proposed",
            after=after,
        )
        bank_account_change_notify(tenant=tenant, account=account, actor=actor)
    return account


def vendor_bank_account_transition(
    *,
    tenant: Tenant,
    account: VendorBankAccount,
    to_status: str,
    actor: Actor,
    expected_status: str | None = None,
    comment: str = "",
    context: dict[str, Any] | None = None,
) -> VendorBankAccount:
    """The one function that moves a bank account (BANK_ACCOUNT_LIFECYCLE), with its audit event in
    the same transaction. Becoming `active` sets `usable_from` (now + the tenant's cooling-off
    days); a decision records who made it."""
    with transaction.atomic():
        locked = VendorBankAccount.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=account.pk)
        BANK_ACCOUNT_LIFECYCLE.check_expected(locked.status, expected_status)
        BANK_ACCOUNT_LIFECYCLE.check(locked.status, to_status)
        before = _shown(locked)
        now = timezone.now()
        locked.status = to_status
        if to_status in (A.ACTIVE, A.REJECTED):
            locked.decided_by_id = str(actor.id)
            locked.decided_by_label = (actor.label or str(actor.id))[:150]
            locked.decided_at = now
            locked.decision_comment = comment
        if to_status == A.ACTIVE:
            days = tenant_settings_get(tenant=tenant).bank_account_cooling_off_days
            locked.usable_from = now + dt.timedelta(days=days)
        if to_status == A.RETIRED:
            locked.retired_at = now
        locked.save()
        after = _shown(locked) | (context or {})
        if comment:
            after["comment"] = comment
        if locked.usable_from is not None and to_status == A.ACTIVE:
            after["usable_from"] = locked.usable_from.isoformat()
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="vendor_bank_account",
            entity_id=locked.pk,
            action=_TRANSITION_ACTIONS[A(to_status)],
            before=before,
            after=after,
        )
    return locked


def _decider_checked(account: VendorBankAccount, *, actor: Actor, role: str | None) -> None:
    if actor.kind != "user":
        raise BankAccountForbidden(NEEDS_PERSON)
    if role not in DECIDER_ROLES:
        raise BankAccountForbidden(NEEDS_DECIDER)
    if account.proposed_by_kind == actor.kind and account.proposed_by_id == str(actor.id):
        raise BankAccountForbidden(SAME_PERSON)


def _pending_locked(tenant: Tenant, account: VendorBankAccount) -> VendorBankAccount:
    locked = VendorBankAccount.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=account.pk)
    if locked.status != A.PENDING:
        raise ConflictError(NOT_PENDING.format(status=A(locked.status).label), details={"status": locked.status})
    return locked


def vendor_bank_account_approve(
    *, tenant: Tenant, account: VendorBankAccount, actor: Actor, role: str | None, comment: str = ""
) -> VendorBankAccount:
    """A second person approves a pending account: it becomes active (payable from `usable_from`)
    and the account it replaces is retired, in one transaction. Refused for its proposer, an API
    key, a clerk, and an account no longer pending."""
    comment = _comment_checked(comment)
    with transaction.atomic():
        Vendor.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=account.vendor_id)
        locked = _pending_locked(tenant, account)
        _decider_checked(locked, actor=actor, role=role)
        replaced = (
            VendorBankAccount.objects.for_tenant(tenant).filter(vendor_id=locked.vendor_id, status=A.ACTIVE).first()
        )
        if replaced is not None:
            vendor_bank_account_transition(
                tenant=tenant,
                account=replaced,
                to_status=A.RETIRED,
                actor=actor,
                expected_status=A.ACTIVE,
                context={"replaced_by": str(locked.pk)},
            )
            locked.replaces = replaced
            locked.save(update_fields=["replaces"])
        context = {"replaces": str(replaced.pk), "replaces_account": replaced.account_mask} if replaced else {}
        approved = vendor_bank_account_transition(
            tenant=tenant,
            account=locked,
            to_status=A.ACTIVE,
            actor=actor,
            expected_status=A.PENDING,
            comment=comment,
            context=context | {"proposed_by": locked.proposed_by_label},
        )
        bank_account_change_notify(tenant=tenant, account=approved, actor=actor)
    return approved


def vendor_bank_account_reject(
    *, tenant: Tenant, account: VendorBankAccount, actor: Actor, role: str | None, comment: str
) -> VendorBankAccount:
    """A second person rejects a pending account, saying why; the vendor's current account stays."""
    comment = _comment_checked(comment, required_message=REJECT_REASON_REQUIRED)
    with transaction.atomic():
        locked = _pending_locked(tenant, account)
        _decider_checked(locked, actor=actor, role=role)
        rejected = vendor_bank_account_transition(
            tenant=tenant,
            account=locked,
            to_status=A.REJECTED,
            actor=actor,
            expected_status=A.PENDING,
            comment=comment,
            context={"proposed_by": locked.proposed_by_label},
        )
        bank_account_change_notify(tenant=tenant, account=rejected, actor=actor)
    return rejected
