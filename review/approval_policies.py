"""Writes of the approval policy and of delegations (review.approvals reads them), each audited in
its own transaction: an administrator's rules (added, edited in place, removed, moved up), a member's delegation
of their approvals to another member for a date range (given, revoked)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from core.actors import Actor
from core.exceptions import DocumentInvalid, NotFoundError
from invoices.models import InvoiceStatus
from review.approvals import rule_snapshot, step_label
from review.models import (
    ApprovalDelegation,
    ApprovalMode,
    ApprovalRule,
    ApprovalStep,
    ApprovalStepUser,
    InvoiceApproval,
)
from review.people import active_membership
from tenants.models import Role, Tenant
from vendors.models import Vendor

NAME_REQUIRED = "Give the rule a name."
BAND_NEEDS_CURRENCY = "An amount band is in one currency: choose it."
BAND_EMPTY = "“Below” must be more than “From”."
AMOUNT_NEGATIVE = "Amounts cannot be negative."
STEPS_REQUIRED = "A rule needs at least one step."
STEP_NEEDS_WHO = "Step {position}: choose a role or name at least one user."
STEP_ROLE_OR_USERS = "Step {position}: choose a role or users, not both."
UNKNOWN_VENDOR = "Not one of your vendors."
TOO_LONG = "At most {limit} characters."
RULE_NOT_FOUND = "No approval rule with this id."
POSITION_OUT_OF_RANGE = "Choose a place from 1 to {count}: the policy has {count} rules."
DELEGATION_DATES = "The last day cannot be before the first."
DELEGATION_PAST = "A delegation cannot end in the past."
DELEGATION_TO_ONESELF = "Choose another member: you cannot delegate to yourself."
DELEGATION_NOT_FOUND = "No delegation of yours with this id."
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class StepSpec:
    """A step as typed: a role, or named users (ids of active members), any or all of them."""

    role: str = ""
    user_ids: Sequence[Any] = ()
    mode: str = ApprovalMode.ANY


@dataclass(frozen=True)
class RuleSpec:
    name: str
    steps: Sequence[StepSpec] = field(default_factory=tuple)
    currency: str = ""
    amount_from: int | None = None
    amount_below: int | None = None
    vendor_id: Any = None
    vendor_category: str = ""
    cost_centre: str = ""
    min_severity: str = ""
    escalate_after_days: int | None = None


def _rule_refusals(*, tenant: Tenant, spec: RuleSpec) -> dict[str, list[str]]:
    refusals: dict[str, list[str]] = {}
    if not spec.name.strip():
        refusals["name"] = [NAME_REQUIRED]
    if (spec.amount_from is not None or spec.amount_below is not None) and not spec.currency:
        refusals["currency"] = [BAND_NEEDS_CURRENCY]
    for name in ("amount_from", "amount_below"):
        if (getattr(spec, name) or 0) < 0:
            refusals[name] = [AMOUNT_NEGATIVE]
    if spec.amount_from is not None and spec.amount_below is not None and spec.amount_below <= spec.amount_from:
        refusals.setdefault("amount_below", []).append(BAND_EMPTY)
    if spec.vendor_id and not Vendor.objects.for_tenant(tenant).filter(pk=spec.vendor_id).exists():
        refusals["vendor"] = [UNKNOWN_VENDOR]
    for name in ("vendor_category", "cost_centre"):
        limit = ApprovalRule._meta.get_field(name).max_length or 0
        if len(getattr(spec, name).strip()) > limit:
            refusals[name] = [TOO_LONG.format(limit=limit)]
    if spec.min_severity not in ("", *SEVERITIES):
        refusals["min_severity"] = [f"Unknown severity {spec.min_severity!r}."]
    if not spec.steps:
        refusals["steps"] = [STEPS_REQUIRED]
    for position, step in enumerate(spec.steps, start=1):
        if step.role and step.user_ids:
            refusals.setdefault("steps", []).append(STEP_ROLE_OR_USERS.format(position=position))
        elif not step.role and not step.user_ids:
            refusals.setdefault("steps", []).append(STEP_NEEDS_WHO.format(position=position))
        elif step.role and step.role not in Role.values:
            refusals.setdefault("steps", []).append(f"Step {position}: unknown role {step.role!r}.")
        if step.mode not in ApprovalMode.values:
            refusals.setdefault("steps", []).append(f"Step {position}: unknown mode {step.mode!r}.")
    return refusals


def _rule_snapshot(rule: ApprovalRule) -> dict[str, Any]:
    """What a rule's audit event records: the rule (review.approvals.rule_snapshot, ids) with its
    vendor's name and its chain as the settings page reads it, so the trail reads without ids."""
    snapshot = rule_snapshot(rule)
    user_ids = {int(user_id) for step in snapshot["steps"] for user_id in step["users"]}
    names = dict(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", "username")) if user_ids else {}
    chain = [
        step_label(mode=step["mode"], role=step["role"], names=sorted(names.get(int(u), u) for u in step["users"]))
        for step in snapshot["steps"]
    ]
    vendor = Vendor.objects.for_tenant(rule.tenant_id).filter(pk=rule.vendor_id).first() if rule.vendor_id else None
    steps = "; ".join(f"{number}. {label}" for number, label in enumerate(chain, start=1))
    return snapshot | {"vendor": vendor.name if vendor else "", "chain": steps}


def _step_users(*, tenant: Tenant, spec: RuleSpec, refusals: dict[str, list[str]]) -> list[list[Any]]:
    """The users each step names, each an active member (else a refusal of `steps`)."""
    users = []
    for step in spec.steps:
        try:
            users.append([active_membership(tenant, user_id, field="steps").user for user_id in step.user_ids])
        except DocumentInvalid as exc:
            refusals.setdefault("steps", []).extend(exc.details.get("steps", []))
            users.append([])
    return users


def _refused(refusals: dict[str, list[str]]) -> DocumentInvalid:
    return DocumentInvalid(" ".join(m for messages in refusals.values() for m in messages), details=refusals)


def _steps_write(*, tenant: Tenant, rule: ApprovalRule, spec: RuleSpec, users: list[list[Any]]) -> None:
    for position, (step_spec, step_users) in enumerate(zip(spec.steps, users, strict=True), start=1):
        approval_step = ApprovalStep.objects.create(
            tenant=tenant, rule=rule, position=position, role=step_spec.role, mode=step_spec.mode
        )
        ApprovalStepUser.objects.bulk_create(
            ApprovalStepUser(tenant=tenant, step=approval_step, user=user) for user in step_users
        )


def _criteria(spec: RuleSpec) -> dict[str, Any]:
    """The rule's fields as a spec gives them, normalized as they are kept."""
    return {
        "name": spec.name.strip(),
        "currency": spec.currency.upper(),
        "amount_from": spec.amount_from,
        "amount_below": spec.amount_below,
        "vendor_id": spec.vendor_id or None,
        "vendor_category": " ".join(spec.vendor_category.split()),
        "cost_centre": spec.cost_centre.strip(),
        "min_severity": spec.min_severity,
        "escalate_after_days": spec.escalate_after_days,
    }


def approval_rule_create(*, tenant: Tenant, actor: Actor, spec: RuleSpec) -> ApprovalRule:
    """Add a rule at the end of the policy (the last one tried), with its steps, audited."""
    refusals = _rule_refusals(tenant=tenant, spec=spec)
    users = _step_users(tenant=tenant, spec=spec, refusals=refusals)
    if refusals:
        raise _refused(refusals)
    with transaction.atomic():
        # The rules locked: two administrators adding at once queue up for the next position.
        positions = (
            ApprovalRule.objects.for_tenant(tenant).select_for_update(no_key=True).values_list("position", flat=True)
        )
        last = max(positions, default=0)
        rule = ApprovalRule.objects.create(tenant=tenant, position=last + 1, **_criteria(spec))
        _steps_write(tenant=tenant, rule=rule, spec=spec, users=users)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="approval_rule",
            entity_id=rule.pk,
            action="created",
            after=_rule_snapshot(rule),
        )
    return rule


def rule_spec_of(rule: ApprovalRule) -> RuleSpec:
    """A rule as a spec (what an edit starts from: the API's PATCH, the settings page's form)."""
    return RuleSpec(
        name=rule.name,
        steps=[
            StepSpec(role=step.role, user_ids=[entry.user_id for entry in step.named_users.all()], mode=step.mode)
            for step in rule.steps.all().order_by("position")
        ],
        currency=rule.currency,
        amount_from=rule.amount_from,
        amount_below=rule.amount_below,
        vendor_id=rule.vendor_id,
        vendor_category=rule.vendor_category,
        cost_centre=rule.cost_centre,
        min_severity=rule.min_severity,
        escalate_after_days=rule.escalate_after_days,
    )


def _reorder(*, tenant: Tenant, rules: list[ApprovalRule], rule: ApprovalRule, place: int) -> None:
    """Put `rule` at `place` (1-based) of the policy's order; the others keep theirs around it."""
    order = [other for other in rules if other.pk != rule.pk]
    order.insert(place - 1, rule)
    targets = sorted(other.position for other in rules)
    moved = [(other, target) for other, target in zip(order, targets, strict=True) if other.position != target]
    # Through free positions: (tenant, position) is unique at every statement.
    free = max(targets, default=0) + 1
    scoped = ApprovalRule.objects.for_tenant(tenant)
    for offset, (other, _) in enumerate(moved):
        scoped.filter(pk=other.pk).update(position=free + offset)
    for other, target in moved:
        scoped.filter(pk=other.pk).update(position=target)
        other.position = target


def approval_rule_update(
    *, tenant: Tenant, actor: Actor, rule_id: Any, spec: RuleSpec, place: int | None = None
) -> ApprovalRule:
    """Edit a rule in place: its criteria, its chain of steps and (`place`, 1-based) where it stands
    in the policy's order, validated as on create (each refusal names its field, nothing is
    written), audited "updated" with the rule before and after. Another tenant's rule: not found.

    Invoices already in the rule's chain (a step approved in their current review round) keep the
    chain they started with (review.approvals keeps each step approval's rule snapshot); the
    edited rule decides the chains that start after it. An edit that changes nothing records
    nothing."""
    refusals = _rule_refusals(tenant=tenant, spec=spec)
    users = _step_users(tenant=tenant, spec=spec, refusals=refusals)
    with transaction.atomic():
        rules = list(ApprovalRule.objects.for_tenant(tenant).select_for_update(no_key=True).order_by("position", "id"))
        rule = next((candidate for candidate in rules if str(candidate.pk) == str(rule_id)), None)
        if rule is None:
            raise NotFoundError(RULE_NOT_FOUND)
        if place is not None and not 1 <= place <= len(rules):
            refusals["position"] = [POSITION_OUT_OF_RANGE.format(count=len(rules))]
        if refusals:
            raise _refused(refusals)
        before = _rule_snapshot(rule)
        for name, value in _criteria(spec).items():
            setattr(rule, name, value)
        rule.save()
        if [(s.role, s.mode, sorted(s.user_ids)) for s in spec.steps] != [
            (s.role, s.mode, sorted(s.user_ids)) for s in rule_spec_of(rule).steps
        ]:
            ApprovalStep.objects.for_tenant(tenant).filter(rule=rule).delete()
            _steps_write(tenant=tenant, rule=rule, spec=spec, users=users)
        if place is not None and rules.index(rule) != place - 1:
            _reorder(tenant=tenant, rules=rules, rule=rule, place=place)
        rule.refresh_from_db()
        after = _rule_snapshot(rule)
        if after != before:
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="approval_rule",
                entity_id=rule.pk,
                action="updated",
                before=before,
                after=after,
            )
    return rule


def invoices_mid_chain(*, tenant: Tenant, rule: ApprovalRule) -> int:
    """How many invoices in review have a step of this rule's chain approved: those keep the chain
    they started with when the rule is edited (what the edit page says)."""
    return (
        InvoiceApproval.objects.for_tenant(tenant)
        .filter(rule=rule, invoice__status=InvoiceStatus.PENDING_REVIEW)
        .order_by()
        .values("invoice_id")
        .distinct()
        .count()
    )


def _rule_locked(tenant: Tenant, rule_id: Any) -> ApprovalRule:
    rule = ApprovalRule.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=rule_id).first()
    if rule is None:
        raise NotFoundError(RULE_NOT_FOUND)
    return rule


def approval_rule_delete(*, tenant: Tenant, actor: Actor, rule_id: Any) -> None:
    """Remove a rule. Invoices mid-chain under it are taken by the next rule that fits (their
    approvals of this rule no longer count; the audit trail keeps them)."""
    with transaction.atomic():
        rule = _rule_locked(tenant, rule_id)
        before = _rule_snapshot(rule)
        rule.delete()
        audit_record(
            tenant=tenant, actor=actor, entity_type="approval_rule", entity_id=rule_id, action="deleted", before=before
        )


def approval_rule_move_up(*, tenant: Tenant, actor: Actor, rule_id: Any) -> None:
    """Swap a rule with the one tried before it (the first rule that fits decides)."""
    with transaction.atomic():
        rules = list(ApprovalRule.objects.for_tenant(tenant).select_for_update(no_key=True).order_by("position", "id"))
        index = next((i for i, rule in enumerate(rules) if str(rule.pk) == str(rule_id)), None)
        if index is None:
            raise NotFoundError(RULE_NOT_FOUND)
        if index == 0:
            return
        rule, previous = rules[index], rules[index - 1]
        old, new = rule.position, previous.position
        # Through a free position: (tenant, position) is unique at every statement.
        free = max(r.position for r in rules) + 1
        ApprovalRule.objects.for_tenant(tenant).filter(pk=rule.pk).update(position=free)
        ApprovalRule.objects.for_tenant(tenant).filter(pk=previous.pk).update(position=old)
        ApprovalRule.objects.for_tenant(tenant).filter(pk=rule.pk).update(position=new)
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="approval_rule",
            entity_id=rule.pk,
            action="updated",
            before={"position": old},
            after={"position": new},
        )


def approval_rules_list(*, tenant: Tenant) -> list[ApprovalRule]:
    return list(
        ApprovalRule.objects.for_tenant(tenant)
        .select_related("vendor")
        .prefetch_related("steps__named_users__user")
        .order_by("position", "id")
    )


def delegation_create(
    *,
    tenant: Tenant,
    actor: Actor,
    delegator_id: Any,
    delegate_id: Any,
    starts_on: dt.date,
    ends_on: dt.date,
    delegate_field: str = "delegate",
) -> ApprovalDelegation:
    """`delegator_id` lets `delegate_id` (an active member) approve for them over the dates given.
    A refusal names its field (`delegate_field`: the form's or the API's name for the delegate)."""
    refusals: dict[str, list[str]] = {}
    try:
        delegate = active_membership(tenant, delegate_id, field=delegate_field).user
    except DocumentInvalid as exc:
        refusals.update(exc.details)
        delegate = None
    if delegate is not None and str(delegate.pk) == str(delegator_id):
        refusals[delegate_field] = [DELEGATION_TO_ONESELF]
    if ends_on < starts_on:
        refusals["ends_on"] = [DELEGATION_DATES]
    elif ends_on < timezone.localdate():
        refusals["ends_on"] = [DELEGATION_PAST]
    if refusals or delegate is None:
        raise DocumentInvalid(" ".join(m for messages in refusals.values() for m in messages), details=refusals)
    with transaction.atomic():
        delegation = ApprovalDelegation.objects.create(
            tenant=tenant, delegator_id=int(delegator_id), delegate=delegate, starts_on=starts_on, ends_on=ends_on
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="approval_delegation",
            entity_id=delegation.pk,
            action="created",
            after={
                "delegator": str(delegator_id),
                "delegate": str(delegate.pk),
                "delegate_name": delegate.get_username(),
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat(),
            },
        )
    return delegation


def delegation_revoke(*, tenant: Tenant, actor: Actor, delegator_id: Any, delegation_id: Any) -> ApprovalDelegation:
    """End one of `delegator_id`'s delegations now (a revoked one stays revoked: safe to repeat)."""
    with transaction.atomic():
        delegation = (
            ApprovalDelegation.objects.for_tenant(tenant)
            .select_for_update(no_key=True)
            .filter(pk=delegation_id, delegator_id=delegator_id)
            .first()
        )
        if delegation is None:
            raise NotFoundError(DELEGATION_NOT_FOUND)
        if delegation.revoked_at is None:
            delegation.revoked_at = timezone.now()
            delegation.save(update_fields=["revoked_at"])
            audit_record(
                tenant=tenant,
                actor=actor,
                entity_type="approval_delegation",
                entity_id=delegation.pk,
                action="revoked",
                before={"revoked_at": None},
                after={"revoked_at": delegation.revoked_at.isoformat()},
            )
    return delegation


def delegations_of(*, tenant: Tenant, user_id: Any) -> list[ApprovalDelegation]:
    """A member's delegations, given and received, newest first."""
    return list(
        ApprovalDelegation.objects.for_tenant(tenant)
        .filter(Q(delegator_id=user_id) | Q(delegate_id=user_id))
        .select_related("delegator", "delegate")
        .order_by("-starts_on", "-created_at")
    )
