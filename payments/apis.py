"""Payments API: `POST /api/payments/import` (a bank statement file), list and read payments.

Account numbers leave the API masked (last four characters): a clerk recognises an account by
its end, and a full IBAN in every list response would spread it to logs, caches and exports.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import django_filters
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.fields import CodeLabelField, MoneyField, decimal_pattern
from core.http.schema import DRY_RUN_PARAMETER, file_upload_request
from core.http.uploads import UPLOAD_PARSERS, QueryInvalid, dry_run_requested
from core.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, MoneyError, format_minor, normalize_currency
from payments.accounts import account_hash, decrypt_account, mask_account
from payments.cash import MAX_FORECAST_WEEKS, week_start
from payments.models import Payment, PaymentDirection, PaymentStatus
from payments.reconciliation.apis import PaymentReconciliationActions, PaymentSuggestionOutputSerializer
from payments.selectors import cash_forecast_for_tenant, cash_vendor_payment_times, payment_list
from payments.services import MAX_BYTES_SETTING, statement_import
from payments.statements import FORMATS
from tenants.http.file_imports import upload_received
from tenants.http.views import TenantAPIMixin
from vendors.models import Vendor

FORMAT_INVALID = "statement_format must be one of: {formats}."
AMOUNT_FILTER_INVALID = "An amount is a decimal in major units, such as 120.50 (at most 4 decimals)."
AMOUNT_FILTER_PATTERN = decimal_pattern(integer_digits=18, places=max(CURRENCY_EXPONENTS.values()))
_AMOUNT_FILTER = re.compile(AMOUNT_FILTER_PATTERN)
_AMOUNT_LOOKUPS = {"amount": "exact", "amount_min": "gte", "amount_max": "lte"}
_CURRENCIES_BY_PLACES: dict[int, list[str]] = {}
for _code, _places in sorted(CURRENCY_EXPONENTS.items()):
    _CURRENCIES_BY_PLACES.setdefault(_places, []).append(_code)


def payment_amount_condition(*, value: Decimal, lookup: str, currency: str | None) -> Q:
    """Payments whose amount is `value` (exact), at least it (gte) or at most it (lte), each
    compared in major units of its own currency — or only in `currency`'s, when given.

    Amounts are stored in minor units, whose size depends on the currency, so the value is
    scaled per group of currencies with the same exponent, exactly (Decimal, never float). A
    value with more decimals than a currency has equals no amount in it, and a bound rounds
    inward (`amount_min=1.005` is 101 cents and up in EUR). So a filter needs no currency,
    and no value of the documented shape is refused.
    """
    groups = {
        places: [currency] if currency else codes
        for places, codes in _CURRENCIES_BY_PLACES.items()
        if currency is None or currency in codes
    }
    condition = Q(pk__in=[])
    for places, codes in groups.items():
        scaled = value.scaleb(places)
        if lookup == "exact":
            if scaled != scaled.to_integral_value():
                continue
            bound = int(scaled)
        else:
            bound = int(scaled.to_integral_value(rounding=ROUND_CEILING if lookup == "gte" else ROUND_FLOOR))
        if bound > MAX_MINOR_UNITS:  # beyond any stored amount
            if lookup == "lte":
                condition |= Q(currency__in=codes)
            continue
        condition |= Q(currency__in=codes, **{f"amount__{lookup}": bound})
    return condition


@extend_schema_field(
    {
        "type": "string",
        "pattern": AMOUNT_FILTER_PATTERN,
        "example": "120.50",
        "description": (
            "In major units of each payment's own currency (or of `currency`, when given): 120.50 finds "
            "120.50 EUR and 120.50 USD; a value with more decimals than a currency has finds none in it."
        ),
    }
)
class PaymentAmountFilter(django_filters.CharFilter):
    pass


@extend_schema_field({"type": "string", "enum": sorted(CURRENCY_EXPONENTS), "description": "ISO 4217 code."})
class CurrencyFilter(django_filters.CharFilter):
    pass


class PaymentOutputSerializer(serializers.ModelSerializer):
    amount = MoneyField("amount")
    bank_account = serializers.SerializerMethodField(help_text="Masked: the last four characters only.")
    counterparty_account = serializers.SerializerMethodField(help_text="Masked: the last four characters only.")
    statement_import_id = serializers.UUIDField(allow_null=True)
    direction_label = CodeLabelField(dict(PaymentDirection.choices), source="direction")
    status_label = CodeLabelField(dict(PaymentStatus.choices), source="status")
    suggestion = PaymentSuggestionOutputSerializer(
        read_only=True, allow_null=True, help_text="Set while the payment is `suggested`: what a clerk may accept."
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "bank_account",
            "booking_date",
            "value_date",
            "amount",
            "currency",
            "direction",
            "direction_label",
            "counterparty_name",
            "counterparty_account",
            "remittance_text",
            "bank_transaction_id",
            "end_to_end_id",
            "statement_reference",
            "status",
            "status_label",
            "statement_import_id",
            "suggestion",
            "created_at",
            "updated_at",
        ]

    def get_bank_account(self, payment: Payment) -> str:
        return mask_account(decrypt_account(payment.bank_account_encrypted))

    def get_counterparty_account(self, payment: Payment) -> str:
        return mask_account(decrypt_account(payment.counterparty_account_encrypted))


class StatementImportReportSerializer(serializers.Serializer):
    format = serializers.CharField()
    encoding = serializers.CharField()
    filename = serializers.CharField(allow_blank=True)
    file_sha256 = serializers.CharField()
    dry_run = serializers.BooleanField()
    statements = serializers.IntegerField()
    entries = serializers.IntegerField(help_text="Payments the file holds (a split batch entry counts each part).")
    created = serializers.IntegerField(help_text="Payments stored (in a dry run: that would be stored).")
    duplicates = serializers.IntegerField(
        help_text="Payments already stored (same account and transaction id), skipped."
    )
    import_id = serializers.UUIDField(allow_null=True, help_text="Null in a dry run.")
    previous_import_ids = serializers.ListField(
        child=serializers.UUIDField(), help_text="Earlier imports of the same file."
    )
    balance_checks = serializers.ListField(
        child=serializers.DictField(),
        help_text="Per statement: opening + entries against closing; `balanced` false names the problem.",
    )
    warnings = serializers.ListField(child=serializers.CharField())


class PaymentFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=PaymentStatus.choices)
    direction = django_filters.ChoiceFilter(choices=PaymentDirection.choices)
    currency = CurrencyFilter(method="filter_currency")
    booking_date_from = django_filters.DateFilter(field_name="booking_date", lookup_expr="gte")
    booking_date_to = django_filters.DateFilter(field_name="booking_date", lookup_expr="lte")
    amount = PaymentAmountFilter(method="filter_amount")
    amount_min = PaymentAmountFilter(method="filter_amount")
    amount_max = PaymentAmountFilter(method="filter_amount")
    statement_import_id = django_filters.UUIDFilter(field_name="statement_import_id")
    counterparty_account = django_filters.CharFilter(
        method="filter_counterparty_account", help_text="The full account number (IBAN); matched by its keyed hash."
    )

    class Meta:
        model = Payment
        fields: list[str] = []

    def filter_currency(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(currency=value.strip().upper())

    def filter_counterparty_account(self, queryset: Any, name: str, value: str) -> Any:
        # The column is encrypted; equality is decided on the keyed hash (payments.accounts).
        return queryset.filter(counterparty_account_hash=account_hash(value))

    def filter_amount(self, queryset: Any, name: str, value: str) -> Any:
        if not _AMOUNT_FILTER.match(value):
            raise QueryInvalid(AMOUNT_FILTER_INVALID, details={name: [AMOUNT_FILTER_INVALID]})
        raw_currency = (self.data.get("currency") or "").strip()
        try:
            currency = normalize_currency(raw_currency) if raw_currency else None
        except MoneyError:
            return queryset.none()  # no payment is in a currency that does not exist
        return queryset.filter(
            payment_amount_condition(value=Decimal(value), lookup=_AMOUNT_LOOKUPS[name], currency=currency)
        )


class PaymentViewSet(
    TenantAPIMixin,
    PaymentReconciliationActions,  # reconcile, {id}/allocate, {id}/accept-suggestion
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Bank statement lines of the caller's tenant."""

    file_upload_actions = frozenset({"import_statement"})
    serializer_class = PaymentOutputSerializer
    filterset_class = PaymentFilter

    def get_queryset(self) -> Any:
        return payment_list(tenant=self.tenant).select_related("suggestion")

    @extend_schema(
        summary="Import a bank statement (CAMT.053, MT940 or CSV)",
        description=(
            "The format is detected from the content unless `statement_format` is given. All or nothing: a file "
            "that cannot be read → 400 `statement_invalid` with every problem by location, nothing written. "
            "Lines already stored (same account and bank transaction id) are skipped and counted, so "
            "re-importing a statement adds nothing. Each statement's opening balance + entries is checked "
            "against its closing balance and reported in `balance_checks` (a mismatch is reported, not "
            "refused). CSV columns: booking_date, value_date, amount (signed, or unsigned with direction), "
            "direction, currency, counterparty_name, counterparty_account, remittance_text, "
            "bank_transaction_id, bank_account. Send the file as the multipart field `file` or as the raw "
            "body. Limit: PAYMENT_STATEMENT_MAX_BYTES."
        ),
        parameters=[
            DRY_RUN_PARAMETER,
            OpenApiParameter("statement_format", str, enum=sorted(FORMATS), description="Default: detected."),
        ],
        request=file_upload_request(raw_media_type="application/octet-stream"),
        responses={
            201: StatementImportReportSerializer,
            200: OpenApiResponse(StatementImportReportSerializer, description="A dry run's report."),
        },
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=UPLOAD_PARSERS)
    def import_statement(self, request: Request) -> Response:
        dry_run = dry_run_requested(request)
        # Not `format`: DRF reads that query parameter as the response format (URL_FORMAT_OVERRIDE).
        statement_format = request.query_params.get("statement_format") or None
        if statement_format is not None and statement_format not in FORMATS:
            message = FORMAT_INVALID.format(formats=", ".join(sorted(FORMATS)))
            raise QueryInvalid(message, details={"statement_format": [message]})
        with upload_received(self, request, setting=MAX_BYTES_SETTING) as upload:
            report = statement_import(
                tenant=self.tenant,
                binary=upload.file,
                filename=upload.filename,
                actor=self.actor,
                format=statement_format,
                dry_run=dry_run,
            )
        return Response(
            StatementImportReportSerializer(report.as_response()).data,
            status=status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED,
        )


class CashVendorOutputSerializer(serializers.Serializer):
    vendor_id = serializers.UUIDField()
    vendor_name = serializers.CharField()
    invoices_paid = serializers.IntegerField()
    average_days_to_pay = serializers.DecimalField(max_digits=8, decimal_places=1, coerce_to_string=True)
    p90_days_to_pay = serializers.IntegerField()
    average_days_late = serializers.DecimalField(
        max_digits=8,
        decimal_places=1,
        coerce_to_string=True,
        allow_null=True,
        help_text="Booking date − due date, averaged over paid invoices that had a due date; negative is early.",
    )
    invoices_with_due_date = serializers.IntegerField()


class CashForecastWeekOutputSerializer(serializers.Serializer):
    week = serializers.CharField(source="label", help_text="ISO week, e.g. 2026-W47.")
    week_start = serializers.DateField(help_text="The Monday.")
    amount = serializers.SerializerMethodField()
    invoices = serializers.IntegerField()
    scheduled = serializers.SerializerMethodField(help_text="Of `amount`, what approved payment runs pay.")
    discounts_available = serializers.SerializerMethodField(
        help_text="Saved by taking the early-payment discounts whose deadline falls this week."
    )
    discount_invoices = serializers.IntegerField()

    def get_amount(self, week: Any) -> str:
        return format_minor(week.amount, self.context["currency"])

    def get_scheduled(self, week: Any) -> str:
        return format_minor(week.scheduled, self.context["currency"])

    def get_discounts_available(self, week: Any) -> str:
        return format_minor(week.discounts, self.context["currency"])


class CashViewSet(TenantAPIMixin, viewsets.ViewSet):
    """`GET /api/cash/vendors`: days to pay per vendor; `GET /api/cash/forecast?weeks=12`: cash out by week.

    Computed from the caller's tenant on each request (payments.cash explains the rules).
    """

    class ForecastInputSerializer(serializers.Serializer):
        weeks = serializers.IntegerField(min_value=1, max_value=MAX_FORECAST_WEEKS, default=12)

    @extend_schema(
        responses={200: inline_serializer("CashVendorList", fields={"results": CashVendorOutputSerializer(many=True)})}
    )
    @action(detail=False, methods=["get"], url_path="vendors", url_name="vendors")
    def vendors(self, request: Request) -> Response:
        times = cash_vendor_payment_times(tenant=self.tenant)
        names = dict(
            Vendor.objects.for_tenant(self.tenant)
            .filter(pk__in=[row.vendor_id for row in times])
            .values_list("id", "name")
        )
        rows = [{**row.__dict__, "vendor_name": names.get(row.vendor_id, "")} for row in times]
        rows.sort(key=lambda row: (row["vendor_name"], str(row["vendor_id"])))
        return Response({"results": CashVendorOutputSerializer(rows, many=True).data})

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "weeks",
                {"type": "integer", "minimum": 1, "maximum": MAX_FORECAST_WEEKS, "default": 12},
                description=f"Weeks ahead, 1 to {MAX_FORECAST_WEEKS} (default 12).",
            )
        ],
        responses={200: OpenApiResponse(description="`{weeks, from, currencies: [{currency, total, weeks: [...]}]}`")},
    )
    @action(detail=False, methods=["get"], url_path="forecast", url_name="forecast")
    def forecast(self, request: Request) -> Response:
        query = self.ForecastInputSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        weeks = query.validated_data["weeks"]
        today = timezone.localdate()
        forecasts = cash_forecast_for_tenant(tenant=self.tenant, today=today, weeks=weeks)
        return Response(
            {
                "weeks": weeks,
                "from": week_start(today).isoformat(),
                "currencies": [
                    {
                        "currency": forecast.currency,
                        "total": format_minor(forecast.total, forecast.currency),
                        "weeks": CashForecastWeekOutputSerializer(
                            forecast.weeks, many=True, context={"currency": forecast.currency}
                        ).data,
                    }
                    for forecast in forecasts
                ],
            }
        )
