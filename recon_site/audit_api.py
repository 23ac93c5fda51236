"""Audit events API: read-only, filterable by entity, action and date."""

from __future__ import annotations

from typing import Any

import django_filters
from rest_framework import mixins, serializers, viewsets

from audit.fields import ACTOR_FIELDS, PUBLISHED_FIELDS
from audit.models import NEWEST_FIRST, AuditEvent
from audit.selectors import audit_event_list
from core.http.filters import UtcIsoDateTimeFilter
from core.http.pagination import TenantCursorPagination
from tenants.http.views import TenantAPIMixin


class AuditEventOutputSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()
    # Whether a chain vouches for the event yet (the export's `sealed` column): until the sealer
    # chains it, moments after its commit, it has no `sequence`, `prev_hash` or `hash`.
    sealed = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        # The published fields (audit.fields), the three actor columns shown as one `actor`
        # object where the first of them stands.
        fields = [
            "id",
            *(
                "actor" if name == ACTOR_FIELDS[0] else name
                for name in PUBLISHED_FIELDS
                if name not in ACTOR_FIELDS[1:]
            ),
            "sealed",
        ]

    def get_actor(self, event: AuditEvent) -> dict[str, str]:
        return {"kind": event.actor_kind, "id": event.actor_id, "label": event.actor_label}

    def get_sealed(self, event: AuditEvent) -> bool:
        return event.hash is not None and event.hash != ""


class AuditEventFilter(django_filters.FilterSet):
    entity_type = django_filters.CharFilter(field_name="entity_type")
    entity_id = django_filters.CharFilter(field_name="entity_id")
    action = django_filters.CharFilter(field_name="action")
    actor_kind = django_filters.CharFilter(field_name="actor_kind")
    request_id = django_filters.CharFilter(field_name="request_id")
    occurred_from = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_to = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte")

    class Meta:
        model = AuditEvent
        fields: list[str] = []


class SequenceCursorPagination(TenantCursorPagination):
    """Newest first, in chain order: sealed or not (audit.models.CHAIN_ORDER); an event not sealed
    yet has no `sequence`, `prev_hash` or `hash` until the sealer chains it."""

    ordering = NEWEST_FIRST


class AuditEventViewSet(TenantAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AuditEventOutputSerializer
    filterset_class = AuditEventFilter
    pagination_class = SequenceCursorPagination

    def get_queryset(self) -> Any:
        return audit_event_list(tenant=self.tenant)
