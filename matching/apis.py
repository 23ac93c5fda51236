"""Matching API: start a run now, follow runs, list discrepancies; and the `match` block that
the invoices API shows for an invoice's latest result.

Confidence and its breakdown are JSON numbers here (they are scores, not money); they are
stored as exact decimals (NUMERIC, and decimal strings in the JSON breakdown).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import F, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.http.fields import CodeLabelField
from invoices.models import InvoiceStatus, ReviewQueue
from matching.engine import DISCREPANCY_TYPES
from matching.engine.vocabulary import DISCREPANCY_TYPE_LABELS
from matching.models import Discrepancy, MatchResult, MatchRun
from matching.selectors import discrepancy_list, match_run_list
from matching.services import matching_run_request
from tenants.http.views import TenantAPIMixin

_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}

_BREAKDOWN_SCHEMA = {
    "type": "object",
    "properties": {
        name: {"type": "number", "minimum": 0, "maximum": 1}
        for name in ("po_match", "line_match", "receipt_match", "price_match")
    },
}


class MatchRunOutputSerializer(serializers.ModelSerializer):
    requested_by = serializers.SerializerMethodField()
    status_label = CodeLabelField(dict(MatchRun.Status.choices), source="status")
    trigger_label = CodeLabelField(dict(MatchRun.Trigger.choices), source="trigger")

    class Meta:
        model = MatchRun
        fields = [
            "id",
            "status",
            "status_label",
            "trigger",
            "trigger_label",
            "requested_by",
            "invoices_matched",
            "invoices_failed",
            "failures",
            "error",
            "started_at",
            "finished_at",
            "duration_ms",
            "load_ms",
            "engine_ms",
            "write_ms",
            "query_count",
            "engine_version",
            "created_at",
        ]

    def get_requested_by(self, run: MatchRun) -> dict[str, str]:
        return {"kind": run.requested_by_kind, "id": run.requested_by_id, "label": run.requested_by_label}


class MatchRunQueuedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


def _type_label() -> CodeLabelField:
    return CodeLabelField(DISCREPANCY_TYPE_LABELS, source="type")


def _severity_label() -> CodeLabelField:
    return CodeLabelField(dict(Discrepancy.Severity.choices), source="severity")


class DiscrepancyOutputSerializer(serializers.ModelSerializer):
    invoice_id = serializers.UUIDField()
    match_result_id = serializers.UUIDField()
    related_invoice_id = serializers.UUIDField(
        allow_null=True,
        help_text="The earlier invoice a duplicate finding compares this one with; null for every other type.",
    )
    type_label = _type_label()
    severity_label = _severity_label()

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "invoice_id",
            "match_result_id",
            "type",
            "type_label",
            "severity",
            "severity_label",
            "message",
            "invoice_line_number",
            "po_line_number",
            "expected",
            "actual",
            "related_invoice_id",
            "created_at",
        ]


class MatchDiscrepancySerializer(serializers.ModelSerializer):
    type_label = _type_label()
    severity_label = _severity_label()

    class Meta:
        model = Discrepancy
        fields = [
            "id",
            "type",
            "type_label",
            "severity",
            "severity_label",
            "message",
            "invoice_line_number",
            "po_line_number",
            "expected",
            "actual",
        ]


class MatchOutputSerializer(serializers.ModelSerializer):
    """An invoice's latest match. Read `discrepancies` from a prefetch (no query per invoice)."""

    confidence = serializers.SerializerMethodField()
    breakdown = serializers.SerializerMethodField()
    line_assignments = serializers.SerializerMethodField()
    matched_at = serializers.DateTimeField(source="created_at")
    run_id = serializers.UUIDField()
    vendor_id = serializers.UUIDField(allow_null=True)
    purchase_order_id = serializers.UUIDField(allow_null=True)
    discrepancies = serializers.SerializerMethodField()
    decision_label = CodeLabelField(dict(InvoiceStatus.choices), source="decision")
    review_queue_label = CodeLabelField(dict(ReviewQueue.choices), source="review_queue", allow_null=True)

    class Meta:
        model = MatchResult
        fields = [
            "confidence",
            "breakdown",
            "decision",
            "decision_label",
            "review_queue",
            "review_queue_label",
            "decision_reason",
            "engine_version",
            "matched_at",
            "run_id",
            "vendor_id",
            "purchase_order_id",
            "line_assignments",
            "discrepancies",
        ]

    def get_confidence(self, result: MatchResult) -> float:
        return float(result.confidence)

    @extend_schema_field(_BREAKDOWN_SCHEMA)
    def get_breakdown(self, result: MatchResult) -> dict[str, float]:
        return {name: float(Decimal(value)) for name, value in result.breakdown.items()}

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "invoice_line_number": {"type": "integer"},
                    "po_line_number": {"type": "integer"},
                    "score": {"type": "number"},
                },
            },
        }
    )
    def get_line_assignments(self, result: MatchResult) -> list[dict[str, Any]]:
        return [{**assignment, "score": float(Decimal(assignment["score"]))} for assignment in result.line_assignments]

    @extend_schema_field(MatchDiscrepancySerializer(many=True))
    def get_discrepancies(self, result: MatchResult) -> list[dict[str, Any]]:
        # Most serious first, then by line, as the engine reported them.
        ordered = sorted(
            result.discrepancies.all(),
            key=lambda d: (_SEVERITY_RANK.get(d.severity, 9), d.invoice_line_number or 0, d.type),
        )
        return MatchDiscrepancySerializer(ordered, many=True).data


class MatchRunFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=MatchRun.Status.choices)
    trigger = django_filters.MultipleChoiceFilter(choices=MatchRun.Trigger.choices)

    class Meta:
        model = MatchRun
        fields: list[str] = []


class MatchRunViewSet(
    TenantAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = MatchRunOutputSerializer
    filterset_class = MatchRunFilter

    def get_queryset(self) -> Any:
        return match_run_list(tenant=self.tenant)

    @extend_schema(request=None, responses={202: MatchRunQueuedSerializer})
    def create(self, request: Request) -> Response:
        """Start matching the tenant's `received` invoices now, in the background.

        Answers 202 with the queued run; follow it at `GET /api/matching/runs/{id}`. If a run
        of the tenant is already going, this one ends `skipped`: the running one takes the
        invoices. With an `Idempotency-Key`, a retried request starts no second run.
        """
        run = matching_run_request(tenant=self.tenant, actor=self.actor)
        return Response(MatchRunQueuedSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class DiscrepancyFilter(django_filters.FilterSet):
    type = django_filters.MultipleChoiceFilter(choices=[(name, name) for name in DISCREPANCY_TYPES])
    severity = django_filters.MultipleChoiceFilter(choices=Discrepancy.Severity.choices)
    invoice_id = django_filters.UUIDFilter(field_name="invoice_id")
    match_result_id = django_filters.UUIDFilter(field_name="match_result_id")
    # A choice, not a BooleanFilter: that one reads "yes" or "1" as "not given" and lists the history.
    latest = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_latest",
        help_text="true: only the discrepancies of each invoice's latest match; false: only earlier ones.",
    )

    class Meta:
        model = Discrepancy
        fields: list[str] = []

    def filter_latest(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if not value:
            return queryset
        on_latest = {"match_result_id": F("invoice__latest_match_id")}
        return queryset.filter(**on_latest) if value == "true" else queryset.exclude(**on_latest)


class DiscrepancyViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Discrepancies found by matching, newest first; a re-match adds new ones (history)."""

    serializer_class = DiscrepancyOutputSerializer
    filterset_class = DiscrepancyFilter

    def get_queryset(self) -> Any:
        return discrepancy_list(tenant=self.tenant)
