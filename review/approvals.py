"""Approval chains (DESIGN.md §6a): which chain an invoice in review needs, who may approve its
current step, and the step approvals that lead to `approved`.

- The tenant's policy is its ordered `ApprovalRule`s (review.approval_policies edits them). The
  first rule that takes an invoice (amount band in the invoice's currency, vendor, vendor
  category, cost centre of its PO lines, worst discrepancy severity of its latest match) gives
  its chain; an invoice no rule takes needs one
  reviewer's approval, exactly as before policies existed. Auto-approval by matching never comes
  here: an invoice the engine approves needs no chain.
- An `approve` of `invoice_review` on an invoice with a chain records one step approval
  (`InvoiceApproval`, audited "step_approved" naming the approver and, for a delegate, whom
  they act for); the approval that completes the last step is the transition to `approved`
  through the one transition function, its audit event carrying the same names. Until then the
  invoice stays in review.
- Segregation of duties (review.segregation): who entered or last edited the invoice, or changed
  its vendor's bank details, may not approve it, and is told why; a person approves at most one
  step of a chain.
- An invoice already in a chain (a step approved in this review round) keeps the chain it started
  with: each step approval keeps the rule as it was (`InvoiceApproval.rule_snapshot`), so an
  administrator editing the rule (review.approval_policies) changes the chains of the invoices
  that start after the edit, not of those half-way through.
- Delegation: a member may approve a step that names (by name or role) someone who delegated
  their approvals to them for today (`ApprovalDelegation`).
- A chain still incomplete `escalate_after_days` after the invoice came into review goes to the
  escalated queue (`approvals_escalate_stale`, on the hold escalation's schedule).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_record
from core.actors import Actor, system_actor
from core.exceptions import DomainError
from invoices.lifecycle import InvoiceMove, invoice_transition_chunked
from invoices.models import Invoice, InvoiceLine, InvoiceStatus, ReviewQueue
from matching.models import Discrepancy
from purchasing.models import PurchaseOrderLine
from review.models import ApprovalDelegation, ApprovalMode, ApprovalRule, InvoiceApproval
from review.people import active_members
from review.segregation import Exclusions, invoice_approval_exclusions
from tenants.models import Role, Tenant
from vendors.models import Vendor

SEVERITY_RANK = {"": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
APPROVAL_ESCALATION_ACTOR = system_actor("approval_escalation")

NOT_YOUR_STEP = "You may not approve step {position} of this invoice's chain ({step}): {who} may."
ALREADY_APPROVED_STEP = "You have already approved a step of this invoice's chain: the next step needs someone else."
CHAIN_ESCALATED = "Approval chain not complete {days} days after the invoice came into review."


class ApprovalRefused(DomainError):
    status_code = 403
    code = "permission_denied"


def _username(user: Any) -> str:
    return str(user.get_username())


@dataclass
class StepState:
    """One step of an invoice's chain, as it stands."""

    position: int
    mode: str
    role: str
    named: list[Any]  # users the step names (empty: the role's members)
    approvals: list[InvoiceApproval] = field(default_factory=list)
    done: bool = False
    # Whose approval the step takes now (users, by id); for "all of", those not yet heard from.
    awaited: list[Any] = field(default_factory=list)

    @property
    def label(self) -> str:
        return step_label(mode=self.mode, role=self.role, names=[_username(user) for user in self.named])


def step_label(*, mode: str, role: str, names: list[str]) -> str:
    """How a step reads: "Any of anna, bob", "All of anna, bob", "Any approver", "Every approver"."""
    if names:
        return f"{'Any' if mode == ApprovalMode.ANY else 'All'} of {', '.join(names)}"
    return f"{'Any' if mode == ApprovalMode.ANY else 'Every'} {_role_label(role).lower()}"


def _role_label(role: str) -> str:
    return Role(role).label if role in Role.values else role


@dataclass
class ApprovalChain:
    """The chain an invoice needs and how far it got (`current` is None once complete)."""

    rule: ApprovalRule
    steps: list[StepState]
    round_key: str
    excluded: Exclusions  # user id -> why they may not approve (review.segregation)
    # The rule as this chain has it (rule_snapshot): the rule's name and steps when the invoice's
    # first step was approved, or now when none was.
    snapshot: dict[str, Any] = field(default_factory=dict)
    # The rule was edited after the invoice's chain started: it keeps the chain it started with.
    kept: bool = False

    @property
    def name(self) -> str:
        return str(self.snapshot.get("name") or self.rule.name)

    @property
    def current(self) -> StepState | None:
        return next((step for step in self.steps if not step.done), None)

    @property
    def complete(self) -> bool:
        return self.current is None

    @property
    def may_approve_now(self) -> list[Any]:
        """Who may approve the current step (delegates aside): awaited, not excluded, not heard."""
        step, barred = self.current, set(self.excluded) | self.approvers()
        return [user for user in step.awaited if user.pk not in barred] if step else []

    def approvers(self) -> set[int]:
        """Everyone who approved a step already, in person or through a delegate."""
        found: set[int] = set()
        for step in self.steps:
            for approval in step.approvals:
                found.add(approval.approver_id)
                if approval.on_behalf_of_id:
                    found.add(approval.on_behalf_of_id)
        return found


def worst_severity(*, tenant: Tenant, invoice: Invoice) -> str:
    """The worst discrepancy severity of the invoice's latest match ("" when none)."""
    if invoice.latest_match_id is None:
        return ""
    found = Discrepancy.objects.for_tenant(tenant).filter(match_result_id=invoice.latest_match_id)
    return max(found.values_list("severity", flat=True), key=lambda s: SEVERITY_RANK.get(s, 0), default="")


def invoice_cost_centres(*, tenant: Tenant, invoice: Invoice) -> frozenset[str]:
    """The cost centres an invoice is booked to, case-folded: those of the PO lines its lines were
    matched to by its latest match; when none of its lines was matched (a header-only invoice, a
    line-level mismatch), those of every line of the PO it resolved to; none without a PO. The
    lines' own cost centres decide when they are known, so an invoice billing only the
    warehouse's line of a shared PO is not taken by the office's rule."""
    matched = (
        InvoiceLine.objects.for_tenant(tenant)
        .filter(invoice_id=invoice.pk, matched_po_line__isnull=False)
        .order_by()
        .values_list("matched_po_line__cost_centre", flat=True)
    )
    centres = list(matched)
    if not centres and invoice.purchase_order_id is not None:
        centres = list(
            PurchaseOrderLine.objects.for_tenant(tenant)
            .filter(purchase_order_id=invoice.purchase_order_id)
            .order_by()
            .values_list("cost_centre", flat=True)
        )
    return frozenset(centre.casefold() for centre in centres if centre)


def rule_takes(
    rule: ApprovalRule,
    *,
    invoice: Invoice,
    severity: str,
    vendor_category: str = "",
    cost_centres: frozenset[str] = frozenset(),
) -> bool:
    """Whether `rule` takes `invoice` (whose worst discrepancy severity is `severity`, whose vendor
    is in `vendor_category`, booked to `cost_centres`, case-folded: invoice_cost_centres)."""
    if rule.vendor_category and rule.vendor_category.casefold() != vendor_category.casefold():
        return False
    if rule.cost_centre and rule.cost_centre.casefold() not in cost_centres:
        return False
    if rule.currency and rule.currency != invoice.currency:
        return False
    if rule.amount_from is not None and invoice.total_amount < rule.amount_from:
        return False
    if rule.amount_below is not None and invoice.total_amount >= rule.amount_below:
        return False
    if rule.vendor_id is not None and rule.vendor_id != invoice.vendor_id:
        return False
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(rule.min_severity, 0)


def approval_rule_for(*, tenant: Tenant, invoice: Invoice) -> ApprovalRule | None:
    """The first rule of the tenant's policy that takes the invoice; None: one reviewer's approval."""
    rules = list(ApprovalRule.objects.for_tenant(tenant).order_by("position", "id"))
    if not rules:
        return None
    severity = worst_severity(tenant=tenant, invoice=invoice)
    # The category and the cost centres are read only when a rule asks for them.
    category = ""
    if invoice.vendor_id is not None and any(rule.vendor_category for rule in rules):
        category = Vendor.objects.for_tenant(tenant).values_list("category", flat=True).get(pk=invoice.vendor_id)
    centres = (
        invoice_cost_centres(tenant=tenant, invoice=invoice) if any(rule.cost_centre for rule in rules) else frozenset()
    )
    return next(
        (
            rule
            for rule in rules
            if rule_takes(rule, invoice=invoice, severity=severity, vendor_category=category, cost_centres=centres)
        ),
        None,
    )


def review_round_key(*, tenant: Tenant, invoice: Invoice) -> tuple[str, dt.datetime | None]:
    """The audit event of the invoice's latest arrival in review (its id and time), or ("", None).

    Approvals of an earlier round (before it was disputed, rejected or matched again) do not
    count; an escalation (review → review) is not an arrival.
    """
    arrivals = (
        AuditEvent.objects.for_tenant(tenant)
        .filter(entity_type="invoice", entity_id=str(invoice.pk), action="transition")
        .filter(after__status=InvoiceStatus.PENDING_REVIEW)
        .exclude(before__status=InvoiceStatus.PENDING_REVIEW)
        .order_by("-occurred_at", "-id")
        .values_list("id", "occurred_at")
        .first()
    )
    if arrivals is None:
        return "", None
    return str(arrivals[0]), arrivals[1]


def _members_by_role(tenant: Tenant) -> dict[str, list[Any]]:
    by_role: dict[str, list[Any]] = {}
    for membership in active_members(tenant):
        by_role.setdefault(membership.role, []).append(membership.user)
    return by_role


def _step_candidates(step: StepState, by_role: dict[str, list[Any]]) -> list[Any]:
    """The users a step names: its named users, or its role's active members (administrators
    may act for any role step "any of"; "all of" a role means each member holding that role)."""
    if step.named:
        return step.named
    candidates = list(by_role.get(step.role, []))
    if step.mode == ApprovalMode.ANY and step.role != Role.ADMIN:
        candidates += by_role.get(Role.ADMIN, [])
    return sorted(candidates, key=_username)


def rule_snapshot(rule: ApprovalRule) -> dict[str, Any]:
    """A rule as it stands: what its audit events record (before/after) and what each step approval
    keeps (`InvoiceApproval.rule_snapshot`), so a chain can be rebuilt as it was when it started."""
    return {
        "name": rule.name,
        "position": rule.position,
        "currency": rule.currency,
        "amount_from": rule.amount_from,
        "amount_below": rule.amount_below,
        "vendor_id": str(rule.vendor_id) if rule.vendor_id else None,
        "vendor_category": rule.vendor_category,
        "cost_centre": rule.cost_centre,
        "min_severity": rule.min_severity,
        "escalate_after_days": rule.escalate_after_days,
        "steps": [
            {
                "position": step.position,
                "role": step.role,
                "mode": step.mode,
                "users": sorted(str(entry.user_id) for entry in step.named_users.all()),
            }
            for step in rule.steps.all().order_by("position")
        ],
    }


def _what_it_asks(snapshot: dict[str, Any]) -> dict[str, Any]:
    # Moving a rule up or down changes which invoices reach it, not the chain of one that did.
    return {key: value for key, value in snapshot.items() if key != "position"}


def _started_chain(*, tenant: Tenant, invoice: Invoice, round_key: str) -> InvoiceApproval | None:
    """The first step approval of this review round under a rule that still exists, if any."""
    return (
        InvoiceApproval.objects.for_tenant(tenant)
        .filter(invoice_id=invoice.pk, round_key=round_key, rule__isnull=False)
        .select_related("rule")
        .order_by("created_at", "id")
        .first()
    )


def chain_rule_of(*, tenant: Tenant, invoice: Invoice) -> ApprovalRule | None:
    """The rule whose chain the invoice needs: the one its chain started under in this review
    round (kept, even if edited since), else the first rule that takes it now (approval_rule_for)."""
    round_key, _ = review_round_key(tenant=tenant, invoice=invoice)
    started = _started_chain(tenant=tenant, invoice=invoice, round_key=round_key)
    if started is not None and started.rule is not None:
        return started.rule
    return approval_rule_for(tenant=tenant, invoice=invoice)


def _step_states(snapshot: dict[str, Any], approvals: list[InvoiceApproval], tenant: Tenant) -> list[StepState]:
    user_ids = {int(user_id) for step in snapshot["steps"] for user_id in step["users"]}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    by_role = _members_by_role(tenant)
    states = []
    for step in snapshot["steps"]:
        named = sorted((users[int(u)] for u in step["users"] if int(u) in users), key=_username)
        state = StepState(position=step["position"], mode=step["mode"], role=step["role"], named=named)
        state.approvals = [approval for approval in approvals if approval.step_position == state.position]
        heard = {approval.on_behalf_of_id or approval.approver_id for approval in state.approvals}
        candidates = _step_candidates(state, by_role)
        if state.mode == ApprovalMode.ALL:
            state.awaited = [user for user in candidates if user.pk not in heard]
            state.done = bool(state.approvals) and not state.awaited
        else:
            state.done = bool(state.approvals)
            state.awaited = [] if state.done else candidates
        states.append(state)
    return states


def invoice_approval_chain(
    *, tenant: Tenant, invoice: Invoice, rule: ApprovalRule | None = None
) -> ApprovalChain | None:
    """The chain the invoice needs now, with the step approvals of this review round; None when
    no rule takes it (one reviewer's approval, as without a policy). An invoice whose chain started
    (a step approved this round) keeps that rule's chain as it was then (`kept` when edited since)."""
    round_key, _ = review_round_key(tenant=tenant, invoice=invoice)
    started = _started_chain(tenant=tenant, invoice=invoice, round_key=round_key) if rule is None else None
    if started is not None and started.rule is not None:
        rule, kept_snapshot = started.rule, started.rule_snapshot
    else:
        rule, kept_snapshot = rule or approval_rule_for(tenant=tenant, invoice=invoice), {}
    if rule is None:
        return None
    now = rule_snapshot(rule)
    # An approval given before snapshots were kept has none: its rule as it is now stands for it.
    snapshot = kept_snapshot or now
    approvals = list(
        InvoiceApproval.objects.for_tenant(tenant)
        .filter(invoice_id=invoice.pk, rule=rule, round_key=round_key)
        .select_related("approver", "on_behalf_of")
        .order_by("created_at", "id")
    )
    return ApprovalChain(
        rule=rule,
        steps=_step_states(snapshot, approvals, tenant),
        round_key=round_key,
        excluded=invoice_approval_exclusions(tenant=tenant, invoice=invoice),
        snapshot=snapshot,
        kept=_what_it_asks(snapshot) != _what_it_asks(now),
    )


def delegators_of(*, tenant: Tenant, delegate_id: int, on: dt.date) -> list[int]:
    """Who delegated their approvals to `delegate_id` for the day `on` (not revoked)."""
    return list(
        ApprovalDelegation.objects.for_tenant(tenant)
        .filter(delegate_id=delegate_id, starts_on__lte=on, ends_on__gte=on, revoked_at__isnull=True)
        .order_by("created_at")
        .values_list("delegator_id", flat=True)
    )


@dataclass(frozen=True)
class StepGrant:
    """How a user may approve the current step: in person (`on_behalf_of` None) or for a delegator."""

    user_id: int
    on_behalf_of: Any | None = None  # the delegator (a user)


def step_grant(*, tenant: Tenant, chain: ApprovalChain, user_id: int, on: dt.date | None = None) -> StepGrant | None:
    """Whether `user_id` may approve the chain's current step, and as whom; None if not.

    Nobody excluded by segregation of duties, nobody twice in one chain, and for a delegate the
    delegator must be awaited by the step and allowed too.
    """
    step = chain.current
    if step is None or user_id in chain.excluded or user_id in chain.approvers():
        return None
    awaited = {user.pk: user for user in step.awaited}
    if user_id in awaited:
        return StepGrant(user_id=user_id)
    for delegator_id in delegators_of(tenant=tenant, delegate_id=user_id, on=on or timezone.localdate()):
        if delegator_id in awaited and delegator_id not in chain.excluded and delegator_id not in chain.approvers():
            return StepGrant(user_id=user_id, on_behalf_of=awaited[delegator_id])
    return None


def _refusal(*, chain: ApprovalChain, user_id: int) -> ApprovalRefused:
    step = chain.current
    assert step is not None
    if user_id in chain.excluded:
        return ApprovalRefused(chain.excluded[user_id])
    if user_id in chain.approvers():
        return ApprovalRefused(ALREADY_APPROVED_STEP)
    allowed = chain.may_approve_now
    who = ", ".join(_username(user) for user in allowed) or "nobody allowed"
    return ApprovalRefused(
        NOT_YOUR_STEP.format(position=step.position, step=step.label, who=who),
        details={"step": step.position, "may_approve": [_username(user) for user in allowed]},
    )


def chain_step_record(
    *, tenant: Tenant, invoice: Invoice, chain: ApprovalChain, actor: Actor, comment: str
) -> tuple[StepState, StepGrant, bool]:
    """Record the acting user's approval of the current step (in the caller's transaction, on the
    locked invoice). Returns the step, the grant and whether the chain is now complete; the
    caller makes the move to approved when it is. The last step's audit event is that move's."""
    user_id = int(actor.id) if actor.kind == "user" else None
    step = chain.current
    assert step is not None
    grant = step_grant(tenant=tenant, chain=chain, user_id=user_id) if user_id is not None else None
    if grant is None:
        if user_id is None:
            raise ApprovalRefused(NOT_YOUR_STEP.format(position=step.position, step=step.label, who="a member"))
        raise _refusal(chain=chain, user_id=user_id)
    approval = InvoiceApproval.objects.create(
        tenant=tenant,
        invoice_id=invoice.pk,
        rule=chain.rule,
        step_position=step.position,
        round_key=chain.round_key,
        approver_id=grant.user_id,
        on_behalf_of=grant.on_behalf_of,
        comment=comment,
        rule_snapshot=chain.snapshot,
    )
    step.approvals.append(approval)
    heard = {a.on_behalf_of_id or a.approver_id for a in step.approvals}
    step.awaited = [user for user in step.awaited if user.pk not in heard] if step.mode == ApprovalMode.ALL else []
    step.done = not step.awaited
    complete = chain.complete
    if not complete:
        audit_record(
            tenant=tenant,
            actor=actor,
            entity_type="invoice",
            entity_id=invoice.pk,
            action="step_approved",
            after=step_context(chain=chain, step=step, grant=grant, actor=actor, comment=comment),
        )
    return step, grant, complete


def step_context(
    *, chain: ApprovalChain, step: StepState, grant: StepGrant, actor: Actor, comment: str = ""
) -> dict[str, Any]:
    """What a step approval's audit event says: the rule, the step, the approver and for whom."""
    context: dict[str, Any] = {
        "approval_rule": chain.name,
        "approval_step": step.position,
        "approval_steps": len(chain.steps),
        "approved_by": actor.label,
    }
    if grant.on_behalf_of is not None:
        on_behalf = _username(grant.on_behalf_of)
        context["on_behalf_of"] = on_behalf
        context["summary"] = f"Approved by {actor.label} on behalf of {on_behalf}"
    else:
        context["summary"] = f"Approved by {actor.label}"
    if comment:
        context["reason"] = comment  # the key a transition's comment has, so timelines read both alike
    return context


def chain_read(chain: ApprovalChain) -> dict[str, Any]:
    """The chain as the API and the page show it (usernames, ISO times)."""
    current = chain.current
    return {
        "rule": chain.name,
        "kept": chain.kept,
        "complete": chain.complete,
        "current_step": current.position if current else None,
        "steps": [
            {
                "position": step.position,
                "label": step.label,
                "mode": step.mode,
                "role": step.role,
                "users": [_username(user) for user in step.named],
                "done": step.done,
                "approvals": [
                    {
                        "approver": _username(approval.approver),
                        "on_behalf_of": _username(approval.on_behalf_of) if approval.on_behalf_of_id else None,
                        "at": approval.created_at.isoformat(),
                    }
                    for approval in step.approvals
                ],
                "may_approve": [_username(user) for user in chain.may_approve_now] if step is current else [],
            }
            for step in chain.steps
        ],
    }


def approvals_escalate_stale(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Escalate invoices in the standard queue whose chain is not complete `escalate_after_days`
    after they came into review (the rule's setting; a rule without one never escalates).
    Safe to run twice: an escalated invoice is not in the standard queue. Returns how many."""
    now = now or timezone.now()
    rules = [rule for rule in ApprovalRule.objects.for_tenant(tenant) if rule.escalate_after_days is not None]
    if not rules:
        return 0
    stale: list[tuple[uuid.UUID, int]] = []
    waiting = Invoice.objects.for_tenant(tenant).filter(
        status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.STANDARD
    )
    for invoice in waiting.order_by("created_at", "id"):
        rule = chain_rule_of(tenant=tenant, invoice=invoice)
        if rule is None or rule.escalate_after_days is None:
            continue
        _, since = review_round_key(tenant=tenant, invoice=invoice)
        if (since or invoice.created_at) < now - dt.timedelta(days=rule.escalate_after_days):
            stale.append((invoice.pk, rule.escalate_after_days))
    moves = [
        InvoiceMove(
            invoice_id=invoice_id,
            to_status=InvoiceStatus.PENDING_REVIEW,
            queue=ReviewQueue.ESCALATED,
            reason=CHAIN_ESCALATED.format(days=days),
            expected_status=InvoiceStatus.PENDING_REVIEW,
            context={"approval_escalation": True},
        )
        for invoice_id, days in stale
    ]
    return invoice_transition_chunked(tenant=tenant, moves=moves, actor=APPROVAL_ESCALATION_ACTOR)


def tenants_with_escalating_rules() -> Iterable[Tenant]:
    """The active tenants whose policy escalates (the schedule's list; across tenants on purpose)."""
    tenant_ids = (
        ApprovalRule.objects.unscoped()
        .filter(escalate_after_days__isnull=False)
        .order_by()
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    return Tenant.objects.filter(pk__in=list(tenant_ids), is_active=True)
