"""Delegations API: list, give, revoke (review.approval_policies writes, audited).

A member signed in (a session) delegates their own approvals; an API key (an HR or calendar
integration the tenant trusts) names the delegating member in `delegator_id`. Revoking names the
delegation in the body, so the address is the same for every tenant and says nothing of ids.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import DocumentInvalid
from core.http.fields import BusinessDateField
from core.http.schema import error_response
from review.approval_policies import delegation_create, delegation_revoke
from review.models import ApprovalDelegation
from review.people import active_membership
from tenants.http.views import TenantAPIMixin

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
