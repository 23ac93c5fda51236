"""Approval policy and delegations API (review.approval_policies writes, audited).

Rules (`/api/approval-rules`): list, read, add at the end, edit in place (PUT, PATCH), remove,
move up: what Settings → Approvals does. Any member reads the policy (an approver sees which chains exist); changes are
for an administrator signed in or an API key (keys are minted by administrators), checked after
the rule is found, so another tenant's rule is a 404 whoever asks. Amounts are decimal strings
in the rule's currency's major units.

Delegations: list, give, revoke.

A member signed in (a session) delegates their own approvals; an API key (an HR or calendar
integration the tenant trusts) names the delegating member in `delegator_id`. Revoking names the
delegation in the body, so the address is the same for every tenant and says nothing of ids.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid
from core.http.fields import BusinessDateField, CurrencyCodeField, MoneyAmountField
from core.http.schema import error_response
from core.money import MoneyError, format_minor, to_minor
from review.approval_policies import (
    BAND_NEEDS_CURRENCY,
    SEVERITIES,
    RuleSpec,
    StepSpec,
    approval_rule_create,
    approval_rule_delete,
    approval_rule_move_up,
    approval_rule_update,
    approval_rules_list,
    delegation_create,
    delegation_revoke,
    rule_spec_of,
)
from review.models import ApprovalDelegation, ApprovalMode, ApprovalRule
from review.people import active_membership
from tenants.apis import IsTenantAdministrator
from tenants.http.views import TenantAPIMixin
from tenants.models import Role

DELEGATOR_REQUIRED = "An API key names the delegating member: delegator_id."


class DelegationOutputSerializer(serializers.ModelSerializer):
    delegator_id = serializers.IntegerField()
    delegator = serializers.CharField(source="delegator.get_username")
    delegate_id = serializers.IntegerField()
    delegate = serializers.CharField(source="delegate.get_username")

    class Meta:
        model = ApprovalDelegation
        fields = ["id", "delegator_id", "delegator", "delegate_id", "delegate", "starts_on", "ends_on", "revoked_at"]


class DelegationInputSerializer(serializers.Serializer):
    delegate_id = serializers.IntegerField(min_value=1, help_text="The member who may approve for the delegator.")
    starts_on = BusinessDateField()
    ends_on = BusinessDateField(help_text="Included; not before starts_on nor in the past.")
    delegator_id = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "With an API key: the delegating member (required, else 400). A signed-in member delegates their own."
        ),
    )


class DelegationRevokeSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    delegator_id = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text="With an API key: the delegating member (required, else 400). A signed-in member revokes their own.",
    )


class ApprovalDelegationViewSet(TenantAPIMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = DelegationOutputSerializer

    def get_queryset(self) -> Any:
        return (
            ApprovalDelegation.objects.for_tenant(self.tenant)
            .select_related("delegator", "delegate")
            .order_by("-starts_on", "-created_at", "id")
        )

    def _delegator(self, given: int | None) -> Any:
        if self.actor.kind == "user":
            return int(self.actor.id)
        if given is None:
            raise DocumentInvalid(DELEGATOR_REQUIRED, details={"delegator_id": [DELEGATOR_REQUIRED]})
        return given

    @extend_schema(
        request=DelegationInputSerializer,
        responses={201: DelegationOutputSerializer},
        description=(
            "Let `delegate_id` approve for the delegator from `starts_on` to `ends_on` (audited). Rules the "
            "schema cannot state, each a 400 naming its field: `delegator_id` and `delegate_id` are active members "
            "of your organisation and not the same person; `ends_on` is not before `starts_on` nor in the past."
        ),
    )
    def create(self, request: Request) -> Response:
        incoming = DelegationInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        delegator_id = self._delegator(data["delegator_id"])
        if self.actor.kind != "user":
            # The delegator must be a member too (its refusal names the field).
            active_membership(self.tenant, delegator_id, field="delegator_id")
        delegation = delegation_create(
            tenant=self.tenant,
            actor=self.actor,
            delegator_id=delegator_id,
            delegate_id=data["delegate_id"],
            starts_on=data["starts_on"],
            ends_on=data["ends_on"],
            delegate_field="delegate_id",
        )
        delegation = self.get_queryset().get(pk=delegation.pk)
        return Response(DelegationOutputSerializer(delegation).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DelegationRevokeSerializer,
        responses={
            200: DelegationOutputSerializer,
            404: error_response("No delegation of the delegator's with this id (another tenant's: the same)."),
        },
    )
    @action(detail=False, methods=["post"])
    def revoke(self, request: Request) -> Response:
        """Revoke a delegation (the signed-in member's own; with an API key, `delegator_id`'s)."""
        incoming = DelegationRevokeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        delegation = delegation_revoke(
            tenant=self.tenant,
            actor=self.actor,
            delegator_id=self._delegator(incoming.validated_data["delegator_id"]),
            delegation_id=incoming.validated_data["id"],
        )
        return Response(DelegationOutputSerializer(self.get_queryset().get(pk=delegation.pk)).data)


# --- approval rules --------------------------------------------------------------------------------

RULES_ADMINS_ONLY = "Only an administrator (or an API key) may change the approval policy."


class ApprovalStepSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=[("", "Named users instead"), *Role.choices],
        required=False,
        allow_blank=True,
        default="",
        help_text="A role whose members may approve the step, or empty with `user_ids`.",
    )
    user_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        default=list,
        max_length=50,
        help_text="Active members who may approve the step (instead of a role).",
    )
    mode = serializers.ChoiceField(choices=ApprovalMode.choices, default=ApprovalMode.ANY)


class ApprovalRuleOutputSerializer(serializers.ModelSerializer):
    vendor_id = serializers.UUIDField(allow_null=True)
    amount_from = serializers.SerializerMethodField(help_text="Included; major units of `currency`.")
    amount_below = serializers.SerializerMethodField(help_text="Not included; major units of `currency`.")
    steps = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRule
        fields = [
            "id",
            "position",
            "name",
            "currency",
            "amount_from",
            "amount_below",
            "vendor_id",
            "vendor_category",
            "cost_centre",
            "min_severity",
            "escalate_after_days",
            "steps",
        ]

    def get_amount_from(self, rule: ApprovalRule) -> str | None:
        return format_minor(rule.amount_from, rule.currency) if rule.amount_from is not None else None

    def get_amount_below(self, rule: ApprovalRule) -> str | None:
        return format_minor(rule.amount_below, rule.currency) if rule.amount_below is not None else None

    @extend_schema_field(ApprovalStepSerializer(many=True))
    def get_steps(self, rule: ApprovalRule) -> list[dict[str, Any]]:
        return [
            {
                "role": step.role,
                "user_ids": sorted(entry.user_id for entry in step.named_users.all()),
                "mode": step.mode,
            }
            for step in rule.steps.all()
        ]


class ApprovalRuleInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    currency = CurrencyCodeField(
        required=False, allow_blank=True, default="", help_text="Needed with an amount band; empty: any currency."
    )
    amount_from = MoneyAmountField(required=False, allow_null=True, default=None, min_value=0)
    amount_below = MoneyAmountField(required=False, allow_null=True, default=None, min_value=0)
    vendor_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    vendor_category = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="A vendor's category; empty: any."
    )
    cost_centre = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Takes an invoice whose matched PO lines (or, none matched, its PO's lines) carry it; empty: any.",
    )
    min_severity = serializers.ChoiceField(
        choices=["", *SEVERITIES],
        required=False,
        allow_blank=True,
        default="",
        help_text="The worst discrepancy of the invoice's latest match is at least this; empty: any invoice.",
    )
    escalate_after_days = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=365
    )
    steps = ApprovalStepSerializer(many=True, min_length=1, max_length=10)


class ApprovalRuleUpdateSerializer(ApprovalRuleInputSerializer):
    position = serializers.IntegerField(
        required=False, min_value=1, help_text="Where the rule stands in the order (1: tried first); absent: stays."
    )


class ApprovalRuleMoveInputSerializer(serializers.Serializer):
    id = serializers.UUIDField()


# The service names the web form's fields; the API's are these.
_RULE_FIELDS = {"vendor": "vendor_id"}


def _api_fields(exc: DocumentInvalid) -> DocumentInvalid:
    details = {_RULE_FIELDS.get(key, key): found for key, found in exc.details.items()}
    return DocumentInvalid(exc.message, details=details)


def _minor_or_refusal(value: Any, currency: str, field: str) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value, currency)
    except MoneyError as exc:
        raise DocumentInvalid(str(exc), details={field: [str(exc)]}) from exc


def _spec_of(data: dict[str, Any], *, base: RuleSpec | None) -> RuleSpec:
    """The rule a request asks for: every field from `data` (create, PUT), or those `data` gives over
    `base`, the rule as it is (PATCH). Amounts are major units of the rule's currency (the new one
    when `currency` is given: an amount kept from before is read again in it)."""
    given = dict(data)
    currency = given.get("currency", base.currency if base else "")
    amounts: dict[str, int | None] = {}
    for name in ("amount_from", "amount_below"):
        if name in given:
            typed = given[name]
        else:
            kept = getattr(base, name) if base else None
            typed = format_minor(kept, base.currency) if kept is not None and base and base.currency else None
        if typed is not None and not currency:
            raise DocumentInvalid(BAND_NEEDS_CURRENCY, details={"currency": [BAND_NEEDS_CURRENCY]})
        amounts[name] = _minor_or_refusal(typed, currency, name) if currency else None
    if "steps" in given:
        steps = [StepSpec(role=step["role"], user_ids=step["user_ids"], mode=step["mode"]) for step in given["steps"]]
    else:
        steps = list(base.steps) if base else []
    kept_fields = ("name", "vendor_id", "vendor_category", "cost_centre", "min_severity", "escalate_after_days")
    fields = {name: given[name] if name in given else getattr(base, name, None) for name in kept_fields}
    return RuleSpec(
        name=fields["name"] or "",
        steps=steps,
        currency=currency,
        amount_from=amounts["amount_from"],
        amount_below=amounts["amount_below"],
        vendor_id=fields["vendor_id"],
        vendor_category=fields["vendor_category"] or "",
        cost_centre=fields["cost_centre"] or "",
        min_severity=fields["min_severity"] or "",
        escalate_after_days=fields["escalate_after_days"],
    )


class ApprovalRuleViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The tenant's approval rules, in the order they are tried."""

    serializer_class = ApprovalRuleOutputSerializer

    def _administrator_only(self) -> None:
        if not IsTenantAdministrator().has_permission(self.request, self):
            raise PermissionDenied(RULES_ADMINS_ONLY)

    def get_queryset(self) -> Any:
        return (
            ApprovalRule.objects.for_tenant(self.tenant)
            .prefetch_related("steps__named_users")
            .order_by("position", "id")
        )

    @extend_schema(
        request=ApprovalRuleInputSerializer,
        responses={201: ApprovalRuleOutputSerializer},
        description=(
            "Add a rule at the end of the policy (tried after every other), audited. Rules the schema cannot "
            "state, each a 400 naming its field: an amount band needs its `currency`, `amount_below` is more than "
            "`amount_from`, amounts have no more decimals than the currency; `vendor_id` is one of your vendors; "
            "each step names a role or active members (`steps`), not both."
        ),
    )
    def create(self, request: Request) -> Response:
        self._administrator_only()
        incoming = ApprovalRuleInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        spec = _spec_of(incoming.validated_data, base=None)
        try:
            rule = approval_rule_create(tenant=self.tenant, actor=self.actor, spec=spec)
        except DocumentInvalid as exc:
            raise _api_fields(exc) from exc
        return Response(ApprovalRuleOutputSerializer(self.get_queryset().get(pk=rule.pk)).data, status=201)

    def _update(self, request: Request, *, partial: bool) -> Response:
        rule = self.get_object()  # another tenant's rule is a 404, whoever asks
        self._administrator_only()
        incoming = ApprovalRuleUpdateSerializer(data=request.data, partial=partial)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        spec = _spec_of(data, base=rule_spec_of(rule))
        try:
            approval_rule_update(
                tenant=self.tenant, actor=self.actor, rule_id=rule.pk, spec=spec, place=data.get("position")
            )
        except DocumentInvalid as exc:
            raise _api_fields(exc) from exc
        return Response(ApprovalRuleOutputSerializer(self.get_queryset().get(pk=rule.pk)).data)

    @extend_schema(
        request=ApprovalRuleUpdateSerializer,
        responses={
            200: ApprovalRuleOutputSerializer,
            404: error_response("No rule of yours with this id (another tenant's: the same)."),
        },
        description=(
            "Replace a rule's fields and chain (audited with the rule before and after), validated as on create; "
            "`position` (optional, 1 = tried first) moves it in the order. Invoices already in its chain (a step "
            "approved) keep the chain they started with; the edit decides chains that start afterwards."
        ),
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        request=ApprovalRuleUpdateSerializer(partial=True),
        responses={
            200: ApprovalRuleOutputSerializer,
            404: error_response("No rule of yours with this id (another tenant's: the same)."),
        },
        description=(
            "Change some of a rule's fields (the others keep their values; `steps`, when given, replaces the "
            "chain; amounts are read in the rule's currency, or the new one when `currency` is given), validated "
            "and audited as PUT. Invoices already in its chain keep the chain they started with."
        ),
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        responses={204: None, 404: error_response("No rule of yours with this id.")},
        description="Remove a rule (audited). Invoices mid-chain under it are taken by the next rule that fits.",
    )
    def destroy(self, request: Request, pk: str) -> Response:
        rule = self.get_object()  # another tenant's rule is a 404, whoever asks
        self._administrator_only()
        approval_rule_delete(tenant=self.tenant, actor=self.actor, rule_id=rule.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={200: ApprovalRuleOutputSerializer(many=True)},
        description="Swap the rule with the one tried before it (audited); the first rule stays first. "
        "Answers the whole policy in its new order.",
    )
    @action(detail=True, methods=["post"], url_path="move-up")
    def move_up(self, request: Request, pk: str) -> Response:
        rule = self.get_object()
        self._administrator_only()
        approval_rule_move_up(tenant=self.tenant, actor=self.actor, rule_id=rule.pk)
        return Response(ApprovalRuleOutputSerializer(approval_rules_list(tenant=self.tenant), many=True).data)
