"""Vendors API: create, list, read; a vendor's bank accounts under dual control (list, propose,
approve, reject: vendors.bank_accounts), never with the number in full; its contacts
(vendors.contact_apis)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.fields import CurrencyCodeField
from core.http.schema import LETTER_OR_DIGIT_PATTERN
from tenants.http.views import TenantAPIMixin
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose, vendor_bank_account_reject
from vendors.contact_apis import VendorContactsAPIMixin
from vendors.models import Vendor, VendorBankAccount
from vendors.selectors import (
    bank_account_warnings,
    vendor_bank_account_payable,
    vendor_bank_accounts,
    vendor_list,
)
from vendors.services import (
    CATEGORY_MAX_LENGTH,
    vendor_category_update,
    vendor_create,
    vendor_payment_terms_update,
)
from vendors.tax_ids import tax_id_warnings
from vendors.terms import NET_DAYS_MAX, payment_terms_label

BANK_ACCOUNT_NOT_FOUND = "This vendor has no bank account with this id."


class VendorWarningSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField(
        help_text="tax_id_not_valid: the tax id fails its country's check (python-stdnum); bank_account_shared: "
        "the account is on record for another of your vendors too."
    )
    message = serializers.CharField()


class VendorOutputSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="default_currency")
    aliases = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField(
        help_text="What deserves a second look: a tax id failing its country's check is a warning, not a refusal "
        "(an unknown scheme is accepted silently)."
    )

    class Meta:
        model = Vendor
        fields = [
            "id",
            "name",
            "tax_id",
            "currency",
            "external_id",
            "is_active",
            "category",
            "aliases",
            "warnings",
            "payment_net_days",
            "discount_pct",
            "discount_days",
            "payment_terms",
            "created_at",
        ]

    payment_terms = serializers.SerializerMethodField(
        help_text='The terms in words: "2% 10 days, net 30"; empty when none are agreed.'
    )

    def get_payment_terms(self, vendor: Vendor) -> str:
        return payment_terms_label(
            net_days=vendor.payment_net_days, discount_pct=vendor.discount_pct, discount_days=vendor.discount_days
        )

    def get_aliases(self, vendor: Vendor) -> list[str]:
        return [alias.alias for alias in vendor.aliases.all()]

    @extend_schema_field(VendorWarningSerializer(many=True))
    def get_warnings(self, vendor: Vendor) -> list[dict[str, str]]:
        return [
            {"field": warning.field, "code": warning.code, "message": warning.message}
            for warning in tax_id_warnings(vendor.tax_id)
        ]


@extend_schema_serializer(component_name="VendorPaymentTermsInput")
class VendorPaymentTermsInputSerializer(serializers.Serializer):
    """All three together (null clears one): 2/10 net 30 is 30, "2", 10."""

    payment_net_days = serializers.IntegerField(allow_null=True, min_value=0, max_value=NET_DAYS_MAX)
    discount_pct = serializers.DecimalField(
        max_digits=5,
        decimal_places=2,
        allow_null=True,
        help_text="Percent off, more than 0 and less than 100.",
    )
    discount_days = serializers.IntegerField(allow_null=True, min_value=0, max_value=NET_DAYS_MAX)


@extend_schema_serializer(component_name="VendorCategoryInput")
class VendorCategoryInputSerializer(serializers.Serializer):
    category = serializers.CharField(
        max_length=CATEGORY_MAX_LENGTH,
        allow_blank=True,
        help_text='The tenant\'s own grouping, e.g. "Logistics"; empty clears it. Approval rules may name it.',
    )


class VendorBankAccountOutputSerializer(serializers.ModelSerializer):
    """An account as anyone may see it: masked (`****4300`), with its bank, state and four eyes."""

    account = serializers.CharField(source="account_mask", help_text="The last four digits only, e.g. ****4300.")
    status_label = serializers.CharField(source="get_status_display")
    proposed_by = serializers.CharField(source="proposed_by_label")
    proposed_at = serializers.DateTimeField(source="created_at")
    decided_by = serializers.CharField(source="decided_by_label")
    replaces_id = serializers.UUIDField(allow_null=True)
    warnings = serializers.SerializerMethodField(
        help_text="What deserves a second look, never a refusal: bank_account_shared, the account is on record "
        "for another of your vendors too."
    )

    @extend_schema_field(VendorWarningSerializer(many=True))
    def get_warnings(self, account: VendorBankAccount) -> list[dict[str, str]]:
        return [
            {"field": warning.field, "code": warning.code, "message": warning.message}
            for warning in bank_account_warnings(tenant=account.tenant, account=account)
        ]

    class Meta:
        model = VendorBankAccount
        fields = [
            "id",
            "vendor_id",
            "status",
            "status_label",
            "kind",
            "account",
            "country",
            "bank_code",
            "bic",
            "bank_name",
            "proposed_by",
            "proposed_at",
            "comment",
            "decided_by",
            "decided_at",
            "decision_comment",
            "usable_from",
            "replaces_id",
            "warnings",
        ]


@extend_schema_serializer(component_name="VendorBankAccountInput")
class VendorBankAccountInputSerializer(serializers.Serializer):
    iban = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    bic = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    account_number = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="A local account (no IBAN)."
    )
    bank_code = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    country = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", help_text="A local account's country."
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


@extend_schema_serializer(component_name="VendorBankAccountDecisionInput")
class VendorBankAccountDecisionInputSerializer(serializers.Serializer):
    account_id = serializers.UUIDField(help_text="The pending account decided on (the one the approver checked).")
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class VendorBankDetailsOutputSerializer(serializers.Serializer):
    """A vendor's bank details: whether a payment may go out now, and every account it was given.

    Not a paginated list: a vendor has one active account, at most one change waiting, and the
    few it had before, all of which an approver looks at together."""

    id = serializers.UUIDField(help_text="The vendor's id.")
    payable_now = serializers.BooleanField()
    reason = serializers.CharField(help_text="Why not payable now: no_account, pending, cooling_off; empty if payable.")
    message = serializers.CharField(help_text="The reason in words (with the date a cooling-off account pays from).")
    usable_from = serializers.DateTimeField(allow_null=True)
    accounts = VendorBankAccountOutputSerializer(many=True)


_DECISION_DESCRIPTION = (
    "By a person signed in (session) who is an approver or an administrator and did not propose the "
    "account: otherwise 403 `permission_denied`. An account no longer pending is 409 `conflict`. "
)


class VendorFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    tax_id = django_filters.CharFilter(field_name="tax_id")
    external_id = django_filters.CharFilter(field_name="external_id")
    is_active = django_filters.BooleanFilter(field_name="is_active")

    class Meta:
        model = Vendor
        fields: list[str] = []


class VendorViewSet(
    VendorContactsAPIMixin,
    TenantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = VendorOutputSerializer
    filterset_class = VendorFilter

    @extend_schema_serializer(component_name="VendorInput")  # not "Input": one name per kind of body
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=255)
        tax_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
        currency = CurrencyCodeField(
            required=False, allow_blank=True, default="", help_text="The vendor's usual currency; empty if none."
        )
        external_id = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
        category = serializers.CharField(
            max_length=CATEGORY_MAX_LENGTH,
            required=False,
            allow_blank=True,
            default="",
            help_text='The tenant\'s own grouping, e.g. "Logistics"; approval rules may name it.',
        )

        # vendors.services: VENDOR_NAME_REQUIRED (a name of punctuation alone names nobody).
        schema_rules = {"properties": {"name": {"pattern": LETTER_OR_DIGIT_PATTERN}}}

    def get_queryset(self) -> Any:
        return vendor_list(tenant=self.tenant).prefetch_related("aliases")

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return self.InputSerializer if self.action == "create" else VendorOutputSerializer

    @extend_schema(request=InputSerializer, responses={201: VendorOutputSerializer})
    def create(self, request: Request) -> Response:
        incoming = self.InputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        vendor = vendor_create(tenant=self.tenant, actor=self.actor, **incoming.validated_data)
        return Response(VendorOutputSerializer(vendor).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Set the vendor's payment terms (e.g. 2/10 net 30)",
        description=(
            "Used for the vendor's invoices received from now on that state no terms of their own. A discount "
            "needs its days, its percent is more than 0 and less than 100, and its days are no more than the net "
            "days: otherwise 400 naming the field. Audited."
        ),
        request=VendorPaymentTermsInputSerializer,
        responses={200: VendorOutputSerializer},
    )
    @action(detail=True, methods=["put"], url_path="payment-terms")
    def payment_terms(self, request: Request, pk: str) -> Response:
        vendor = self.get_object()  # first: another tenant's vendor is a 404, whatever the body
        incoming = VendorPaymentTermsInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        vendor = vendor_payment_terms_update(
            tenant=self.tenant, vendor=vendor, actor=self.actor, **incoming.validated_data
        )
        return Response(VendorOutputSerializer(vendor).data)

    @extend_schema(
        summary="Set or clear the vendor's category",
        description="The tenant's own grouping (free text, compared case-insensitively by approval rules). Audited.",
        request=VendorCategoryInputSerializer,
        responses={200: VendorOutputSerializer},
    )
    @action(detail=True, methods=["put"], url_path="category")
    def category(self, request: Request, pk: str) -> Response:
        vendor = self.get_object()  # first: another tenant's vendor is a 404, whatever the body
        incoming = VendorCategoryInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        vendor = vendor_category_update(
            tenant=self.tenant, vendor=vendor, actor=self.actor, category=incoming.validated_data["category"]
        )
        return Response(VendorOutputSerializer(vendor).data)

    # --- bank accounts (vendors.bank_accounts) ---------------------------------------------------

    @extend_schema(
        methods=["GET"],
        summary="A vendor's bank details: payable now or why not, and its accounts newest first (masked)",
        responses={200: VendorBankDetailsOutputSerializer},
    )
    @extend_schema(
        methods=["POST"],
        summary="Propose a new bank account for the vendor (pending until another person approves it)",
        description=(
            "An IBAN (checked: country, length, check digits, structure; BIC optional) or a local account "
            "(account_number, bank_code, country of a country without IBANs). Created `pending`; no payment goes "
            "to it until another person approves it and the tenant's cooling-off days have passed. A bad value "
            "is 400 naming its field; a change already waiting, or the vendor's current account again, is 409."
        ),
        request=VendorBankAccountInputSerializer,
        responses={201: VendorBankAccountOutputSerializer},
    )
    @action(detail=True, methods=["get", "post"], url_path="bank-accounts")
    def bank_accounts(self, request: Request, pk: str) -> Response:
        vendor = self.get_object()  # first: another tenant's vendor is a 404, whatever the body
        if request.method == "GET":
            payability = vendor_bank_account_payable(tenant=self.tenant, vendor=vendor, at=timezone.now())
            details = {
                "id": vendor.pk,
                "payable_now": payability.payable,
                "reason": payability.reason,
                "message": payability.message,
                "usable_from": payability.usable_from,
                "accounts": list(vendor_bank_accounts(tenant=self.tenant, vendor=vendor)),
            }
            return Response(VendorBankDetailsOutputSerializer(details).data)
        incoming = VendorBankAccountInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        account = vendor_bank_account_propose(
            tenant=self.tenant,
            vendor=vendor,
            actor=self.actor,
            role=self.tenant_context.role,
            **incoming.validated_data,
        )
        return Response(VendorBankAccountOutputSerializer(account).data, status=status.HTTP_201_CREATED)

    def _bank_account_decided(self, request: Request, decision: str) -> Response:
        vendor = self.get_object()
        incoming = VendorBankAccountDecisionInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        account = (
            vendor_bank_accounts(tenant=self.tenant, vendor=vendor)
            .filter(pk=incoming.validated_data["account_id"])
            .first()
        )
        if account is None:
            raise NotFound(BANK_ACCOUNT_NOT_FOUND)
        decide = vendor_bank_account_approve if decision == "approve" else vendor_bank_account_reject
        account = decide(
            tenant=self.tenant,
            account=account,
            actor=self.actor,
            role=self.tenant_context.role,
            comment=incoming.validated_data["comment"],
        )
        return Response(VendorBankAccountOutputSerializer(account).data)

    @extend_schema(
        summary="Approve the vendor's pending bank account (four eyes)",
        description=_DECISION_DESCRIPTION
        + "Approved, it is active and payable from `usable_from` (now + the tenant's cooling-off days); the "
        "account it replaces is retired.",
        request=VendorBankAccountDecisionInputSerializer,
        responses={200: VendorBankAccountOutputSerializer},
    )
    @action(detail=True, methods=["post"], url_path="bank-accounts/approve")
    def bank_account_approve(self, request: Request, pk: str) -> Response:
        return self._bank_account_decided(request, "approve")

    @extend_schema(
        summary="Reject the vendor's pending bank account (a comment is required)",
        description=_DECISION_DESCRIPTION + "The vendor's current account stays.",
        request=VendorBankAccountDecisionInputSerializer,
        responses={200: VendorBankAccountOutputSerializer},
    )
    @action(detail=True, methods=["post"], url_path="bank-accounts/reject")
    def bank_account_reject(self, request: Request, pk: str) -> Response:
        return self._bank_account_decided(request, "reject")
