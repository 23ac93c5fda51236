"""The settings' audit trail as an administrator reads it: who changed what, from which value to
which, with the settings' own labels (the forms' field labels) and amounts in their currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q

from audit.models import NEWEST_FIRST, AuditEvent
from audit.selectors import audit_event_list
from core.labels import code_humanized, code_label
from core.money import CURRENCY_EXPONENTS, format_minor
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from recon_site.tenant_settings.approval_rule_form import SEVERITY_CHOICES, ApprovalRuleEditForm
from recon_site.tenant_settings.forms import (
    CONFIDENCE_FIELDS,
    CurrencyLimitForm,
    MatchingSettingsForm,
    VendorTolerancesForm,
)
from tenants.models import Role, Tenant

# What each settings entity is called on the page (the audit trail's own entity types).
ENTITY_LABELS = {
    "tenant_settings": "Matching settings",
    "currency_limit": "Amount limits",
    "membership": "User",
    "api_key": "API key",
    "tenant": "Organisation",
    "vendor": "Vendor tolerances",
    "approval_rule": "Approval rule",
}
# The settings' events: every change of these entities, and of a vendor its tolerances only.
SETTINGS_EVENTS = Q(entity_type__in=[name for name in ENTITY_LABELS if name != "vendor"]) | Q(
    entity_type="vendor", action="tolerance_changed"
)
AMOUNT_KEYS = frozenset({"auto_approve_below", "escalate_from", "write_off_max", "amount_from", "amount_below"})
KEY_LABELS: dict[str, str] = {
    **{
        name: str(field.label)
        for form in (MatchingSettingsForm, VendorTolerancesForm)
        for name, field in form.base_fields.items()
    },
    **{name: str(field.label) for name, field in CurrencyLimitForm.base_fields.items()},
    **{name: str(field.label) for name, field in ApprovalRuleEditForm.base_fields.items()},
    "chain": "Chain",
    "username": "User name",
    "email": "Email",
    "role": "Role",
    "is_active": "Active",
    "name": "Name",
    "display_prefix": "Key starts with",
    "has_webhook_secret": "Own webhook secret",
    "rotated_at": "Rotated at",
}
# Keys an event carries for the record that a person does not need to read (ids, timestamps).
# An approval rule's `steps` and `vendor_id` are read as its `chain` and `vendor` (names, not ids).
HIDDEN_KEYS = frozenset({"id", "user_id", "created_at", "updated_at", "tenant", "steps", "vendor_id"})


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class TrailEntry:
    event: AuditEvent
    subject: str
    changes: tuple[Change, ...]


# Keys whose values are codes, read through their family's labels.
VALUE_LABELS: dict[str, Mapping[str, str]] = {
    "reject_on": DISCREPANCY_TYPE_LABELS,
    "role": dict(Role.choices),
    "min_severity": dict(SEVERITY_CHOICES),
}


def _shown(key: str, value: Any, currency: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    labels = VALUE_LABELS.get(key, {})
    if isinstance(value, list):
        return ", ".join(code_label(code=str(item), labels=labels) or "" for item in value) or "none"
    if labels:
        return code_label(code=str(value), labels=labels) or ""
    if key in AMOUNT_KEYS and currency in CURRENCY_EXPONENTS and isinstance(value, int):
        return f"{format_minor(value, currency)} {currency}"
    return str(value)


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[Change, ...]:
    currency = str(after.get("currency") or before.get("currency") or "")
    keys = [key for key in {**before, **after} if key not in HIDDEN_KEYS and before.get(key) != after.get(key)]
    changes = []
    for key in keys:
        old, new = before.get(key), after.get(key)
        if key in CONFIDENCE_FIELDS:  # stored as a fraction, typed and read as a percentage
            old, new = (
                None if v is None else f"{format((Decimal(str(v)) * 100).normalize(), 'f')} %" for v in (old, new)
            )
        shown_before, shown_after = _shown(key, old, currency), _shown(key, new, currency)
        if shown_before != shown_after:  # a blank that was absent before ("" after None) changed nothing
            changes.append(Change(KEY_LABELS.get(key) or code_humanized(key), shown_before, shown_after))
    return tuple(changes)


def settings_trail(*, tenant: Tenant, every_event: bool = False) -> Any:
    """The tenant's audit events, newest first: the settings' own, or every one."""
    events = audit_event_list(tenant=tenant)
    if not every_event:
        events = events.filter(SETTINGS_EVENTS)
    return events.order_by(*NEWEST_FIRST)


def trail_entries(*, events: list[AuditEvent]) -> list[TrailEntry]:
    """Each event with its subject named and its changes listed, for the page."""
    entries = []
    for event in events:
        before, after = event.before or {}, event.after or {}
        if event.entity_type == "approval_rule":  # a rule is named by its name, not its band's currency
            name = after.get("name") or before.get("name") or ""
        else:
            name = after.get("username") or before.get("username") or after.get("currency") or after.get("name") or ""
        subject = " · ".join(
            filter(None, [ENTITY_LABELS.get(event.entity_type) or code_humanized(event.entity_type), str(name)])
        )
        entries.append(TrailEntry(event=event, subject=subject, changes=_changes(before, after)))
    return entries
