"""The API of what Recon learned from clerks (issue #20): the item aliases, the vendor aliases and
the tolerance suggestions, each with its evidence; forgetting an alias; accepting, declining and
undoing a suggestion.

Thin, as the page "What Recon learned" (review.learning_views) is: every write goes through the
same services (learning.services), with the same audit events and the same re-match of the
vendor's open invoices after an accepted or undone rule. Who may: forgetting an alias, an
approver or an administrator (or an API key: keys are minted by administrators); deciding a
suggestion, an administrator (or an API key). Another tenant's id is a 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.schema import error_response
from learning.models import ExampleKind, ItemAlias, SuggestionStatus, ToleranceKind, ToleranceSuggestion
from learning.selectors import item_aliases, tolerance_suggestions, vendor_alias_teachings
from learning.services import (
    item_alias_forget,
    tolerance_suggestion_accept,
    tolerance_suggestion_decline,
    tolerance_suggestion_undo,
    vendor_alias_forget,
)
from review.learning_views import ADMINS_DECIDE, APPROVERS_FORGET, tolerance_change_rematch
from tenants.authentication import TenantContext
from tenants.http.views import TenantAPIMixin
from tenants.models import Role
from vendors.models import VendorAlias, VendorAliasKind


def _may_forget(context: TenantContext) -> None:
    if not (context.actor_kind == "api_key" or context.role in (Role.APPROVER, Role.ADMIN)):
        raise exceptions.PermissionDenied(APPROVERS_FORGET)


def _may_decide(context: TenantContext) -> None:
    if not (context.actor_kind == "api_key" or context.role == Role.ADMIN):
        raise exceptions.PermissionDenied(ADMINS_DECIDE)


class ItemAliasSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    vendor_id = serializers.UUIDField()
    vendor_name = serializers.CharField(source="vendor.name")
    invoice_text = serializers.CharField(help_text="The item as the vendor wrote it (SKU · description).")
    po_item_text = serializers.CharField(help_text="The PO line's item it was vouched for.")
    learned_by = serializers.CharField(source="learned_by_label")
    learned_at = serializers.DateTimeField(source="created_at")
    learned_from = serializers.SerializerMethodField(help_text="approval | line_assigned_by_hand")
    invoice_id = serializers.UUIDField(source="example.invoice_id", allow_null=True)
    example_id = serializers.UUIDField()
    active = serializers.SerializerMethodField()
    forgotten_at = serializers.DateTimeField(allow_null=True)
    forgotten_by = serializers.CharField(source="forgotten_by_label")

    def get_learned_from(self, alias: ItemAlias) -> str:
        return "line_assigned_by_hand" if alias.example.kind == ExampleKind.LINE_REASSIGNMENT else "approval"

    def get_active(self, alias: ItemAlias) -> bool:
        return alias.forgotten_at is None


class VendorAliasSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    vendor_id = serializers.UUIDField()
    vendor_name = serializers.CharField(source="vendor.name")
    kind = serializers.ChoiceField(choices=VendorAliasKind.choices, help_text="name | tax_id")
    kind_label = serializers.CharField(source="get_kind_display")
    alias = serializers.CharField(help_text="The name, or the tax id, as the invoice wrote it.")
    created_at = serializers.DateTimeField()
    taught_by = serializers.SerializerMethodField(
        help_text="Who chose the vendor for an invoice under this name or carrying this tax id."
    )
    taught_on = serializers.SerializerMethodField()

    def _taught(self, alias: VendorAlias) -> tuple[str, dt.date] | None:
        taught: dict[tuple[str, str, uuid.UUID], tuple[str, dt.date]] = self.context.get("taught", {})
        return taught.get((alias.kind, alias.normalized_alias, alias.vendor_id))

    def get_taught_by(self, alias: VendorAlias) -> str | None:
        taught = self._taught(alias)
        return taught[0] if taught else None

    def get_taught_on(self, alias: VendorAlias) -> dt.date | None:
        taught = self._taught(alias)
        return taught[1] if taught else None


class ToleranceSuggestionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    vendor_id = serializers.UUIDField()
    vendor_name = serializers.CharField(source="vendor.name")
    kind = serializers.ChoiceField(choices=ToleranceKind.choices)
    kind_label = serializers.CharField(source="get_kind_display")
    status = serializers.ChoiceField(choices=SuggestionStatus.choices)
    status_label = serializers.CharField(source="get_status_display")
    low_pct = serializers.DecimalField(max_digits=6, decimal_places=3)
    high_pct = serializers.DecimalField(max_digits=6, decimal_places=3)
    proposed_pct = serializers.DecimalField(max_digits=6, decimal_places=3)
    previous_pct = serializers.DecimalField(max_digits=6, decimal_places=3, allow_null=True)
    approvals = serializers.IntegerField()
    window_days = serializers.IntegerField()
    evidence = serializers.ListField(
        child=serializers.DictField(), help_text="The approvals: invoice_id, invoice_number, pct, by, on."
    )
    decided_by = serializers.CharField(source="decided_by_label")
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class ToleranceDecisionSerializer(serializers.Serializer):
    suggestion = ToleranceSuggestionSerializer()
    rematched = serializers.IntegerField(help_text="The vendor's open invoices sent back to matching.")


class ItemAliasFilter(django_filters.FilterSet):
    vendor = django_filters.UUIDFilter(field_name="vendor_id")
    active = django_filters.BooleanFilter(field_name="forgotten_at", lookup_expr="isnull")

    class Meta:
        model = ItemAlias
        fields = ["vendor", "active"]


class VendorAliasFilter(django_filters.FilterSet):
    vendor = django_filters.UUIDFilter(field_name="vendor_id")
    kind = django_filters.ChoiceFilter(choices=VendorAliasKind.choices)

    class Meta:
        model = VendorAlias
        fields = ["vendor", "kind"]


class ToleranceSuggestionFilter(django_filters.FilterSet):
    vendor = django_filters.UUIDFilter(field_name="vendor_id")
    kind = django_filters.ChoiceFilter(choices=ToleranceKind.choices)
    status = django_filters.ChoiceFilter(choices=SuggestionStatus.choices)

    class Meta:
        model = ToleranceSuggestion
        fields = ["vendor", "kind", "status"]


class ItemAliasViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Item aliases learned from approvals and lines assigned by hand, newest first."""

    serializer_class = ItemAliasSerializer
    filterset_class = ItemAliasFilter

    def get_queryset(self) -> Any:
        return item_aliases(tenant=self.tenant).order_by("-created_at", "-id")

    @extend_schema(request=None, responses={200: ItemAliasSerializer, 409: error_response("Forgotten already.")})
    @action(detail=True, methods=["post"])
    def forget(self, request: Request, pk: str) -> Response:
        """Forget the alias: the next match no longer uses it (it stays listed, with who forgot it)."""
        alias = self.get_object()  # another tenant's is a 404 whoever asks
        _may_forget(self.tenant_context)
        forgotten = item_alias_forget(tenant=self.tenant, alias=alias, actor=self.actor)
        return Response(ItemAliasSerializer(self.get_queryset().get(pk=forgotten.pk)).data)


class VendorAliasViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Vendors' other names and tax ids: taught by choosing a vendor by hand (who and when), or a
    name added on the vendor; newest first. Never a bank account (learning.choices)."""

    serializer_class = VendorAliasSerializer
    filterset_class = VendorAliasFilter

    def get_queryset(self) -> Any:
        return VendorAlias.objects.for_tenant(self.tenant).select_related("vendor").order_by("-created_at", "-id")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["taught"] = {
                (kind, alias, vendor_id): (who, on)
                for kind, alias, vendor_id, who, on in vendor_alias_teachings(tenant=self.tenant)
            }
        return context

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["post"])
    def forget(self, request: Request, pk: str) -> Response:
        """Forget the name or tax id: the vendor's next invoice carrying it is no longer recognised by it."""
        alias = self.get_object()  # another tenant's is a 404 whoever asks
        _may_forget(self.tenant_context)
        vendor_alias_forget(tenant=self.tenant, alias=alias, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ToleranceSuggestionViewSet(
    TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Vendor price and quantity tolerances Recon proposes from approvals, with their evidence,
    and the rules decided on them; newest first."""

    serializer_class = ToleranceSuggestionSerializer
    filterset_class = ToleranceSuggestionFilter

    def get_queryset(self) -> Any:
        return tolerance_suggestions(tenant=self.tenant).order_by("-created_at", "-id")

    def _to_decide(self) -> ToleranceSuggestion:
        suggestion: ToleranceSuggestion = self.get_object()  # another tenant's is a 404 whoever asks
        _may_decide(self.tenant_context)
        return suggestion

    def _answer(self, suggestion: ToleranceSuggestion, rematched: int = 0) -> Response:
        fresh = self.get_queryset().get(pk=suggestion.pk)
        return Response(ToleranceDecisionSerializer({"suggestion": fresh, "rematched": rematched}).data)

    @extend_schema(request=None, responses={200: ToleranceDecisionSerializer, 409: error_response("Decided already.")})
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        """Accept: the vendor's tolerance of its kind becomes the proposed one (audited), and the
        vendor's open invoices are matched again."""
        change = tolerance_suggestion_accept(tenant=self.tenant, suggestion=self._to_decide(), actor=self.actor)
        outcome = tolerance_change_rematch(tenant=self.tenant, actor=self.actor, change=change)
        return self._answer(change.suggestion, len(outcome.moved))

    @extend_schema(request=None, responses={200: ToleranceDecisionSerializer, 409: error_response("Decided already.")})
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        """Decline: nothing changes, and this evidence is not proposed again."""
        declined = tolerance_suggestion_decline(tenant=self.tenant, suggestion=self._to_decide(), actor=self.actor)
        return self._answer(declined)

    @extend_schema(
        request=None, responses={200: ToleranceDecisionSerializer, 409: error_response("Not an accepted rule.")}
    )
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        """Undo an accepted rule: the vendor's tolerance goes back, and its open invoices are matched again."""
        change = tolerance_suggestion_undo(tenant=self.tenant, suggestion=self._to_decide(), actor=self.actor)
        outcome = tolerance_change_rematch(tenant=self.tenant, actor=self.actor, change=change)
        return self._answer(change.suggestion, len(outcome.moved))
