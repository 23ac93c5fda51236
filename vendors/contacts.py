"""A vendor's contacts: the people at the vendor the tenant deals with (#19 item 2).

A contact has a name, an e-mail address (checked as Django checks one, kept lower-case so that an
address is one contact of a vendor), an optional phone number and role ("Accounts receivable"),
and whether they are told when the vendor's bank details change (on by default:
vendors.contact_notices). Clerks and administrators add, change and remove them (an API key may
too, as it may create vendors); each write is audited on the contact (`contact_added`,
`contact_changed`, `contact_removed`) with what it held before and after, in one transaction.
Importing or creating a vendor does not touch its contacts.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid, DomainError, DuplicateDocument
from core.text import column_max_length, nul_error
from tenants.models import Role, Tenant
from vendors.models import Vendor, VendorContact

CONTACT_EDITOR_ROLES = frozenset({Role.CLERK, Role.ADMIN})

NAME_MAX = column_max_length(VendorContact, "name")
EMAIL_MAX = column_max_length(VendorContact, "email")
PHONE_MAX = column_max_length(VendorContact, "phone")
ROLE_MAX = column_max_length(VendorContact, "role")

NAME_REQUIRED = "A contact needs a name (a letter or a digit at least)."
EMAIL_REQUIRED = "A contact needs an e-mail address."
EMAIL_INVALID = "Enter an e-mail address such as anna@example.com."
PHONE_INVALID = "A phone number has digits, spaces and + ( ) - . / only, e.g. +44 20 7946 0000."
TOO_LONG = "At most {limit} characters."
EMAIL_TAKEN = "{email} is already a contact of this vendor."
NEEDS_EDITOR = "Only a clerk or an administrator can add, change or remove a vendor's contacts."

# What the schema states of a phone number (vendors.apis), and what `_phone` enforces.
PHONE_PATTERN = r"^[0-9+()\-./ ]*$"
_PHONE = re.compile(r"[0-9+()\-./ ]*")
_HAS_DIGIT = re.compile(r"[0-9]")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]")

# The fields a contact has, as services, forms and the API name them.
CONTACT_FIELDS = ("name", "email", "phone", "role", "notify_bank_changes")


class ContactForbidden(DomainError):
    status_code = 403
    code = "permission_denied"


def _refused(field: str, message: str) -> DocumentInvalid:
    return DocumentInvalid(message, details={field: [message]})


def _text(value: Any, field: str, limit: int) -> str:
    text = value if isinstance(value, str) else ""
    if problem := nul_error(text):
        raise _refused(field, problem)
    text = " ".join(text.split())
    if len(text) > limit:
        raise _refused(field, TOO_LONG.format(limit=limit))
    return text


def email_cleaned(value: Any) -> str:
    """An address as kept: trimmed, lower-case, checked by Django's validator (field `email`)."""
    email = _text(value, "email", EMAIL_MAX).lower()
    if not email:
        raise _refused("email", EMAIL_REQUIRED)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise _refused("email", EMAIL_INVALID) from exc
    return email


def _name(value: Any) -> str:
    name = _text(value, "name", NAME_MAX)
    if not _LETTER_OR_DIGIT.search(name):
        raise _refused("name", NAME_REQUIRED)
    return name


def _phone(value: Any) -> str:
    phone = _text(value, "phone", PHONE_MAX)
    if phone and not (_PHONE.fullmatch(phone) and _HAS_DIGIT.search(phone)):
        raise _refused("phone", PHONE_INVALID)
    return phone


def contact_fields_cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    """The given fields of a contact as they are stored; a refusal names its field."""
    cleaners = {
        "name": _name,
        "email": email_cleaned,
        "phone": _phone,
        "role": lambda value: _text(value, "role", ROLE_MAX),
        "notify_bank_changes": bool,
    }
    return {name: cleaners[name](value) for name, value in changes.items() if name in cleaners}


def _editor_checked(actor: Actor, member_role: str | None) -> None:
    if actor.kind == "user" and member_role not in CONTACT_EDITOR_ROLES:
        raise ContactForbidden(NEEDS_EDITOR)


def contact_snapshot(contact: VendorContact) -> dict[str, Any]:
    """What an audit event keeps of a contact."""
    return {"vendor_id": str(contact.vendor_id), **{name: getattr(contact, name) for name in CONTACT_FIELDS}}


def _email_taken(email: str) -> DuplicateDocument:
    return DuplicateDocument(EMAIL_TAKEN.format(email=email), details={"email": [EMAIL_TAKEN.format(email=email)]})


def vendor_contact_create(
    *,
    tenant: Tenant,
    vendor: Vendor,
    actor: Actor,
    member_role: str | None,
    name: str,
    email: str,
    phone: str = "",
    role: str = "",
    notify_bank_changes: bool = True,
) -> VendorContact:
    """Add a contact to the vendor. `member_role`: the acting member's role (None for an API key).
    Refused: a member who is not a clerk or an administrator (403), bad input by field (400), an
    address the vendor already has as a contact (409)."""
    _editor_checked(actor, member_role)
    fields = contact_fields_cleaned(
        {"name": name, "email": email, "phone": phone, "role": role, "notify_bank_changes": notify_bank_changes}
    )
    scoped = VendorContact.objects.for_tenant(tenant)
    if scoped.filter(vendor=vendor, email=fields["email"]).exists():
        raise _email_taken(fields["email"])
    try:
        with transaction.atomic():
            contact = VendorContact.objects.create(tenant=tenant, vendor=vendor, **fields)
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="vendor_contact",
                entity_id=contact.pk,
                action="contact_added",
                after=contact_snapshot(contact),
            )
    except IntegrityError as exc:  # the same address added meanwhile by someone else
        raise _email_taken(fields["email"]) from exc
    return contact


def vendor_contact_update(
    *, tenant: Tenant, contact: VendorContact, actor: Actor, member_role: str | None, changes: dict[str, Any]
) -> VendorContact:
    """Change the given fields of a contact (the others stay); audited (`contact_changed`) when
    anything changes. Refused as `vendor_contact_create` is."""
    _editor_checked(actor, member_role)
    fields = contact_fields_cleaned(changes)
    try:
        with transaction.atomic():
            locked = VendorContact.objects.for_tenant(tenant).select_for_update(no_key=True).get(pk=contact.pk)
            before = contact_snapshot(locked)
            for name, value in fields.items():
                setattr(locked, name, value)
            after = contact_snapshot(locked)
            if after != before:
                locked.save(update_fields=list(fields))
                audit_record(
                    tenant=tenant,
                    actor=actor,
                    entity_type="vendor_contact",
                    entity_id=locked.pk,
                    action="contact_changed",
                    before=before,
                    after=after,
                )
    except IntegrityError as exc:  # the new address is another contact's of this vendor
        raise _email_taken(fields.get("email", "")) from exc
    return locked


def vendor_contact_delete(*, tenant: Tenant, contact: VendorContact, actor: Actor, member_role: str | None) -> None:
    """Remove a contact; the audit event (`contact_removed`) keeps what it held. Notices already
    sent to it stay on the vendor's page (they are audit events of the vendor)."""
    _editor_checked(actor, member_role)
    with transaction.atomic():
        locked = VendorContact.objects.for_tenant(tenant).select_for_update().filter(pk=contact.pk).first()
        if locked is None:  # removed meanwhile: the outcome the caller asked for
            return
        before = contact_snapshot(locked)
        locked.delete()
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="vendor_contact",
            entity_id=contact.pk,
            action="contact_removed",
            before=before,
        )
